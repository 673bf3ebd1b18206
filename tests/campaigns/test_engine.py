"""Campaign engine rules: window, budget, per-member limit, targets, exclusivity, events, partners,
segments."""

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Member
from campaigns.models import (
    Campaign,
    CampaignCondition,
    CampaignGrant,
    CampaignReward,
    CustomEventType,
    Partner,
    PartnerTransfer,
    Segment,
)
from campaigns.services import event_record, partner_transfer
from loyalty_site.core.errors import IdempotencyConflict, InvalidInput, NotFound
from tests.campaigns.conftest import T0, grants


def balance(member):
    return Member.objects.get(pk=member.pk).balance


def event_campaign(program, code, points, event_type="login", **fields):
    campaign = Campaign.objects.create(
        program=program,
        code=code,
        name=code.title(),
        trigger=Campaign.Trigger.EVENT,
        event_type=event_type,
        is_active=fields.pop("is_active", True),
        period=fields.pop("period", Campaign.Period.EACH),
        **fields,
    )
    CampaignReward.objects.create(campaign=campaign, kind=CampaignReward.Kind.POINTS, points=points)
    return campaign


def login(member, at, **data):
    return event_record(member=member, type="login", occurred_at=at, data=data)


def test_campaign_outside_its_window_grants_nothing(seeded, make_member):
    member = make_member()
    event_campaign(seeded, "ended", 70, ends_at=T0)
    event_campaign(seeded, "future", 30, starts_at=T0 + timedelta(days=1))
    before = balance(member)
    assert login(member, T0)[1] == []
    assert balance(member) == before
    assert CampaignGrant.objects.filter(campaign__code__in=["ended", "future"]).count() == 0
    assert [r["points"] for r in login(member, T0 + timedelta(days=1))[1]] == [30]


def test_campaign_budget_grants_nothing_beyond_it(seeded, make_member):
    first, second, third = make_member(), make_member(), make_member()
    campaign = event_campaign(seeded, "budgeted", 100, points_budget=250)
    assert [r["points"] for r in login(first, T0)[1]] == [100]
    assert [r["points"] for r in login(second, T0)[1]] == [100]
    before = balance(third)
    assert login(third, T0)[1] == []
    assert balance(third) == before
    campaign.refresh_from_db()
    assert campaign.points_granted == 200
    assert grants("budgeted").count() == 2


def test_inactive_campaign_and_per_member_limit(seeded, make_member):
    member = make_member()
    event_campaign(seeded, "draft", 10, is_active=False)
    event_campaign(seeded, "twice", 20, max_per_member=2)
    points = [sum(r["points"] for r in login(member, T0 + timedelta(hours=h))[1]) for h in range(3)]
    assert points == [20, 20, 0]


def test_exclusive_campaign_stops_lower_priorities(seeded, make_member):
    member = make_member()
    event_campaign(seeded, "first", 10, priority=1, exclusive=True, max_per_member=1)
    event_campaign(seeded, "second", 5, priority=2)
    assert [r["campaign"] for r in login(member, T0)[1]] == ["first"]
    assert [r["campaign"] for r in login(member, T0 + timedelta(hours=1))[1]] == ["second"]


def test_tier_and_segment_targets_and_holdout(seeded, make_member, buy):
    from campaigns.segments import segment_refresh

    regular, frequent = make_member(), make_member()
    for day in range(4):
        buy(frequent, "40.00", T0 - timedelta(days=10 - day))
    high = Segment.objects.get(program=seeded, code="high_value")
    segment_refresh(segment=high, at=T0)
    campaign = event_campaign(seeded, "vip_login", 15)
    campaign.target_segments.add(high)
    assert login(regular, T0)[1] == []
    assert [r["points"] for r in login(frequent, T0)[1]] == [15]


def test_holdout_share_gets_nothing(seeded, make_member):
    from campaigns.engine import in_holdout

    members = [make_member() for _ in range(20)]
    campaign = event_campaign(seeded, "holdout_login", 15, holdout_percent=50)
    held = {m.pk for m in members if in_holdout(campaign, m)}
    assert 0 < len(held) < 20  # 50 %: all on one side has probability 2 x 2^-20
    for member in members:
        rewards = login(member, T0)[1]
        assert [r["points"] for r in rewards] == ([] if member.pk in held else [15])
    assert set(grants("holdout_login").values_list("member", flat=True)) == {m.pk for m in members} - held


def test_condition_rows_on_events(seeded, make_member):
    member = make_member()
    nps = event_campaign(seeded, "promoter", 40, event_type="nps")
    CampaignCondition.objects.create(campaign=nps, kind=CampaignCondition.Kind.MIN_SCORE, count=9)
    CustomEventType.objects.create(program=seeded, code="quiz", name="Quiz")
    quiz = event_campaign(seeded, "quiz_weekend", 25, event_type="quiz")
    CampaignCondition.objects.create(campaign=quiz, kind=CampaignCondition.Kind.WEEKDAY_IN, value="6,7")
    assert event_record(member=member, type="nps", occurred_at=T0, data={"score": 8})[1] == []
    assert [
        r["points"] for r in event_record(member=member, type="nps", occurred_at=T0, data={"score": 10})[1]
    ] == [40]
    assert event_record(member=member, type="quiz", occurred_at=T0, data={})[1] == []  # a Monday
    saturday = T0 + timedelta(days=5)
    assert [
        r["points"] for r in event_record(member=member, type="quiz", occurred_at=saturday, data={})[1]
    ] == [25]
    for bad in ({"score": 11}, {"score": "9"}, {}):
        with pytest.raises(InvalidInput):
            event_record(member=member, type="nps", occurred_at=T0, data=bad)
    with pytest.raises(InvalidInput):
        event_record(member=member, type="unknown", occurred_at=T0, data={})


