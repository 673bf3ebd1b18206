"""The registry of scheduled jobs.

A job is a plain service `func(*, at: datetime) -> dict` (a summary of what it did) that is
idempotent for the same `at`. Apps register their jobs in a `jobs.py` module:

    from loyalty_site.core.jobs import job

    @job("expire_points", schedule="hourly")
    def expire_points(*, at): ...

`manage.py run_job NAME --at ISO` and the Celery task `loyalty.run_job` both call `run_job`.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db import transaction
from django.utils import timezone

from loyalty_site.core import hooks

logger = logging.getLogger("loyalty.jobs")


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable[..., dict]
    schedule: str  # a crontab "m h dom mon dow" or one of: minutely, hourly, daily, weekly, nightly
    description: str
    # What a dry run reports for a job whose effects leave the database (messages, webhooks), which
    # a rolled-back transaction cannot undo: `preview(*, at) -> dict`. None: the job itself runs
    # in a transaction that is rolled back.
    preview: Callable[..., dict] | None = None


_JOBS: dict[str, Job] = {}
_discovered = False


def job(
    name: str, *, schedule: str, description: str = "", preview: Callable[..., dict] | None = None
) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    def decorator(func: Callable[..., dict]) -> Callable[..., dict]:
        _JOBS[name] = Job(
            name=name,
            func=func,
            schedule=schedule,
            description=description or (func.__doc__ or "").strip().split("\n")[0],
            preview=preview,
        )
        return func

    return decorator


def autodiscover() -> None:
    global _discovered
    if _discovered:
        return
    for config in apps.get_app_configs():
        try:
            importlib.import_module(f"{config.name}.jobs")
        except ModuleNotFoundError as error:
            if error.name != f"{config.name}.jobs":
                raise
    _discovered = True


def all_jobs() -> dict[str, Job]:
    autodiscover()
    return dict(sorted(_JOBS.items()))


def run_job(name: str, *, at: datetime | None = None) -> dict:
    """Run job `name` as of `at` (default now). Raises KeyError for an unknown job."""
    jobs = all_jobs()
    if name not in jobs:
        raise KeyError(name)
    at = at or timezone.now()
    logger.info("job %s starting at=%s", name, at.isoformat())
    started, outcome = time.perf_counter(), "error"
    try:
        summary = jobs[name].func(at=at) or {}
        outcome = "ok"
    finally:
        # Observers (the ops app's metrics): job_finished(job=, at=, seconds=, outcome="ok"|"error").
        seconds = time.perf_counter() - started
        hooks.run_hooks("job_finished", job=name, at=at, seconds=seconds, outcome=outcome)
    logger.info("job %s done: %s", name, summary)
    return summary


def job_preview(name: str, *, at: datetime | None = None) -> dict:
    """What job `name` would do as of `at`, changing nothing: its summary from a run inside a
    transaction that is then rolled back (so nothing it writes, and nothing it queues after commit,
    survives), or its `preview` when its effects leave the database. Raises KeyError for an
    unknown job. A long job holds its locks until the preview ends, as a real run's chunks would."""
    jobs = all_jobs()
    if name not in jobs:
        raise KeyError(name)
    at = at or timezone.now()
    if jobs[name].preview is not None:
        return jobs[name].preview(at=at)
    with transaction.atomic():
        summary = jobs[name].func(at=at) or {}
        transaction.set_rollback(True)
    return summary
