"""Celery queues (issue 21): scheduled jobs and notification delivery travel on separate queues, so
a worker busy with a long job never delays a webhook. The tasks are really published (kombu's
in-memory transport) and read back from the queue each should be on."""

from __future__ import annotations

from pathlib import Path

import pytest

from loyalty_site.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def memory_broker():
    with celery_app.connection_for_write("memory://") as connection:
        yield connection


def published(connection, queue: str) -> list[tuple[str, list]]:
    """The (task name, args) of every message waiting on `queue`, consumed."""
    found = []
    with connection.SimpleQueue(queue, no_ack=True) as simple:
        while True:
            try:
                message = simple.get(block=False)
            except simple.Empty:
                return found
            args = message.decode()[0]
            found.append((message.headers["task"], args))


def test_jobs_and_deliveries_are_published_on_their_own_queues(memory_broker):
    celery_app.send_task("loyalty.run_job", ["reevaluate_tiers"], connection=memory_broker)
    celery_app.send_task("loyalty.run_job", ["deliver_notifications"], connection=memory_broker)
    celery_app.send_task("notifications.events_deliver", [[7, 8]], connection=memory_broker)
    celery_app.send_task("reports.import_job_run", [3], connection=memory_broker)
    celery_app.send_task("loyalty.run_job", kwargs={"name": "expire_points"}, connection=memory_broker)

    assert published(memory_broker, "delivery") == [
        ("loyalty.run_job", ["deliver_notifications"]),
        ("notifications.events_deliver", [[7, 8]]),
    ]
    assert published(memory_broker, "jobs") == [
        ("loyalty.run_job", ["reevaluate_tiers"]),
        ("reports.import_job_run", [3]),
        ("loyalty.run_job", []),
    ]
    assert published(memory_broker, "celery") == []


def test_an_explicit_queue_wins_over_the_routes(memory_broker):
    """A schedule given a queue in the admin (django-celery-beat's `queue`) keeps it."""
    try:
        celery_app.send_task("loyalty.run_job", ["birthdays"], queue="nightly", connection=memory_broker)
    finally:
        celery_app.amqp.queues.pop("nightly", None)  # created on the fly: not this app's for good
    assert published(memory_broker, "nightly") == [("loyalty.run_job", ["birthdays"])]
    assert published(memory_broker, "jobs") == []


def test_a_worker_without_q_consumes_both_queues_and_the_procfile_runs_one_per_queue():
    assert [queue.name for queue in celery_app.conf.task_queues] == ["jobs", "delivery"]
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    assert "-Q ${CELERY_JOBS_QUEUE:-jobs}" in procfile["worker_jobs"]
    assert "-Q ${CELERY_DELIVERY_QUEUE:-delivery}" in procfile["worker_delivery"]
    assert list(procfile) == ["web", "worker_jobs", "worker_delivery", "beat"]
