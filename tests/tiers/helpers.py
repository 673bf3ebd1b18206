"""Shared setup of the tiers and pricing tests: a program with the seed tiers and PRODUCT.md §2.2's
rates, built through the real services."""

from datetime import timedelta
from decimal import Decimal

from ledger.models import CurrencyRate
from ledger.services import rate_set
from tiers.presets import seed_tiers

SEED_RATES = [("USD", "12", None), ("EUR", "14", 5000), ("AZN", "8", None), ("GBP", "15", None)]


def seed_program(program, *, at):
    """The seed tiers and rates in force from a long time before `at`."""
    start = at - timedelta(days=1000)
    for currency, rate, cap in SEED_RATES:
        if not CurrencyRate.objects.filter(program=program, currency=currency).exists():
            rate_set(program=program, currency=currency, points_per_unit=Decimal(rate), cap=cap, at=start)
    seed_tiers(program=program, at=start)
    return program
