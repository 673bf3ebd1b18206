"""Seed currency rates (PRODUCT.md §2.2): USD 12, EUR 14 (5 000 cap), AZN 8, GBP 15. They stay in
force until the merchant sets newer ones (no end date); the merchant is reminded to review them,
GBP every 2 weeks and the others monthly (`ledger.rates`)."""

from __future__ import annotations

import calendar
from datetime import datetime
from decimal import Decimal

from loyalty_site.core.presets import preset_step

from .models import CurrencyRate

SEED_RATES = [
    # currency, points per unit, cap per conversion, review every (days)
    ("USD", Decimal("12"), None, 30),
    ("EUR", Decimal("14"), 5000, 30),
    ("AZN", Decimal("8"), None, 30),
    ("GBP", Decimal("15"), None, 14),
]
# Seed rates once ended after this many months (nothing renewed them, so programs stopped earning);
# migration 0005 clears that default end date from existing seed rates.
FORMER_VALID_MONTHS = 3


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time `months` later (clamped to the month's last day)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@preset_step("seed", order=20)
def seed_rates(*, program, at):
    """Create the seed rates for currencies that have none yet (idempotent)."""
    for currency, points_per_unit, cap, review_days in SEED_RATES:
        if CurrencyRate.objects.filter(program=program, currency=currency).exists():
            continue
        CurrencyRate.objects.create(
            program=program,
            currency=currency,
            points_per_unit=points_per_unit,
            cap=cap,
            valid_from=at,
            review_every_days=review_days,
        )
