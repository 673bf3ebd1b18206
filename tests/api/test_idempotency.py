"""Idempotency-Key: replay, conflict, in-progress, expiry, what is kept, and 20 concurrent requests
with one key -> exactly one effect."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Member
from api.idempotency import RETENTION, STALE_AFTER
from api.jobs import idempotency_purge
from api.models import IdempotencyRecord
from ledger.models import Posting
from tests.api.conftest import client_with_key
from tests.api.test_acceptance import enrol, seeded_tenant
from tests.factories import MemberFactory


def test_replay_returns_the_first_answer_and_changes_nothing(tenant):
    body = {"external_id": "crm-1", "first_name": "Aysel"}
    first = tenant.client.post("/api/v1/members/", body, format="json", HTTP_IDEMPOTENCY_KEY="enrol-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    # same body, other key order and spacing: still the same request
    again = tenant.client.post(
        "/api/v1/members/",
        data='{ "first_name": "Aysel",  "external_id": "crm-1" }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="enrol-1",
    )
    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert Member.objects.filter(program=tenant.program).count() == 1


def test_same_key_other_body_is_409_conflict(tenant):
    tenant.client.post("/api/v1/members/", {"external_id": "x1"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = tenant.client.post(
        "/api/v1/members/", {"external_id": "x2"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"
    assert list(Member.objects.values_list("external_id", flat=True)) == ["x1"]


def test_same_key_other_endpoint_is_409_conflict(tenant):
    member = MemberFactory(program=tenant.program)
    tenant.client.post("/api/v1/members/", {"external_id": "x1"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = tenant.client.post(
        "/api/v1/events/", {"member": member.pk, "type": "login"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "idempotency_conflict"


def test_keys_are_scoped_to_the_program(tenant, other_tenant):
    body = {"external_id": "same"}
    a = tenant.client.post("/api/v1/members/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    b = other_tenant.client.post("/api/v1/members/", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert a.status_code == b.status_code == 201
    assert "Idempotent-Replayed" not in b
    assert a.json()["id"] != b.json()["id"]


def test_while_the_first_runs_the_answer_is_409_in_progress(tenant):
    body = '{"external_id": "x"}'
    record = _claim_row(tenant, body=body, key="busy", locked_ago=timedelta(seconds=5))
    response = tenant.client.post(
        "/api/v1/members/", data=body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="busy"
    )
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "in_progress"
    assert Member.objects.count() == 0
    record.refresh_from_db()
    assert record.state == "in_progress"


def test_a_stale_claim_of_a_dead_request_is_taken_over(tenant):
    body = '{"external_id": "x"}'
    _claim_row(tenant, body=body, key="dead", locked_ago=STALE_AFTER + timedelta(seconds=1))
    response = tenant.client.post(
        "/api/v1/members/", data=body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="dead"
    )
    assert response.status_code == 201
    assert Member.objects.count() == 1
    assert IdempotencyRecord.objects.get(key="key:dead").state == "done"


def test_after_24_hours_the_key_is_new_again(tenant):
    body = {"external_id": "x"}
    tenant.client.post("/api/v1/members/", body, format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyRecord.objects.update(created_at=timezone.now() - RETENTION - timedelta(minutes=1))
    response = tenant.client.post(
        "/api/v1/members/", {"external_id": "y"}, format="json", HTTP_IDEMPOTENCY_KEY="old"
    )
    assert response.status_code == 201
    assert sorted(Member.objects.values_list("external_id", flat=True)) == ["x", "y"]


def test_validation_errors_free_the_key_business_errors_are_kept(tenant):
    member = MemberFactory(program=tenant.program)
    bad = tenant.client.post("/api/v1/members/", {"email": "nope"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert bad.status_code == 400
    assert not IdempotencyRecord.objects.exists()
    fixed = tenant.client.post(
        "/api/v1/members/", {"email": "a@b.az"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert fixed.status_code == 201

    body = {"member": member.pk, "points": 10}
    refused = tenant.client.post("/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert refused.status_code == 422
    Member.objects.filter(pk=member.pk).update(balance=0)
    replay = tenant.client.post("/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert replay.status_code == 422
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == refused.json()


def test_key_longer_than_255_is_400(tenant):
    response = tenant.client.post(
        "/api/v1/members/", {"external_id": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256
    )
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"Idempotency-Key": ["Use 1 to 255 characters."]}
    assert Member.objects.count() == 0


def test_purge_job_deletes_only_expired_keys(tenant):
    now = timezone.now()
    _claim_row(tenant, body="{}", key="old", locked_ago=RETENTION + timedelta(hours=1))
    _claim_row(tenant, body="{}", key="new", locked_ago=timedelta(hours=1))
    assert idempotency_purge(at=now) == {"deleted": 1}
    assert idempotency_purge(at=now) == {"deleted": 0}
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["key:new"]


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_requests_with_one_key_make_exactly_one_effect():
    tenant = seeded_tenant()
    member = enrol(tenant.client)
    start = member["balance"]
    statuses: list[tuple[int, str | None, dict]] = []
    barrier = threading.Barrier(20)
    body = {"member": member["id"], "points": 250, "reason": "goodwill"}

    def post():
        client = client_with_key(tenant.raw_key)
        barrier.wait()
        try:
            response = client.post("/api/v1/adjustments/", body, format="json", HTTP_IDEMPOTENCY_KEY="once")
            statuses.append((response.status_code, response.get("Idempotent-Replayed"), response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(statuses) == 20
    originals = [s for s in statuses if s[0] == 201 and s[1] is None]
    replays = [s for s in statuses if s[0] == 201 and s[1] == "true"]
    in_progress = [s for s in statuses if s[0] == 409]
    assert len(originals) == 1
    assert len(replays) + len(in_progress) == 19
    assert all(s[2]["error"]["code"] == "in_progress" for s in in_progress)
    assert all(s[2] == originals[0][2] for s in replays)
    assert Member.objects.get(pk=member["id"]).balance == start + 250
    assert Posting.objects.filter(member_id=member["id"], kind="adjust").count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_purchases_with_one_receipt_and_no_key_make_one_purchase():
    tenant = seeded_tenant()
    member = enrol(tenant.client)
    start = member["balance"]
    results: list[int] = []
    barrier = threading.Barrier(20)
    body = {"member": member["id"], "amount": "100.00", "currency": "USD", "external_id": "R-RACE"}

    def post():
        client = client_with_key(tenant.raw_key)
        barrier.wait()
        try:
            results.append(client.post("/api/v1/purchases/", body, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 20 and set(results) <= {201, 409}
    assert results.count(201) >= 1
    assert Member.objects.get(pk=member["id"]).balance == start + 1176
    assert Posting.objects.filter(member_id=member["id"], kind="earn").count() == 1


def _claim_row(tenant, *, body: str, key: str, locked_ago: timedelta) -> IdempotencyRecord:
    from django.test import RequestFactory

    from api.idempotency import request_fingerprint

    request = RequestFactory().post("/api/v1/members/", data=body, content_type="application/json")
    moment = timezone.now() - locked_ago
    return IdempotencyRecord.objects.create(
        program=tenant.program,
        key=f"key:{key}",
        request_hash=request_fingerprint(request),
        method="POST",
        path="/api/v1/members/",
        created_at=moment,
        locked_at=moment,
    )


def _age_keys(by: timedelta) -> None:
    IdempotencyRecord.objects.update(created_at=timezone.now() - by, locked_at=timezone.now() - by)


def test_a_key_reused_after_its_window_spends_again_even_with_the_same_body(tenant):
    """The record past 24 h is ignored: the same redemption is a new request, with a new posting
    (not the old posting answered as if new, nor a 409 naming an internal reference)."""
    member = MemberFactory(program=tenant.program)
    from ledger.services import points_adjust

    points_adjust(member=member, points=1000, at=timezone.now(), reference="seed", reason="seed")
    body = {"member": member.pk, "points": 300}
    first = tenant.client.post("/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="spend")
    assert first.status_code == 201, first.content
    replay = tenant.client.post("/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="spend")
    assert replay["Idempotent-Replayed"] == "true"
    member.refresh_from_db()
    assert member.balance == 700

    _age_keys(RETENTION + timedelta(minutes=1))
    again = tenant.client.post("/api/v1/redemptions/", body, format="json", HTTP_IDEMPOTENCY_KEY="spend")
    assert again.status_code == 201, again.content
    assert "Idempotent-Replayed" not in again
    assert again.json()["id"] != first.json()["id"]
    member.refresh_from_db()
    assert member.balance == 400
    assert Posting.objects.filter(member=member, kind="redeem").count() == 2


def test_a_key_purged_by_the_job_is_new_and_no_answer_names_a_reference(tenant):
    member = MemberFactory(program=tenant.program)
    from ledger.services import points_adjust

    points_adjust(member=member, points=1000, at=timezone.now(), reference="seed", reason="seed")
    first = tenant.client.post(
        "/api/v1/redemptions/", {"member": member.pk, "points": 100}, format="json", HTTP_IDEMPOTENCY_KEY="p"
    )
    assert first.status_code == 201
    _age_keys(RETENTION + timedelta(hours=1))
    assert idempotency_purge(at=timezone.now()) == {"deleted": 1}
    # another body with the purged key: a new request (it used to meet the old posting's reference
    # and answer 409 with "The reference 'api:redeem:…'")
    other = tenant.client.post(
        "/api/v1/redemptions/", {"member": member.pk, "points": 250}, format="json", HTTP_IDEMPOTENCY_KEY="p"
    )
    assert other.status_code == 201, other.content
    assert "api:" not in other.content.decode()
    member.refresh_from_db()
    assert member.balance == 650
    # within the window another body is a conflict whose message names no reference
    conflict = tenant.client.post(
        "/api/v1/redemptions/", {"member": member.pk, "points": 1}, format="json", HTTP_IDEMPOTENCY_KEY="p"
    )
    assert conflict.status_code == 409
    assert conflict.json()["error"]["code"] == "idempotency_conflict"
    assert "api:" not in conflict.content.decode() and "reference" not in conflict.json()["error"]["message"]


def test_the_ledger_conflict_message_names_no_reference(tenant):
    from ledger.services import points_adjust
    from loyalty_site.core.errors import IdempotencyConflict

    member = MemberFactory(program=tenant.program)
    points_adjust(member=member, points=10, at=timezone.now(), reference="api:adjust:abc", reason="x")
    with pytest.raises(IdempotencyConflict) as raised:
        points_adjust(member=member, points=11, at=timezone.now(), reference="api:adjust:abc", reason="x")
    assert "api:adjust:abc" not in raised.value.message
