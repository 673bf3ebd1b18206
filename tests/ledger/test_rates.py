"""Currency rates: the rate in force, history, caps, percent mode, the seed preset."""

from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import Program
from ledger import services
from ledger.models import CurrencyRate
from ledger.presets import seed_rates
from loyalty_site.core.errors import InvalidInput, UnsupportedCurrency


def test_eur_earning_is_capped_per_conversion(rates, now):
    assert services.points_for_amount(program=rates, amount=Decimal("500"), currency="EUR", at=now) == (
        5000,
        Decimal("14.0000"),
        True,
    )
    assert services.points_for_amount(program=rates, amount=Decimal("357.14"), currency="EUR", at=now) == (
        4999,
        Decimal("14.0000"),
        False,
    )


def test_usd_rate_floors(rates, now):
    points, rate, capped = services.points_for_amount(
        program=rates, amount=Decimal("98.00"), currency="usd", at=now
    )
    assert (points, rate, capped) == (1176, Decimal("12.0000"), False)
    assert services.points_for_amount(program=rates, amount=Decimal("0.99"), currency="USD", at=now)[0] == 11


def test_unknown_currency_is_a_clear_error(rates, now):
    with pytest.raises(UnsupportedCurrency) as error:
        services.rate_get(program=rates, currency="JPY", at=now)
    assert error.value.code == "unsupported_currency" and "JPY" in error.value.message


def test_a_purchase_is_valued_at_the_rate_in_force_at_its_time(rates, now):
    old = services.rate_get(program=rates, currency="GBP", at=now)
    new = services.rate_set(
        program=rates, currency="GBP", points_per_unit=Decimal("16"), at=now + timedelta(days=14)
    )

    old.refresh_from_db()
    assert old.valid_to == now + timedelta(days=14)
    assert services.rate_get(program=rates, currency="GBP", at=now + timedelta(days=13)).pk == old.pk
    assert services.rate_get(program=rates, currency="GBP", at=now + timedelta(days=14)).pk == new.pk
    assert CurrencyRate.objects.filter(program=rates, currency="GBP").count() == 2
    with pytest.raises(InvalidInput) as before_first:  # before the currency's first rate
        services.rate_get(program=rates, currency="GBP", at=now - timedelta(days=31))
    assert list(before_first.value.fields) == ["occurred_at"]


def test_percent_mode_uses_the_point_value(program, now):
    Program.objects.filter(pk=program.pk).update(earn_mode="percent", earn_percent=Decimal("2"))
    program.refresh_from_db()
    # 2 % of 98.50 AZN = 1.97 AZN, at 0.01 AZN a point = 197 points
    assert services.points_for_amount(program=program, amount=Decimal("98.50"), currency="AZN", at=now) == (
        197,
        Decimal("2"),
        False,
    )
    with pytest.raises(UnsupportedCurrency):
        services.points_for_amount(program=program, amount=Decimal("10"), currency="USD", at=now)


def test_seed_preset_is_idempotent_and_never_lapses(program, now):
    seed_rates(program=program, at=now)
    seed_rates(program=program, at=now + timedelta(days=1))

    rows = {r.currency: r for r in CurrencyRate.objects.filter(program=program)}
    assert {c: (r.points_per_unit, r.cap) for c, r in rows.items()} == {
        "USD": (Decimal("12.0000"), None),
        "EUR": (Decimal("14.0000"), 5000),
        "AZN": (Decimal("8.0000"), None),
        "GBP": (Decimal("15.0000"), None),
    }
    assert rows["USD"].valid_from == now and rows["USD"].valid_to is None
    assert {c: r.review_every_days for c, r in rows.items()} == {"USD": 30, "EUR": 30, "AZN": 30, "GBP": 14}
    far = now.replace(year=2028)
    assert services.rate_get(program=program, currency="USD", at=far).pk == rows["USD"].pk


def test_setting_a_rate_at_the_same_moment_corrects_it(rates, now):
    first = services.rate_set(program=rates, currency="AZN", points_per_unit=Decimal("9"), at=now)
    again = services.rate_set(program=rates, currency="AZN", points_per_unit=Decimal("10"), at=now)
    assert again.pk == first.pk and again.points_per_unit == Decimal("10")
    assert services.rate_get(program=rates, currency="AZN", at=now).points_per_unit == Decimal("10")
