"""Celery tasks of the reports app: thin wrappers, ids as arguments."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError


@shared_task(
    name="reports.import_job_run",
    acks_late=True,
    autoretry_for=(DatabaseError,),
    max_retries=5,
    retry_backoff=10,
    retry_backoff_max=300,
)
def import_job_run_task(job_id: int) -> dict:
    """Run or resume a member import (a redelivered or retried task resumes after the last
    committed batch)."""
    from .import_jobs import import_job_run

    job = import_job_run(job_id)
    return {"job": job.pk, "status": job.status, "lines_done": job.lines_done}
