"""Auth, the error shape for every kind of error, pagination, throttling."""

import re

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.models import Member
from accounts.services import api_key_revoke
from api.errors import api_exception_handler
from tests.api.conftest import client_with_key
from tests.factories import MemberFactory


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.mark.django_db
def test_no_key_is_401_with_challenge():
    response = client_with_key(None).get("/api/v1/members/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Api-Key"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", ["Api-Key lk_nope.nope", "Api-Key", "Bearer abc", "Api-Key a b", "Api-Key lk_x"]
)
def test_bad_keys_are_401(header):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert_error(client.get("/api/v1/members/"), 401, "not_authenticated")


def test_revoked_key_is_401(tenant):
    from accounts.models import ApiKey

    api_key_revoke(key=ApiKey.objects.get(program=tenant.program))
    assert_error(tenant.client.get("/api/v1/members/"), 401, "not_authenticated")


def test_a_key_known_to_the_process_is_checked_again_on_every_request(tenant):
    """Keys, their program and merchant are kept per process; a revocation, a suspended program or
    merchant, and a wrong secret with a known prefix are refused on the very next request."""
    from accounts.models import ApiKey, Merchant, Program

    program = tenant.program
    assert tenant.client.get("/api/v1/members/").status_code == 200  # now known to the process
    prefix = tenant.raw_key[3:].split(".", 1)[0]
    assert_error(
        client_with_key(f"lk_{prefix}.wrong-secret").get("/api/v1/members/"), 401, "not_authenticated"
    )

    Program.objects.filter(pk=program.pk).update(is_active=False)
    assert_error(tenant.client.get("/api/v1/members/"), 401, "not_authenticated")
    Program.objects.filter(pk=program.pk).update(is_active=True)
    assert tenant.client.get("/api/v1/members/").status_code == 200

    Merchant.objects.filter(pk=program.merchant_id).update(is_active=False)  # all its programs
    assert_error(tenant.client.get("/api/v1/members/"), 401, "not_authenticated")
    Merchant.objects.filter(pk=program.merchant_id).update(is_active=True)
    assert tenant.client.get("/api/v1/members/").status_code == 200

    api_key_revoke(key=ApiKey.objects.get(program=program))
    assert_error(tenant.client.get("/api/v1/members/"), 401, "not_authenticated")


def test_unknown_api_url_is_404_in_shape(api):
    assert_error(api.get("/api/v1/nothing-here/"), 404, "not_found")
    assert_error(api.get("/api/v1/members"), 404, "not_found")  # no trailing slash
    assert_error(client_with_key(None).get("/api/v2/"), 404, "not_found")


def test_unknown_member_is_404(api):
    assert_error(api.get("/api/v1/members/999999999/"), 404, "not_found")


def test_method_not_allowed_is_405(api):
    assert_error(api.delete("/api/v1/members/"), 405, "method_not_allowed")


def test_wrong_content_type_is_415(api):
    response = api.post("/api/v1/members/", data="phone=1", content_type="application/x-www-form-urlencoded")
    assert_error(response, 415, "unsupported_media_type")
    assert Member.objects.count() == 0


def test_malformed_json_is_400_parse_error(api):
    response = api.post("/api/v1/members/", data='{"phone": ', content_type="application/json")
    assert_error(response, 400, "parse_error")
    assert Member.objects.count() == 0


def test_not_acceptable_is_406(api):
    assert_error(api.get("/api/v1/members/", HTTP_ACCEPT="text/html"), 406, "not_acceptable")


def test_validation_error_lists_fields(api):
    response = api.post(
        "/api/v1/members/",
        {"email": "not-an-email", "birth_date": "tomorrow", "first_name": "x" * 101},
        format="json",
    )
    error = assert_error(response, 400, "invalid")
    assert set(error["fields"]) == {"email", "birth_date", "first_name"}
    assert Member.objects.count() == 0


def test_unhandled_exception_is_500_without_traceback(rf):
    from rest_framework.exceptions import APIException  # noqa: F401

    response = api_exception_handler(RuntimeError("secret internals /etc/passwd"), {})
    assert response.status_code == 500
    assert response.data == {
        "error": {"code": "server_error", "message": "An unexpected error occurred; it has been logged."}
    }


