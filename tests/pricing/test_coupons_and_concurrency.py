import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Member
from campaigns.coupons import coupon_issue
from checkout.pricing import purchase_quote
from checkout.purchases import purchase_create
from ledger.models import Posting, Purchase
from loyalty_site.core.errors import CouponUsed, LoyaltyError
from tests.factories import MemberFactory, ProgramFactory
from tests.tiers.helpers import seed_program


def test_a_percent_coupon_stacks_on_the_tier_discount(bronze, now):
    coupon = coupon_issue(program=bronze.program, member=bronze, kind="percent", value=Decimal("10"), at=now)
    quote = purchase_quote(member=bronze, amount="100.00", currency="USD", at=now, coupon_code=coupon.code)
    # 2 % tier -> 98.00; 10 % coupon on 98.00 -> 9.80; 88.20 x 12 = 1058
    assert quote.applied == [
        {"source": "tier", "description": "Bronze 2%", "discount": "2.00"},
        {
            "source": "coupon",
            "description": f"Coupon {coupon.code}: 10% off",
            "code": coupon.code,
            "discount": "9.80",
        },
        {"source": "earn", "description": "88.20 USD x 12", "points": 1058},
    ]
    purchase = purchase_create(
        member=bronze,
        external_id="C1",
        amount="100.00",
        currency="USD",
        at=now,
        coupon_code=coupon.code.lower(),
    ).purchase
    assert (purchase.discount_amount, purchase.amount_due, purchase.points_earned) == (
        Decimal("11.80"),
        Decimal("88.20"),
        1058,
    )
    assert purchase.applied == quote.applied

    balance = Member.objects.get(pk=bronze.pk).balance
    with pytest.raises(CouponUsed):
        purchase_create(
            member=bronze, external_id="C2", amount="100.00", currency="USD", at=now, coupon_code=coupon.code
        )
    assert Purchase.objects.filter(member=bronze).count() == 1
    assert Member.objects.get(pk=bronze.pk).balance == balance


def test_a_bonus_points_coupon_adds_to_the_points_earned(bronze, now):
    coupon = coupon_issue(program=bronze.program, member=bronze, kind="points", value=Decimal("300"), at=now)
    purchase = purchase_create(
        member=bronze, external_id="P1", amount="100.00", currency="USD", at=now, coupon_code=coupon.code
    ).purchase
    assert purchase.points_earned == 1176 + 300
    assert purchase.applied[1] == {
        "source": "coupon",
        "description": f"Coupon {coupon.code}: +300 points",
        "code": coupon.code,
        "points": 300,
    }
    assert Member.objects.get(pk=bronze.pk).balance == 1476


def _in_threads(count, work):
    barrier = threading.Barrier(count)
    results = []

    def run(index):
        try:
            barrier.wait()
            results.append(("ok", work(index)))
        except LoyaltyError as error:
            results.append((error.code, None))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_ten_parallel_purchases_with_one_time_code_exactly_one_succeeds(now):
    program = seed_program(ProgramFactory(base_currency="AZN", time_zone="UTC"), at=now)
    member = MemberFactory(program=program, at=now)
    coupon = coupon_issue(program=program, member=None, kind="fixed", value=Decimal("5"), at=now)

    results = _in_threads(
        10,
        lambda i: (
            purchase_create(
                member=member,
                external_id=f"T{i}",
                amount="50.00",
                currency="AZN",
                at=now,
                coupon_code=coupon.code,
            ).purchase.pk
        ),
    )

    assert sorted(code for code, _ in results) == ["coupon_used"] * 9 + ["ok"]
    assert Purchase.objects.filter(member=member).count() == 1
    purchase = Purchase.objects.get(member=member)
    # 2 % -> 49.00; 5.00 off -> 44.00 x 8 = 352
    assert (purchase.amount_due, purchase.points_earned) == (Decimal("44.00"), 352)
    assert Member.objects.get(pk=member.pk).balance == 352


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_parallel_retries_of_one_purchase_post_once(now):
    program = seed_program(ProgramFactory(base_currency="AZN", time_zone="UTC"), at=now)
    member = MemberFactory(program=program, at=now)

    results = _in_threads(
        6,
        lambda i: (
            purchase_create(
                member=member, external_id="SAME", amount="100.00", currency="USD", at=now
            ).purchase.pk
        ),
    )

    ids = {pk for code, pk in results}
    assert [code for code, _ in results] == ["ok"] * 6
    assert len(ids) == 1
    assert Posting.objects.filter(member=member, kind="earn").count() == 1
    assert Member.objects.get(pk=member.pk).balance == 1176
