"""Issue 16 item 2: one points-at-risk and one points-expired message per member and run, however
many lots; re-runs send nothing twice; webhooks carry the same single event."""

from datetime import timedelta

import pytest
from django.core import mail

from ledger.models import Lot
from ledger.services import points_earn
from loyalty_site.core.jobs import run_job
from notifications.models import Event, Notification, WebhookDelivery
from notifications.presets import seed_notification_templates
from notifications.services import webhook_subscription_create
from tests.factories import MemberFactory
from tests.notifications.conftest import local_server  # noqa: F401 - fixture


@pytest.fixture
def five_lots(program, now, settings, local_server):  # noqa: F811
    """Ada holds 5 lots (10, 20, 30, 40, 50 points) expiring the same day, 30 to 34 hours after
    `now`; Bob one lot of 7 points expiring 40 hours after `now`."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    seed_notification_templates(program=program, at=now)
    webhook_subscription_create(
        program=program, url=local_server.url, events=["points.expiring", "points.expired"], at=now
    )
    lifetime = timedelta(days=program.points_lifetime_days)
    ada = MemberFactory(program=program, at=now - lifetime, email="ada@example.com", first_name="Ada")
    bob = MemberFactory(program=program, at=now - lifetime, email="bob@example.com", first_name="Bob")
    for n in range(5):
        points_earn(
            member=ada,
            points=10 * (n + 1),
            at=now - lifetime + timedelta(hours=30 + n),
            reference=f"ada-{n}",
        )
    points_earn(member=bob, points=7, at=now - lifetime + timedelta(hours=40), reference="bob-0")
    Lot.objects.filter(program=program).update(state=Lot.State.ACTIVE, available_at=now - lifetime)
    return ada, bob


def deliver(now):
    run_job("deliver_notifications", at=now)


def test_points_at_risk_one_message_per_member(five_lots, program, now, local_server):  # noqa: F811
    ada, bob = five_lots
    assert run_job("warn_expiring", at=now) == {"warned": 2, "lots": 6}
    assert run_job("warn_expiring", at=now) == {"warned": 0, "lots": 0}
    assert run_job("warn_expiring", at=now + timedelta(hours=1)) == {"warned": 0, "lots": 0}
    deliver(now)

    events = {e.member_id: e for e in Event.objects.filter(type="points.expiring")}
    assert set(events) == {ada.pk, bob.pk}
    data = events[ada.pk].data
    assert (data["points"], data["lot_count"]) == (150, 5)
    assert data["expires_at"] == (now + timedelta(hours=30)).isoformat()
    assert [lot["points"] for lot in data["lots"]] == [10, 20, 30, 40, 50]
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("ada@example.com", "150 points expire soon"),
        ("bob@example.com", "7 points expire soon"),
    ]
    ada_mail = next(m for m in mail.outbox if m.to == ["ada@example.com"])
    assert (
        "150 of your" in ada_mail.body
        and f"the first of them on {now + timedelta(hours=30):%Y-%m-%d}" in ada_mail.body
    )
    assert Notification.objects.filter(event__type="points.expiring").count() == 2
    assert WebhookDelivery.objects.filter(event__type="points.expiring").count() == 2
    assert sorted(r.json()["data"]["points"] for r in local_server.requests) == [7, 150]


def test_points_expired_one_message_per_member_and_run(five_lots, program, now, local_server):  # noqa: F811
    ada, bob = five_lots
    later = now + timedelta(hours=41)  # all six lots past their expiry
    first = run_job("expire_points", at=later)
    assert first["postings"] == 6
    run_job("expire_points", at=later)
    run_job("expire_points", at=later + timedelta(hours=2))
    deliver(later)

    events = {e.member_id: e for e in Event.objects.filter(type="points.expired")}
    assert set(events) == {ada.pk, bob.pk}
    data = events[ada.pk].data
    assert (data["points"], data["lot_count"], data["balance"]) == (150, 5, 0)
    assert [lot["points"] for lot in data["lots"]] == [10, 20, 30, 40, 50]
    assert sorted((m.to[0], m.subject) for m in mail.outbox) == [
        ("ada@example.com", "150 points expired"),
        ("bob@example.com", "7 points expired"),
    ]
    assert WebhookDelivery.objects.filter(event__type="points.expired").count() == 2
    assert sorted(r.json()["data"]["points"] for r in local_server.requests) == [7, 150]


def test_a_purchase_that_settles_several_expired_lots_sends_one_message(five_lots, now):
    ada, _bob = five_lots
    # inside the 24 h renewal window the purchase renews the lots: nothing was lost, no message
    points_earn(member=ada, points=5, at=now + timedelta(hours=35), reference="ada-renews")
    assert not Event.objects.filter(type="points.expired", member=ada).exists()
    # past the renewal window (nobody ran the job): the five renewed lots and the purchase's own
    # lot of 5 expire at once, one message
    later = now + timedelta(days=400)
    points_earn(member=ada, points=5, at=later, reference="ada-late")
    [event] = Event.objects.filter(type="points.expired", member=ada)
    assert (event.data["points"], event.data["lot_count"]) == (155, 6)
    assert Notification.objects.filter(event=event, channel="email").count() == 1
