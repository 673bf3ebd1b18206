"""The admin's lists over the big tables at scale (loyalty_site/core/admin_lists.py, bench/admin/):
no full COUNT(*) and no distinct-dates scan on any of them, searches by a member's identifiers and
names that find the member (exact lookups and trigram indexes), limited inlines."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout.purchases import purchase_create
from loyalty_site.core import admin_lists
from loyalty_site.core.admin_lists import EstimatedCountPaginator
from tests.factories import MemberFactory

BIG_LISTS = [
    "/admin/accounts/member/",
    "/admin/ledger/entry/",
    "/admin/ledger/posting/",
    "/admin/ledger/purchase/",
    "/admin/ledger/lot/",
    "/admin/notifications/event/",
    "/admin/campaigns/campaigngrant/",
]


@pytest.fixture
def shop(seeded, moment, client, staff_user):
    program, aysel = seeded
    aysel.external_id = "CRM-77"
    aysel.email = "aysel@example.com"
    aysel.save(update_fields=["external_id", "email"])
    other = MemberFactory(program=program, at=moment, first_name="Rauf", last_name="Guliyev")
    for number, member in enumerate([aysel, aysel, other]):
        purchase_create(
            member=member, external_id=f"r-{number}", amount=Decimal("30.00"), currency="USD", at=moment
        )
    client.force_login(staff_user(program.merchant, "owner"))
    return program, aysel, other


def _counts(queries) -> list[str]:
    return [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]


@pytest.mark.parametrize("url", BIG_LISTS)
def test_big_lists_count_at_most_a_capped_subquery(shop, client, url):
    for params in ({}, {"q": shop[1].card_number}):
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, params)
        assert response.status_code == 200
        counts = _counts(captured.captured_queries)
        assert counts, "the paginator counts"
        for sql in counts:  # never a COUNT(*) over the whole (scoped) table
            assert re.search(r"LIMIT \d+\) subquery", sql), sql
        assert not any("DATE_TRUNC" in q["sql"] for q in captured.captured_queries)  # no date hierarchy
        assert not any("SELECT DISTINCT" in q["sql"] for q in captured.captured_queries)


@pytest.mark.parametrize(
    "query",
    ["card", "+994 50 111 22 33", "0501112233", "CRM-77", "AYSEL@example.com", "mammad", "aysel mamm", "id"],
)
def test_member_search_finds_by_identifiers_and_names(shop, client, query):
    program, aysel, other = shop
    aysel.phone = "+994501112233"
    aysel.save(update_fields=["phone"])
    query = {"card": aysel.card_number, "id": str(aysel.pk)}.get(query, query)
    page = client.get("/admin/accounts/member/", {"q": query}).content.decode()
    assert f"/admin/accounts/member/{aysel.pk}/change/" in page, query
    assert f"/admin/accounts/member/{other.pk}/change/" not in page, query


def test_member_search_without_a_match_finds_nobody(shop, client):
    page = client.get("/admin/accounts/member/", {"q": "nobody-at-all"}).content.decode()
    assert "/change/" not in page.split('id="result_list"')[-1]


@pytest.mark.parametrize(
    ("url", "field"), [("/admin/ledger/purchase/", "r-1"), ("/admin/ledger/entry/", None)]
)
def test_rows_of_a_member_by_the_members_card_or_their_own_key(shop, client, url, field):
    program, aysel, other = shop
    from ledger.models import Entry, Purchase

    model = Purchase if "purchase" in url else Entry
    page = client.get(url, {"q": aysel.card_number}).content.decode()
    for row in model.objects.filter(member=aysel):
        assert f"{url}{row.pk}/change/" in page
    for row in model.objects.filter(member=other):
        assert f"{url}{row.pk}/change/" not in page
    if field:
        page = client.get(url, {"q": field}).content.decode()
        found = model.objects.get(external_id=field)
        assert f"{url}{found.pk}/change/" in page


def test_the_paginator_counts_exactly_up_to_its_limit_then_estimates(shop, monkeypatch):
    from accounts.models import Member

    members = Member.objects.filter(program=shop[0])
    assert EstimatedCountPaginator(members, 50).count == members.count() == 2
    monkeypatch.setattr(EstimatedCountPaginator, "exact_limit", 1)
    paginator = EstimatedCountPaginator(members, 50)
    assert paginator.count >= 2  # the planner's estimate, never below what the capped count saw
    assert paginator.estimated


def test_member_page_inlines_are_limited(shop, client, monkeypatch):
    program, aysel, _other = shop
    monkeypatch.setattr(admin_lists.LimitedInlineFormSet, "limit", 2)
    page = client.get(f"/admin/accounts/member/{aysel.pk}/change/").content.decode()
    # the member has 3 spendable entries (registration bonus, two purchases): the newest 2 shown
    total = re.search(r'name="entries-TOTAL_FORMS" value="(\d+)"', page)
    assert total and int(total.group(1)) == 2
