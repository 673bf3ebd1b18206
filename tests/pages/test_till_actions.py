"""Till actions through the same services as the API: quote, purchase, redemption, refund."""

from decimal import Decimal

from django.urls import reverse

from accounts.models import Member
from accounts.services import member_set_status
from ledger.models import Posting, Purchase


def _login(client, staff_user, program):
    client.force_login(staff_user(program.merchant, "cashier"))


def test_quote_matches_the_pricing_pipeline_and_changes_nothing(client, staff_user, seeded):
    program, member = seeded
    _login(client, staff_user, program)
    postings_before = Posting.objects.count()
    response = client.post(
        reverse("cashier:quote", args=[member.pk]),
        {"amount": "100.00", "currency": "usd", "redeem_points": "0"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["points_to_earn"] == 1176
    assert body["discount"] == {"amount": "2.00", "currency": "USD"}
    assert body["amount_due"] == {"amount": "98.00", "currency": "USD"}
    assert Posting.objects.count() == postings_before
    assert Purchase.objects.count() == 0


def test_quote_reports_validation_and_business_errors(client, staff_user, seeded):
    program, member = seeded
    _login(client, staff_user, program)
    url = reverse("cashier:quote", args=[member.pk])
    bad = client.post(url, {"amount": "-1", "currency": "USD"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid"
    assert "amount" in bad.json()["error"]["fields"]
    too_many = client.post(url, {"amount": "10.00", "currency": "USD", "redeem_points": "5000"})
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] in {"insufficient_points", "limit_exceeded"}
    unknown = client.post(url, {"amount": "10.00", "currency": "XXX"})
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "unsupported_currency"


def test_purchase_records_points_and_is_idempotent_per_form(client, staff_user, seeded):
    program, member = seeded
    _login(client, staff_user, program)
    start = member.balance
    data = {"amount": "100.00", "currency": "USD", "redeem_points": "0", "external_id": "till-abc"}
    response = client.post(reverse("cashier:purchase", args=[member.pk]), data)
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.balance == start + 1176
    purchase = Purchase.objects.get(member=member)
    assert (purchase.external_id, purchase.amount_due, purchase.points_earned) == (
        "till-abc",
        Decimal("98.00"),
        1176,
    )
    # the same form submitted twice (double click, reload): one purchase, the same points
    again = client.post(reverse("cashier:purchase", args=[member.pk]), data)
    assert again.status_code == 302
    member.refresh_from_db()
    assert member.balance == start + 1176
    assert Purchase.objects.filter(member=member).count() == 1
    page = client.get(reverse("cashier:member", args=[member.pk]))
    assert f"Balance {start + 1176} points." in page.content.decode()


def test_failed_redemption_shows_message_and_changes_nothing(client, staff_user, seeded):
    program, member = seeded
    _login(client, staff_user, program)
    start = member.balance
    postings = Posting.objects.count()
    response = client.post(
        reverse("cashier:redeem", args=[member.pk]), {"points": str(start + 1), "reference": "till-redeem-1"}
    )
    assert response.status_code == 422
    assert (
        f"The member has {start} points" in response.content.decode()
        or "enough points" in response.content.decode()
    )
    member.refresh_from_db()
    assert member.balance == start
    assert Posting.objects.count() == postings


def test_redemption_spends_points(client, staff_user, seeded):
    program, member = seeded
    _login(client, staff_user, program)
    start = member.balance
    response = client.post(
        reverse("cashier:redeem", args=[member.pk]), {"points": "40", "reference": "till-r-2"}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.balance == start - 40


def test_blocked_member_purchase_is_refused_with_message(client, staff_user, seeded):
    program, member = seeded
    member_set_status(member=member, status=Member.Status.BLOCKED, reason="fraud review")
    _login(client, staff_user, program)
    response = client.post(
        reverse("cashier:purchase", args=[member.pk]),
        {"amount": "10.00", "currency": "USD", "redeem_points": "0", "external_id": "till-b"},
    )
    assert response.status_code == 422
    assert "blocked" in response.content.decode()
    assert Purchase.objects.count() == 0


def test_invalid_coupon_is_refused_with_message(client, staff_user, seeded):
    program, member = seeded
    _login(client, staff_user, program)
    response = client.post(
        reverse("cashier:purchase", args=[member.pk]),
        {"amount": "10.00", "currency": "USD", "coupon_code": "NOPE-123", "external_id": "till-c"},
    )
    assert response.status_code == 422
    assert "coupon" in response.content.decode().lower()
    assert Purchase.objects.count() == 0


def test_refund_reverses_points(client, staff_user, seeded):
    program, member = seeded
    _login(client, staff_user, program)
    start = member.balance
    client.post(
        reverse("cashier:purchase", args=[member.pk]),
        {"amount": "100.00", "currency": "USD", "redeem_points": "0", "external_id": "till-r"},
    )
    purchase = Purchase.objects.get(member=member)
    response = client.post(
        reverse("cashier:refund", args=[purchase.pk]), {"reference": "till-refund-1", "amount": ""}
    )
    assert response.status_code == 302
    member.refresh_from_db()
    purchase.refresh_from_db()
    assert purchase.points_reversed == 1176
    assert member.balance == start
    page = client.get(reverse("cashier:member", args=[member.pk])).content.decode()
    assert "1176 points reversed" in page


def test_refund_of_another_merchants_purchase_is_404(client, staff_user, seeded, program):
    seeded_program, member = seeded
    from checkout.purchases import purchase_create

    purchase = purchase_create(
        member=member, external_id="x", amount=Decimal("10.00"), currency="USD", at=member.created_at
    ).purchase
    client.force_login(staff_user(program.merchant, "cashier"))
    assert client.post(reverse("cashier:refund", args=[purchase.pk]), {"reference": "r"}).status_code == 404
    purchase.refresh_from_db()
    assert purchase.points_reversed == 0
