"""Refunds: proportional reversal of earned points, spent points returned to their lots, and the
policy when the earned points were already spent."""

from datetime import timedelta
from decimal import Decimal

import pytest

from ledger import services
from ledger.models import Allocation, Lot, Posting, Purchase
from loyalty_site.core.errors import IdempotencyConflict, InvalidInput, RefundExceedsPurchase


def _purchase(member, now, *, external_id="R-1", amount="100.00", discount="0", earned=1000, redeemed=0):
    """A purchase as purchase_create writes it: redeem first, then earn, in one transaction."""
    amount, discount = Decimal(amount), Decimal(discount)
    purchase = Purchase.objects.create(
        program=member.program,
        member=member,
        external_id=external_id,
        amount=amount,
        currency="AZN",
        discount_amount=discount,
        amount_due=amount - discount - redeemed * member.program.point_value,
        points_earned=earned,
        points_redeemed=redeemed,
        occurred_at=now,
    )
    if redeemed:
        services.points_redeem(
            member=member, points=redeemed, at=now, reference=f"{external_id}:redeem", purchase=purchase
        )
    if earned:
        services.points_earn(
            member=member, points=earned, at=now, reference=f"{external_id}:earn", purchase=purchase
        )
    return purchase


def test_full_refund_reverses_earned_points(member, now, invariant):
    purchase = _purchase(member, now)
    posting = services.purchase_refund(purchase=purchase, at=now + timedelta(days=1), reference="refund-1")

    member.refresh_from_db()
    assert member.balance == 0
    assert posting.data == {
        "amount": "100.00",
        "points_reversed": 1000,
        "points_returned": 0,
        "written_off": 0,
        "money_returned": "100.00",
    }
    purchase.refresh_from_db()
    assert (purchase.refunded_amount, purchase.points_reversed) == (Decimal("100.00"), 1000)
    assert sorted(posting.entries.values_list("account", "kind", "points")) == [
        ("issued", "reversal", 1000),
        ("member", "reversal", -1000),
    ]
    invariant(member)


def test_partial_refunds_are_proportional_and_add_up_exactly(member, now, invariant):
    purchase = _purchase(member, now, amount="90.00", earned=1001)
    first = services.purchase_refund(purchase=purchase, amount=Decimal("30"), at=now, reference="rf-1")
    assert first.data["points_reversed"] == 333  # floor(1001 / 3)
    with pytest.raises(RefundExceedsPurchase):
        services.purchase_refund(purchase=purchase, amount=Decimal("60.01"), at=now, reference="rf-2")
    rest = services.purchase_refund(purchase=purchase, at=now, reference="rf-3")
    assert rest.data["points_reversed"] == 668
    member.refresh_from_db()
    assert member.balance == 0
    with pytest.raises(RefundExceedsPurchase):
        services.purchase_refund(purchase=purchase, at=now, reference="rf-4")
    invariant(member)


def test_refund_returns_spent_points_to_their_lots(member, now, invariant, funded):
    funded(500)
    gift_lot = Lot.objects.get(member=member)
    purchase = _purchase(member, now, amount="100.00", earned=400, redeemed=300)
    member.refresh_from_db()
    assert member.balance == 600

    posting = services.purchase_refund(purchase=purchase, amount=Decimal("50.00"), at=now, reference="rf-1")

    assert (posting.data["points_reversed"], posting.data["points_returned"]) == (200, 150)
    member.refresh_from_db()
    assert member.balance == 550
    gift_lot.refresh_from_db()
    assert gift_lot.remaining == 350
    assert Allocation.objects.get(lot=gift_lot, posting__kind="redeem").returned == 150
    invariant(member)


def test_refund_after_the_earned_points_were_spent_claws_back_then_writes_off(member, now, invariant, funded):
    purchase = _purchase(member, now, earned=1000)
    services.points_redeem(member=member, points=900, at=now, reference="spend")
    funded(300, at=now + timedelta(minutes=1))
    member.refresh_from_db()
    assert member.balance == 400  # 100 left of the purchase's lot + 300 gift

    posting = services.purchase_refund(purchase=purchase, at=now + timedelta(days=2), reference="rf")

    # 100 from the purchase's own lot, 300 from the gift, 600 written off; never below zero
    assert posting.data == {
        "amount": "100.00",
        "points_reversed": 400,
        "points_returned": 0,
        "written_off": 600,
        "money_returned": "100.00",
    }
    member.refresh_from_db()
    assert member.balance == 0
    purchase.refresh_from_db()
    assert purchase.points_reversed == 1000
    invariant(member)


def test_refund_validation_changes_nothing(member, now, invariant):
    purchase = _purchase(member, now)
    with pytest.raises(InvalidInput):
        services.purchase_refund(purchase=purchase, amount=Decimal("0"), at=now, reference="rf-0")
    with pytest.raises(RefundExceedsPurchase):
        services.purchase_refund(purchase=purchase, amount=Decimal("100.01"), at=now, reference="rf-1")
    services.purchase_refund(purchase=purchase, amount=Decimal("10"), at=now, reference="rf-2")
    again = services.purchase_refund(purchase=purchase, amount=Decimal("10"), at=now, reference="rf-2")
    with pytest.raises(IdempotencyConflict):
        services.purchase_refund(purchase=purchase, amount=Decimal("11"), at=now, reference="rf-2")
    assert Posting.objects.filter(kind="refund").count() == 1 and again.data["points_reversed"] == 100
    member.refresh_from_db()
    assert member.balance == 900
    purchase.refresh_from_db()
    assert purchase.refunded_amount == Decimal("10.00")
    invariant(member)


def test_refund_inside_the_renewal_window_renews_then_reverses(member, program, now, invariant):
    from accounts.models import Program
    from ledger import jobs

    Program.objects.filter(pk=program.pk).update(points_lifetime_days=10)
    purchase = _purchase(member, now, earned=1000)
    expiry = now + timedelta(days=10)
    jobs.expire_points(at=expiry)

    posting = services.purchase_refund(purchase=purchase, at=expiry + timedelta(hours=1), reference="rf")

    assert posting.data["points_reversed"] == 1000 and posting.data["written_off"] == 0
    services.member_activity_record(member=member, at=expiry + timedelta(hours=2), kind="login")
    member.refresh_from_db()
    assert member.balance == 0
    assert Lot.objects.get(member=member).remaining == 0
    invariant(member)
