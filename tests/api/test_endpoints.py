"""The endpoints beyond the acceptance scenarios, each with exact numbers from the seed preset."""

from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Member
from campaigns.coupons import coupon_issue
from notifications.models import WebhookSubscription
from tests.api.test_acceptance import enrol, seeded_tenant


@pytest.fixture
def seeded(db):
    return seeded_tenant()


def test_program_shows_settings_and_rates_in_force(seeded):
    body = seeded.client.get("/api/v1/program/").json()
    assert body["id"] == seeded.program.pk
    assert body["base_currency"] == "AZN"
    assert body["point_value"] == "0.010000"
    assert body["expiry_warning_hours"] == 48 and body["renewal_window_hours"] == 24
    assert body["inactivity_days"] == 30 and body["decay_percent"] == "5.000"
    rates = {rate["currency"]: (rate["points_per_unit"], rate["cap"]) for rate in body["rates"]}
    assert rates == {
        "AZN": ("8.0000", None),
        "EUR": ("14.0000", 5000),
        "GBP": ("15.0000", None),
        "USD": ("12.0000", None),
    }


def test_tiers_lowest_first(seeded):
    tiers = seeded.client.get("/api/v1/tiers/").json()["results"]
    assert [(t["code"], t["threshold"]) for t in tiers] == [
        ("bronze", 0),
        ("silver", 1000),
        ("gold", 3000),
        ("platinum", 6000),
    ]
    assert tiers[0]["discount_percent"] == "2.00"


