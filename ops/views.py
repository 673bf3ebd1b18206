"""Liveness, readiness and metrics endpoints."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache

from . import metrics
from .checks import readiness


@never_cache
def healthz(request):
    """Liveness: the process answers. Touches nothing else (a database outage must not get every
    web process restarted)."""
    return JsonResponse({"status": "ok"})


@never_cache
def readyz(request):
    """Readiness: the database and the broker (and a Redis cache when configured) answer within
    READINESS_TIMEOUT seconds each; 503 when one does not."""
    checks = readiness()
    ready = all(check["ok"] for check in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


def _metrics_allowed(request) -> bool | None:
    """True for a bearer of METRICS_TOKEN or a logged-in staff user; None when no credentials came."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)
    if request.user.is_authenticated:
        return request.user.is_active and request.user.is_staff
    return None


@never_cache
def metrics_view(request):
    allowed = _metrics_allowed(request)
    if not allowed:
        response = HttpResponse(
            "Metrics need a bearer token (METRICS_TOKEN) or a staff login.\n",
            status=401 if allowed is None else 403,
            content_type="text/plain; charset=utf-8",
        )
        if allowed is None:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics.metrics_text(), content_type=metrics.CONTENT_TYPE)
