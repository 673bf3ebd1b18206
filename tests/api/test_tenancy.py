"""Tenancy matrix: program B's key x every program A object x every endpoint and method -> 404
(the same answer as for an id that does not exist), nothing of A changes, and A's rows never appear
in B's lists."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Member
from campaigns.coupons import coupon_issue
from campaigns.models import Partner
from ledger.models import Entry, Purchase
from notifications.models import WebhookSubscription
from notifications.services import webhook_subscription_create
from tests.api.test_acceptance import enrol, seeded_tenant

MISSING = 987654321


@pytest.fixture
def world(db):
    a = seeded_tenant()
    b = seeded_tenant()
    now = timezone.now()
    member = enrol(a.client, phone="+994501110001", external_id="a-1", email="a@a.az")
    purchase = a.client.post(
        "/api/v1/purchases/",
        {"member": member["id"], "amount": "100.00", "currency": "USD", "external_id": "A-R1"},
        format="json",
    ).json()
    coupon = coupon_issue(
        program=a.program,
        member=Member.objects.get(pk=member["id"]),
        kind="percent",
        value=Decimal("20"),
        at=now,
    )
    Partner.objects.create(
        program=a.program,
        code="partner-a",
        name="A's partner",
        rate=Decimal("1"),
        bonus_percent=Decimal("10"),
    )
    webhook, _secret = webhook_subscription_create(program=a.program, url="https://a.example/hook", events=[])
    b_member = enrol(b.client, phone="+994501110002")
    return {
        "a": a,
        "b": b,
        "member": member["id"],
        "purchase": purchase["id"],
        "coupon": coupon.code,
        "webhook": webhook.pk,
        "b_member": b_member["id"],
    }


def requests_for(member_id, purchase_id, webhook_id, coupon_code):
    """Every endpoint and method that takes an object id, aimed at the given ids."""
    return [
        ("get", f"/api/v1/members/{member_id}/", None),
        ("patch", f"/api/v1/members/{member_id}/", {"first_name": "Mallory"}),
        ("get", f"/api/v1/members/{member_id}/entries/", None),
        ("post", "/api/v1/purchases/quote/", {"member": member_id, "amount": "10.00", "currency": "USD"}),
        (
            "post",
            "/api/v1/purchases/",
            {"member": member_id, "amount": "10.00", "currency": "USD", "external_id": "B-R1"},
        ),
        ("post", f"/api/v1/purchases/{purchase_id}/refund/", {}),
        ("post", "/api/v1/redemptions/", {"member": member_id, "points": 1}),
        ("post", "/api/v1/cashouts/", {"member": member_id, "points": 100}),
        ("post", "/api/v1/adjustments/", {"member": member_id, "points": 5, "reason": "x"}),
        ("post", "/api/v1/events/", {"member": member_id, "type": "login"}),
        (
            "post",
            "/api/v1/coupons/validate/",
            {"code": coupon_code, "member": member_id, "amount": "10.00", "currency": "USD"},
        ),
        ("get", f"/api/v1/coupons/?member={member_id}", None),
        (
            "post",
            "/api/v1/partner-transfers/",
            {"member": member_id, "partner": "partner-a", "points": 10, "external_id": "T-1"},
        ),
        ("delete", f"/api/v1/webhooks/{webhook_id}/", None),
    ]


def snapshot(world):
    member = Member.objects.get(pk=world["member"])
    purchase = Purchase.objects.get(pk=world["purchase"])
    return (
        member.balance,
        member.first_name,
        member.tier_id,
        purchase.refunded_amount,
        Entry.objects.count(),
        Purchase.objects.count(),
        WebhookSubscription.objects.filter(pk=world["webhook"]).exists(),
    )


def test_b_key_on_every_a_object_is_404_like_a_missing_id_and_changes_nothing(world):
    b = world["b"].client
    before = snapshot(world)
    foreign = requests_for(world["member"], world["purchase"], world["webhook"], world["coupon"])
    missing = requests_for(MISSING, MISSING, MISSING, world["coupon"])
    for (method, url, body), (_m, missing_url, missing_body) in zip(foreign, missing, strict=True):
        response = getattr(b, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.content)
        assert response.json()["error"]["code"] == "not_found"
        # Same answer as for an id that exists nowhere: nothing leaks.
        control = getattr(b, method)(missing_url, missing_body, format="json")
        assert control.status_code == 404
        assert control.json() == response.json(), (method, url)
    assert snapshot(world) == before


def test_a_rows_never_appear_in_b_lists(world):
    b = world["b"].client
    members = b.get("/api/v1/members/?page_size=200").json()
    assert [row["id"] for row in members["results"]] == [world["b_member"]]
    for query in ("phone=%2B994501110001", "external_id=a-1", "email=a@a.az"):
        assert b.get(f"/api/v1/members/?{query}").json()["count"] == 0
    assert b.get("/api/v1/webhooks/").json()["count"] == 0
    a_campaigns = {
        row["id"] for row in world["a"].client.get("/api/v1/campaigns/?page_size=200").json()["results"]
    }
    b_campaigns = {row["id"] for row in b.get("/api/v1/campaigns/?page_size=200").json()["results"]}
    assert a_campaigns and b_campaigns and not (a_campaigns & b_campaigns)
    assert b.get("/api/v1/program/").json()["id"] == world["b"].program.pk
    assert b.get(f"/api/v1/members/{world['b_member']}/entries/").json()["results"] == [
        row
        for row in b.get(f"/api/v1/members/{world['b_member']}/entries/").json()["results"]
        if Entry.objects.get(pk=row["id"]).program_id == world["b"].program.pk
    ]


def test_a_key_still_reaches_its_own_objects(world):
    """Control: the 404s above are tenancy, not broken requests."""
    a = world["a"].client
    for method, url, body in requests_for(
        world["member"], world["purchase"], world["webhook"], world["coupon"]
    ):
        if method in ("delete",) or url.endswith("/refund/"):
            continue
        response = getattr(a, method)(url, body, format="json")
        assert response.status_code in (200, 201), (method, url, response.content)
