"""Coupons: validation reasons, the pricing hook at quote and commit, one-time codes under parallel
requests, batches of promo codes, CSV export and bulk deactivation."""

import csv
import io
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from accounts.services import CODE_ALPHABET
from campaigns.coupons import (
    coupon_batch_generate,
    coupon_redeem,
    coupon_validate,
    coupons_csv,
    coupons_deactivate,
)
from campaigns.models import Coupon, CouponBatch, CouponRedemption
from checkout.pricing import purchase_quote
from loyalty_site.core.errors import CouponUsed
from tests.campaigns.conftest import T0


def make_coupon(program, code="SAVE10", **kwargs):
    values = {"kind": "percent", "value": Decimal("10"), "created_at": T0 - timedelta(days=10)}
    values.update(kwargs)
    return Coupon.objects.create(program=program, code=code, **values)


def validate(member, code, amount="100.00", currency="AZN", at=T0):
    return coupon_validate(
        program=member.program, code=code, member=member, amount=Decimal(amount), currency=currency, at=at
    )


def test_validate_percent_coupon_gives_discount_case_insensitively(seeded, make_member):
    member = make_member()
    make_coupon(seeded, code="SAVE10")
    assert validate(member, " save10 ", amount="45.55") == {
        "valid": True,
        "code": "SAVE10",
        "kind": "percent",
        "discount": {"amount": "4.56", "currency": "AZN"},
        "bonus_points": 0,
        "description": "Coupon SAVE10: 10% off",
    }


def test_validate_reasons(seeded, make_member):
    member, other = make_member(), make_member()
    make_coupon(seeded, code="OLD", ends_at=T0 - timedelta(seconds=1))
    make_coupon(seeded, code="LATER", starts_at=T0 + timedelta(days=1))
    make_coupon(seeded, code="MIN50", min_purchase=Decimal("50.00"))
    make_coupon(seeded, code="THEIRS", member=other)
    make_coupon(seeded, code="OFF", is_active=False)
    make_coupon(seeded, code="USED", max_uses=1, uses_count=1)
    make_coupon(seeded, code="FIXED5", kind="fixed", value=Decimal("5"), currency="USD")
    assert validate(member, "NOPE")["reason"] == "coupon_invalid"
    assert validate(member, "OLD")["reason"] == "coupon_expired"
    assert validate(member, "LATER")["reason"] == "coupon_invalid"
    assert validate(member, "MIN50", amount="49.99")["reason"] == "coupon_invalid"
    assert validate(member, "MIN50", amount="50.00")["valid"] is True
    assert validate(member, "THEIRS")["reason"] == "coupon_invalid"
    assert validate(other, "THEIRS")["valid"] is True
    assert validate(member, "OFF")["reason"] == "coupon_invalid"
    assert validate(member, "USED")["reason"] == "coupon_used"
    assert validate(member, "FIXED5")["reason"] == "coupon_invalid"  # AZN purchase, USD coupon
    assert validate(member, "FIXED5", amount="3.00", currency="USD")["discount"] == {
        "amount": "3.00",
        "currency": "USD",
    }
    assert CouponRedemption.objects.count() == 0


def test_first_order_only_and_per_member_limit(seeded, make_member, buy):
    member = make_member()
    make_coupon(seeded, code="FIRST", first_order_only=True, max_uses_per_member=None)
    make_coupon(seeded, code="TWICE", max_uses_per_member=2)
    assert validate(member, "FIRST")["valid"] is True
    purchase = buy(member, "100.00", T0, coupon_code="TWICE")
    assert purchase.discount_amount == Decimal("10.00")
    assert validate(member, "FIRST")["reason"] == "coupon_invalid"
    buy(member, "100.00", T0 + timedelta(hours=1), coupon_code="TWICE")
    assert validate(member, "TWICE")["reason"] == "coupon_used"
    assert Coupon.objects.get(code="TWICE").uses_count == 2


