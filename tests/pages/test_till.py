"""The till page through Django's test client: access, program scoping, search, enrolment."""

import pytest
from django.urls import reverse

from accounts.models import Member
from tests.factories import MemberFactory, ProgramFactory
from tests.pages.conftest import PASSWORD


def test_login_required_redirects_to_till_login(client, db):
    response = client.get("/cashier/")
    assert response.status_code == 302
    assert response.url.startswith("/cashier/login/?next=/cashier/")


def test_cashier_logs_in_on_the_till_page(client, cashier_user, program):
    response = client.post("/cashier/login/", {"username": cashier_user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert response.url == "/cashier/"
    page = client.get("/cashier/")
    assert page.status_code == 200
    assert page.context["program"] == program


def test_analyst_has_no_till(client, staff_user, merchant, program):
    client.force_login(staff_user(merchant, "analyst"))
    assert client.get("/cashier/").status_code == 403


def test_find_member_by_phone_card_and_qr_url(client, cashier_user, program, member):
    client.force_login(cashier_user)
    target = reverse("cashier:member", args=[member.pk])
    for query in (
        member.phone,
        member.phone.replace("+994", "0"),
        member.card_number,
        f"http://x/card/{member.card_token}/",
    ):
        response = client.get("/cashier/", {"q": query})
        assert response.status_code == 302, query
        assert response.url == target


def test_unknown_member_shows_message(client, cashier_user, program, member):
    client.force_login(cashier_user)
    response = client.get("/cashier/", {"q": "+994559999999"})
    assert response.status_code == 200
    assert "No member found" in response.content.decode()


def test_other_merchants_member_is_not_found_and_404(client, cashier_user, program, now):
    other = MemberFactory(program=ProgramFactory(), at=now)
    client.force_login(cashier_user)
    response = client.get("/cashier/", {"q": other.phone})
    assert response.status_code == 200
    assert "No member found" in response.content.decode()
    assert client.get(reverse("cashier:member", args=[other.pk])).status_code == 404
    assert (
        client.post(reverse("cashier:quote", args=[other.pk]), {"amount": "1", "currency": "AZN"}).status_code
        == 404
    )


def test_program_picker_with_several_programs(client, cashier_user, merchant):
    first = ProgramFactory(merchant=merchant, name="A shop")
    second = ProgramFactory(merchant=merchant, name="B bets")
    foreign = ProgramFactory(name="Someone else's")
    client.force_login(cashier_user)
    page = client.get("/cashier/")
    assert page.context["program"] is None
    assert [p.pk for p in page.context["programs"]] == [first.pk, second.pk]
    assert client.post("/cashier/program/", {"program": foreign.pk}).status_code == 404
    assert client.post("/cashier/program/", {"program": second.pk}).status_code == 302
    assert client.get("/cashier/").context["program"] == second


def test_enrol_member_through_member_create(client, cashier_user, program):
    client.force_login(cashier_user)
    response = client.post(
        "/cashier/members/new/", {"phone": "050 111 22 33", "first_name": "New", "last_name": "Member"}
    )
    member = Member.objects.get(program=program)
    assert response.status_code == 302
    assert response.url == reverse("cashier:member", args=[member.pk])
    assert member.phone == "+994501112233"
    assert len(member.card_number) == 13


def test_enrol_duplicate_phone_shows_error_and_creates_nothing(client, cashier_user, program, member):
    client.force_login(cashier_user)
    response = client.post("/cashier/members/new/", {"phone": member.phone})
    assert response.status_code == 200
    assert "A member with this phone already exists." in response.content.decode()
    assert Member.objects.filter(program=program).count() == 1


@pytest.mark.parametrize("path", ["/cashier/members/new/", "/cashier/program/"])
def test_posts_need_csrf(db, cashier_user, program, path):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(cashier_user)
    assert strict.post(path, {"phone": "+994501112233", "program": program.pk}).status_code == 403
    assert Member.objects.count() == 0


def test_card_page_shows_qr_and_card_number(client, member):
    response = client.get(f"/card/{member.card_token}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<svg" in body and 'class="segno"' in body
    assert member.card_number in body
    assert response["Cache-Control"] == "private, no-store"


def test_card_page_unknown_token_is_404(client, db):
    assert client.get("/card/not-a-real-token/").status_code == 404


def test_card_page_is_throttled_per_address(client, member, monkeypatch):
    import types

    from django.core.cache import cache

    # one moment for all 62 requests: the limit counts in fixed one-minute windows, and a run that
    # crossed a minute boundary would start counting afresh halfway
    monkeypatch.setattr("cashier.throttle.time", types.SimpleNamespace(time=lambda: 1_790_000_010.0))
    cache.clear()
    statuses = [
        client.get(f"/card/{member.card_token}/", REMOTE_ADDR="10.9.9.9").status_code for _ in range(61)
    ]
    assert statuses.count(200) == 60
    assert statuses[-1] == 429
    assert client.get(f"/card/{member.card_token}/", REMOTE_ADDR="10.9.9.8").status_code == 200
    cache.clear()


def test_card_page_lists_points_expiring_soon(client, seeded):
    from datetime import timedelta

    from django.utils import timezone

    from ledger.services import points_adjust

    program, member = seeded
    now = timezone.now()
    # credited 364 days ago with a 365-day lifetime: expires within the 48-hour warning window
    points_adjust(member=member, points=300, at=now - timedelta(days=364), reference="old-lot", reason="test")
    response = client.get(f"/card/{member.card_token}/")
    expiring = response.context["expiring"]
    assert [row["points"] for row in expiring] == [300]
    assert "<strong>300</strong> points expire on" in response.content.decode()
    till = response.context["progress"]
    assert till["next_tier"] == "silver"


def test_a_suspended_merchants_till_records_nothing(client, cashier_user, merchant, program, member):
    from accounts.models import Merchant
    from ledger.models import Purchase

    client.force_login(cashier_user)
    assert client.get("/cashier/").context["program"] == program
    Merchant.objects.filter(pk=merchant.pk).update(is_active=False)

    page = client.get("/cashier/")
    assert page.status_code == 200
    assert page.context["program"] is None and page.context["programs"] == []
    panel = client.get(reverse("cashier:member", args=[member.pk]))
    assert (panel.status_code, panel.url) == (302, "/cashier/")  # back to the (empty) program choice
    data = {"amount": "10.00", "currency": "AZN", "redeem_points": "0", "external_id": "till-s"}
    refused = client.post(reverse("cashier:purchase", args=[member.pk]), data)
    assert (refused.status_code, refused.url) == (302, "/cashier/")
    assert not Purchase.objects.filter(member=member).exists()

    Merchant.objects.filter(pk=merchant.pk).update(is_active=True)
    assert client.get("/cashier/").context["program"] == program
