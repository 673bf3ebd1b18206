"""Exports: row counts and columns match the database; tenancy; CSV streamed; XLSX readable."""

import csv
import io
from decimal import Decimal

import pytest
from django.http import StreamingHttpResponse
from openpyxl import load_workbook

from accounts.models import Member
from checkout.purchases import purchase_create
from ledger.models import Entry, Purchase
from reports.exports import DATASETS
from tests.factories import MemberFactory


@pytest.fixture
def history(seeded, moment):
    program, member = seeded
    at = moment
    other = MemberFactory(program=program, at=at, first_name='=HYPERLINK("x")', last_name="Two")
    purchase_create(member=member, external_id="e-1", amount=Decimal("100.00"), currency="USD", at=at)
    purchase_create(member=other, external_id="e-2", amount=Decimal("20.00"), currency="EUR", at=at)
    return program, member, other


def _csv(response):
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize("name", ["members", "entries", "purchases", "campaign_results"])
def test_csv_rows_and_columns_match_the_database(client, staff_user, history, name):
    program = history[0]
    client.force_login(staff_user(program.merchant, "analyst"))
    response = client.get(f"/admin/reports/export/{name}.csv", {"program": program.pk})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = _csv(response)
    dataset, base = DATASETS[name]
    assert rows[0] == dataset.headers
    path = "campaign__program" if name == "campaign_results" else "program"
    expected = base().filter(**{path: program}).order_by("id")
    assert len(rows) - 1 == expected.count()
    assert [int(r[0]) for r in rows[1:]] == list(expected.values_list("id", flat=True))


def test_members_csv_values(client, staff_user, history):
    program, member, other = history
    client.force_login(staff_user(program.merchant, "owner"))
    rows = _csv(client.get("/admin/reports/export/members.csv", {"program": program.pk}))
    header = rows[0]
    by_id = {int(r[0]): dict(zip(header, r, strict=True)) for r in rows[1:]}
    member.refresh_from_db()
    assert by_id[member.pk]["card_number"] == member.card_number
    assert by_id[member.pk]["balance"] == str(member.balance)
    assert by_id[member.pk]["tier"] == member.tier.code
    # a name typed as a spreadsheet formula is exported as text
    assert by_id[other.pk]["first_name"] == '\'=HYPERLINK("x")'


def test_purchases_csv_amounts(client, staff_user, history):
    program = history[0]
    client.force_login(staff_user(program.merchant, "owner"))
    rows = _csv(client.get("/admin/reports/export/purchases.csv", {"program": program.pk}))
    header = rows[0]
    got = {r[header.index("external_id")]: r for r in rows[1:]}
    for purchase in Purchase.objects.filter(program=program):
        row = got[purchase.external_id]
        assert row[header.index("amount_due")] == f"{purchase.amount_due:.2f}"
        assert row[header.index("points_earned")] == str(purchase.points_earned)


def test_entries_sum_to_zero_per_posting_in_export(client, staff_user, history):
    """Double entry survives the export: every posting's legs sum to zero."""
    program = history[0]
    client.force_login(staff_user(program.merchant, "owner"))
    rows = _csv(client.get("/admin/reports/export/entries.csv", {"program": program.pk}))
    header = rows[0]
    sums: dict[str, int] = {}
    for row in rows[1:]:
        sums[row[header.index("posting_id")]] = sums.get(row[header.index("posting_id")], 0) + int(
            row[header.index("points")]
        )
    assert sums and set(sums.values()) == {0}
    assert len(rows) - 1 == Entry.objects.filter(program=program).count()


def test_xlsx_matches_the_database(client, staff_user, history):
    program = history[0]
    client.force_login(staff_user(program.merchant, "owner"))
    response = client.get("/admin/reports/export/purchases.xlsx", {"program": program.pk})
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True)
    sheet_rows = list(workbook.active.iter_rows(values_only=True))
    assert list(sheet_rows[0]) == DATASETS["purchases"][0].headers
    assert len(sheet_rows) - 1 == Purchase.objects.filter(program=program).count() == 2
    amounts = sorted(Decimal(str(r[9])) for r in sheet_rows[1:])
    assert amounts == sorted(Purchase.objects.filter(program=program).values_list("amount_due", flat=True))


def test_exports_never_cross_merchants(client, staff_user, history, program):
    """`program` is another merchant's: its staff export nothing of `history`, even asking for it."""
    seeded_program = history[0]
    client.force_login(staff_user(program.merchant, "owner"))
    MemberFactory(program=program)
    rows = _csv(client.get("/admin/reports/export/members.csv"))
    assert len(rows) - 1 == Member.objects.filter(program=program).count() == 1
    asked = _csv(client.get("/admin/reports/export/members.csv", {"program": seeded_program.pk}))
    assert all(int(r[1]) == program.pk for r in asked[1:])
    assert len(asked) - 1 == 1


def test_cashier_cannot_export(client, staff_user, history):
    program = history[0]
    client.force_login(staff_user(program.merchant, "cashier"))
    response = client.get("/admin/reports/export/members.csv")
    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_unknown_export_is_404(client, staff_user, history):
    client.force_login(staff_user(history[0].merchant, "owner"))
    assert client.get("/admin/reports/export/secrets.csv").status_code == 404
    assert client.get("/admin/reports/export/members.pdf").status_code == 404


def test_admin_action_exports_selected_rows(client, staff_user, history):
    program, member, other = history
    client.force_login(staff_user(program.merchant, "analyst"))
    response = client.post(
        "/admin/accounts/member/",
        {"action": "export_selected_csv", "_selected_action": [member.pk, other.pk]},
    )
    assert response.status_code == 200
    rows = _csv(response)
    assert "card_number" in rows[0]
    assert "card_token" not in rows[0]
    assert all(member.card_token not in cell for row in rows for cell in row)
    assert sorted(int(r[0]) for r in rows[1:]) == sorted([member.pk, other.pk])


def test_admin_action_never_exports_credentials(client, history, django_user_model):
    admin_user = django_user_model.objects.create_superuser("root", "r@example.com", "pw-12345!x")
    client.force_login(admin_user)
    response = client.post(
        "/admin/auth/user/", {"action": "export_selected_csv", "_selected_action": [admin_user.pk]}
    )
    assert response.status_code == 200
    rows = _csv(response)
    assert "password" not in rows[0] and "username" in rows[0]
    assert all(admin_user.password not in cell for row in rows for cell in row)
