"""A fixed-window rate limit per client address, kept in Django's cache.

With the default local-memory cache each web process counts on its own; configure a shared cache
(Redis) in production so the limit holds across processes. The client address is REMOTE_ADDR: behind
a proxy, the proxy must set it (e.g. gunicorn's --forwarded-allow-ips), never a spoofable header.
"""

from __future__ import annotations

import time
from functools import wraps

from django.core.cache import cache
from django.http import HttpResponse
from django.utils.translation import gettext


def throttle_hit(*, scope: str, ident: str, rate: int, period: int, now: float | None = None) -> bool:
    """Count one request of `ident` in `scope`; True while it stays within `rate` per `period` s."""
    now = time.time() if now is None else now
    window = int(now // period)
    key = f"throttle:{scope}:{ident}:{window}"
    if cache.add(key, 1, timeout=period + 1):
        return True
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=period + 1)
        return True
    return count <= rate


def throttled(*, scope: str, rate: int, period: int):
    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            ident = request.META.get("REMOTE_ADDR") or "unknown"
            if not throttle_hit(scope=scope, ident=ident, rate=rate, period=period):
                response = HttpResponse(
                    gettext("Too many requests. Please wait a minute and try again."),
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(period)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
