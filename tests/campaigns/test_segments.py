"""Segments: spend in the base currency at the rate in force at each purchase; the default
low / medium / high value segments by recency, frequency and monetary value (RFM)."""

from datetime import timedelta
from decimal import Decimal

from campaigns.jobs import refresh_segments
from campaigns.models import Campaign, CampaignCondition, CampaignReward, Segment, SegmentMembership
from campaigns.segments import segment_members, segment_rules_text
from campaigns.selectors import member_amount_spent
from ledger.services import rate_set
from tests.campaigns.conftest import T0


def members_of(code, program):
    return set(
        SegmentMembership.objects.filter(segment__program=program, segment__code=code).values_list(
            "member_id", flat=True
        )
    )


def test_spend_rule_counts_other_currencies_at_their_rate_then(seeded, make_member, buy):
    usd_buyer, azn_buyer = make_member(), make_member()
    buy(usd_buyer, "200.00", T0 - timedelta(days=10), currency="USD")  # 200 x 12 / 8 = 300.00 AZN
    buy(azn_buyer, "299.99", T0 - timedelta(days=10))
    rate_set(program=seeded, currency="USD", points_per_unit=Decimal("24"), at=T0 - timedelta(days=5))
    spenders = Segment.objects.create(
        program=seeded, code="spenders", name="Spenders", window_days=90, monetary_min=Decimal("300")
    )
    assert set(segment_members(segment=spenders, at=T0).values_list("pk", flat=True)) == {usd_buyer.pk}
    assert member_amount_spent(member=usd_buyer) == Decimal("300.00")
    assert segment_rules_text(spenders) == "spent ≥ 300 AZN in 90 days"


def test_refund_lowers_spend(seeded, make_member, buy):
    from ledger.services import purchase_refund

    member = make_member()
    purchase = buy(member, "200.00", T0 - timedelta(days=10), currency="USD")
    purchase_refund(purchase=purchase, amount=Decimal("50.00"), at=T0 - timedelta(days=9), reference="r-1")
    assert member_amount_spent(member=member) == Decimal("225.00")  # 150 USD x 12 / 8


def test_default_segments_use_recency_frequency_and_money(seeded, make_member, buy):
    def shopper(amounts, days_ago, currency="AZN"):
        member = make_member()
        for index, amount in enumerate(amounts):
            buy(member, amount, T0 - timedelta(days=days_ago + index), currency=currency)
        return member

    idle = [make_member(), make_member()]
    medium = shopper(["30.00"] * 2, 20)  # 60 AZN, 2 purchases, active 20 days ago
    high = shopper(["40.00"] * 4, 20)  # 160 AZN, 4 purchases
    usd_high = shopper(["50.00"] * 4, 20, currency="USD")  # 200 USD = 300 AZN, 4 purchases
    small = shopper(["10.00"] * 4, 20)  # 4 purchases but 40 AZN: low
    lapsed = shopper(["50.00"] * 4, 70)  # 200 AZN in the window, but last active 73 days ago: low
    old = shopper(["100.00"] * 4, 100)  # outside the 90-day window
    assert refresh_segments(at=T0) == {"segments": 3, "added": 8, "removed": 0}
    assert members_of("high_value", seeded) == {high.pk, usd_high.pk}
    assert members_of("medium_value", seeded) == {medium.pk}
    assert members_of("low_value", seeded) == {idle[0].pk, idle[1].pk, small.pk, lapsed.pk, old.pk}
    assert refresh_segments(at=T0)["added"] == 0
    # 80 days later the recent purchases are 100 days old: everyone is low value
    assert refresh_segments(at=T0 + timedelta(days=80)) == {"segments": 3, "added": 3, "removed": 3}
    sizes = dict(Segment.objects.filter(program=seeded).values_list("code", "member_count"))
    assert sizes == {"low_value": 8, "medium_value": 0, "high_value": 0}
    rules = {s.code: segment_rules_text(s) for s in Segment.objects.filter(program=seeded)}
    assert rules == {
        "high_value": "active in the last 30 days; 4+ purchases in 90 days; spent ≥ 150 AZN in 90 days",
        "medium_value": "active in the last 60 days; 2+ purchases in 90 days; spent ≥ 50 AZN in 90 days; "
        "not in High value",
        "low_value": "not in High value, Medium value",
    }


def test_spent_in_window_condition_converts_the_purchase_being_priced(seeded, make_member, buy):
    member = make_member()
    buy(member, "100.00", T0 - timedelta(days=3), currency="USD")  # 150.00 AZN
    campaign = Campaign.objects.create(
        program=seeded,
        code="big_spender",
        name="Big spender",
        trigger=Campaign.Trigger.PURCHASE,
        period=Campaign.Period.ONCE,
        is_active=True,
    )
    CampaignCondition.objects.create(
        campaign=campaign, kind=CampaignCondition.Kind.SPENT_IN_WINDOW, amount=Decimal("300"), days=30
    )
    CampaignReward.objects.create(campaign=campaign, kind=CampaignReward.Kind.POINTS, points=77)
    # 150.00 + 99.99 USD x 1.5 = 299.99 AZN: not yet; 150.00 + 150.00 + 0.02 x 1.5 at the third
    first = buy(member, "99.99", T0 - timedelta(days=2), currency="USD")
    assert not [
        line for line in first.applied if line.get("source") == "campaign" and "Big" in line["description"]
    ]
    third = buy(member, "0.02", T0 - timedelta(days=1), currency="USD")
    assert [line["points"] for line in third.applied if "Big spender" in line.get("description", "")] == [77]
