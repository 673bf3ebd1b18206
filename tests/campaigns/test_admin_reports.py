"""Admin: the rules editor pages, batch generation from the admin, CSV export, bulk deactivate,
simulation and ROI pages (scoped to the merchant); and the ROI / simulation numbers."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.urls import reverse

from campaigns.jobs import birthdays
from campaigns.models import Campaign, Coupon, CouponBatch
from campaigns.reports import campaign_roi, campaign_simulate
from tests.campaigns.conftest import T0, campaign
from tests.factories import ProgramFactory


def test_rules_editor_pages_and_other_merchant_is_404(client, staff_user, seeded):
    client.force_login(staff_user(seeded.merchant, "manager"))
    weekly = campaign(seeded, "weekly_double_bonus")
    listing = client.get(reverse("admin:campaigns_campaign_changelist"))
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 11
    page = client.get(reverse("admin:campaigns_campaign_change", args=[weekly.pk]))
    assert page.status_code == 200
    assert b"If: all of these hold" in page.content
    assert b"Then give: all of these" in page.content
    assert client.get(reverse("admin:campaigns_campaign_simulate", args=[weekly.pk])).status_code == 200
    assert client.get(reverse("admin:campaigns_campaign_roi", args=[weekly.pk])).status_code == 200
    other = ProgramFactory()
    foreign = Campaign.objects.create(program=other, code="x", name="X", trigger="registration")
    assert client.get(reverse("admin:campaigns_campaign_simulate", args=[foreign.pk])).status_code == 404
    assert client.get(reverse("admin:campaigns_campaign_roi", args=[foreign.pk])).status_code == 404
    for name in (
        "coupon",
        "couponbatch",
        "segment",
        "partner",
        "dailytask",
        "campaigngrant",
        "activityevent",
    ):
        assert client.get(reverse(f"admin:campaigns_{name}_changelist")).status_code == 200


def test_batch_generated_from_admin_exported_and_deactivated(client, staff_user, seeded):
    client.force_login(staff_user(seeded.merchant, "manager"))
    response = client.post(
        reverse("admin:campaigns_couponbatch_add"),
        {
            "program": seeded.pk,
            "name": "Flyers",
            "prefix": "FLY",
            "size": "25",
            "kind": "percent",
            "value": "10",
            "currency": "",
            "min_purchase": "0",
        },
    )
    assert response.status_code == 302, response.content
    batch = CouponBatch.objects.get(name="Flyers")
    assert batch.coupons.count() == 25
    export = client.post(
        reverse("admin:campaigns_couponbatch_changelist"),
        {"action": "export_selected_csv", "_selected_action": [batch.pk]},
    )
    assert export["Content-Type"].startswith("text/csv")
    lines = export.content.decode().strip().splitlines()
    assert len(lines) == 26
    client.post(
        reverse("admin:campaigns_couponbatch_changelist"),
        {"action": "deactivate_batch", "_selected_action": [batch.pk]},
    )
    assert Coupon.objects.filter(batch=batch, is_active=True).count() == 0


def test_analyst_reads_but_cannot_change(client, staff_user, seeded):
    client.force_login(staff_user(seeded.merchant, "analyst"))
    weekly = campaign(seeded, "weekly_double_bonus")
    assert client.get(reverse("admin:campaigns_campaign_roi", args=[weekly.pk])).status_code == 200
    assert client.get(reverse("admin:campaigns_coupon_add")).status_code == 403


def test_roi_counts_cost_revenue_and_coupon_redemption(seeded, make_member, buy):
    member, other = make_member(), make_member()
    buy(member, "10.00", T0)
    buy(member, "10.00", T0 + timedelta(days=10))  # second purchase: 200 points = 2.00 AZN
    buy(member, "30.00", T0 + timedelta(days=20))  # within 30 days of the grant
    buy(member, "99.00", T0 + timedelta(days=45))  # outside the attribution window
    buy(other, "50.00", T0)
    report = campaign_roi(campaign=campaign(seeded, "second_purchase_bonus"), at=T0 + timedelta(days=50))
    assert report["members_rewarded"] == 1
    assert report["points"] == 200
    assert report["cost"] == Decimal("2.00")
    assert report["revenue"] == Decimal("30.00")  # after the reward: not the purchase that earned it
    assert (report["converted_members"], report["conversion_rate"]) == (1, Decimal("100.0"))
    assert report["roi"] is None  # no holdout: gross revenue is no return
    assert report["verdict"].startswith("No holdout")

    coupon_report = campaign_roi(
        campaign=campaign(seeded, "frequent_buyer_coupon"), at=T0 + timedelta(days=50)
    )
    assert (coupon_report["coupons_issued"], coupon_report["coupons_redeemed"]) == (1, 0)
    assert coupon_report["coupon_redemption_rate"] == Decimal("0.0")
    code = Coupon.objects.get(member=member).code
    buy(member, "50.00", T0 + timedelta(days=46), coupon_code=code)
    coupon_report = campaign_roi(
        campaign=campaign(seeded, "frequent_buyer_coupon"), at=T0 + timedelta(days=50)
    )
    assert coupon_report["coupon_redemption_rate"] == Decimal("100.0")
    assert coupon_report["coupon_cost"] == Decimal("10.00")
    assert coupon_report["cost"] == Decimal("10.00")  # recorded on the grant, counted once
    assert grants_of(seeded).get(campaign__code="frequent_buyer_coupon").cost == Decimal("10.00")


def test_simulation_before_activation(seeded, make_member, buy):
    birthday = campaign(seeded, "birthday_gift")
    Campaign.objects.filter(pk=birthday.pk).update(is_active=False)
    birthday.refresh_from_db()
    at = datetime(2026, 11, 20, 8, tzinfo=UTC)
    for _ in range(3):
        make_member(birth_date=date(1991, 11, 20))
    make_member(birth_date=date(1991, 11, 21))
    result = campaign_simulate(campaign=birthday, at=at)
    assert (result["qualifying_now"], result["estimated_points"]) == (3, 1500)
    assert result["estimated_cost"] == Decimal("15.00")
    assert birthdays(at=at)["grants"] == 0  # inactive: the simulation granted nothing either

    winback = campaign(seeded, "winback_offer")
    make_member(at=T0 - timedelta(days=70))
    make_member(at=T0 - timedelta(days=59))  # not idle for 60 days yet
    result = campaign_simulate(campaign=winback, at=T0)
    assert (result["qualifying_now"], result["coupons"], result["estimated_points"]) == (5, 5, 0)


def _inline_management(prefix, total):
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_rules_editor_creates_a_campaign_with_conditions_and_rewards(client, staff_user, seeded):
    client.force_login(staff_user(seeded.merchant, "manager"))
    base = {
        "program": seeded.pk,
        "code": "big_weekend",
        "name_en": "Big weekend",
        "description_en": "",
        "trigger": "purchase",
        "event_type": "",
        "schedule": "",
        "period": "each",
        "max_per_member": "0",
        "points_budget": "10000",
        "priority": "50",
        "holdout_percent": "0",
        "attribution_days": "30",
        **_inline_management("conditions", 2),
        **_inline_management("rewards", 1),
        "conditions-0-kind": "min_amount",
        "conditions-0-amount": "50.00",
        "conditions-1-kind": "weekday_in",
        "conditions-1-value": "6,7",
        "rewards-0-kind": "points",
        "rewards-0-recipient": "member",
        "rewards-0-points": "150",
        "rewards-0-value": "0",
        "rewards-0-coupon_min_purchase": "0",
        "rewards-0-days": "0",
    }
    bad = {**base, "conditions-0-amount": ""}
    response = client.post(reverse("admin:campaigns_campaign_add"), bad)
    assert response.status_code == 200  # the form comes back with the error
    assert not Campaign.objects.filter(code="big_weekend").exists()
    response = client.post(reverse("admin:campaigns_campaign_add"), base)
    assert response.status_code == 302, response.context and response.context["errors"]
    created = Campaign.objects.get(program=seeded, code="big_weekend")
    assert created.is_active is False  # a new campaign waits for the simulation and activation
    assert list(created.conditions.values_list("kind", "amount", "value")) == [
        ("min_amount", Decimal("50.00"), ""),
        ("weekday_in", None, "6,7"),
    ]
    assert list(created.rewards.values_list("kind", "points")) == [("points", 150)]


def test_every_campaigns_admin_page_renders_for_a_superuser(admin_client, seeded, make_member, buy):
    member = make_member()
    buy(member, "10.00", T0)
    buy(member, "10.00", T0 + timedelta(days=1))
    for model in (
        "campaign",
        "campaigngrant",
        "segment",
        "coupon",
        "couponbatch",
        "couponredemption",
        "dailytask",
        "customeventtype",
        "partner",
        "partnertransfer",
        "referral",
        "activityevent",
    ):
        assert admin_client.get(reverse(f"admin:campaigns_{model}_changelist")).status_code == 200, model
    for model in ("campaign", "segment", "coupon", "couponbatch", "dailytask", "customeventtype", "partner"):
        assert admin_client.get(reverse(f"admin:campaigns_{model}_add")).status_code == 200, model
    grant = grants_of(seeded).first()
    assert (
        admin_client.get(reverse("admin:campaigns_campaigngrant_change", args=[grant.pk])).status_code == 200
    )


def grants_of(program):
    from campaigns.models import CampaignGrant

    return CampaignGrant.objects.filter(campaign__program=program)