def test_unhandled_exception_through_http_is_500_shape(api, monkeypatch):
    import api.views.members as members_module

    def boom(**kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(members_module.account_services, "member_create", boom)
    response = api.post("/api/v1/members/", {"phone": "+994501234567"}, format="json")
    assert_error(response, 500, "server_error")
    assert b"hunter2" not in response.content and b"Traceback" not in response.content


def test_pagination_caps_page_size_at_200(tenant, now):
    for index in range(205):
        Member.objects.create(
            program=tenant.program,
            external_id=f"x{index}",
            card_number=f"70000{index:08d}",
            card_token=f"tok{index}",
            referral_code=f"R{index:07d}",
        )
    body = tenant.client.get("/api/v1/members/?page_size=500").json()
    assert body["count"] == 205
    assert len(body["results"]) == 200
    assert body["next"].endswith("page=2&page_size=500")
    assert body["previous"] is None
    second = tenant.client.get("/api/v1/members/?page_size=500&page=2").json()
    assert len(second["results"]) == 5
    default = tenant.client.get("/api/v1/members/").json()
    assert len(default["results"]) == 50
    assert_error(tenant.client.get("/api/v1/members/?page=99"), 404, "not_found")


def test_throttled_per_key_is_429(tenant, other_tenant):
    from django.core.cache import cache

    cache.clear()
    with override_settings(API_THROTTLE_RATE="3/hour"):
        for _ in range(3):
            assert tenant.client.get("/api/v1/members/").status_code == 200
        response = tenant.client.get("/api/v1/members/")
        assert_error(response, 429, "throttled")
        assert int(response["Retry-After"]) > 0
        # another key has its own budget
        assert other_tenant.client.get("/api/v1/members/").status_code == 200
    cache.clear()


def test_member_filters(tenant, now):
    a = MemberFactory(program=tenant.program, phone="+994501112233", email="A@x.az", external_id="crm-1")
    b = MemberFactory(program=tenant.program, phone="+994501112244", external_id="crm-2")

    def ids(query):
        response = tenant.client.get(f"/api/v1/members/?{query}")
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert ids("phone=0501112233") == [a.pk]
    assert ids("phone=%2B994501112244") == [b.pk]
    assert ids("email=a@X.az") == [a.pk]
    assert ids(f"card_number={b.card_number}") == [b.pk]
    assert ids("external_id=crm-1") == [a.pk]
    assert ids("status=active") == [b.pk, a.pk]
    assert ids("phone=garbage") == []
    assert_error(tenant.client.get("/api/v1/members/?status=zombie"), 400, "invalid")


def test_member_create_read_update(tenant):
    response = tenant.client.post(
        "/api/v1/members/",
        {
            "external_id": "crm-42",
            "phone": "050 123 45 67",
            "email": "A@B.az",
            "first_name": "Aysel",
            "last_name": "M.",
            "birth_date": "1990-05-17",
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    member = Member.objects.get(pk=body["id"])
    assert body["phone"] == "+994501234567"
    assert body["email"] == "a@b.az"
    assert body["card_number"] == member.card_number
    assert body["card_url"] == f"http://testserver/card/{member.card_token}/"
    assert body["balance"] == 0 and body["pending_points"] == 0
    assert body["balance_value"] == {"amount": "0.00", "currency": "AZN"}
    assert body["status"] == "active"
    assert body["expiring_soon"] == []
    for field in ("referral_code", "tier", "tier_progress", "last_activity_at", "created_at", "birth_date"):
        assert field in body

    duplicate = tenant.client.post("/api/v1/members/", {"phone": "+994501234567"}, format="json")
    assert_error(duplicate, 409, "duplicate")
    none_given = tenant.client.post("/api/v1/members/", {"first_name": "X"}, format="json")
    assert_error(none_given, 400, "invalid")
    assert Member.objects.count() == 1

    patch = tenant.client.patch(f"/api/v1/members/{member.pk}/", {"first_name": "Ays"}, format="json")
    assert patch.status_code == 200 and patch.json()["first_name"] == "Ays"
    refused = tenant.client.patch(f"/api/v1/members/{member.pk}/", {"balance": 10**6}, format="json")
    assert_error(refused, 400, "invalid")
    member.refresh_from_db()
    assert member.balance == 0 and member.first_name == "Ays"


def test_card_url_uses_public_base_url(tenant):
    member = MemberFactory(program=tenant.program)
    with override_settings(PUBLIC_BASE_URL="https://loyal.example.com/"):
        body = tenant.client.get(f"/api/v1/members/{member.pk}/").json()
    assert body["card_url"] == f"https://loyal.example.com/card/{member.card_token}/"


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/?format=json")
    assert schema.status_code == 200
    spec = schema.json()
    assert spec["openapi"].startswith("3.")
    assert "/api/v1/members/" in spec["paths"]
    assert spec["components"]["securitySchemes"]["ApiKey"]["name"] == "Authorization"
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    # The page loads its assets from our own static files, never a CDN (a CSP nonce is random text,
    # so look at the addresses the page loads, not at every "cdn" in it).
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and not [url for url in sources if "://" in url or url.startswith("//")]
    assert "/static/drf_spectacular_sidecar/" in html


def test_time_is_now(tenant):
    before = timezone.now()
    body = tenant.client.post("/api/v1/members/", {"external_id": "t"}, format="json").json()
    assert body["created_at"] >= before.isoformat()[:19]
