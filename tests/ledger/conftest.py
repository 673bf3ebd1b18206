"""Ledger fixtures: a program with the seed rates and a helper that checks the ledger invariant."""

from datetime import timedelta
from decimal import Decimal

import pytest

from ledger import selectors, services
from ledger.models import CurrencyRate, Entry


@pytest.fixture
def rates(program, now):
    """The seed rates of PRODUCT.md §2.2, valid from a month before `now`."""
    start = now - timedelta(days=30)
    for currency, ppu, cap in [
        ("USD", "12", None),
        ("EUR", "14", 5000),
        ("AZN", "8", None),
        ("GBP", "15", None),
    ]:
        CurrencyRate.objects.create(
            program=program, currency=currency, points_per_unit=Decimal(ppu), cap=cap, valid_from=start
        )
    return program


def assert_invariant(member) -> None:
    """balance == member entries == active lots; pending likewise; every posting sums to zero."""
    check = selectors.member_ledger_check(member=member)
    assert check["balance"] == check["entries"] == check["lots"], check
    assert check["pending_points"] == check["pending_entries"] == check["pending_lots"], check
    assert check["balance"] >= 0
    from django.db.models import Sum

    unbalanced = (
        Entry.objects.filter(posting__member=member)
        .values("posting")
        .annotate(total=Sum("points"))
        .exclude(total=0)
    )
    assert list(unbalanced) == []


@pytest.fixture
def invariant():
    return assert_invariant


@pytest.fixture
def funded(member, now):
    """Factory: give the member `points` as a bonus at `at` (default `now`)."""

    def fund(points, at=None, reference=None):
        return services.points_bonus(
            member=member,
            points=points,
            at=at or now,
            reference=reference or f"fund:{member.pk}:{points}:{(at or now).isoformat()}",
            description="test funding",
        )

    return fund
