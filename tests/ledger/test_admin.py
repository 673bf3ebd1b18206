"""Ledger admin: read-only ledger rows, editable rates, the manual adjustment form, scoping."""

from decimal import Decimal

import pytest

from ledger.models import Posting
from tests.factories import MemberFactory, MerchantFactory, ProgramFactory


@pytest.fixture
def manager_client(client, merchant, staff_user):
    client.force_login(staff_user(merchant, "manager"))
    return client


def test_adjustment_form_posts_once_with_who_and_why(manager_client, member, merchant):
    page = manager_client.get(f"/admin/ledger/posting/adjust/?member={member.pk}")
    assert page.status_code == 200
    token = page.context["form"].initial["token"]
    data = {"member": member.pk, "points": "250", "reason": "lost receipt", "token": token}

    first = manager_client.post("/admin/ledger/posting/adjust/", data)
    second = manager_client.post("/admin/ledger/posting/adjust/", data)  # double submit

    assert first.status_code == second.status_code == 302
    posting = Posting.objects.get(kind="adjust")
    assert posting.points == 250 and posting.data["reason"] == "lost receipt"
    assert posting.user.username.startswith("manager")
    member.refresh_from_db()
    assert member.balance == 250


def test_adjustment_below_zero_is_refused_and_changes_nothing(manager_client, member):
    response = manager_client.post(
        "/admin/ledger/posting/adjust/", {"member": member.pk, "points": "-5", "reason": "x", "token": "t1"}
    )
    assert response.status_code == 200
    assert "The member has 0 points; cannot take 5." in response.content.decode()
    assert Posting.objects.count() == 0


def test_another_merchants_member_cannot_be_adjusted(manager_client, now):
    other = MemberFactory(program=ProgramFactory(merchant=MerchantFactory()), at=now)
    response = manager_client.post(
        "/admin/ledger/posting/adjust/", {"member": other.pk, "points": "5", "reason": "x", "token": "t2"}
    )
    assert response.status_code == 200 and response.context["form"].errors["member"]
    assert Posting.objects.count() == 0


def test_ledger_rows_are_read_only_and_rates_editable(manager_client, member, now, rates):
    from ledger import services

    posting = services.points_earn(member=member, points=100, at=now, reference="R-1")
    assert manager_client.get("/admin/ledger/entry/").status_code == 200
    assert manager_client.get("/admin/ledger/lot/").status_code == 200
    assert manager_client.get(f"/admin/ledger/posting/{posting.pk}/change/").status_code == 200
    assert manager_client.get("/admin/ledger/entry/add/").status_code == 403
    rate = rates.currency_rates.get(currency="USD")
    response = manager_client.post(
        f"/admin/ledger/currencyrate/{rate.pk}/change/",
        {
            "program": rates.pk,
            "currency": "USD",
            "points_per_unit": "13",
            "cap": "",
            "valid_from_0": "2026-10-23",
            "valid_from_1": "10:00:00",
            "valid_to_0": "",
            "valid_to_1": "",
            "review_every_days": "30",
        },
    )
    assert response.status_code == 302
    rate.refresh_from_db()
    assert rate.points_per_unit == Decimal("13")


def test_rates_due_for_review_show_a_notice_until_marked_reviewed(client, merchant, staff_user, program):
    from datetime import timedelta

    from django.utils import timezone

    from ledger.models import CurrencyRate

    gbp = CurrencyRate.objects.create(
        program=program,
        currency="GBP",
        points_per_unit=Decimal("15"),
        review_every_days=14,
        valid_from=timezone.now() - timedelta(days=15),
    )
    CurrencyRate.objects.create(
        program=program,
        currency="USD",
        points_per_unit=Decimal("12"),
        valid_from=timezone.now() - timedelta(days=15),
    )
    analyst = staff_user(merchant, "analyst")
    client.force_login(analyst)
    notice = f"{program.name}: review the currency rates GBP (due"
    assert notice in client.get("/admin/ledger/currencyrate/").content.decode()
    assert notice in client.get(f"/admin/accounts/program/{program.pk}/change/").content.decode()
    refused = client.post(
        "/admin/ledger/currencyrate/", {"action": "mark_reviewed", "_selected_action": [gbp.pk]}
    )
    assert refused.status_code in (200, 302, 403)
    gbp.refresh_from_db()
    assert gbp.reviewed_at is None  # the analyst only reads

    client.force_login(staff_user(merchant, "manager"))
    done = client.post(
        "/admin/ledger/currencyrate/", {"action": "mark_reviewed", "_selected_action": [gbp.pk]}
    )
    assert done.status_code == 302
    gbp.refresh_from_db()
    assert gbp.reviewed_at is not None
    assert notice not in client.get("/admin/ledger/currencyrate/").content.decode()
    assert (
        "review the currency rates"
        not in client.get(f"/admin/accounts/program/{program.pk}/change/").content.decode()
    )
