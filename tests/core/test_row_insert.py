"""`db.row_insert` / `db.row_update`: the hot path's single-row statements write what `save()`
writes, raise what it raises; with `skip_conflict` a row a unique constraint refuses is skipped
without aborting the transaction."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.forms.models import model_to_dict

from accounts.models import Member
from campaigns.models import Coupon
from ledger.models import Purchase
from loyalty_site.core.db import row_insert, row_update
from tests.factories import MemberFactory


def _purchase(member, external_id: str, at) -> Purchase:
    return Purchase(
        program_id=member.program_id,
        member=member,
        external_id=external_id,
        amount=Decimal("12.50"),
        currency="USD",
        amount_due=Decimal("12.50"),
        occurred_at=at,
        applied=[{"source": "earn", "points": 150}],
    )


def _stored(instance) -> dict:
    row = type(instance).objects.get(pk=instance.pk)
    values = model_to_dict(row)
    values.pop("id")
    values.pop("external_id", None)
    values.pop("created_at", None)
    return values


def test_the_row_is_the_one_save_writes(db, now):
    member = MemberFactory()
    saved = _purchase(member, "S-1", now)
    saved.save()
    inserted = _purchase(member, "S-2", now)

    assert row_insert(inserted) is True

    assert inserted.pk and not inserted._state.adding
    assert _stored(inserted) == _stored(saved)
    stored = Purchase.objects.get(pk=inserted.pk)
    assert stored.created_at is not None and stored.created_at == inserted.created_at  # auto_now_add
    assert (stored.discount_amount, stored.points_earned, stored.kind) == (Decimal("0"), 0, "purchase")


def test_a_unique_conflict_raises_like_save(db, now):
    member = MemberFactory()
    row_insert(_purchase(member, "S-1", now))
    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(_purchase(member, "S-1", now))
    assert Purchase.objects.filter(external_id="S-1").count() == 1


def test_skip_conflict_skips_without_aborting_the_transaction(db, now):
    member = MemberFactory()
    program = member.program

    def coupon(code: str) -> Coupon:
        return Coupon(program=program, code=code, kind="percent", value=Decimal("10"), starts_at=now)

    with transaction.atomic():
        first = coupon("ABC123")
        assert row_insert(first, skip_conflict=True) is True
        again = coupon("abc123")  # the constraint is on upper(code): the same code
        assert row_insert(again, skip_conflict=True) is False
        assert again.pk is None and again._state.adding
        # the transaction goes on: no savepoint was needed
        other = coupon("XYZ789")
        assert row_insert(other, skip_conflict=True) is True
    codes = Coupon.objects.filter(program=program).values_list("code", flat=True)
    assert sorted(codes) == ["ABC123", "XYZ789"]
    assert Coupon.objects.get(pk=first.pk).ends_at is None
    assert now - timedelta(seconds=1) < Coupon.objects.get(pk=other.pk).starts_at <= now


def test_skip_conflict_by_name_skips_that_constraint_only(db, now):
    """A constraint named: its conflict is skipped; another unique constraint still raises."""
    member = MemberFactory()
    other_member = MemberFactory(program=member.program)

    def clone(**changes) -> Member:
        row = Member.objects.get(pk=member.pk)
        row.pk, row._state.adding = None, True
        row.phone = row.email = row.external_id = None
        for name, value in changes.items():
            setattr(row, name, value)
        return row

    named = "accounts_member_card_number_key"
    # the same card number: the named constraint's conflict, skipped
    assert row_insert(clone(card_token="t1", referral_code="r1"), skip_conflict=named) is False
    # a new card number but another member's card token: another constraint, raised
    with pytest.raises(IntegrityError), transaction.atomic():
        row_insert(
            clone(card_number="1", card_token=other_member.card_token, referral_code="r2"),
            skip_conflict=named,
        )
    assert (
        row_insert(clone(card_number="2", card_token="t3", referral_code="r3"), skip_conflict=named) is True
    )
    assert Member.objects.filter(program=member.program).count() == 3


def test_row_update_writes_only_the_fields_named(db, now):
    member = MemberFactory()
    purchase = _purchase(member, "S-1", now)
    row_insert(purchase)
    purchase.amount_due, purchase.points_earned = Decimal("10.00"), 120
    purchase.applied = [{"source": "tier", "discount": "2.50"}]
    purchase.coupon_code = "NOT-WRITTEN"

    row_update(purchase, ["amount_due", "points_earned", "applied"])

    stored = Purchase.objects.get(pk=purchase.pk)
    assert (stored.amount_due, stored.points_earned) == (Decimal("10.00"), 120)
    assert stored.applied == [{"source": "tier", "discount": "2.50"}]
    assert stored.coupon_code == ""
