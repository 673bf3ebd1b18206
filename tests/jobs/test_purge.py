"""The purge jobs keep the operational tables from growing forever: rows past their retention go,
in chunks, the rest (pending deliveries, recent rows) stays; a second run finds nothing."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django_celery_beat.models import PeriodicTask

from api.models import IdempotencyRecord
from loyalty_site.core import retention
from loyalty_site.core.jobs import all_jobs, run_job
from notifications.models import Event, Notification, OutboxStatus, WebhookDelivery, WebhookSubscription

PURGES = ("outbox_purge", "webhook_deliveries_purge", "idempotency_purge", "sessions_purge")


def _outbox(program, member, now, *, status, age_days, n=1):
    rows = []
    for _ in range(n):
        event = Event.objects.create(program=program, member=member, type="points.earned", data={}, at=now)
        created = now - timedelta(days=age_days)
        rows.append(
            Notification.objects.create(
                program=program,
                member=member,
                event=event,
                channel="email",
                recipient="a@example.com",
                body="x",
                status=status,
                created_at=created,
            )
        )
    return rows


@pytest.mark.django_db
def test_outbox_purge_deletes_delivered_and_failed_rows_past_retention_only(
    program, member, now, settings, monkeypatch
):
    settings.RETENTION_NOTIFICATIONS_DAYS = 90
    monkeypatch.setattr(retention, "CHUNK", 2)  # several chunks
    old = _outbox(program, member, now, status=OutboxStatus.DELIVERED, age_days=91, n=5)
    old += _outbox(program, member, now, status=OutboxStatus.FAILED, age_days=200)
    kept = _outbox(program, member, now, status=OutboxStatus.PENDING, age_days=300)  # still to be sent
    kept += _outbox(program, member, now, status=OutboxStatus.DELIVERED, age_days=89)

    events = Event.objects.count()

    assert run_job("outbox_purge", at=now) == {"deleted": 6}
    assert set(Notification.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    assert Event.objects.count() == events  # the events themselves are the history: kept
    assert run_job("outbox_purge", at=now) == {"deleted": 0}
    assert len(old) == 6


@pytest.mark.django_db
def test_webhook_deliveries_purge_keeps_the_last_30_days_and_pending_rows(program, member, now, settings):
    settings.RETENTION_WEBHOOK_DELIVERIES_DAYS = 30
    subscription = WebhookSubscription.objects.create(
        program=program, url="https://example.com/h", created_at=now
    )

    def delivery(status, age_days):
        event = Event.objects.create(program=program, member=member, type="points.earned", data={}, at=now)
        return WebhookDelivery.objects.create(
            subscription=subscription, event=event, status=status, created_at=now - timedelta(days=age_days)
        )

    delivery(OutboxStatus.DELIVERED, 31)
    delivery(OutboxStatus.FAILED, 45)
    kept = {delivery(OutboxStatus.DELIVERED, 29).pk, delivery(OutboxStatus.PENDING, 60).pk}

    assert run_job("webhook_deliveries_purge", at=now) == {"deleted": 2}
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == kept


@pytest.mark.django_db
def test_idempotency_and_sessions_purges(program, now, monkeypatch):
    monkeypatch.setattr(retention, "CHUNK", 3)
    for n, hours in enumerate([25, 30, 48, 49, 100, 23]):
        IdempotencyRecord.objects.create(
            program=program,
            key=f"k{n}",
            request_hash="h",
            method="POST",
            path="/p",
            created_at=now - timedelta(hours=hours),
            locked_at=now,
        )
    for n, hours in enumerate([-1, -5, -7, 2]):  # expired 1, 5, 7 hours ago; one expires in 2
        Session.objects.create(
            session_key=f"s{n:039d}", session_data="", expire_date=now + timedelta(hours=hours)
        )

    assert run_job("idempotency_purge", at=now) == {"deleted": 5}
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["k5"]
    assert run_job("sessions_purge", at=now) == {"deleted": 3}
    assert list(Session.objects.values_list("session_key", flat=True)) == [f"s{3:039d}"]
    assert run_job("sessions_purge", at=now) == {"deleted": 0}


@pytest.mark.django_db
def test_purges_are_registered_scheduled_and_runnable_from_the_command_line(now):
    call_command("sync_schedules", stdout=StringIO())
    tasks = {task.name: task for task in PeriodicTask.objects.all()}
    for name in PURGES:
        assert name in all_jobs()
        assert json.loads(tasks[f"loyalty: {name}"].args) == [name]
        out = StringIO()
        call_command("run_job", name, "--at", now.isoformat(), stdout=out, stderr=StringIO())
        assert json.loads(out.getvalue().strip().splitlines()[-1])["deleted"] == 0
