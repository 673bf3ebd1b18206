"""Earn, bonus, redeem, adjust, cash-out, partner import: entries, lots, balances, idempotency."""

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Member
from ledger import services
from ledger.models import Account, Allocation, Entry, Lot, Posting
from loyalty_site.core.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    InvalidInput,
    LimitExceeded,
    MemberBlocked,
)


def test_earn_credits_a_lot_and_balanced_entries(member, now, invariant):
    posting = services.points_earn(member=member, points=1176, at=now, reference="R-1")

    assert member.balance == 1176
    assert posting.points == 1176 and posting.balance_after == 1176
    legs = {(e.account, e.kind, e.points, e.balance_after) for e in posting.entries.all()}
    assert legs == {("member", "earn", 1176, 1176), ("issued", "earn", -1176, None)}
    lot = Lot.objects.get(member=member)
    assert (lot.points, lot.remaining, lot.state) == (1176, 1176, "active")
    assert lot.expires_at == now + timedelta(days=365)
    member.refresh_from_db()
    assert member.balance == 1176 and member.last_activity_at == now
    invariant(member)


def test_same_reference_returns_the_original_and_changes_nothing(member, now, invariant):
    first = services.points_earn(member=member, points=100, at=now, reference="R-1")
    again = services.points_earn(member=member, points=100, at=now + timedelta(minutes=5), reference="R-1")

    assert again.pk == first.pk
    member.refresh_from_db()
    assert member.balance == 100
    assert Entry.objects.filter(member=member).count() == 1
    invariant(member)


def test_same_reference_different_request_conflicts(member, now):
    services.points_earn(member=member, points=100, at=now, reference="R-1")
    with pytest.raises(IdempotencyConflict):
        services.points_earn(member=member, points=101, at=now, reference="R-1")
    with pytest.raises(IdempotencyConflict):
        services.points_redeem(member=member, points=100, at=now, reference="R-1")
    member.refresh_from_db()
    assert member.balance == 100 and Posting.objects.count() == 1


def test_redeem_spends_the_first_expiring_lot_and_records_allocations(member, now, invariant):
    services.points_earn(member=member, points=100, at=now - timedelta(days=10), reference="old")
    services.points_earn(member=member, points=200, at=now, reference="new")

    posting = services.points_redeem(member=member, points=150, at=now, reference="spend-1")

    assert member.balance == 150
    old, new = Lot.objects.filter(member=member).order_by("earned_at")
    assert (old.remaining, new.remaining) == (0, 150)
    assert sorted((a.lot_id, a.points) for a in Allocation.objects.filter(posting=posting)) == [
        (old.pk, 100),
        (new.pk, 50),
    ]
    assert posting.amount == Decimal("1.50")
    invariant(member)


def test_redeem_more_than_held_changes_nothing(member, now, invariant):
    services.points_earn(member=member, points=100, at=now, reference="R-1")
    with pytest.raises(InsufficientPoints):
        services.points_redeem(member=member, points=101, at=now, reference="spend")
    member.refresh_from_db()
    assert member.balance == 100
    assert Posting.objects.filter(reference="spend").count() == 0
    assert Lot.objects.get(member=member).remaining == 100
    invariant(member)


def test_invalid_points_are_refused(member, now):
    for bad in (0, -5, Decimal("1.5"), True):
        with pytest.raises(InvalidInput):
            services.points_earn(member=member, points=bad, at=now, reference=f"bad-{bad}")
    assert Posting.objects.count() == 0


def test_blocked_member_cannot_earn_redeem_or_cash_out(member, now, funded):
    funded(500)
    Member.objects.filter(pk=member.pk).update(status="blocked")
    member.refresh_from_db()
    with pytest.raises(MemberBlocked):
        services.points_earn(member=member, points=10, at=now, reference="e")
    with pytest.raises(MemberBlocked):
        services.points_redeem(member=member, points=10, at=now, reference="r")
    with pytest.raises(MemberBlocked):
        services.points_cashout(member=member, points=10, at=now, reference="c")
    member.refresh_from_db()
    assert member.balance == 500 and Posting.objects.count() == 1


def test_adjust_both_ways_never_below_zero(member, now, invariant, django_user_model):
    user = django_user_model.objects.create_user(username="boss", password="x")
    services.points_adjust(member=member, points=300, at=now, reference="adj-1", reason="goodwill", user=user)
    posting = services.points_adjust(
        member=member, points=-50, at=now, reference="adj-2", reason="typo", user=user
    )
    assert member.balance == 250
    assert posting.user == user and posting.data["reason"] == "typo"
    with pytest.raises(InsufficientPoints):
        services.points_adjust(member=member, points=-251, at=now, reference="adj-3", reason="too much")
    with pytest.raises(InvalidInput):
        services.points_adjust(member=member, points=5, at=now, reference="adj-4", reason=" ")
    member.refresh_from_db()
    assert member.balance == 250
    assert set(Entry.objects.filter(account=Account.ADJUSTMENT).values_list("points", flat=True)) == {
        -300,
        50,
    }
    invariant(member)


def test_partner_import_adds_the_partner_bonus(member, now, invariant):
    posting = services.points_partner_import(
        member=member,
        partner_points=1000,
        rate=Decimal("0.5"),
        bonus_percent=Decimal("10"),
        at=now,
        reference="p-1",
        partner_code="AIR",
    )
    assert member.balance == 550
    legs = sorted((e.account, e.points) for e in posting.entries.all())
    assert legs == [("issued", -50), ("member", 550), ("partner", -500)]
    invariant(member)


def test_cashout_fee_and_daily_and_monthly_limits(member, program, now, invariant, funded):
    # 0.01 AZN a point: 5 000 AZN a day is 500 000 points.
    funded(3_000_000)
    posting = services.points_cashout(member=member, points=400_000, at=now, reference="c-1")
    assert posting.amount == Decimal("4000.00") and posting.fee == Decimal("16.00")
    assert posting.data["net"] == "3984.00"
    with pytest.raises(LimitExceeded):
        services.points_cashout(member=member, points=100_001, at=now, reference="c-2")
    services.points_cashout(member=member, points=100_000, at=now, reference="c-3")  # exactly 5 000
    # the month: 20 000 AZN; three more full days reach it, the next day is refused
    for day in (1, 2, 3):
        services.points_cashout(
            member=member, points=500_000, at=now + timedelta(days=day), reference=f"d-{day}"
        )
    with pytest.raises(LimitExceeded):
        services.points_cashout(member=member, points=1, at=now + timedelta(days=4), reference="d-4")
    member.refresh_from_db()
    assert member.balance == 3_000_000 - 2_000_000
    invariant(member)
