"""Campaign measurement with exact numbers: the simulation (every reward kind, purchase
conditions replayed on each member's recent purchases, through the engine's plan) and the ROI
report (incremental revenue against the holdout, too-small holdouts, conversion)."""

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse

from accounts.models import Member
from campaigns.engine import in_holdout
from campaigns.models import Campaign, CampaignCondition, CampaignReward
from campaigns.reports import campaign_roi, campaign_simulate
from campaigns.services import event_record
from tests.campaigns.conftest import T0

K, R = CampaignCondition.Kind, CampaignReward.Kind


def purchase_campaign(program, code, rewards, conditions=(), **fields):
    campaign = Campaign.objects.create(
        program=program,
        code=code,
        name=code.replace("_", " ").title(),
        trigger=Campaign.Trigger.PURCHASE,
        period=fields.pop("period", Campaign.Period.EACH),
        is_active=False,
        **fields,
    )
    for condition in conditions:
        CampaignCondition.objects.create(campaign=campaign, **condition)
    for reward in rewards:
        CampaignReward.objects.create(campaign=campaign, **reward)
    return campaign


def test_simulation_honours_purchase_conditions_and_estimates_every_reward(seeded, make_member, buy):
    big, small, usd, idle = make_member(), make_member(), make_member(), make_member()
    buy(big, "40.00", T0 - timedelta(days=3))  # 320 points earned
    buy(big, "10.00", T0 - timedelta(days=2))  # below the basket: not counted
    buy(small, "20.00", T0 - timedelta(days=5))
    buy(usd, "30.00", T0 - timedelta(days=4), currency="USD")  # 360 points; 30 USD = 45.00 AZN
    buy(idle, "90.00", T0 - timedelta(days=45))  # before the 30-day lookback
    basket = purchase_campaign(
        seeded,
        "basket_30",
        rewards=[
            {"kind": R.POINTS, "points": 50},
            {"kind": R.MULTIPLIER, "value": Decimal("2")},
            {"kind": R.PERCENT_POINTS, "value": Decimal("10")},
        ],
        conditions=[{"kind": K.MIN_AMOUNT, "amount": Decimal("30.00")}],
    )
    result = campaign_simulate(campaign=basket, at=T0)
    # big: 50 + 320 (x2 adds one more 320) + 10 % of 40.00 AZN = 4.00 = 400 points → 770
    # usd: 50 + 360 + 10 % of 30 USD = 3 USD = 450 points (point value 0.01 AZN x 8 / 12) → 860
    assert (result["qualifying_now"], result["grants"]) == (2, 2)
    assert result["estimated_points"] == 770 + 860
    assert result["estimated_cost"] == Decimal("16.30")
    assert result["occurrences_replayed"] == 4

    once = purchase_campaign(
        seeded,
        "second_visit_coupon",
        rewards=[
            {"kind": R.COUPON, "coupon_kind": "percent", "value": Decimal("10"), "days": 30},
            {"kind": R.EXTEND_EXPIRY, "days": 400},
        ],
        conditions=[{"kind": K.NTH_PURCHASE, "count": 2}],
        period=Campaign.Period.ONCE,
    )
    result = campaign_simulate(campaign=once, at=T0)
    # only big made a second purchase in the lookback (10.00, replayed with 1 purchase before it);
    # 10 % coupon on big's average purchase (25.00) = 2.50; extension saves big's 320 + 100 + 80 +
    # 200 points (purchases, welcome bonus, second purchase bonus) expiring within 400 days
    assert (result["qualifying_now"], result["coupons"]) == (1, 1)
    assert result["coupon_cost"] == Decimal("2.50")
    assert result["extended_points"] == 100 + 320 + 80 + 200
    assert result["estimated_cost"] == Decimal("2.50") + Decimal("7.00")


