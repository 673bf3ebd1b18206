"""Issue 16 item 1: rates never lapse, the review cadence reminds the merchant once per due period,
a purchase before a currency's first rate is refused on `occurred_at`."""

import importlib
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Member, StaffMember
from accounts.services import member_create
from checkout.pricing import purchase_quote
from checkout.purchases import purchase_create
from ledger import rates, services
from ledger.models import CurrencyRate
from loyalty_site.core.errors import InvalidInput, UnsupportedCurrency
from loyalty_site.core.jobs import run_job
from loyalty_site.core.presets import preset_apply
from notifications.models import Event
from tests.api.test_acceptance import enrol, seeded_tenant
from tests.factories import ProgramFactory

# 100.00 less Bronze's 2 % = 98.00 paid, times the seed rate (EUR: 98 x 14 = 1372, under the cap)
EARN_ON_100 = {"AZN": 784, "EUR": 1372, "GBP": 1470, "USD": 1176}


@pytest.mark.parametrize("days", [95, 400])
def test_the_seeded_program_earns_in_every_currency_long_after_its_seed(db, days):
    tenant = seeded_tenant(days_ago=days, base_currency="AZN")
    api = tenant.client
    member = enrol(api)

    for currency, points in EARN_ON_100.items():
        body = {"member": member["id"], "amount": "100.00", "currency": currency}
        quote = api.post("/api/v1/purchases/quote/", body, format="json")
        assert quote.status_code == 200, quote.content
        earn = next(line for line in quote.json()["applied"] if line["source"] == "earn")
        assert earn["points"] == points
    purchase = api.post(
        "/api/v1/purchases/",
        {"member": member["id"], "amount": "100.00", "currency": "GBP", "external_id": f"G-{days}"},
        format="json",
    )
    assert purchase.status_code == 201, purchase.content
    assert next(line for line in purchase.json()["applied"] if line["source"] == "earn")["points"] == 1470

    listed = api.get("/api/v1/program/").json()["rates"]
    assert [(rate["currency"], rate["points_per_unit"], rate["valid_to"]) for rate in listed] == [
        ("AZN", "8.0000", None),
        ("EUR", "14.0000", None),
        ("GBP", "15.0000", None),
        ("USD", "12.0000", None),
    ]


def test_a_newer_rate_replaces_the_older_whatever_its_end_date(program, now):
    old = CurrencyRate.objects.create(
        program=program,
        currency="USD",
        points_per_unit=Decimal("12"),
        valid_from=now,
        valid_to=now + timedelta(days=90),
    )
    new = CurrencyRate.objects.create(
        program=program, currency="USD", points_per_unit=Decimal("13"), valid_from=now + timedelta(days=10)
    )
    assert services.rate_get(program=program, currency="USD", at=now + timedelta(days=9)).pk == old.pk
    assert services.rate_get(program=program, currency="USD", at=now + timedelta(days=10)).pk == new.pk
    assert services.rate_get(program=program, currency="USD", at=now + timedelta(days=400)).pk == new.pk


def test_an_end_date_the_merchant_sets_stops_the_currency(program, now):
    CurrencyRate.objects.create(
        program=program, currency="USD", points_per_unit=Decimal("12"), valid_from=now
    )
    services.rate_set(
        program=program,
        currency="USD",
        points_per_unit=Decimal("11"),
        at=now + timedelta(days=5),
        valid_to=now + timedelta(days=20),
    )
    assert (
        services.rate_get(program=program, currency="USD", at=now + timedelta(days=19)).points_per_unit == 11
    )
    with pytest.raises(UnsupportedCurrency) as error:
        services.rate_get(program=program, currency="USD", at=now + timedelta(days=20))
    assert error.value.message == (
        f"USD is not accepted by this program since {now + timedelta(days=20):%Y-%m-%d}."
    )


def test_rate_set_keeps_the_review_cadence_of_the_rate_it_replaces(program, now):
    CurrencyRate.objects.create(
        program=program, currency="GBP", points_per_unit=Decimal("15"), valid_from=now, review_every_days=14
    )
    new = services.rate_set(
        program=program, currency="GBP", points_per_unit=Decimal("16"), at=now + timedelta(days=3)
    )
    assert (new.review_every_days, new.valid_to) == (14, None)


