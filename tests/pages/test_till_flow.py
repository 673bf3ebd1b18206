"""The till's flow as a cashier meets it: refunds that say what to hand back, one error message,
search by name, duplicate enrolment, coupons."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Member
from checkout.purchases import purchase_create
from ledger.models import Posting, Purchase
from ledger.services import points_adjust, rate_set
from tests.factories import MemberFactory


@pytest.fixture
def till(client, staff_user, program, member):
    """A logged-in cashier; the program earns 10 points per AZN; the member holds 500 points."""
    at = timezone.now()
    rate_set(program=program, currency="AZN", points_per_unit=Decimal("10"), at=at - timedelta(days=1))
    points_adjust(member=member, points=500, at=at - timedelta(hours=1), reference="opening", reason="test")
    client.force_login(staff_user(program.merchant, "cashier"))
    return client, program, member


def _paid_partly_with_points(member):
    """48.45 AZN, 500 points (5.00 AZN) of it paid with points: 43.45 AZN paid in money."""
    purchase = purchase_create(
        member=member,
        external_id="till-f9c6",
        amount=Decimal("48.45"),
        currency="AZN",
        redeem_points=500,
        at=timezone.now(),
    ).purchase
    assert (purchase.amount_due, purchase.points_redeemed, purchase.points_earned) == (
        Decimal("43.45"),
        500,
        434,
    )
    return purchase


def test_refund_preview_says_the_money_to_hand_back_and_changes_nothing(till):
    client, program, member = till
    purchase = _paid_partly_with_points(member)
    postings = Posting.objects.count()

    page = client.get(reverse("cashier:refund", args=[purchase.pk]))

    assert page.status_code == 200
    preview = page.context["preview"]
    assert (preview.amount, preview.money_returned) == (Decimal("48.45"), Decimal("43.45"))
    assert (preview.points_to_reverse, preview.points_to_return) == (434, 500)
    body = page.content.decode()
    assert "<strong>43.45 AZN</strong>" in body and 'id="confirm-refund"' in body
    assert Posting.objects.count() == postings
    purchase.refresh_from_db()
    assert purchase.refunded_amount == 0


def test_confirmed_refund_says_what_was_handed_back_and_then_shows_refunded(till):
    client, program, member = till
    purchase = _paid_partly_with_points(member)
    reference = client.get(reverse("cashier:refund", args=[purchase.pk])).context["form"]["reference"].value()

    done = client.post(
        reverse("cashier:refund", args=[purchase.pk]), {"amount": "48.45", "reference": reference}
    )

    assert done.status_code == 302
    panel = client.get(reverse("cashier:member", args=[member.pk]))
    body = panel.content.decode()
    assert "hand back 43.45 AZN. 434 points reversed, 500 points returned. Balance 500 points." in body
    row = body[body.index(f'id="purchase-{purchase.pk}"') :]
    row = row[: row.index("</tr>")]
    assert "Refunded" in row and "43.45 AZN handed back" in row
    assert reverse("cashier:refund", args=[purchase.pk]) not in row  # no Refund button any more
    again = client.get(reverse("cashier:refund", args=[purchase.pk]))
    assert "fully refunded" in again.content.decode() and 'id="confirm-refund"' not in again.content.decode()


def test_partial_refund_preview_matches_the_refund_it_confirms(till):
    client, program, member = till
    purchase = _paid_partly_with_points(member)

    preview = client.get(reverse("cashier:refund", args=[purchase.pk]), {"amount": "10"}).context["preview"]
    client.post(
        reverse("cashier:refund", args=[purchase.pk]), {"amount": "10.00", "reference": "till-refund-p"}
    )

    # 10 of 48.45: 8.97 of the 43.45 paid in money, floor(434 x 10 / 48.45) and floor(500 x 10 / 48.45)
    assert (preview.money_returned, preview.points_to_reverse, preview.points_to_return) == (
        Decimal("8.97"),
        89,
        103,
    )
    posting = Posting.objects.get(reference="till-refund-p")
    assert posting.data["money_returned"] == "8.97"
    assert (posting.data["points_reversed"], posting.data["points_returned"]) == (89, 103)


def test_refund_over_what_is_left_is_one_message_and_changes_nothing(till):
    client, program, member = till
    purchase = _paid_partly_with_points(member)

    page = client.get(reverse("cashier:refund", args=[purchase.pk]), {"amount": "60"})
    refused = client.post(
        reverse("cashier:refund", args=[purchase.pk]), {"amount": "60", "reference": "r-60"}
    )

    for response in (page, refused):
        assert response.status_code == 422
        assert response.content.decode().count("48.45 AZN is left to refund on this purchase.") == 1
    purchase.refresh_from_db()
    assert purchase.refunded_amount == 0


def test_redeeming_more_than_the_balance_says_not_enough_points_before_a_limit(till):
    from fraud.models import FraudRule

    client, program, member = till
    # a velocity limit the redemption would breach as well
    FraudRule.objects.create(
        program=program, name="Velocity", kinds=["redeem"], window_minutes=60, max_amount=Decimal("1")
    )

    response = client.post(
        reverse("cashier:redeem", args=[member.pk]), {"points": "900", "reference": "r-900"}
    )

    body = response.content.decode()
    assert response.status_code == 422
    assert body.count("The member has 500 points, 900 are needed.") == 1
    assert "Limit reached" not in body


def test_a_refused_purchase_shows_its_message_once(till):
    client, program, member = till
    response = client.post(
        reverse("cashier:purchase", args=[member.pk]),
        {"amount": "10.00", "currency": "AZN", "coupon_code": "NOPE-1", "external_id": "till-c1"},
    )
    assert response.status_code == 422
    message = response.context["purchase_form"].non_field_errors()[0]
    assert response.content.decode().count(message) == 1
    assert Purchase.objects.count() == 0


def test_search_by_name_lists_the_matches(till):
    client, program, member = till
    at = timezone.now()
    for first, last in [("Aysel", "Mammadova"), ("Aysel", "Aliyeva"), ("Rauf", "Mammadov")]:
        MemberFactory(program=program, at=at, first_name=first, last_name=last)

    several = client.get("/cashier/", {"q": "mammad"})
    one = client.get("/cashier/", {"q": "aysel ali"})
    none = client.get("/cashier/", {"q": "nobody"})

    assert [str(m) for m in several.context["results"]] == ["Rauf Mammadov", "Aysel Mammadova"]
    assert 'id="search-results"' in several.content.decode()
    target = Member.objects.get(last_name="Aliyeva")
    assert (one.status_code, one.url) == (302, reverse("cashier:member", args=[target.pk]))
    assert none.content.decode().count("No member found for “nobody”.") == 1


def test_search_by_name_keeps_the_list_short(till, settings):
    client, program, member = till
    at = timezone.now()
    for n in range(10):
        MemberFactory(program=program, at=at, first_name="Same", last_name=f"Name{n:02d}")

    page = client.get("/cashier/", {"q": "same"})

    assert len(page.context["results"]) == 8 and page.context["more"] is True
    assert 'id="search-more"' in page.content.decode()


def test_search_by_external_id_exact_and_by_its_start(till):
    client, program, member = till
    at = timezone.now()
    crm = MemberFactory(program=program, at=at, external_id="CRM-000123")

    exact = client.get("/cashier/", {"q": "CRM-000123"})
    start = client.get("/cashier/", {"q": "crm-0001"})

    for response in (exact, start):
        assert (response.status_code, response.url) == (302, reverse("cashier:member", args=[crm.pk]))


def test_duplicate_enrolment_is_one_form_error_on_the_phone(till):
    client, program, member = till
    response = client.post("/cashier/members/new/", {"phone": member.phone, "first_name": "Again"})

    assert response.status_code == 200
    assert response.context["form"].errors == {"phone": ["A member with this phone already exists."]}
    assert response.content.decode().count("A member with this phone already exists.") == 1
    assert Member.objects.filter(program=program).count() == 1


def test_member_panel_lists_coupons_to_apply_and_focuses_the_amount(till):
    from campaigns.models import Coupon

    client, program, member = till
    Coupon.objects.create(
        program=program,
        member=member,
        code="WELCOME10",
        kind="percent",
        value=Decimal("10"),
        ends_at=timezone.now() + timedelta(days=30),
    )

    body = client.get(reverse("cashier:member", args=[member.pk])).content.decode()

    assert 'data-code="WELCOME10"' in body and "10% off" in body and ">Apply<" in body
    amount = body[body.index('id="id_amount"') :]
    assert "autofocus" in amount[: amount.index(">")]
