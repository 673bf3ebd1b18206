"""Seed preset (order 60): two fraud rules, generous enough for any honest member."""

from __future__ import annotations

from decimal import Decimal

from loyalty_site.core.presets import preset_step

from .models import FraudRule


@preset_step("seed", order=60)
def seed_fraud_rules(*, program, at) -> None:
    FraudRule.objects.get_or_create(
        program=program,
        name="More than 20 transactions in an hour",
        defaults={"window_minutes": 60, "max_count": 20},
    )
    FraudRule.objects.get_or_create(
        program=program,
        name="More than 10 000 in a day",
        defaults={"window_minutes": 1440, "max_amount": Decimal("10000")},
    )
