from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Member
from checkout.pricing import purchase_quote
from checkout.purchases import purchase_create
from ledger.models import Entry, Posting, Purchase
from ledger.services import points_bonus
from loyalty_site.core.errors import (
    CouponInvalid,
    IdempotencyConflict,
    InsufficientPoints,
    InvalidInput,
    LimitExceeded,
    UnsupportedCurrency,
)
from tiers.models import Tier


def fresh(member):
    return Member.objects.select_related("tier").get(pk=member.pk)


def ledger_state(member):
    member = fresh(member)
    return (
        member.balance,
        member.tier_id,
        Posting.objects.filter(member=member).count(),
        Purchase.objects.count(),
    )


def test_bronze_member_buying_100_usd(bronze, now):
    quote = purchase_quote(member=bronze, amount="100.00", currency="USD", at=now)
    assert quote.as_dict() == {
        "points_to_earn": 1176,
        "discount": {"amount": "2.00", "currency": "USD"},
        "amount_due": {"amount": "98.00", "currency": "USD"},
        "points_to_redeem": 0,
        "max_redeemable_points": 0,
        "applied": [
            {"source": "tier", "description": "Bronze 2%", "discount": "2.00"},
            {"source": "earn", "description": "98.00 USD x 12", "points": 1176},
        ],
    }

    purchase = purchase_create(
        member=bronze, external_id="R-1001", amount="100.00", currency="USD", at=now
    ).purchase

    assert (purchase.discount_amount, purchase.amount_due) == (Decimal("2.00"), Decimal("98.00"))
    assert (purchase.points_earned, purchase.points_redeemed) == (1176, 0)
    assert purchase.applied == quote.applied
    member = fresh(bronze)
    assert (member.balance, member.tier.code) == (1176, "silver")
    assert bronze.balance == 1176  # the caller's instance is refreshed


def test_500_eur_earns_the_cap(bronze, now):
    quote = purchase_quote(member=bronze, amount="500.00", currency="EUR", at=now)
    assert (quote.amount_due, quote.points_to_earn) == (Decimal("490.00"), 5000)
    assert quote.applied[-1] == {
        "source": "earn",
        "description": "490.00 EUR x 14, capped at 5000",
        "points": 5000,
    }

    purchase = purchase_create(
        member=bronze, external_id="R-1", amount="500.00", currency="EUR", at=now
    ).purchase
    assert purchase.points_earned == 5000
    assert fresh(bronze).balance == 5000


def test_tier_multiplier_applies_after_the_cap(bronze, now):
    bronze.tier = Tier.objects.get(program=bronze.program, code="platinum")
    Member.objects.filter(pk=bronze.pk).update(tier=bronze.tier)
    quote = purchase_quote(member=fresh(bronze), amount="100.00", currency="USD", at=now)
    # 10 % off -> 90.00 x 12 = 1080 x 1.25
    assert (quote.discount, quote.points_to_earn) == (Decimal("10.00"), 1350)
    assert quote.applied[-1]["description"] == "90.00 USD x 12 x 1.25 (Platinum)"

    eur = purchase_quote(member=fresh(bronze), amount="1000.00", currency="EUR", at=now)
    assert eur.points_to_earn == 6250


def test_redemption_is_bounded_by_the_max_share(bronze, now):
    points_bonus(member=bronze, points=10000, at=now, reference="gift", description="start")
    member = fresh(bronze)  # Platinum now; 10 % off
    # 100 AZN - 10 % = 90.00; at most 50 % of it = 45.00 = 4 500 points at 0.01 AZN
    quote = purchase_quote(member=member, amount="100.00", currency="AZN", at=now)
    assert quote.max_redeemable_points == 4500

    before = ledger_state(member)
    with pytest.raises(LimitExceeded):
        purchase_create(
            member=member, external_id="X", amount="100.00", currency="AZN", at=now, redeem_points=4501
        )
    assert ledger_state(member) == before

    purchase = purchase_create(
        member=member, external_id="Y", amount="100.00", currency="AZN", at=now, redeem_points=4500
    ).purchase
    # paid 45.00 in money: 45 x 8 = 360 x 1.25 = 450
    assert (purchase.amount_due, purchase.points_redeemed, purchase.points_earned) == (
        Decimal("45.00"),
        4500,
        450,
    )
    assert purchase.applied[1] == {
        "source": "points",
        "description": "4500 points = 45.00 AZN",
        "discount": "45.00",
        "points": -4500,
    }
    assert fresh(member).balance == 10000 - 4500 + 450


def test_redeeming_more_than_the_balance_changes_nothing(bronze, now):
    points_bonus(member=bronze, points=300, at=now, reference="gift", description="start")
    before = ledger_state(bronze)
    with pytest.raises(InsufficientPoints):
        purchase_create(
            member=bronze, external_id="X", amount="100.00", currency="AZN", at=now, redeem_points=301
        )
    assert ledger_state(bronze) == before


