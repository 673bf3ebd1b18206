"""PRODUCT.md §3 scenarios 1-3 on a program bootstrapped with the whole seed preset (every app's
step), so other apps' seeded campaigns and rules are in play."""

from datetime import timedelta
from decimal import Decimal

from accounts.models import Member
from accounts.services import member_create
from checkout.purchases import purchase_create
from loyalty_site.core.presets import preset_apply
from tests.factories import ProgramFactory
from tiers.models import Tier


def test_seed_preset_end_to_end(db, now):
    program = ProgramFactory(base_currency="AZN", time_zone="Asia/Baku")
    preset_apply(program=program, preset="seed", at=now - timedelta(days=1))
    preset_apply(program=program, preset="seed", at=now - timedelta(days=1))  # idempotent
    assert list(
        Tier.objects.filter(program=program).values_list("code", "threshold", "gift_points", "gift_period")
    ) == [
        ("bronze", 0, 50, "daily"),
        ("silver", 1000, 200, "weekly"),
        ("gold", 3000, 500, "monthly"),
        ("platinum", 6000, 1000, "monthly"),
    ]

    member = member_create(program=program, at=now, phone="+994501112233")
    member = Member.objects.get(pk=member.pk)
    assert member.tier.code == "bronze"
    enrolled = member.balance  # whatever the seeded registration campaign gives

    first = purchase_create(
        member=member, external_id="R-1001", amount="100.00", currency="USD", at=now
    ).purchase
    assert (first.discount_amount, first.amount_due, first.points_earned) == (
        Decimal("2.00"),
        Decimal("98.00"),
        1176,
    )
    member = Member.objects.get(pk=member.pk)
    assert (member.tier.code, member.balance - enrolled) == ("silver", 1176)

    again = purchase_create(
        member=member, external_id="R-1001", amount="100.00", currency="USD", at=now
    ).purchase
    assert again.pk == first.pk
    assert Member.objects.get(pk=member.pk).balance - enrolled == 1176

    euros = purchase_create(
        member=member, external_id="R-1002", amount="500.00", currency="EUR", at=now + timedelta(minutes=1)
    ).purchase
    earn_line = next(line for line in euros.applied if line["source"] == "earn")
    assert earn_line["points"] == 5000  # capped, not 475.00 x 14 = 6 650 (Silver: 5 % off)
