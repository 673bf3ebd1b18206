"""Prometheus metrics (prometheus-client).

Request counts and latencies by view, method and status (`MetricsMiddleware`), job runs and
durations (the `job_finished` hook of `loyalty_site.core.jobs.run_job`, which both the Celery task
`loyalty.run_job` and `manage.py run_job` call), and the outbox backlog (read from the database at
each scrape). `/metrics/` serves them to a bearer of METRICS_TOKEN or a logged-in staff user.

Under gunicorn (several worker processes) set PROMETHEUS_MULTIPROC_DIR to an empty folder shared by
every process of the machine (web, worker, beat), emptied before they start: each process writes its
samples there and `/metrics/` sums them (prometheus-client's multiprocess mode; `gunicorn.conf.py`
marks an exited worker's gauges dead).
"""

from __future__ import annotations

import os
import time

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

from loyalty_site.core import hooks

REQUESTS = Counter("loyalty_http_requests_total", "HTTP requests answered", ["view", "method", "status"])
REQUEST_SECONDS = Histogram(
    "loyalty_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["view", "method", "status"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
JOB_RUNS = Counter("loyalty_job_runs_total", "Scheduled job runs", ["job", "outcome"])
JOB_SECONDS = Histogram(
    "loyalty_job_duration_seconds",
    "Time a scheduled job ran",
    ["job", "outcome"],
    buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600),
)


@hooks.register("job_finished")
def job_observe(*, job: str, seconds: float, outcome: str, **_) -> None:
    JOB_RUNS.labels(job=job, outcome=outcome).inc()
    JOB_SECONDS.labels(job=job, outcome=outcome).observe(seconds)


class OutboxCollector:
    """The outbox backlog, read at scrape time: pending rows and the age of the oldest, per kind."""

    def collect(self):
        from notifications.models import Notification, WebhookDelivery

        pending = GaugeMetricFamily(
            "loyalty_outbox_pending", "Outbox rows not yet delivered", labels=["kind"]
        )
        oldest = GaugeMetricFamily(
            "loyalty_outbox_oldest_pending_seconds",
            "Age of the oldest outbox row not yet delivered (0 when none)",
            labels=["kind"],
        )
        now = timezone.now()
        for kind, model in (("notification", Notification), ("webhook", WebhookDelivery)):
            row = model.objects.filter(status="pending").aggregate(count=Count("id"), first=Min("created_at"))
            pending.add_metric([kind], row["count"])
            oldest.add_metric([kind], (now - row["first"]).total_seconds() if row["first"] else 0)
        yield pending
        yield oldest


def metrics_text() -> bytes:
    """The exposition text: every process's samples in multiprocess mode, this process's otherwise,
    plus the outbox backlog."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    outbox = CollectorRegistry()
    outbox.register(OutboxCollector())
    return generate_latest(registry) + generate_latest(outbox)


CONTENT_TYPE = CONTENT_TYPE_LATEST


def view_label(request) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unresolved>"
    return match.view_name or match._func_path


class MetricsMiddleware:
    """Counts and times every request by view name, method and status. First in MIDDLEWARE."""

    METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        response = self.get_response(request)
        labels = {
            "view": view_label(request),
            "method": request.method if request.method in self.METHODS else "other",
            "status": str(response.status_code),
        }
        REQUESTS.labels(**labels).inc()
        REQUEST_SECONDS.labels(**labels).observe(time.perf_counter() - start)
        return response
