"""Property: for any amount, currency and points to pay, the purchase is exactly its quote, the money
adds up, and the member's ledger still sums to the balance."""

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Member
from checkout.pricing import purchase_quote
from checkout.purchases import purchase_create
from ledger.models import Entry
from ledger.services import points_bonus
from loyalty_site.core.errors import MemberBlocked

_ids = itertools.count(1)
amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("20000"), places=2)


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amount=amounts, currency=st.sampled_from(["AZN", "USD", "EUR", "GBP"]), share=st.floats(0, 1))
def test_purchase_is_its_quote(bronze, now, amount, currency, share):
    n = next(_ids)
    points_bonus(member=bronze, points=5000, at=now, reference=f"top-{n}", description="top up")
    member = Member.objects.select_related("tier", "program").get(pk=bronze.pk)
    before = member.balance
    at = now + timedelta(seconds=n)
    probe = purchase_quote(member=member, amount=amount, currency=currency, at=at)
    redeem = int(probe.max_redeemable_points * share)

    quote = purchase_quote(member=member, amount=amount, currency=currency, at=at, redeem_points=redeem)
    purchase = purchase_create(
        member=member,
        external_id=f"H{n}",
        amount=amount,
        currency=currency,
        at=at,
        redeem_points=redeem,
    ).purchase

    assert purchase.applied == quote.applied
    assert (purchase.discount_amount, purchase.amount_due) == (quote.discount, quote.amount_due)
    assert (purchase.points_earned, purchase.points_redeemed) == (quote.points_to_earn, redeem)
    assert purchase.discount_amount + quote.redeem_value + purchase.amount_due == amount
    # points never pay more than the max share of what was left after discounts
    assert quote.redeem_value <= (amount - quote.discount) * member.program.max_points_share_percent / 100
    after = Member.objects.get(pk=member.pk)
    assert after.balance == before - redeem + purchase.points_earned
    ledger_total = Entry.objects.filter(member=member, account="member").aggregate(t=Sum("points"))["t"]
    assert ledger_total == after.balance


def test_a_blocked_member_gets_no_quote_and_no_purchase(bronze, now):
    Member.objects.filter(pk=bronze.pk).update(status=Member.Status.BLOCKED)
    member = Member.objects.get(pk=bronze.pk)
    with pytest.raises(MemberBlocked):
        purchase_quote(member=member, amount="10.00", currency="USD", at=now)
    with pytest.raises(MemberBlocked):
        purchase_create(member=member, external_id="B1", amount="10.00", currency="USD", at=now)
    assert Member.objects.get(pk=member.pk).balance == 0
