"""Throttling per API key (429 `throttled` with Retry-After).

The rate is `API_THROTTLE_RATE` (setting or environment variable, DRF syntax such as `6000/min`;
`off` disables it). A fixed-window counter per key: the window is the rate's period (aligned on
the epoch), each request adds one with an atomic INCR, and a request past the rate in its window is
refused. With Redis as Django's cache (`CACHE_URL`) the counter is shared by every web process, so
the limit holds across processes exactly (one INCR and, for a window's first request, one EXPIRE:
a pipelined round trip); with the default per-process memory cache each process counts alone.
(DRF's own SimpleRateThrottle reads a list of timestamps and writes it back, so parallel requests
overwrite each other's: about 18 % more got through than the rate.)
"""

from __future__ import annotations

import os
import time

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

DEFAULT_RATE = "6000/min"


def configured_rate() -> str | None:
    rate = getattr(settings, "API_THROTTLE_RATE", None) or os.environ.get("API_THROTTLE_RATE") or DEFAULT_RATE
    return None if rate.strip().lower() in {"off", "none", "0"} else rate


def window_count(key: str, *, period: int) -> int:
    """Add one to the counter `key` (kept for `period` seconds from its first use) and return it,
    atomically whichever process asks."""
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full_key, write=True)
        pipe = client.pipeline()
        pipe.incr(full_key)
        pipe.expire(full_key, period + 1, nx=True)
        count, _ = pipe.execute()
        return int(count)
    backend.add(key, 0, timeout=period + 1)
    try:
        return backend.incr(key)
    except ValueError:  # expired between add and incr
        backend.add(key, 1, timeout=period + 1)
        return 1


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        return configured_rate()

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None  # unauthenticated requests are refused before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self.wait_seconds = (window + 1) * self.duration - now
        return window_count(f"{key}:{window}", period=self.duration) <= self.num_requests

    def wait(self):
        return getattr(self, "wait_seconds", None)