def test_a_purchase_or_quote_before_the_first_rate_is_refused_on_its_date(db, now):
    program = ProgramFactory(base_currency="AZN")
    preset_apply(program=program, preset="seed", at=now)
    member = Member.objects.get(pk=member_create(program=program, at=now, phone="+994501112299").pk)
    before = now - timedelta(days=2)

    with pytest.raises(InvalidInput) as quoted:
        purchase_quote(member=member, amount="10.00", currency="GBP", at=before)
    assert quoted.value.fields == {
        "occurred_at": [f"Before the program's first GBP rate ({now:%Y-%m-%d %H:%M} UTC)."]
    }
    with pytest.raises(InvalidInput) as purchased:
        purchase_create(
            member=member,
            external_id="EARLY",
            amount="10.00",
            currency="GBP",
            at=now + timedelta(hours=1),
            occurred_at=before,
        )
    assert purchased.value.code == "invalid" and "occurred_at" in purchased.value.fields
    assert member.purchases.count() == 0
    with pytest.raises(UnsupportedCurrency):  # a currency the program never had: still the currency
        purchase_quote(member=member, amount="10.00", currency="JPY", at=now)


def test_the_api_answers_400_on_occurred_at_before_the_first_rate(db):
    tenant = seeded_tenant(days_ago=1, base_currency="AZN")
    member = enrol(tenant.client)
    response = tenant.client.post(
        "/api/v1/purchases/",
        {
            "member": member["id"],
            "amount": "10.00",
            "currency": "EUR",
            "external_id": "OLD-1",
            "occurred_at": (timezone.now() - timedelta(days=3)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid" and list(error["fields"]) == ["occurred_at"]
    assert "first EUR rate" in error["fields"]["occurred_at"][0]


def test_the_migration_clears_only_the_seed_default_end_date(program, now):
    migration = importlib.import_module("ledger.migrations.0005_rates_without_end_and_review")
    seeded = CurrencyRate.objects.create(
        program=program,
        currency="USD",
        points_per_unit=Decimal("12"),
        valid_from=now,
        valid_to=migration.add_months(now, 3),
    )
    chosen = CurrencyRate.objects.create(  # the merchant's own end date
        program=program,
        currency="EUR",
        points_per_unit=Decimal("14"),
        cap=5000,
        valid_from=now,
        valid_to=now + timedelta(days=40),
    )
    followed = CurrencyRate.objects.create(
        program=program,
        currency="GBP",
        points_per_unit=Decimal("15"),
        review_every_days=14,
        valid_from=now,
        valid_to=migration.add_months(now, 3),
    )
    CurrencyRate.objects.create(
        program=program, currency="GBP", points_per_unit=Decimal("16"), valid_from=now + timedelta(days=100)
    )
    from django.apps import apps

    migration.clear_seed_end_dates(apps, None)
    for rate in (seeded, chosen, followed):
        rate.refresh_from_db()
    assert seeded.valid_to is None
    assert chosen.valid_to == now + timedelta(days=40)
    assert followed.valid_to == now + timedelta(days=100)


def test_review_reminders_once_per_due_period(db, now, staff_user, django_capture_on_commit_callbacks):
    def remind(at):
        with django_capture_on_commit_callbacks(execute=True):
            return run_job("rate_review_reminders", at=at)

    program = ProgramFactory(base_currency="AZN", name="Coffee Points")
    preset_apply(program=program, preset="seed", at=now)
    owner = staff_user(program.merchant, role=StaffMember.Role.OWNER)
    owner.email = "owner@example.com"
    owner.save()
    staff_user(program.merchant, role=StaffMember.Role.MANAGER)
    events = Event.objects.filter(program=program, type="rate.review_due")

    assert remind(now + timedelta(days=13)) == {"reminded": 0}
    assert remind(now + timedelta(days=14)) == {"reminded": 1}  # GBP
    assert remind(now + timedelta(days=20)) == {"reminded": 0}
    assert [(e.data["currency"], e.data["due_at"]) for e in events] == [
        ("GBP", (now + timedelta(days=14)).isoformat())
    ]
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["owner@example.com"]
    assert mail.outbox[0].subject == "Coffee Points: currency rates to review"
    assert "- GBP: 15 points per unit" in mail.outbox[0].body

    # day 30: the others' first period and GBP's third (28 days): one e-mail lists all four
    assert remind(now + timedelta(days=30)) == {"reminded": 4}
    assert remind(now + timedelta(days=30, hours=5)) == {"reminded": 0}
    assert events.all().count() == 5 and len(mail.outbox) == 2
    assert rates.rate_review_notice(program=program, at=now + timedelta(days=31)).startswith(
        "Coffee Points: review the currency rates AZN (due"
    )

    # marked reviewed on day 31: nothing due until 14 (GBP) / 30 days later
    for rate in rates.rates_in_force(program=program, at=now + timedelta(days=31)):
        rates.rate_review_mark(rate=rate, at=now + timedelta(days=31))
    assert rates.rate_review_notice(program=program, at=now + timedelta(days=44)) == ""
    assert remind(now + timedelta(days=44)) == {"reminded": 0}
    assert remind(now + timedelta(days=45)) == {"reminded": 1}
    assert events.all().count() == 6 and len(mail.outbox) == 3
