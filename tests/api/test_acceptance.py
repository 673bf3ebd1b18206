"""PRODUCT.md §3: the acceptance scenarios an integrator would run, through HTTP only (plus the
scheduled jobs, run for a chosen moment as `manage.py run_job --at` would)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Member
from ledger.models import Entry, Purchase
from ledger.selectors import member_ledger_check
from loyalty_site.core.jobs import run_job
from loyalty_site.core.presets import preset_apply
from notifications.models import Event
from tests.api.conftest import client_with_key, make_tenant


def seeded_tenant(*, days_ago: int = 1, **program_fields):
    tenant = make_tenant(**program_fields)
    preset_apply(program=tenant.program, preset="seed", at=timezone.now() - timedelta(days=days_ago))
    return tenant


def enrol(client, **fields):
    response = client.post("/api/v1/members/", fields or {"phone": "+994501234567"}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def entries_sum(client, member_id):
    total, url = 0, f"/api/v1/members/{member_id}/entries/?page_size=200"
    while url:
        body = client.get(url).json()
        total += sum(row["points"] for row in body["results"])
        url = body["next"]
    return total


@pytest.mark.django_db
def test_1_purchase_100_usd_bronze_earns_1176_and_reaches_silver():
    tenant = seeded_tenant()
    api = tenant.client
    member = enrol(api)
    assert member["tier"] == {"code": "bronze", "name": "Bronze"}
    start = member["balance"]
    body = {
        "member": member["id"],
        "amount": "100.00",
        "currency": "USD",
        "coupon_code": None,
        "redeem_points": 0,
    }

    quote = api.post("/api/v1/purchases/quote/", body, format="json")
    assert quote.status_code == 200, quote.content
    assert quote.json()["points_to_earn"] == 1176
    assert quote.json()["discount"] == {"amount": "2.00", "currency": "USD"}
    assert quote.json()["amount_due"] == {"amount": "98.00", "currency": "USD"}
    assert Purchase.objects.count() == 0  # a quote changes nothing

    response = api.post("/api/v1/purchases/", {**body, "external_id": "R-1001"}, format="json")
    assert response.status_code == 201, response.content
    purchase = response.json()
    assert purchase["points_earned"] == 1176
    assert purchase["points_redeemed"] == 0
    assert purchase["discount"] == {"amount": "2.00", "currency": "USD"}
    assert purchase["amount_due"] == {"amount": "98.00", "currency": "USD"}
    assert purchase["applied"] == quote.json()["applied"]
    assert purchase["balance"] == start + 1176
    assert purchase["tier"] == {"code": "silver", "name": "Silver"}

    read = api.get(f"/api/v1/members/{member['id']}/").json()
    assert read["balance"] == start + 1176
    assert read["tier"] == {"code": "silver", "name": "Silver"}
    assert read["tier_progress"]["next_tier"] == "gold"
    assert read["balance_value"] == {"amount": f"{(start + 1176) / 100:.2f}", "currency": "AZN"}


@pytest.mark.django_db
def test_2_same_purchase_again_same_answer_no_new_points():
    tenant = seeded_tenant()
    api = tenant.client
    member = enrol(api)
    body = {"member": member["id"], "amount": "100.00", "currency": "USD", "external_id": "R-1001"}
    first = api.post("/api/v1/purchases/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 201
    balance = Member.objects.get(pk=member["id"]).balance

    again = api.post("/api/v1/purchases/", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"

    # a POS retrying with the same order id and no key is safe too
    retry = api.post("/api/v1/purchases/", body, format="json")
    assert retry.status_code == 201
    assert retry["Idempotent-Replayed"] == "true"
    assert retry.json() == first.json()
    assert retry.json()["points_earned"] == 1176
    assert Purchase.objects.count() == 1
    assert Member.objects.get(pk=member["id"]).balance == balance

    other_body = api.post("/api/v1/purchases/", {**body, "amount": "5.00"}, format="json")
    assert other_body.status_code == 409
    assert other_body.json()["error"]["code"] == "idempotency_conflict"
    assert Purchase.objects.count() == 1
    assert Member.objects.get(pk=member["id"]).balance == balance


@pytest.mark.django_db
def test_3_eur_purchase_is_capped_at_5000_points():
    tenant = seeded_tenant()
    api = tenant.client
    member = enrol(api)
    body = {"member": member["id"], "amount": "500.00", "currency": "EUR", "external_id": "R-EUR"}
    response = api.post("/api/v1/purchases/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == 5000
    assert response.json()["amount_due"] == {"amount": "490.00", "currency": "EUR"}


@pytest.mark.django_db
def test_4a_redeeming_more_than_held_is_422_and_changes_nothing():
    tenant = seeded_tenant()
    api = tenant.client
    member = enrol(api)
    top_up = {"member": member["id"], "points": 500 - member["balance"], "reason": "test"}
    assert api.post("/api/v1/adjustments/", top_up, format="json").status_code == 201
    before_entries = Entry.objects.count()
    response = api.post("/api/v1/redemptions/", {"member": member["id"], "points": 501}, format="json")
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "insufficient_points"
    assert Member.objects.get(pk=member["id"]).balance == 500
    assert Entry.objects.count() == before_entries


@pytest.mark.django_db(transaction=True)
def test_4b_ten_parallel_redemptions_of_100_from_500_exactly_five_succeed():
    tenant = seeded_tenant()
    member = enrol(tenant.client)
    top_up = {"member": member["id"], "points": 500 - member["balance"], "reason": "test"}
    adjust = tenant.client.post("/api/v1/adjustments/", top_up, format="json")
    assert adjust.status_code == 201, adjust.content
    statuses: list[int] = []
    barrier = threading.Barrier(10)

    def redeem():
        client = client_with_key(tenant.raw_key)
        barrier.wait()
        try:
            response = client.post(
                "/api/v1/redemptions/", {"member": member["id"], "points": 100}, format="json"
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] * 5 + [422] * 5
    assert Member.objects.get(pk=member["id"]).balance == 0
    assert entries_sum(tenant.client, member["id"]) == 0


@pytest.mark.django_db
def test_5_idle_balance_decays_5_percent_per_30_idle_days_and_activity_resets_the_clock():
    tenant = seeded_tenant(days_ago=70)
    api = tenant.client
    now = timezone.now()
    member = enrol(api)
    Member.objects.filter(pk=member["id"]).update(last_activity_at=now - timedelta(days=62))
    response = api.post(
        "/api/v1/purchases/",
        {
            "member": member["id"],
            "amount": "100.00",
            "currency": "USD",
            "external_id": "OLD-1",
            "occurred_at": (now - timedelta(days=61)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    balance = api.get(f"/api/v1/members/{member['id']}/").json()["balance"]
    assert balance > 0

    run_job("decay_inactive", at=now - timedelta(days=30))  # idle 31 days
    once = api.get(f"/api/v1/members/{member['id']}/").json()["balance"]
    assert once == balance - balance * 5 // 100
    run_job("decay_inactive", at=now - timedelta(days=30))  # the same run again: nothing more
    assert api.get(f"/api/v1/members/{member['id']}/").json()["balance"] == once

    run_job("decay_inactive", at=now)  # idle 61 days: a second time
    twice = api.get(f"/api/v1/members/{member['id']}/").json()["balance"]
    assert twice == once - once * 5 // 100

    login = api.post("/api/v1/events/", {"member": member["id"], "type": "login"}, format="json")
    assert login.status_code == 201, login.content
    run_job("decay_inactive", at=now + timedelta(days=29))  # 29 days after the login: no decay
    assert api.get(f"/api/v1/members/{member['id']}/").json()["balance"] == twice
    decays = api.get(f"/api/v1/members/{member['id']}/entries/?kind=decay").json()
    assert decays["count"] == 2
    assert entries_sum(api, member["id"]) == twice


@pytest.mark.django_db
def test_6_points_47_hours_from_expiry_warn_exactly_once():
    tenant = seeded_tenant(days_ago=10, points_lifetime_days=3)
    api = tenant.client
    now = timezone.now()
    member = enrol(api)
    earned_at = now - timedelta(hours=72 - 47)
    response = api.post(
        "/api/v1/purchases/",
        {
            "member": member["id"],
            "amount": "10.00",
            "currency": "USD",
            "external_id": "EXP-1",
            "occurred_at": earned_at.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    points = response.json()["points_earned"]
    read = api.get(f"/api/v1/members/{member['id']}/").json()
    assert [row["points"] for row in read["expiring_soon"]] == [points]

    run_job("warn_expiring", at=now)
    run_job("warn_expiring", at=now)
    assert Event.objects.filter(member_id=member["id"], type="points.expiring").count() == 1


@pytest.mark.django_db
def test_7_refund_reverses_points_and_the_ledger_still_sums_to_the_balance():
    tenant = seeded_tenant()
    api = tenant.client
    member = enrol(api)
    purchase = api.post(
        "/api/v1/purchases/",
        {"member": member["id"], "amount": "100.00", "currency": "USD", "external_id": "R-7"},
        format="json",
    ).json()
    partial = api.post(f"/api/v1/purchases/{purchase['id']}/refund/", {"amount": "49.00"}, format="json")
    assert partial.status_code == 200, partial.content
    assert partial.json()["points_reversed"] == 588
    rest = api.post(f"/api/v1/purchases/{purchase['id']}/refund/", {}, format="json")
    assert rest.status_code == 200, rest.content
    assert rest.json()["points_reversed"] == 1176 - 588
    too_much = api.post(f"/api/v1/purchases/{purchase['id']}/refund/", {"amount": "1.00"}, format="json")
    assert too_much.status_code == 422
    assert too_much.json()["error"]["code"] == "refund_exceeds_purchase"

    read = api.get(f"/api/v1/members/{member['id']}/").json()
    assert read["balance"] == purchase["balance"] - 1176
    assert entries_sum(api, member["id"]) == read["balance"]
    check = member_ledger_check(member=Member.objects.get(pk=member["id"]))
    assert check["balance"] == check["entries"] == check["lots"] == read["balance"]
    assert check["pending_points"] == check["pending_entries"] == check["pending_lots"] == 0


@pytest.mark.django_db
def test_8_another_merchants_key_cannot_read_or_change_this_member():
    tenant = seeded_tenant()
    other = seeded_tenant()
    member = enrol(tenant.client)
    for method, url, body in [
        ("get", f"/api/v1/members/{member['id']}/", None),
        ("patch", f"/api/v1/members/{member['id']}/", {"first_name": "X"}),
        ("post", "/api/v1/redemptions/", {"member": member["id"], "points": 1}),
    ]:
        response = getattr(other.client, method)(url, body, format="json")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert Member.objects.get(pk=member["id"]).first_name == ""