def test_simulation_caps_at_the_budget_and_skips_the_holdout(seeded, make_member, buy):
    members = [make_member() for _ in range(4)]
    for member in members:
        buy(member, "10.00", T0 - timedelta(days=1))
    capped = purchase_campaign(
        seeded, "capped", rewards=[{"kind": R.POINTS, "points": 40}], points_budget=100
    )
    assert campaign_simulate(campaign=capped, at=T0)["estimated_points"] == 80  # no partial grants
    held = purchase_campaign(seeded, "held", rewards=[{"kind": R.POINTS, "points": 40}], holdout_percent=50)
    out = sum(1 for m in members if in_holdout(held, m))
    assert campaign_simulate(campaign=held, at=T0)["qualifying_now"] == 4 - out


def _login_promo(program, holdout):
    promo = Campaign.objects.create(
        program=program,
        code="login_promo",
        name="Login promo",
        trigger="event",
        event_type="login",
        period="once",
        is_active=True,
        holdout_percent=holdout,
    )
    CampaignReward.objects.create(campaign=promo, kind="points", points=100)
    return promo


def test_roi_is_incremental_revenue_against_the_holdout(seeded, make_member, buy):
    promo = _login_promo(seeded, 50)
    rewarded, held = [], []
    while len(held) < 30 or len(rewarded) < 30:
        member = make_member()
        (held if in_holdout(promo, member) else rewarded).append(member)
    extra = [m.pk for m in rewarded[30:] + held[30:]]
    Member.objects.filter(pk__in=extra).update(status=Member.Status.BLOCKED)  # out of the target
    rewarded, held = rewarded[:30], held[:30]
    for index, member in enumerate(rewarded):
        event_record(member=member, type="login", occurred_at=T0, data={})
        if index < 20:  # 20 of 30 buy within the 30 days: 20 x 30.00 = 600.00 → 20.00 per member
            buy(member, "30.00", T0 + timedelta(days=3))
    buy(rewarded[0], "99.00", T0 + timedelta(days=31))  # after the attribution window
    for index, member in enumerate(held):
        if index < 15:  # 15 x 30.00 = 450.00 → 15.00 per member
            buy(member, "30.00", T0 + timedelta(days=3))
    report = campaign_roi(campaign=promo, at=T0 + timedelta(days=40))
    assert report["members_rewarded"] == 30
    assert report["cost"] == Decimal("30.00")  # 100 points = 1.00 AZN each
    assert report["revenue"] == Decimal("600.00")
    assert (report["revenue_per_member"], report["holdout_revenue_per_member"]) == (
        Decimal("20.00"),
        Decimal("15.00"),
    )
    assert report["lift_per_member"] == Decimal("5.00")
    assert report["incremental_revenue"] == Decimal("150.00")
    assert report["roi"] == Decimal("400.0")  # (150 - 30) / 30
    assert (report["converted_members"], report["conversion_rate"]) == (20, Decimal("66.7"))
    assert (report["holdout_converted"], report["holdout_conversion_rate"]) == (15, Decimal("50.0"))


def test_roi_says_when_the_holdout_is_too_small(seeded, make_member, buy, admin_client):
    promo = _login_promo(seeded, 50)
    members = [make_member() for _ in range(8)]
    while len({in_holdout(promo, m) for m in members}) < 2:
        members.append(make_member())
    held = [m for m in members if in_holdout(promo, m)]
    for member in members:
        event_record(member=member, type="login", occurred_at=T0, data={})
        buy(member, "20.00", T0 + timedelta(days=3))
    report = campaign_roi(campaign=promo, at=T0 + timedelta(days=40))
    assert report["roi"] is None and report["incremental_revenue"] is None
    assert report["verdict"] == (
        f"Holdout too small to tell: {len(held)} member{'' if len(held) == 1 else 's'} held out, "
        "at least 30 needed."
    )
    assert report["holdout_revenue_per_member"] == Decimal("20.00")
    page = admin_client.get(reverse("admin:campaigns_campaign_roi", args=[promo.pk]))
    assert "Holdout too small to tell" in page.content.decode()
    dashboard = admin_client.get(reverse("reports:dashboard"))
    assert dashboard.status_code == 200