def test_cashout_fee_and_value(seeded):
    api = seeded.client
    member = enrol(api)
    api.post("/api/v1/adjustments/", {"member": member["id"], "points": 10000, "reason": "t"}, format="json")
    response = api.post("/api/v1/cashouts/", {"member": member["id"], "points": 10000}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["gross"] == {"amount": "100.00", "currency": "AZN"}
    assert body["fee"] == {"amount": "0.40", "currency": "AZN"}
    assert body["value"] == {"amount": "99.60", "currency": "AZN"}
    assert body["balance"] == member["balance"]


def test_cashout_over_the_daily_limit_is_422_and_changes_nothing(seeded):
    api = seeded.client
    member = enrol(api)
    api.post("/api/v1/adjustments/", {"member": member["id"], "points": 600000, "reason": "t"}, format="json")
    balance = Member.objects.get(pk=member["id"]).balance
    response = api.post("/api/v1/cashouts/", {"member": member["id"], "points": 500001}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "limit_exceeded"
    assert Member.objects.get(pk=member["id"]).balance == balance


def test_redemption_value_and_negative_adjustment_floor(seeded):
    api = seeded.client
    member = enrol(api)
    start = member["balance"]
    response = api.post("/api/v1/redemptions/", {"member": member["id"], "points": 40}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["value"] == {"amount": "0.40", "currency": "AZN"}
    assert response.json()["balance"] == start - 40
    below_zero = {"member": member["id"], "points": -(start - 40 + 1), "reason": "oops"}
    refused = api.post("/api/v1/adjustments/", below_zero, format="json")
    assert refused.status_code == 422
    assert Member.objects.get(pk=member["id"]).balance == start - 40
    zero = api.post(
        "/api/v1/adjustments/", {"member": member["id"], "points": 0, "reason": "x"}, format="json"
    )
    assert zero.status_code == 400 and "points" in zero.json()["error"]["fields"]


def test_partner_transfer_adds_ten_percent_and_replays(seeded):
    api = seeded.client
    member = enrol(api)
    body = {"member": member["id"], "partner": "partner", "points": 1000, "external_id": "T-1"}
    first = api.post("/api/v1/partner-transfers/", body, format="json")
    assert first.status_code == 201, first.content
    assert first.json() == {"points_credited": 1100, "balance": member["balance"] + 1100}
    again = api.post("/api/v1/partner-transfers/", body, format="json")
    assert again.json()["points_credited"] == 1100
    assert Member.objects.get(pk=member["id"]).balance == member["balance"] + 1100
    unknown = api.post("/api/v1/partner-transfers/", {**body, "partner": "nope"}, format="json")
    assert unknown.status_code == 404


def test_review_event_rewards_and_unknown_type(seeded):
    api = seeded.client
    member = enrol(api)
    response = api.post("/api/v1/events/", {"member": member["id"], "type": "review"}, format="json")
    assert response.status_code == 201, response.content
    rewards = response.json()["rewards"]
    assert [(r["campaign"], r["points"]) for r in rewards] == [("review_bonus", 50)]
    unknown = api.post("/api/v1/events/", {"member": member["id"], "type": "teleported"}, format="json")
    assert unknown.status_code == 400
    future = {"member": member["id"], "type": "login", "occurred_at": "2999-01-01T00:00:00+00:00"}
    assert api.post("/api/v1/events/", future, format="json").status_code == 400


def test_coupon_validate_and_member_coupons(seeded):
    api = seeded.client
    member = enrol(api)
    coupon = coupon_issue(
        program=seeded.program,
        member=Member.objects.get(pk=member["id"]),
        kind="percent",
        value=Decimal("20"),
        at=timezone.now(),
    )
    body = {"code": coupon.code, "member": member["id"], "amount": "50.00", "currency": "USD"}
    valid = api.post("/api/v1/coupons/validate/", body, format="json").json()
    assert valid["valid"] is True
    assert valid["discount"] == {"amount": "10.00", "currency": "USD"}
    invalid = api.post("/api/v1/coupons/validate/", {**body, "code": "NOPE"}, format="json").json()
    assert invalid["valid"] is False and invalid["reason"] == "coupon_invalid"
    listed = api.get(f"/api/v1/coupons/?member={member['id']}").json()
    assert [row["code"] for row in listed["results"]] == [coupon.code]
    assert api.get("/api/v1/coupons/").status_code == 400

    purchase = {"member": member["id"], "amount": "100.00", "currency": "USD", "coupon_code": coupon.code}
    quote = api.post("/api/v1/purchases/quote/", purchase, format="json").json()
    assert quote["discount"] == {"amount": "21.60", "currency": "USD"}  # 2 % tier, then 20 % of 98
    assert quote["amount_due"] == {"amount": "78.40", "currency": "USD"}


def test_entries_filters_and_order(seeded):
    api = seeded.client
    member = enrol(api)
    api.post("/api/v1/adjustments/", {"member": member["id"], "points": 7, "reason": "t"}, format="json")
    api.post("/api/v1/redemptions/", {"member": member["id"], "points": 3}, format="json")
    entries = api.get(f"/api/v1/members/{member['id']}/entries/").json()["results"]
    assert [(e["kind"], e["points"]) for e in entries][:2] == [("redeem", -3), ("adjust", 7)]
    assert entries[0]["balance_after"] == member["balance"] + 4
    assert set(entries[0]) == {
        "id",
        "kind",
        "points",
        "balance_after",
        "created_at",
        "description",
        "purchase",
        "campaign",
    }
    only = api.get(f"/api/v1/members/{member['id']}/entries/?kind=adjust").json()
    assert [e["points"] for e in only["results"]] == [7]
    future = api.get(f"/api/v1/members/{member['id']}/entries/?since=2999-01-01T00:00:00Z").json()
    assert future["count"] == 0
    past = api.get(f"/api/v1/members/{member['id']}/entries/?until=2000-01-01T00:00:00Z").json()
    assert past["count"] == 0
    bad = api.get(f"/api/v1/members/{member['id']}/entries/?kind=stolen")
    assert bad.status_code == 400 and "kind" in bad.json()["error"]["fields"]


def test_campaigns_running_now(seeded):
    codes = {row["code"] for row in seeded.client.get("/api/v1/campaigns/?page_size=200").json()["results"]}
    assert {"registration_bonus", "second_purchase_bonus", "weekly_double_bonus"} <= codes


def test_webhooks_create_list_delete(seeded):
    api = seeded.client
    created = api.post(
        "/api/v1/webhooks/", {"url": "https://pos.example/hooks", "events": ["points.earned"]}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"] and body["events"] == ["points.earned"]
    listed = api.get("/api/v1/webhooks/").json()
    assert [row["id"] for row in listed["results"]] == [body["id"]]
    assert "secret" not in listed["results"][0]
    bad = api.post("/api/v1/webhooks/", {"url": "https://x.example/", "events": ["nope"]}, format="json")
    assert bad.status_code == 400
    assert api.delete(f"/api/v1/webhooks/{body['id']}/").status_code == 204
    assert not WebhookSubscription.objects.exists()
    assert api.delete(f"/api/v1/webhooks/{body['id']}/").status_code == 404


def test_purchase_validation(seeded):
    api = seeded.client
    member = enrol(api)
    base = {"member": member["id"], "amount": "10.00", "currency": "USD", "external_id": "V-1"}
    cases = {
        "amount": ["0", "-1", "10.001", "1000000000.01", "abc"],
        "currency": ["US", "U$D", 12],
        "external_id": ["", "x" * 101],
        "occurred_at": ["2999-01-01T00:00:00Z", "yesterday"],
        "kind": ["lottery"],
        "redeem_points": [-1, 10**10],
    }
    for field, values in cases.items():
        for value in values:
            response = api.post("/api/v1/purchases/", {**base, field: value}, format="json")
            assert response.status_code == 400, (field, value)
            assert field in response.json()["error"]["fields"], (field, value)
    unsupported = api.post("/api/v1/purchases/", {**base, "currency": "JPY"}, format="json")
    assert unsupported.status_code == 400
    assert unsupported.json()["error"]["code"] == "unsupported_currency"
    assert not Member.objects.get(pk=member["id"]).purchases.exists()


def test_purchase_answer_rewards_match_the_replay_and_the_member_is_read_once(seeded):
    """A new purchase answers with the grants it just made (no read back); its replay reads them:
    both say the same. The purchase reads its member once (the locking read) and stores all its
    events with one statement."""
    from django.db import connection

    api = seeded.client
    member = enrol(api)
    answers = []
    for n in range(1, 4):
        body = {"member": member["id"], "amount": "50.00", "currency": "AZN", "external_id": f"R-{n}"}
        statements = []  # (a request resets Django's query log: record them as they run)

        def record(execute, sql, params, many, context, statements=statements):
            statements.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            response = api.post("/api/v1/purchases/", body, format="json")
        assert response.status_code == 201, response.content
        replay = api.post("/api/v1/purchases/", body, format="json")
        assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
        assert replay.json()["rewards"] == response.json()["rewards"]
        answers.append(response.json())
        member_reads = [sql for sql in statements if sql.startswith("SELECT") and "accounts_member" in sql]
        assert len(member_reads) == 1 and "FOR NO KEY UPDATE" in member_reads[0], member_reads
        assert len([sql for sql in statements if "INSERT INTO notifications_event" in sql]) == 1

    first, second, third = answers
    assert first["rewards"] == []
    assert [(r["campaign"], r["points"], r["coupon"]) for r in second["rewards"]] == [
        ("second_purchase_bonus", 200, None)
    ]
    (coupon_reward,) = third["rewards"]
    assert (coupon_reward["campaign"], coupon_reward["points"]) == ("frequent_buyer_coupon", 0)
    coupon = seeded.program.coupons.get(code=coupon_reward["coupon"])
    assert (coupon.member_id, coupon.value, coupon.max_uses) == (member["id"], Decimal("20.00"), 1)
    assert third["balance"] == Member.objects.get(pk=member["id"]).balance


def test_purchase_for_another_programs_member_is_404_and_writes_nothing(seeded):
    from ledger.models import Purchase
    from tests.api.conftest import make_tenant

    other = make_tenant(name="Other")
    stranger = enrol(other.client)
    body = {"member": stranger["id"], "amount": "10.00", "currency": "AZN", "external_id": "X-1"}
    response = seeded.client.post("/api/v1/purchases/", body, format="json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert not Purchase.objects.filter(external_id="X-1").exists()
    assert Member.objects.get(pk=stranger["id"]).balance == stranger["balance"]


def test_purchase_for_an_unknown_member_is_404_before_its_input_is_judged(seeded):
    from datetime import timedelta

    api = seeded.client
    member = enrol(api)
    future = (timezone.now() + timedelta(days=1)).isoformat()
    body = {"amount": "10.00", "currency": "AZN", "external_id": "F-1", "occurred_at": future}
    unknown = api.post("/api/v1/purchases/", {**body, "member": 999999}, format="json")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    unsupported = api.post("/api/v1/purchases/", {**body, "member": 999999, "currency": "CHF"}, format="json")
    assert unsupported.status_code == 404
    known = api.post("/api/v1/purchases/", {**body, "member": member["id"]}, format="json")
    assert known.status_code == 400 and "occurred_at" in known.json()["error"]["fields"]


def test_a_replay_is_marked_even_when_its_original_is_no_older_than_the_request(seeded, monkeypatch):
    """A retry racing its original (recorded while the retry waited for the member's lock) is a
    replay too: the answer says so whatever the two moments are. Here the clock stands still, so
    the original's created_at equals the retry's request time."""
    api = seeded.client
    member = enrol(api)
    moment = timezone.now()
    monkeypatch.setattr(timezone, "now", lambda: moment)
    body = {"member": member["id"], "amount": "20.00", "currency": "AZN", "external_id": "SAME-MOMENT"}

    first = api.post("/api/v1/purchases/", body, format="json")
    again = api.post("/api/v1/purchases/", body, format="json")

    assert first.status_code == again.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
