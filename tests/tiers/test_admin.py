from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Member
from tests.factories import MemberFactory, ProgramFactory
from tests.tiers.helpers import seed_program
from tiers.models import SpendDiscount, Tier, TierChange, TierOverride


def url(model, action, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}", args=args)


@pytest.fixture
def two(db, now):
    a = seed_program(ProgramFactory(name="A"), at=now)
    b = seed_program(ProgramFactory(name="B"), at=now)
    return {
        "a": {"program": a, "member": MemberFactory(program=a)},
        "b": {"program": b, "member": MemberFactory(program=b)},
    }


@pytest.mark.parametrize("model", [Tier, TierChange])
def test_staff_see_only_their_merchants_tier_rows(client, staff_user, two, model):
    client.force_login(staff_user(two["a"]["program"].merchant, "analyst"))
    listing = client.get(url(model, "changelist"))
    assert listing.status_code == 200
    programs = {row.program_id for row in listing.context["cl"].result_list}
    assert programs == {two["a"]["program"].pk}
    other = model.objects.filter(program=two["b"]["program"]).first()
    assert client.get(url(model, "change", other.pk)).status_code in (302, 404)


def test_manager_sets_a_manual_tier_in_the_admin(client, staff_user, two):
    a = two["a"]
    user = staff_user(a["program"].merchant, "manager")
    client.force_login(user)
    gold = Tier.objects.get(program=a["program"], code="gold")
    ends = timezone.now() + timedelta(days=30)
    response = client.post(
        url(TierOverride, "add"),
        {
            "member": a["member"].pk,
            "tier": gold.pk,
            "reason": "Compensation for a late order",
            "ends_at_0": ends.strftime("%Y-%m-%d"),
            "ends_at_1": ends.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 302, response.content
    override = TierOverride.objects.get()
    assert (override.member_id, override.tier_id, override.created_by) == (a["member"].pk, gold.pk, user)
    assert Member.objects.get(pk=a["member"].pk).tier == gold
    change = TierChange.objects.filter(member=a["member"]).first()
    assert (change.reason, change.created_by, change.note) == (
        "manual",
        user,
        "Compensation for a late order",
    )


def test_manual_tier_form_refuses_another_programs_tier(client, staff_user, two):
    a, b = two["a"], two["b"]
    client.force_login(staff_user(a["program"].merchant, "manager"))
    foreign = Tier.objects.get(program=b["program"], code="gold")
    ends = timezone.now() + timedelta(days=30)
    response = client.post(
        url(TierOverride, "add"),
        {
            "member": a["member"].pk,
            "tier": foreign.pk,
            "reason": "x",
            "ends_at_0": ends.strftime("%Y-%m-%d"),
            "ends_at_1": ends.strftime("%H:%M:%S"),
        },
    )
    assert response.status_code == 200
    assert "tier" in response.context["adminform"].form.errors
    assert TierOverride.objects.count() == 0
    assert Member.objects.get(pk=a["member"].pk).tier.code == "bronze"


def test_analyst_cannot_add_spend_discounts(client, staff_user, two):
    a = two["a"]
    client.force_login(staff_user(a["program"].merchant, "analyst"))
    response = client.post(
        url(SpendDiscount, "add"),
        {"program": a["program"].pk, "threshold": "100", "percent": "5", "is_active": "on"},
    )
    assert response.status_code == 403
    assert SpendDiscount.objects.count() == 0


def test_tier_change_history_is_read_only(client, staff_user, two):
    client.force_login(staff_user(two["a"]["program"].merchant, "owner"))
    assert client.get(url(TierChange, "add")).status_code == 403


@pytest.mark.parametrize("model", [Tier, TierChange, TierOverride, SpendDiscount])
def test_tier_admin_pages_render_for_the_owner(client, staff_user, two, model):
    from tiers.models import TierGift

    client.force_login(staff_user(two["a"]["program"].merchant, "owner"))
    assert client.get(url(model, "changelist")).status_code == 200
    assert client.get(url(TierGift, "changelist")).status_code == 200
    if model in (Tier, TierOverride, SpendDiscount):
        assert client.get(url(model, "add")).status_code == 200
