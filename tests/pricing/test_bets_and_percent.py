"""Issue 16 item 4: a bet's stake is never discounted (it earns on the full stake) unless the
merchant enables bet discounts; percent-of-purchase earning in every accepted currency."""

from decimal import Decimal

import pytest

from accounts.models import Member, Program
from accounts.services import api_key_create
from checkout.pricing import purchase_quote
from checkout.purchases import purchase_create
from loyalty_site.core.errors import UnsupportedCurrency
from tests.api.conftest import client_with_key
from tests.factories import MemberFactory


def test_a_bet_earns_on_the_full_stake(bronze, seeded, now):
    bet = purchase_create(
        member=bronze, external_id="BET-1", amount="100.00", currency="USD", at=now, kind="bet"
    ).purchase
    assert (bet.discount_amount, bet.amount_due, bet.points_earned) == (
        Decimal("0.00"),
        Decimal("100.00"),
        1200,
    )
    assert [line["source"] for line in bet.applied] == ["earn"]
    # the same amount as another Bronze member's purchase: 2 % off, 98.00 x 12
    other = MemberFactory(program=seeded, at=now)
    receipt = purchase_create(
        member=other, external_id="R-1", amount="100.00", currency="USD", at=now
    ).purchase
    assert (receipt.discount_amount, receipt.points_earned) == (Decimal("2.00"), 1176)


def test_a_bet_discount_only_when_the_merchant_enables_it(bronze, seeded, now):
    Program.objects.filter(pk=seeded.pk).update(bet_discount=True)
    member = Member.objects.select_related("program", "tier").get(pk=bronze.pk)
    quote = purchase_quote(member=member, amount="100.00", currency="USD", at=now, kind="bet")
    assert (quote.discount, quote.amount_due, quote.points_to_earn) == (
        Decimal("2.00"),
        Decimal("98.00"),
        1176,
    )
    bet = purchase_create(
        member=member, external_id="BET-2", amount="100.00", currency="USD", at=now, kind="bet"
    ).purchase
    assert bet.points_earned == 1176


def test_the_api_quotes_a_bet_like_the_bet_it_records(bronze, seeded, now):
    _key, raw = api_key_create(program=seeded, name="bets")
    api = client_with_key(raw)
    body = {"member": bronze.pk, "amount": "50.00", "currency": "EUR", "kind": "bet"}
    quote = api.post("/api/v1/purchases/quote/", body, format="json").json()
    assert (quote["discount"]["amount"], quote["points_to_earn"]) == ("0.00", 700)
    bet = api.post("/api/v1/purchases/", {**body, "external_id": "BET-API"}, format="json")
    assert bet.status_code == 201, bet.content
    assert bet.json()["points_earned"] == 700


@pytest.mark.parametrize(
    ("currency", "points"),
    [
        # 2 % of the amount valued in AZN (the rates' ratio to AZN's 8), at 0.01 AZN a point
        ("AZN", 200),  # 100 AZN -> 2.00 AZN -> 200
        ("USD", 300),  # 100 USD = 150 AZN -> 3.00 AZN -> 300
        ("EUR", 350),  # 100 EUR = 175 AZN -> 3.50 AZN -> 350
        ("GBP", 375),  # 100 GBP = 187.50 AZN -> 3.75 AZN -> 375
    ],
)
def test_percent_earning_in_every_accepted_currency(seeded, now, currency, points):
    Program.objects.filter(pk=seeded.pk).update(
        earn_mode="percent", earn_percent=Decimal("2"), point_value=Decimal("0.01")
    )
    program = Program.objects.get(pk=seeded.pk)
    member = MemberFactory(program=program, at=now)
    member = Member.objects.select_related("program", "tier").get(pk=member.pk)
    bet = purchase_create(
        member=member, external_id=f"P-{currency}", amount="100.00", currency=currency, at=now, kind="bet"
    ).purchase
    assert bet.points_earned == points
    assert next(line for line in bet.applied if line["source"] == "earn")["description"] == (
        f"2% of 100.00 {currency}"
    )
    with pytest.raises(UnsupportedCurrency):
        purchase_quote(member=member, amount="10.00", currency="JPY", at=now)
