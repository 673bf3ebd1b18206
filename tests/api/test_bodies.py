"""Bodies a client can send that the API must refuse with a 4xx, never a 500 (issue 14, item 4)."""

import json

import pytest
from django.test import override_settings

from accounts.models import Member
from api.parsers import MAX_DEPTH
from campaigns.models import ActivityEvent as Event
from tests.api.test_plumbing import assert_error
from tests.factories import MemberFactory


@pytest.fixture
def member(tenant):
    return MemberFactory(program=tenant.program)


def post_raw(api, path, body: bytes | str, **headers):
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
    return api.generic("POST", path, body, content_type="application/json", **headers)


def test_a_body_over_the_limit_is_413_and_writes_nothing(api):
    body = json.dumps({"phone": "+994501234567", "first_name": "x" * (2_500_000)})
    assert len(body) > 2_500_000
    error = assert_error(post_raw(api, "/api/v1/members/", body), 413, "request_too_large")
    assert "1048576" in error["message"]
    # with an Idempotency-Key (whose fingerprint reads the body) too
    error = assert_error(
        post_raw(api, "/api/v1/members/", body, HTTP_IDEMPOTENCY_KEY="big"), 413, "request_too_large"
    )
    assert Member.objects.count() == 0


def test_the_limit_is_a_setting_and_also_holds_without_a_content_length(api, member):
    body = json.dumps({"member": member.pk, "type": "login", "data": {"note": "y" * 300}})
    with override_settings(API_MAX_BODY_BYTES=200):
        assert_error(post_raw(api, "/api/v1/events/", body), 413, "request_too_large")
        # a body sent without a length (chunked): the parser stops reading past the limit
        response = api.generic(
            "POST", "/api/v1/events/", body, content_type="application/json", CONTENT_LENGTH=""
        )
        assert response.status_code in (400, 413)
    with override_settings(API_MAX_BODY_BYTES=2000):
        assert post_raw(api, "/api/v1/events/", body).status_code == 201
    assert Event.objects.filter(member=member).count() == 1


def test_django_refusing_a_body_is_413_in_the_api_shape(api):
    body = json.dumps({"first_name": "x" * 5000})
    with override_settings(API_MAX_BODY_BYTES=10_000_000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = post_raw(api, "/api/v1/members/", body, HTTP_IDEMPOTENCY_KEY="k1")
    assert_error(response, 413, "request_too_large")


def nested(depth: int):
    value: dict | list = {"leaf": 1}
    for level in range(depth - 1):
        value = {"a": value} if level % 2 else [value]
    return value


def test_nesting_deeper_than_the_limit_is_400_with_fields(api, member):
    ok = post_raw(
        api,
        "/api/v1/events/",
        json.dumps({"member": member.pk, "type": "login", "data": nested(MAX_DEPTH - 1)}),
    )
    assert ok.status_code == 201, ok.content
    deep = json.dumps({"member": member.pk, "type": "login", "data": nested(MAX_DEPTH + 5)})
    error = assert_error(post_raw(api, "/api/v1/events/", deep), 400, "invalid")
    [path] = error["fields"]
    assert path.startswith("data.")
    assert Event.objects.filter(member=member).count() == 1


def test_nesting_that_would_exhaust_the_parser_is_400_with_fields(api):
    body = "[" * 200_000 + "]" * 200_000
    error = assert_error(post_raw(api, "/api/v1/members/", body), 400, "invalid")
    assert error["fields"] == {"body": [f"Nested deeper than {MAX_DEPTH} levels."]}


@pytest.mark.parametrize(
    "raw_text, where",
    [
        ('"note\\u0000"', "data.note"),
        ('"\\ud800"', "data.note"),
        ('"tail \\udfff end"', "data.note"),
        ('["ok", "\\u0000"]', "data.note.1"),
    ],
)
def test_nul_and_lone_surrogates_in_event_data_are_400_with_fields(api, member, raw_text, where):
    body = f'{{"member": {member.pk}, "type": "login", "data": {{"note": {raw_text}}}}}'
    error = assert_error(post_raw(api, "/api/v1/events/", body), 400, "invalid")
    assert list(error["fields"]) == [where]
    assert Event.objects.filter(member=member).count() == 0


def test_nul_and_surrogates_in_keys_and_other_fields_are_400(api, member):
    key_nul = f'{{"member": {member.pk}, "type": "login", "data": {{"a\\u0000b": 1}}}}'
    error = assert_error(post_raw(api, "/api/v1/events/", key_nul), 400, "invalid")
    assert list(error["fields"]) == ["data.a\ufffdb"]
    phone = '"phone": "+994501234567"'
    for body in ('"first_name": "Ann\\u0000"', '"first_name": "\\ud83d"', '"\\ud800": 1'):
        error = assert_error(post_raw(api, "/api/v1/members/", f"{{{phone}, {body}}}"), 400, "invalid")
        assert list(error["fields"]) in (["first_name"], ["\ufffd"])
    # a raw (not escaped) lone surrogate is not UTF-8 at all
    assert_error(
        post_raw(api, "/api/v1/members/", b'{"phone": "+994501234567", "first_name": "\xed\xa0\x80"}'),
        400,
        "parse_error",
    )
    # a paired surrogate is an ordinary character
    response = post_raw(api, "/api/v1/members/", f'{{{phone}, "first_name": "Ann \\ud83d\\ude00"}}')
    assert response.status_code == 201, response.content
    assert response.json()["first_name"] == "Ann \U0001f600"
    assert Member.objects.count() == 2


def test_nan_and_nul_in_query_parameters_are_400(api, member):
    body = f'{{"member": {member.pk}, "type": "login", "data": {{"x": NaN}}}}'
    assert_error(post_raw(api, "/api/v1/events/", body), 400, "parse_error")
    error = assert_error(api.get("/api/v1/members/", {"phone": "1\x00"}), 400, "invalid")
    assert error["fields"] == {"phone": ["Must not contain NUL characters."]}
    assert Event.objects.count() == 0
