"""The Celery application.

Broker from CELERY_BROKER_URL (Redis `redis://...` or RabbitMQ `amqp://...`); with none set, an
broker on the database itself (kombu's SQLAlchemy transport) so the demo needs no broker server. Settings
(`CELERY_*` in settings.py) make every task late-acknowledged and rejected back to the queue when
its worker dies, so a killed worker's task runs again: every task here is idempotent.

Tasks take ids and ISO strings as arguments, never model instances, and have explicit names.
Beat (django-celery-beat's DatabaseScheduler, seeded by `manage.py sync_schedules`) sends
`loyalty.run_job` with the job's name for every schedule.
"""

import os
from contextlib import contextmanager

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")

app = Celery("loyalty_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_default_retry_delay=30,
    worker_cancel_long_running_tasks_on_connection_loss=True,
)
if str(app.conf.broker_url or "").startswith(("redis", "rediss")):
    # Redis re-delivers an unacknowledged (acks_late) task after this long; longer than any job.
    # (Only Redis knows the option; the embedded SQLAlchemy transport refuses unknown ones.)
    app.conf.broker_transport_options = {"visibility_timeout": 4 * 3600}
app.autodiscover_tasks()


def route_task(name, args, kwargs, options, task=None, **kw):
    """Celery router (`CELERY_TASK_ROUTES`): notification and webhook delivery on the delivery
    queue, everything else (scheduled jobs, imports) on the jobs queue, so a worker busy with a
    long job never holds up a webhook. `loyalty.run_job` goes by its job's name: the minutely
    `deliver_notifications` (the retries) is delivery work."""
    from django.conf import settings

    if name in settings.CELERY_DELIVERY_TASKS:
        return {"queue": settings.CELERY_DELIVERY_QUEUE}
    if name == "loyalty.run_job":
        job_name = (args[0] if args else None) or (kwargs or {}).get("name")
        if job_name in settings.CELERY_DELIVERY_JOBS:
            return {"queue": settings.CELERY_DELIVERY_QUEUE}
    return {"queue": settings.CELERY_JOBS_QUEUE}


@contextmanager
def job_lock(name: str):
    """A PostgreSQL session advisory lock per job name, so two beats or two workers do not run the
    same job at the same time (the jobs are idempotent anyway; this only saves the duplicate work).
    Yields False when another worker holds it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [f"loyalty.job:{name}"])
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [f"loyalty.job:{name}"])


@app.task(
    name="loyalty.run_job",
    bind=True,
    acks_late=True,
    autoretry_for=(Exception,),
    max_retries=3,
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
)
def run_job_task(self, name: str, at: str | None = None) -> dict:
    """Beat's entry point for every scheduled job; `at` (ISO) defaults to now. A job already running
    elsewhere is skipped (its next run catches up)."""
    from django.utils import timezone
    from django.utils.dateparse import parse_datetime

    from loyalty_site.core.jobs import run_job

    moment = parse_datetime(at) if at else timezone.now()
    with job_lock(name) as acquired:
        if not acquired:
            return {"skipped": "already running"}
        return run_job(name, at=moment)
