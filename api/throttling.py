"""Throttling per API key (429 `throttled` with Retry-After).

The rate is `API_THROTTLE_RATE` (setting or environment variable, DRF syntax such as `6000/min`;
`off` disables it). Counters live in Django's default cache: with the default local-memory cache
each web process counts on its own, so N processes allow up to N x the rate; configure a shared
cache (Redis) to make the limit exact across processes.
"""

from __future__ import annotations

import os

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

DEFAULT_RATE = "6000/min"


def configured_rate() -> str | None:
    rate = getattr(settings, "API_THROTTLE_RATE", None) or os.environ.get("API_THROTTLE_RATE") or DEFAULT_RATE
    return None if rate.strip().lower() in {"off", "none", "0"} else rate


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        return configured_rate()

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None  # unauthenticated requests are refused before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