def test_event_resets_inactivity_clock(seeded, make_member):
    member = make_member(at=T0 - timedelta(days=40))
    login(member, T0)
    assert Member.objects.get(pk=member.pk).last_activity_at == T0


def test_partner_transfer_with_bonus_idempotent(seeded, make_member):
    member = make_member()
    before = balance(member)
    result = partner_transfer(member=member, partner_code="partner", points=100, external_id="P-1", at=T0)
    assert (result["points_credited"], result["balance"]) == (110, before + 110)
    again = partner_transfer(member=member, partner_code="partner", points=100, external_id="P-1", at=T0)
    assert (again["points_credited"], again["balance"]) == (110, before + 110)
    with pytest.raises(IdempotencyConflict):
        partner_transfer(member=member, partner_code="partner", points=50, external_id="P-1", at=T0)
    Partner.objects.filter(program=seeded, code="partner").update(is_active=False)
    with pytest.raises(NotFound):
        partner_transfer(member=member, partner_code="partner", points=10, external_id="P-2", at=T0)
    assert PartnerTransfer.objects.count() == 1
    assert balance(member) == before + 110


def test_percent_and_multiplier_rewards_at_purchase(seeded, make_member, buy):
    member = make_member()
    buy(member, "1.00", T0 - timedelta(days=1))
    campaign = Campaign.objects.create(
        program=seeded,
        code="double",
        name="Double points",
        trigger=Campaign.Trigger.PURCHASE,
        period=Campaign.Period.EACH,
        is_active=True,
    )
    CampaignCondition.objects.create(campaign=campaign, kind="min_amount", amount=Decimal("20.00"))
    CampaignReward.objects.create(campaign=campaign, kind="multiplier", value=Decimal("2"))
    CampaignReward.objects.create(campaign=campaign, kind="percent_points", value=Decimal("5"))
    # 25.00 AZN: 200 earned; x2 → +200; 5 % of 25.00 AZN = 1.25 AZN = 125 points at 0.01
    # (the second purchase also triggers the seed second-purchase bonus of 200)
    assert buy(member, "25.00", T0).points_earned == 200 + 200 + 125 + 200
    assert buy(member, "19.99", T0 + timedelta(hours=1)).points_earned == 159
    assert grants("double").count() == 1


def test_referral_conditions_gate_both_sides(seeded, make_member, buy):
    from campaigns.models import Campaign
    from tests.factories import MemberFactory

    referral = Campaign.objects.get(program=seeded, code="referral")
    CampaignCondition.objects.create(campaign=referral, kind="min_amount", amount=Decimal("20.00"))
    referrer = make_member()
    small = MemberFactory(program=seeded, at=T0, referred_by=referrer.referral_code)
    big = MemberFactory(program=seeded, at=T0, referred_by=referrer.referral_code)
    assert buy(small, "10.00", T0 + timedelta(hours=1)).points_earned == 80
    assert balance(referrer) == 100
    assert buy(big, "20.00", T0 + timedelta(hours=2)).points_earned == 160 + 250
    assert balance(referrer) == 100 + 500
    assert sorted(grants("referral").values_list("member", "period_key")) == sorted(
        [(referrer.pk, f"referral:{big.pk}"), (big.pk, f"referral:{big.pk}")]
    )


def test_grant_counts_prefetched_with_the_purchase_counts_equal_the_direct_ones(seeded, make_member, buy):
    """One statement counts a member's purchases and grants for the purchase-time campaigns; what
    it puts ahead in the pricing memo equals what one query per campaign reads, and is taken once
    (a grant may follow, so a second ask reads again)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from campaigns.selectors import member_grant_counts, member_purchase_counts_prefetch
    from loyalty_site.core.memo import pricing_memo

    member = make_member()
    for day in range(3):
        buy(member, "20.00", T0 + timedelta(days=day))
    second, frequent = (
        Campaign.objects.get(program=seeded, code=c)
        for c in ("second_purchase_bonus", "frequent_buyer_coupon")
    )
    asked = [(second, "once"), (frequent, "once"), (second, "2026-W47")]
    direct = [member_grant_counts(campaign=c, member=member, period_key=key) for c, key in asked]
    assert direct == [(1, 1), (1, 1), (1, 0)]

    for campaign, key in asked:
        with pricing_memo(), CaptureQueriesContext(connection) as queries:
            member_purchase_counts_prefetch(  # (a campaign no row has: the query runs for 2+ counts)
                member=member, windows=[(None, None)], grants=[(campaign.pk, key), (0, "none")]
            )
            prefetched = member_grant_counts(campaign=campaign, member=member, period_key=key)
            assert len(queries) == 1
            again = member_grant_counts(campaign=campaign, member=member, period_key=key)
            assert len(queries) == 2
        assert prefetched == again == direct[asked.index((campaign, key))]
