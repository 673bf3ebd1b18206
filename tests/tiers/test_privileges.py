"""Tier privileges: support priority and personal manager in the API member object and at the
till; a merchant assigns a personal manager to a Platinum member; a refund's downgrade at once."""

from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_key_create
from checkout.purchases import purchase_create
from ledger.services import points_bonus, purchase_refund
from tests.factories import MemberFactory, ProgramFactory
from tests.tiers.helpers import seed_program
from tiers.models import PersonalManager, TierChange
from tiers.selectors import member_tier_progress


def test_refund_that_drops_the_member_below_their_tier_downgrades_at_once(db):
    at = timezone.now()
    # 14 days' grace for the scheduled job's downgrades: a refund's does not wait for it
    program = ProgramFactory(base_currency="AZN", time_zone="UTC", tier_downgrade_grace_days=14)
    program = seed_program(program, at=at)
    member = MemberFactory(program=program, at=at - timedelta(days=1))
    purchase = purchase_create(
        member=member, external_id="R-1", amount=Decimal("300.00"), currency="USD", at=at
    ).purchase
    assert (purchase.points_earned, purchase.member.tier.code) == (3528, "gold")  # 294.00 x 12
    purchase_refund(
        purchase=purchase, amount=Decimal("100.00"), at=at + timedelta(minutes=1), reference="rf-1"
    )
    purchase.refresh_from_db()
    member.refresh_from_db()
    left = 3528 - purchase.points_reversed
    assert member.tier.code == "silver"
    change = TierChange.objects.filter(member=member).first()
    assert (change.reason, change.from_tier.code, change.to_tier.code, change.qualifying_value) == (
        "refund",
        "gold",
        "silver",
        left,
    )
    progress = member_tier_progress(member=member, at=at + timedelta(minutes=2))
    assert (progress["qualifying_points"], progress["next_tier"], progress["points_to_next"]) == (
        left,
        "gold",
        3000 - left,
    )


def test_privileges_and_personal_manager_in_api_admin_and_till(client, staff_user):
    at = timezone.now()
    program = seed_program(ProgramFactory(base_currency="AZN", time_zone="UTC"), at=at)
    silver = MemberFactory(program=program, at=at - timedelta(days=1))
    platinum = MemberFactory(program=program, at=at - timedelta(days=1))
    points_bonus(member=silver, points=1500, at=at, reference="b-1", description="Welcome")
    points_bonus(member=platinum, points=7000, at=at, reference="b-2", description="Welcome")
    _key, raw = api_key_create(program=program, name="test")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")

    body = api.get(f"/api/v1/members/{silver.pk}/").json()
    assert body["privileges"] == {
        "priority_support": True,
        "fast_processing": False,
        "personal_manager": False,
        "event_invitations": False,
        "manager": None,
    }

    owner = staff_user(program.merchant, "owner")
    manager = staff_user(program.merchant, "manager")
    manager.first_name, manager.last_name, manager.email = "Leyla", "Aliyeva", "leyla@example.com"
    manager.save()
    client.force_login(owner)
    add = reverse("admin:tiers_personalmanager_add")
    refused = client.post(add, {"member": silver.pk, "manager": manager.staff_profile.pk})
    assert refused.status_code == 200 and not PersonalManager.objects.exists()  # Silver has none
    done = client.post(add, {"member": platinum.pk, "manager": manager.staff_profile.pk})
    assert done.status_code == 302
    assert PersonalManager.objects.get().manager.user == manager

    body = api.get(f"/api/v1/members/{platinum.pk}/").json()
    assert body["tier"]["code"] == "platinum"
    assert body["privileges"]["personal_manager"] is True
    assert body["privileges"]["manager"] == {"name": "Leyla Aliyeva", "email": "leyla@example.com"}
    listed = api.get("/api/v1/members/?tier=platinum").json()["results"]
    assert [m["privileges"]["manager"]["name"] for m in listed] == ["Leyla Aliyeva"]

    client.force_login(staff_user(program.merchant, "cashier"))
    till = client.get(reverse("cashier:member", args=[platinum.pk])).content.decode()
    assert "Personal manager" in till and "Leyla Aliyeva · leyla@example.com" in till
    till = client.get(reverse("cashier:member", args=[silver.pk])).content.decode()
    assert "Priority support" in till and 'id="member-manager"' not in till
