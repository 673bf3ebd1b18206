"""Input strictness (issue 15, item 7): points are JSON integers, amounts plain decimals, in the API
and at the till; the per-key throttle holds its rate across processes sharing Redis."""

import os
import threading
from decimal import Decimal

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import override_settings

from api.parsers import StrictJSONParser
from api.serializers import AmountField, PointsField
from cashier.forms import PurchaseForm, RedeemForm
from ledger.models import Posting, Purchase
from ledger.services import points_adjust
from tests.api.conftest import client_with_key
from tests.api.test_acceptance import enrol, seeded_tenant
from tests.api.test_plumbing import assert_error
from tests.factories import MemberFactory


def parsed(text: str):
    import io

    return StrictJSONParser().parse(io.BytesIO(text.encode()))


@pytest.mark.parametrize("raw", ['"10"', "10.0", "1e1", "true", '"1_0"', "null"])
def test_points_must_be_json_integers(raw):
    from rest_framework.exceptions import ValidationError

    with pytest.raises(ValidationError):
        PointsField(required=True).run_validation(parsed(raw))
    assert PointsField().run_validation(parsed("10")) == 10


@pytest.mark.parametrize(
    "raw", ['"1_000"', '"1e3"', "1e3", "1E+3", '"١٠٠"', '"１００"', '"Infinity"', '"NaN"', "true", '" 1 000"']
)
def test_amounts_refuse_underscores_exponents_and_other_digits(raw):
    from rest_framework.exceptions import ValidationError

    field = AmountField()
    with pytest.raises(ValidationError):
        field.run_validation(parsed(raw))


@pytest.mark.parametrize(
    "raw, value", [('"1000"', "1000.00"), ('"12.5"', "12.50"), ("12.35", "12.35"), ("100", "100.00")]
)
def test_amounts_as_decimal_strings_or_plain_numbers_are_exact(raw, value):
    assert AmountField().run_validation(parsed(raw)) == Decimal(value)


@pytest.mark.django_db
def test_the_api_refuses_string_points_and_underscored_amounts(tenant):
    member = MemberFactory(program=tenant.program)
    points_adjust(member=member, points=500, at=member.created_at, reference="seed", reason="seed")
    for points in ("10", 10.0, True):
        error = assert_error(
            tenant.client.post(
                "/api/v1/redemptions/", {"member": member.pk, "points": points}, format="json"
            ),
            400,
            "invalid",
        )
        assert list(error["fields"]) == ["points"]
    assert Posting.objects.filter(member=member, kind="redeem").count() == 0


@pytest.mark.django_db
def test_an_underscored_amount_is_400_and_records_nothing():
    tenant = seeded_tenant()
    member = enrol(tenant.client)
    for amount in ("1_000", "1e3", "١٠٠"):
        body = {"member": member["id"], "external_id": f"R-{amount}", "amount": amount, "currency": "AZN"}
        error = assert_error(tenant.client.post("/api/v1/purchases/", body, format="json"), 400, "invalid")
        assert list(error["fields"]) == ["amount"]
    assert Purchase.objects.count() == 0
    body = {"member": member["id"], "external_id": "R-ok", "amount": "1000", "currency": "AZN"}
    assert tenant.client.post("/api/v1/purchases/", body, format="json").status_code == 201


@pytest.mark.parametrize("amount", ["1_000", "1e3", "١٠٠", "12,5"])
def test_the_till_refuses_the_same_amounts(amount):
    form = PurchaseForm({"amount": amount, "currency": "AZN", "redeem_points": "0"})
    assert not form.is_valid() and "amount" in form.errors
    assert PurchaseForm({"amount": "1000.50", "currency": "AZN"}).is_valid()


@pytest.mark.parametrize("points", ["1_0", "١٠", "1e1", "10.0"])
def test_the_till_refuses_the_same_points(points):
    assert "points" in RedeemForm({"points": points, "reference": "r"}).errors
    assert (
        "redeem_points" in PurchaseForm({"amount": "10", "currency": "AZN", "redeem_points": points}).errors
    )
    assert RedeemForm({"points": "10", "reference": "r"}).is_valid()


REDIS_DB = os.environ.get("REDIS_DB", "4")
SHARED = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": f"redis://127.0.0.1:6379/{REDIS_DB}",
        "KEY_PREFIX": "throttle-test",
    }
}


def _delete_test_keys(redis) -> None:
    for key in redis.scan_iter("throttle-test:*"):
        redis.delete(key)


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_the_throttle_holds_its_rate_across_workers_sharing_redis(tenant):
    """Two workers (threads, each with its own Redis connection, as two processes have) send 100
    requests on one key with a rate of 40 a day: exactly 40 pass."""
    rate, per_worker = 40, 50
    results: list[int] = []
    lock = threading.Lock()

    def worker():
        try:
            client = client_with_key(tenant.raw_key)
            for _ in range(per_worker):
                status = client.get("/api/v1/members/").status_code
                with lock:
                    results.append(status)
        finally:
            connection.close()

    with override_settings(CACHES=SHARED, API_THROTTLE_RATE=f"{rate}/day"):
        redis = caches["default"]._cache.get_client(write=True)
        _delete_test_keys(redis)
        try:
            threads = [threading.Thread(target=worker) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert redis.keys("throttle-test:*")  # the counter lives in the shared Redis
        finally:
            _delete_test_keys(redis)
    assert len(results) == 2 * per_worker
    assert results.count(200) == rate
    assert results.count(429) == 2 * per_worker - rate