def test_purchase_with_coupon_records_one_use_and_a_replay_none(seeded, make_member, buy):
    member = make_member()
    make_coupon(seeded, code="ONCE", max_uses=1)
    quote = purchase_quote(member=member, amount=Decimal("50.00"), currency="AZN", at=T0, coupon_code="ONCE")
    assert quote.discount == Decimal("5.00")
    assert quote.amount_due == Decimal("45.00")
    assert quote.points_to_earn == 360  # 45.00 x 8
    assert CouponRedemption.objects.count() == 0
    from checkout.purchases import purchase_create

    first = purchase_create(
        member=member, external_id="R-1", amount=Decimal("50.00"), currency="AZN", at=T0, coupon_code="ONCE"
    ).purchase
    again = purchase_create(
        member=member, external_id="R-1", amount=Decimal("50.00"), currency="AZN", at=T0, coupon_code="ONCE"
    ).purchase
    assert again.pk == first.pk
    assert first.points_earned == 360
    assert first.amount_due == Decimal("45.00")
    redemption = CouponRedemption.objects.get()
    assert (redemption.reference, redemption.discount) == (f"purchase:{first.pk}", Decimal("5.00"))
    assert Coupon.objects.get(code="ONCE").uses_count == 1
    with pytest.raises(CouponUsed):
        buy(member, "50.00", T0 + timedelta(minutes=5), coupon_code="ONCE")
    assert CouponRedemption.objects.count() == 1


def test_points_coupon_adds_bonus_points(seeded, make_member, buy):
    member = make_member()
    make_coupon(seeded, code="PTS300", kind="points", value=Decimal("300"))
    purchase = buy(member, "10.00", T0, coupon_code="pts300")
    assert purchase.discount_amount == Decimal("0.00")
    assert purchase.points_earned == 80 + 300


@pytest.mark.django_db(transaction=True)
def test_one_time_code_used_once_under_ten_parallel_requests(seeded, make_member):
    members = [make_member() for _ in range(10)]
    make_coupon(seeded, code="RACE", max_uses=1, max_uses_per_member=1)
    barrier = threading.Barrier(10)
    outcomes = []

    def use(member, index):
        try:
            barrier.wait()
            coupon_redeem(
                member=member,
                code="RACE",
                amount=Decimal("100.00"),
                currency="AZN",
                at=T0,
                reference=f"order-{index}",
            )
            outcomes.append("ok")
        except CouponUsed:
            outcomes.append("used")
        finally:
            connection.close()

    threads = [threading.Thread(target=use, args=(m, i)) for i, m in enumerate(members)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["used"] * 9
    assert CouponRedemption.objects.filter(coupon__code="RACE").count() == 1
    assert Coupon.objects.get(code="RACE").uses_count == 1


def test_batch_generation_unique_unambiguous_exportable_deactivatable(seeded):
    batch = CouponBatch.objects.create(
        program=seeded,
        name="Summer",
        prefix="sum",
        size=500,
        kind="fixed",
        value=Decimal("5.00"),
        currency="AZN",
        created_at=T0,
    )
    assert coupon_batch_generate(batch=batch) == 500
    assert coupon_batch_generate(batch=batch) == 0  # topping up a full batch adds nothing
    codes = list(batch.coupons.values_list("code", flat=True))
    assert len(codes) == len(set(codes)) == 500
    for code in codes:
        assert code.startswith("SUM-")
        body = code[4:]
        assert len(body) == 10
        assert set(body) <= set(CODE_ALPHABET)
        assert not set(body) & set("0O1IL")
    assert set(batch.coupons.values_list("max_uses", "max_uses_per_member", "is_active")) == {(1, 1, True)}

    rows = list(csv.reader(io.StringIO(coupons_csv(queryset=batch.coupons.all()))))
    assert rows[0][:3] == ["code", "kind", "value"]
    assert len(rows) == 501
    assert {row[0] for row in rows[1:]} == set(codes)
    assert {(row[1], row[2], row[3]) for row in rows[1:]} == {("fixed", "5.00", "AZN")}

    assert coupons_deactivate(queryset=batch.coupons.filter(code__in=codes[:100])) == 100
    assert coupons_deactivate(queryset=batch.coupons.filter(code__in=codes[:100])) == 0
    assert batch.coupons.filter(is_active=True).count() == 400
