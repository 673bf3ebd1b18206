"""Tier-exclusive campaigns, the budget under parallel grants, monthly schedule campaigns."""

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Member
from campaigns.jobs import scheduled_campaigns
from campaigns.models import Campaign, CampaignCondition, CampaignGrant, CampaignReward
from campaigns.services import event_record
from tests.campaigns.conftest import T0, grants
from tiers.models import Tier


def points_campaign(program, code, points, **fields):
    fields.setdefault("period", Campaign.Period.EACH)
    campaign = Campaign.objects.create(program=program, code=code, name=code, is_active=True, **fields)
    CampaignReward.objects.create(campaign=campaign, kind="points", points=points)
    return campaign


def test_tier_exclusive_campaign_reaches_only_tiers_with_access(seeded, make_member):
    golden, silvery, none = make_member(), make_member(), make_member()  # before any tier exists
    gold = Tier.objects.create(program=seeded, code="gold", name="Gold", rank=2, exclusive_campaigns=True)
    silver = Tier.objects.create(program=seeded, code="silver", name="Silver", rank=1)
    Member.objects.filter(pk=golden.pk).update(tier=gold)
    Member.objects.filter(pk=silvery.pk).update(tier=silver)
    points_campaign(seeded, "gold_only", 60, trigger="event", event_type="login", tier_exclusive=True)
    rewarded = {
        m.pk: [r["points"] for r in event_record(member=m, type="login", occurred_at=T0, data={})[1]]
        for m in (golden, silvery, none)
    }
    assert rewarded == {golden.pk: [60], silvery.pk: [], none.pk: []}


@pytest.mark.django_db(transaction=True)
def test_budget_holds_under_parallel_grants(seeded, make_member):
    members = [make_member() for _ in range(6)]
    campaign = points_campaign(seeded, "tight", 100, trigger="event", event_type="login", points_budget=300)
    barrier = threading.Barrier(len(members))
    errors = []

    def login(member):
        try:
            barrier.wait()
            event_record(member=member, type="login", occurred_at=T0, data={})
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=login, args=(m,)) for m in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    campaign.refresh_from_db()
    assert campaign.points_granted == 300
    assert grants("tight").count() == 3
    assert sum(Member.objects.get(pk=m.pk).balance for m in members) == 6 * 100 + 300


def test_monthly_schedule_campaign_for_big_spenders_once(seeded, make_member, buy):
    spender, small = make_member(), make_member()
    october = datetime(2026, 10, 5, 12, tzinfo=UTC)
    buy(spender, "150.00", october)
    buy(spender, "60.00", october + timedelta(days=20))
    buy(small, "150.00", october)
    buy(spender, "500.00", datetime(2026, 11, 1, 0, 30, tzinfo=UTC))  # November: not counted
    campaign = points_campaign(
        seeded, "monthly_vip", 300, trigger="schedule", schedule="monthly", period=Campaign.Period.MONTH
    )
    CampaignCondition.objects.create(campaign=campaign, kind="spent_in_window", amount=Decimal("200.00"))
    first_of_month = datetime(2026, 11, 1, 3, tzinfo=UTC)
    before = Member.objects.get(pk=spender.pk).balance
    assert scheduled_campaigns(at=first_of_month) == {"daily_grants": 0, "monthly_grants": 1}
    assert scheduled_campaigns(at=first_of_month + timedelta(days=3)) == {
        "daily_grants": 0,
        "monthly_grants": 0,
    }
    assert Member.objects.get(pk=spender.pk).balance == before + 300
    assert list(CampaignGrant.objects.filter(campaign=campaign).values_list("member", "period_key")) == [
        (spender.pk, "2026-10")
    ]


def test_weekly_bonus_counts_the_week_in_the_program_time_zone(seeded, make_member, buy):
    from accounts.models import Program
    from campaigns.jobs import weekly_bonus

    Program.objects.filter(pk=seeded.pk).update(time_zone="Asia/Baku")  # UTC+4
    in_week, crosses = make_member(), make_member()
    saturday = datetime(2026, 11, 21, 10, tzinfo=UTC)
    for member in (in_week, crosses):
        event_record(member=member, type="login", occurred_at=saturday, data={})
        buy(member, "10.00", saturday)
        buy(member, "10.00", saturday + timedelta(hours=1))
    event_record(member=in_week, type="login", occurred_at=saturday + timedelta(days=1), data={})
    # Sunday 21:00 UTC is Monday 01:00 in Baku: the next ISO week there
    event_record(member=crosses, type="login", occurred_at=saturday + timedelta(days=1, hours=11), data={})
    assert weekly_bonus(at=datetime(2026, 11, 23, 0, 30, tzinfo=UTC))["grants"] == 1
    assert list(grants("weekly_double_bonus").values_list("member", "period_key")) == [
        (in_week.pk, "2026-W47")
    ]
