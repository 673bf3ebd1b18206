"""The rewards endpoints: exact numbers, idempotency, error shapes, tenancy."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Member
from ledger import services as ledger
from ledger.models import Lot
from rewards.models import Redemption, Reward
from tests.api.conftest import make_tenant
from tests.factories import MemberFactory

from .conftest import add_codes, make_reward

MISSING = 987654321


@pytest.fixture
def a(db):
    return make_tenant(name="A")


@pytest.fixture
def b(db):
    return make_tenant(name="B")


def _member(tenant, points):
    member = MemberFactory(program=tenant.program)
    ledger.points_bonus(
        member=member, points=points, at=timezone.now(), reference=f"f{member.pk}", description="f"
    )
    return member


def test_list_shows_affordable_and_points_missing(a):
    member = _member(a, 300)
    cheap = make_reward(a.program, cost_points=100, co_payment=Decimal("1.50"), stock_total=3)
    dear = make_reward(a.program, name="Big", cost_points=500, display_order=5)
    make_reward(a.program, name="Till only", channel=Reward.Channel.TILL)

    response = a.client.get(f"/api/v1/rewards/?member={member.pk}")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["id"], r["affordable"], r["points_missing"], r["redeemable"]) for r in rows] == [
        (cheap.pk, True, 0, True),
        (dear.pk, False, 200, False),
    ]
    assert rows[0]["co_payment"] == {"amount": "1.50", "currency": "AZN"}
    assert rows[0]["stock_left"] == 3 and rows[1]["stock_left"] is None


def test_redeem_a_voucher_then_cancel_it(a):
    member = _member(a, 300)
    reward = make_reward(a.program, kind=Reward.Kind.VOUCHER, cost_points=120)
    add_codes(reward, 1, prefix="COFFEE-")

    response = a.client.post(
        f"/api/v1/rewards/{reward.pk}/redeem/", {"member": member.pk, "reference": "pos-1"}, format="json"
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["code"], body["status"], body["points"], body["balance"]) == (
        "COFFEE-0000",
        "issued",
        120,
        180,
    )
    assert body["kind"] == "voucher" and body["coupon"] is None and body["channel"] == "api"

    listed = a.client.get(f"/api/v1/reward-redemptions/?member={member.pk}").json()["results"]
    assert [row["id"] for row in listed] == [body["id"]]

    cancel = a.client.post(f"/api/v1/reward-redemptions/{body['id']}/cancel/", {}, format="json")
    assert cancel.status_code == 200
    assert (cancel.json()["status"], cancel.json()["balance"]) == ("cancelled", 300)
    assert sum(Lot.objects.filter(member=member).values_list("remaining", flat=True)) == 300

    again = a.client.post(f"/api/v1/reward-redemptions/{body['id']}/cancel/", {}, format="json")
    assert again.status_code == 409 and again.json()["error"]["code"] == "redemption_closed"


def test_same_reference_replays_and_another_reward_conflicts(a):
    member = _member(a, 300)
    reward = make_reward(a.program, cost_points=100)
    body = {"member": member.pk, "reference": "pos-7"}

    first = a.client.post(f"/api/v1/rewards/{reward.pk}/redeem/", body, format="json")
    again = a.client.post(f"/api/v1/rewards/{reward.pk}/redeem/", body, format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"] and again.json()["balance"] == 200
    other = make_reward(a.program, name="Other", cost_points=10)
    conflict = a.client.post(f"/api/v1/rewards/{other.pk}/redeem/", body, format="json")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "idempotency_conflict"
    assert Member.objects.get(pk=member.pk).balance == 200


def test_idempotency_key_replays_the_first_answer(a):
    member = _member(a, 300)
    reward = make_reward(a.program, cost_points=100)
    url = f"/api/v1/rewards/{reward.pk}/redeem/"

    first = a.client.post(url, {"member": member.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = a.client.post(url, {"member": member.pk}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert Redemption.objects.count() == 1 and Member.objects.get(pk=member.pk).balance == 200


@pytest.mark.parametrize(
    ("fields", "points", "code"),
    [
        ({"cost_points": 500}, 300, "insufficient_points"),
        ({"stock_total": 0}, 300, "out_of_stock"),
        ({"is_active": False}, 300, "reward_unavailable"),
        ({"channel": "till"}, 300, "reward_unavailable"),
    ],
)
def test_refusals_are_422_in_the_error_shape(a, fields, points, code):
    member = _member(a, points)
    reward = make_reward(a.program, **fields)

    response = a.client.post(f"/api/v1/rewards/{reward.pk}/redeem/", {"member": member.pk}, format="json")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == code and response.json()["error"]["message"]
    assert Member.objects.get(pk=member.pk).balance == points


def test_limit_exceeded(a):
    member = _member(a, 300)
    reward = make_reward(a.program, cost_points=10, limit_per_member=1, limit_period="day")
    url = f"/api/v1/rewards/{reward.pk}/redeem/"
    assert a.client.post(url, {"member": member.pk}, format="json").status_code == 201
    response = a.client.post(url, {"member": member.pk}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "limit_exceeded"


def test_fulfil_a_bonus(a):
    member = _member(a, 2000)
    reward = make_reward(a.program, kind=Reward.Kind.BONUS, name="Free bet 10 AZN", cost_points=1000)
    redemption = a.client.post(
        f"/api/v1/rewards/{reward.pk}/redeem/", {"member": member.pk}, format="json"
    ).json()
    assert redemption["status"] == "pending"

    done = a.client.post(f"/api/v1/reward-redemptions/{redemption['id']}/fulfil/", {}, format="json")

    assert done.status_code == 200 and done.json()["status"] == "fulfilled" and done.json()["fulfilled_at"]
    closed = a.client.post(f"/api/v1/reward-redemptions/{redemption['id']}/cancel/", {}, format="json")
    assert closed.status_code == 409


def test_another_programs_reward_and_redemption_are_404_like_missing_ones(a, b):
    a_member = _member(a, 300)
    b_member = _member(b, 300)
    reward = make_reward(a.program)
    redemption = a.client.post(
        f"/api/v1/rewards/{reward.pk}/redeem/", {"member": a_member.pk}, format="json"
    ).json()

    for reward_id, redemption_id in ((reward.pk, redemption["id"]), (MISSING, MISSING)):
        calls = [
            b.client.post(f"/api/v1/rewards/{reward_id}/redeem/", {"member": b_member.pk}, format="json"),
            b.client.post(f"/api/v1/reward-redemptions/{redemption_id}/cancel/", {}, format="json"),
            b.client.post(f"/api/v1/reward-redemptions/{redemption_id}/fulfil/", {}, format="json"),
        ]
        assert [c.status_code for c in calls] == [404, 404, 404]
        assert {c.json()["error"]["code"] for c in calls} == {"not_found"}
    # A's member through B's key, and B's lists
    assert b.client.get(f"/api/v1/rewards/?member={a_member.pk}").status_code == 404
    assert (
        b.client.post(
            f"/api/v1/rewards/{reward.pk}/redeem/", {"member": a_member.pk}, format="json"
        ).status_code
        == 404
    )
    assert b.client.get("/api/v1/reward-redemptions/").json()["count"] == 0
    assert b.client.get(f"/api/v1/rewards/?member={b_member.pk}").json()["results"] == []
    assert Redemption.objects.get(pk=redemption["id"]).status == "pending"
    assert Member.objects.get(pk=a_member.pk).balance == 200
