"""Every registered job (all apps), on a program with a year of history: run twice for the same
moment, and run by two workers at once, it has exactly one effect."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection

from accounts.models import Member
from fraud.models import FraudFlag
from ledger.models import Posting
from ledger.services import points_earn
from loyalty_site.core.jobs import all_jobs, run_job
from notifications.models import Event, Notification, OutboxStatus, WebhookDelivery
from notifications.presets import seed_notification_templates
from notifications.services import webhook_subscription_create
from tests.factories import MemberFactory
from tests.jobs.conftest import AT, effects, world_build

EXPECTED_JOBS = {
    "activate_pending",
    "birthdays",
    "decay_inactive",
    "deliver_notifications",
    "expire_points",
    "fraud_monitor",
    "inactivity_reminders",
    "reconcile",
    "reevaluate_tiers",
    "refresh_segments",
    "tier_gifts",
    "warn_expiring",
    "weekly_bonus",
}


def assert_key_effects(result: dict) -> None:
    """The numbers the scenario is built for (PRODUCT.md §2.4, §2.7)."""
    members = result["members"]
    assert result["events"]["points.expiring"] == 1 and result["warned"] == 1
    assert result["postings"]["decay"] == 3  # warn, idle31, idle61: 5 % once each
    assert (members["warn"][0], members["idle31"][0], members["idle61"][0]) == (285, 950, 380)
    assert members["expire"][0] == 0  # its 200 points are in the renewal window
    assert members["fraud"][2] == "blocked" and result["events"]["member.blocked"] == 1
    assert result["counts"]["fraud.FraudFlag"] == 1
    assert result["events"]["member.birthday"] == 1
    assert members["active"][:3] == (500, 0, "active")


@pytest.mark.django_db
def test_each_job_run_twice_for_the_same_moment_changes_nothing_the_second_time(local_server):
    world_build(webhook_url=local_server.url)
    assert set(all_jobs()) >= EXPECTED_JOBS
    for name in all_jobs():
        run_job(name, at=AT)
        first = effects()
        run_job(name, at=AT)
        assert effects() == first, name
    assert_key_effects(effects())


def run_at_once(name: str, workers: int = 2) -> list[BaseException]:
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def work():
        try:
            barrier.wait()
            run_job(name, at=AT)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_running_each_job_at_once_have_the_effect_of_one_run(local_server):
    world_build(webhook_url=local_server.url)
    for name in all_jobs():
        run_job(name, at=AT)
    sequential = effects()
    sent_sequentially = len(local_server.requests)

    call_command("flush", interactive=False, verbosity=0)
    local_server.requests.clear()
    world_build(webhook_url=local_server.url)
    for name in all_jobs():
        assert run_at_once(name) == [], name
        after = effects()
        run_job(name, at=AT)
        assert effects() == after, name
    assert effects() == sequential
    # each webhook and email went out once
    assert len(local_server.requests) == sent_sequentially
    assert len({r.headers["Webhook-Id"] for r in local_server.requests}) == sent_sequentially
    assert_key_effects(sequential)


@pytest.mark.django_db
def test_points_47_hours_from_expiry_get_exactly_one_warning(program, now, settings, local_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    seed_notification_templates(program=program, at=now)
    webhook_subscription_create(program=program, url=local_server.url, events=["points.expiring"], at=now)
    lifetime = timedelta(days=program.points_lifetime_days)
    member = MemberFactory(program=program, at=now - lifetime, email="ada@example.com", first_name="Ada")
    points_earn(member=member, points=70, at=now - lifetime + timedelta(hours=47), reference="lot-1")
    points_earn(member=member, points=30, at=now - lifetime + timedelta(hours=49), reference="lot-2")

    for _ in range(2):
        run_job("warn_expiring", at=now)
    run_job("warn_expiring", at=now + timedelta(minutes=30))

    [event] = Event.objects.filter(type="points.expiring")
    assert event.member == member and event.data["points"] == 70
    [note] = Notification.objects.filter(event=event)
    assert note.subject == "70 points expire soon"
    assert WebhookDelivery.objects.filter(event=event).count() == 1
    run_job("deliver_notifications", at=now)
    run_job("deliver_notifications", at=now)
    assert [m.subject for m in mail.outbox] == ["70 points expire soon"]
    assert [r.json()["type"] for r in local_server.requests] == ["points.expiring"]
    note.refresh_from_db()
    assert note.status == OutboxStatus.DELIVERED
    # two hours later the second lot (then 47 h away) gets its own single warning
    run_job("warn_expiring", at=now + timedelta(hours=2))
    assert Event.objects.filter(type="points.expiring").count() == 2


@pytest.mark.django_db
def test_blocked_member_postings_and_flags_stay_single_after_repeated_monitor(program, now):
    member = MemberFactory(program=program, at=now)
    from fraud.models import FraudRule

    FraudRule.objects.create(
        program=program, name="r", window_minutes=10, max_count=1, enforce_in_real_time=False
    )
    for i in range(2):
        points_earn(member=member, points=5, at=now, reference=f"p{i}")
    for minutes in (0, 0, 10):
        run_job("fraud_monitor", at=now + timedelta(minutes=minutes))
    assert FraudFlag.objects.count() == 1
    assert Member.objects.get(pk=member.pk).status == "blocked"
    assert Posting.objects.filter(member=member, kind="earn").count() == 2
