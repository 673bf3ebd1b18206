"""Fraud rules hold under parallel requests and back-dating (issue 15, item 4): real threads,
real commits, the wall clock (postings recorded when they are written, as in production)."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Member
from fraud.models import FraudFlag, FraudRule
from fraud.services import fraud_monitor_run
from ledger.models import Posting, Purchase
from ledger.services import points_earn
from loyalty_site.core.errors import LimitExceeded
from tests.api.conftest import client_with_key
from tests.api.test_acceptance import enrol, seeded_tenant
from tests.factories import MemberFactory, ProgramFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_clock, pytest.mark.slow]

PARALLEL = 32


def _together(work, count: int = PARALLEL) -> list:
    """Run `work(i)` in `count` threads released at once; each closes its connection."""
    barrier, results = threading.Barrier(count), [None] * count

    def run(i):
        try:
            barrier.wait()
            results[i] = work(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_32_parallel_earnings_never_pass_a_count_rule():
    program = ProgramFactory()
    member = MemberFactory(program=program)
    FraudRule.objects.create(
        program=program, name="10 an hour", kinds=["earn"], window_minutes=60, max_count=10
    )

    def earn(i):
        at = timezone.now()  # the request's start, read before it waits for the member lock
        try:
            points_earn(member=Member.objects.get(pk=member.pk), points=5, at=at, reference=f"e{i}")
            return "ok"
        except LimitExceeded:
            return "refused"

    results = _together(earn)
    assert results.count("ok") == 10
    assert results.count("refused") == PARALLEL - 10
    assert Posting.objects.filter(member=member, kind="earn").count() == 10
    member.refresh_from_db()
    assert member.balance + member.pending_points == 50


def test_32_parallel_api_purchases_never_pass_an_amount_rule():
    tenant = seeded_tenant()  # seed rules: 20 transactions an hour, 10 000 AZN a day
    FraudRule.objects.filter(program=tenant.program, max_count__isnull=False).delete()
    member_id = enrol(tenant.client)["id"]

    def buy(i):
        client = client_with_key(tenant.raw_key)
        body = {"member": member_id, "external_id": f"R-{i}", "amount": "1500.00", "currency": "AZN"}
        response = client.post("/api/v1/purchases/", body, format="json")
        return response.status_code, response.json()

    results = _together(buy)
    statuses = sorted(status for status, _body in results)
    assert set(statuses) == {201, 422}, statuses
    assert all(body["error"]["code"] == "limit_exceeded" for status, body in results if status == 422)
    accepted = Purchase.objects.filter(member_id=member_id)
    assert accepted.count() == statuses.count(201)
    due = sum(purchase.amount_due for purchase in accepted)
    smallest = min(purchase.amount_due for purchase in accepted)
    # never over the limit, and refusals only where one more would have passed it
    assert due <= Decimal("10000")
    assert due + smallest > Decimal("10000")


def test_back_dated_purchases_are_refused_past_the_limit():
    tenant = seeded_tenant(days_ago=40)
    FraudRule.objects.filter(program=tenant.program).delete()
    FraudRule.objects.create(
        program=tenant.program, name="10 an hour", kinds=["earn"], window_minutes=60, max_count=10
    )
    member_id = enrol(tenant.client)["id"]
    now = timezone.now()
    answers = []
    for i in range(15):  # each receipt dated a different day: no hour of occurred_at holds two
        body = {
            "member": member_id,
            "external_id": f"OLD-{i}",
            "amount": "10.00",
            "currency": "AZN",
            "occurred_at": (now - timedelta(days=i + 1)).isoformat(),
        }
        response = tenant.client.post("/api/v1/purchases/", body, format="json")
        answers.append((response.status_code, response.json()))
    assert [status for status, _ in answers] == [201] * 10 + [422] * 5
    assert answers[-1][1]["error"]["code"] == "limit_exceeded"
    assert Purchase.objects.filter(member_id=member_id).count() == 10
    earned = Posting.objects.filter(member_id=member_id, kind="earn")
    assert earned.count() == 10
    # they are about the past, and recorded now
    assert all(p.created_at < now - timedelta(hours=23) and p.recorded_at >= now for p in earned)


def test_the_monitor_counts_back_dated_postings_when_they_were_recorded():
    program = ProgramFactory()
    member = MemberFactory(program=program)
    FraudRule.objects.create(
        program=program,
        name="5 in 10 minutes",
        kinds=["earn"],
        window_minutes=10,
        max_count=5,
        enforce_in_real_time=False,
    )
    now = timezone.now()
    for i in range(8):
        points_earn(member=member, points=5, at=now - timedelta(days=i + 1), reference=f"old-{i}")
    summary = fraud_monitor_run(at=timezone.now())
    assert summary == {"rules": 1, "breaches": 1, "blocked": 1}
    flag = FraudFlag.objects.get(member=member)
    assert flag.transactions == 8
    member.refresh_from_db()
    assert member.status == Member.Status.BLOCKED
