"""The campaign jobs' set-based grants (campaigns.bulk) write exactly the rows the engine writes
member by member (`campaigns.jobs.BULK = False`), on mixed members, and a rerun or a run after one
killed mid-way grants nothing twice."""

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from accounts.models import Member
from campaigns import bulk, jobs
from campaigns.models import Campaign, CampaignGrant, Coupon
from campaigns.services import event_record
from fraud.models import FraudRule
from ledger.models import Lot
from ledger.services import points_bonus, points_earn
from tests.campaigns.conftest import T0
from tests.jobs.rows import diff, same_rows, snapshot
from tiers.models import TierChange
from tiers.presets import seed_tiers

BIRTHDAY = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def both_ways(monkeypatch, job, at):
    """(rows after the job member by member, rows after it set-based), from the same data."""

    def one_by_one():
        monkeypatch.setattr(jobs, "BULK", False)
        job(at=at)
        monkeypatch.setattr(jobs, "BULK", True)

    by_member, set_based = same_rows(one_by_one, lambda: job(at=at))
    assert by_member == set_based, json.dumps(diff(by_member, set_based), indent=1, default=str)
    return set_based


@pytest.fixture
def tiered(seeded):
    seed_tiers(program=seeded, at=T0 - timedelta(days=800))
    return seeded


def test_birthdays_bulk_writes_the_engines_rows(tiered, make_member, monkeypatch):
    born = date(1990, 11, 20)
    plain = make_member(birth_date=born)
    lifted = make_member(birth_date=born)
    points_earn(member=lifted, points=450, at=BIRTHDAY - timedelta(days=3), reference="e1")  # +100 +500
    blocked = make_member(birth_date=born)
    Member.objects.filter(pk=blocked.pk).update(status=Member.Status.BLOCKED)
    granted = make_member(birth_date=born)
    campaign = Campaign.objects.get(program=tiered, code="birthday_gift")
    CampaignGrant.objects.create(campaign=campaign, member=granted, period_key="2026", created_at=BIRTHDAY)
    expired = make_member(birth_date=born, at=BIRTHDAY - timedelta(days=400))  # welcome lot expired
    refused = make_member(birth_date=born)
    points_bonus(member=refused, points=5, at=BIRTHDAY - timedelta(hours=1), reference="r", description="r")
    FraudRule.objects.create(program=tiered, name="bonus", kinds=["bonus"], window_minutes=120, max_count=1)
    other_day = make_member(birth_date=date(1990, 11, 21))
    assert Lot.objects.filter(member=expired, state="active", expires_at__lte=BIRTHDAY).exists()

    both_ways(monkeypatch, jobs.birthdays, BIRTHDAY)

    got = set(CampaignGrant.objects.filter(campaign=campaign).values_list("member_id", flat=True))
    assert got == {plain.pk, lifted.pk, granted.pk, expired.pk}
    assert refused.pk not in got and blocked.pk not in got and other_day.pk not in got
    assert Member.objects.get(pk=lifted.pk).tier.code == "silver"
    assert TierChange.objects.filter(member=lifted, reason="earning").exists()
    assert Member.objects.get(pk=expired.pk).balance == 500
    assert Campaign.objects.get(pk=campaign.pk).points_granted == 3 * 500


def test_inactivity_reminders_and_winback_coupons_bulk_write_the_engines_rows(
    seeded, make_member, monkeypatch
):
    at = T0 + timedelta(days=61)
    for days in (70, 65, 45, 31, 20):  # two win-backs and four reminders due, one member active
        make_member(at=at - timedelta(days=days))
    both_ways(monkeypatch, jobs.inactivity_reminders, at)
    assert CampaignGrant.objects.filter(campaign__code="inactivity_reminder").count() == 4
    assert CampaignGrant.objects.filter(campaign__code="winback_offer", coupon__isnull=False).count() == 2
    assert Coupon.objects.filter(campaign__code="winback_offer").count() == 2


def test_weekly_bonus_bulk_writes_the_engines_rows(seeded, make_member, buy, monkeypatch):
    monday = T0
    members = [make_member() for _ in range(3)]
    for member in members:
        for day in (1, 2):
            event_record(member=member, type="login", occurred_at=monday + timedelta(days=day), data={})
    for member in members[:2]:
        buy(member, "10.00", monday + timedelta(days=4))
        buy(member, "10.00", monday + timedelta(days=5))
    both_ways(monkeypatch, jobs.weekly_bonus, monday + timedelta(days=7, hours=2))
    assert CampaignGrant.objects.filter(campaign__code="weekly_double_bonus").count() == 2


def test_a_rerun_and_a_run_after_a_killed_chunk_grant_nothing_twice(seeded, make_member, monkeypatch):
    members = [make_member(birth_date=date(1990, 11, 20)) for _ in range(3)]
    monkeypatch.setattr(jobs, "BULK_CHUNK", 1)
    real, calls = bulk.grants_chunk, []

    def dying(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed inside the second chunk
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "grants_chunk", dying)
    with pytest.raises(KeyboardInterrupt):
        jobs.birthdays(at=BIRTHDAY)
    assert CampaignGrant.objects.filter(campaign__code="birthday_gift").count() == 1
    monkeypatch.setattr(bulk, "grants_chunk", real)
    assert jobs.birthdays(at=BIRTHDAY)["grants"] == 2
    once = snapshot()
    assert jobs.birthdays(at=BIRTHDAY + timedelta(hours=3))["grants"] == 0
    assert snapshot() == once
    for member in members:
        assert Member.objects.get(pk=member.pk).balance == 100 + 500