def test_points_in_a_foreign_currency_are_valued_by_the_rates_ratio(bronze, now):
    points_bonus(member=bronze, points=900, at=now, reference="gift", description="start")
    # 1 point = 0.01 AZN x 8 / 12 = 0.006667 USD: 900 points = 6.00 USD
    quote = purchase_quote(member=fresh(bronze), amount="20.00", currency="USD", at=now, redeem_points=900)
    assert (quote.redeem_value, quote.amount_due) == (Decimal("6.00"), Decimal("13.60"))
    assert quote.points_to_earn == 163  # 13.60 x 12


def test_quote_equals_commit_for_the_same_input(bronze, now):
    points_bonus(member=bronze, points=2000, at=now, reference="gift", description="start")
    member = fresh(bronze)
    quote = purchase_quote(member=member, amount="37.35", currency="GBP", at=now, redeem_points=700)
    purchase = purchase_create(
        member=member, external_id="G1", amount="37.35", currency="GBP", at=now, redeem_points=700
    ).purchase
    assert purchase.applied == quote.applied
    assert (purchase.discount_amount, purchase.amount_due) == (quote.discount, quote.amount_due)
    assert (purchase.points_earned, purchase.points_redeemed) == (
        quote.points_to_earn,
        quote.points_to_redeem,
    )
    # Silver 5 % of 37.35 = 1.87; 35.48; 700 points = 700 x 0.01 x 8 / 15 = 3.73 GBP; 31.75 x 15 = 476
    assert (quote.discount, quote.redeem_value, quote.amount_due, quote.points_to_earn) == (
        Decimal("1.87"),
        Decimal("3.73"),
        Decimal("31.75"),
        476,
    )


def test_same_external_id_replays_and_a_different_body_conflicts(bronze, now):
    first = purchase_create(
        member=bronze, external_id="R-1", amount="100.00", currency="USD", at=now
    ).purchase
    again = purchase_create(
        member=bronze, external_id="R-1", amount="100.00", currency="USD", at=now + timedelta(minutes=5)
    ).purchase
    assert again.pk == first.pk
    assert fresh(bronze).balance == 1176
    assert Entry.objects.filter(member=bronze, kind="earn").count() == 1

    before = ledger_state(bronze)
    with pytest.raises(IdempotencyConflict):
        purchase_create(member=bronze, external_id="R-1", amount="100.01", currency="USD", at=now)
    assert ledger_state(bronze) == before


def test_occurred_at_in_the_future_is_refused(bronze, now):
    with pytest.raises(InvalidInput) as error:
        purchase_create(
            member=bronze,
            external_id="F",
            amount="10.00",
            currency="USD",
            at=now,
            occurred_at=now + timedelta(seconds=1),
        )
    assert "occurred_at" in error.value.fields
    assert Purchase.objects.count() == 0


def test_an_offline_purchase_is_priced_when_it_happened(bronze, now):
    from ledger.services import rate_set

    rate_set(
        program=bronze.program, currency="USD", points_per_unit=Decimal("20"), at=now - timedelta(hours=1)
    )
    purchase = purchase_create(
        member=bronze,
        external_id="OFF",
        amount="100.00",
        currency="USD",
        at=now,
        occurred_at=now - timedelta(hours=2),
    ).purchase
    assert purchase.points_earned == 1176  # the old rate, 12


@pytest.mark.parametrize(
    "amount, currency, error",
    [
        ("0", "USD", InvalidInput),
        ("-5", "USD", InvalidInput),
        ("1.001", "USD", InvalidInput),
        ("1000000001", "USD", InvalidInput),
        ("10", "XYZ", UnsupportedCurrency),
        ("10", "usd1", UnsupportedCurrency),
    ],
)
def test_bad_input_is_refused_before_anything_is_written(bronze, now, amount, currency, error):
    with pytest.raises(error):
        purchase_create(member=bronze, external_id="B", amount=amount, currency=currency, at=now)
    assert Purchase.objects.count() == 0
    assert fresh(bronze).balance == 0


def test_unknown_coupon_is_invalid_and_changes_nothing(bronze, now):
    with pytest.raises(CouponInvalid):
        purchase_create(
            member=bronze, external_id="C", amount="10.00", currency="USD", at=now, coupon_code="NOPE-NOPE"
        )
    assert Purchase.objects.count() == 0
    assert fresh(bronze).balance == 0


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        ("0.01", "AZN", 0),  # half of a cent rounds up to a cent: no point may pay it
        ("0.02", "AZN", 1),
        ("0.03", "AZN", 1),
        ("10.00", "USD", 735),  # 2 % off -> 4.90 USD at 0.0066667 USD a point
    ],
)
def test_max_redeemable_never_rounds_above_the_share(bronze, now, amount, currency, expected):
    points_bonus(member=bronze, points=5000, at=now, reference="gift", description="start")
    member = fresh(bronze)
    Member.objects.filter(pk=member.pk).update(tier=Tier.objects.get(program=member.program, code="bronze"))
    member = fresh(bronze)
    quote = purchase_quote(member=member, amount=amount, currency=currency, at=now)
    assert quote.max_redeemable_points == expected
    if expected:
        paid = purchase_quote(member=member, amount=amount, currency=currency, at=now, redeem_points=expected)
        assert paid.redeem_value <= (paid.amount - paid.discount) / 2
