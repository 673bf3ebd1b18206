"""Schemathesis over the OpenAPI schema, in-process against the WSGI app: no 5xx, every answer
matches the schema (status, body, headers, content type), invalid input is refused, and every
operation refuses a request without a key. Bounded (few examples per operation) to stay fast."""

import re

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.services import member_create
from tests.api.conftest import make_tenant

schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
schema.app = get_wsgi_application()

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def fuzz_key(db):
    # The WSGI handler closes the DB connection after each request; in the test transaction it
    # must stay open (Django's own test client disconnects the same receivers).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield _fuzz_tenant_key()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def _fuzz_tenant_key():
    tenant = make_tenant(name="Fuzz")
    # A few real ids so that generated small integers sometimes hit existing rows.
    for index in range(1, 4):
        member_create(program=tenant.program, external_id=f"fuzz-{index}")
    return tenant.raw_key


@schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_api_conforms_to_its_schema(case, fuzz_key):
    case.headers = {**(case.headers or {}), "Authorization": f"Api-Key {fuzz_key}"}
    response = case.call()
    case.validate_response(response, checks=CHECKS)


OPERATIONS = [
    (method.upper(), path)
    for path, item in SchemaGenerator().get_schema(request=None, public=True)["paths"].items()
    for method in item
    if method in {"get", "post", "patch", "put", "delete"}
]


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.parametrize("authorization", [None, "Api-Key lk_0000.unknown", "Bearer token"])
def test_every_operation_requires_a_key(client, db, method, path, authorization):
    url = re.sub(r"\{[^}]+\}", "1", path)
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    response = client.generic(method, url, data="{}", content_type="application/json", **headers)
    assert response.status_code == 401, (method, url, response.status_code)
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Api-Key"
