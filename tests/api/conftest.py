"""API test fixtures: programs with keys, and clients that send `Authorization: Api-Key <key>`."""

from dataclasses import dataclass

import pytest
from rest_framework.test import APIClient

from accounts.models import Program
from accounts.services import api_key_create
from tests.factories import ProgramFactory


@dataclass
class Tenant:
    program: Program
    raw_key: str
    client: APIClient


def client_with_key(raw_key: str | None) -> APIClient:
    client = APIClient()
    if raw_key:
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def make_tenant(**program_fields) -> Tenant:
    program = ProgramFactory(**program_fields)
    _key, raw_key = api_key_create(program=program, name="test")
    return Tenant(program=program, raw_key=raw_key, client=client_with_key(raw_key))


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant(name="Program A")


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant(name="Program B")


@pytest.fixture
def api(tenant) -> APIClient:
    return tenant.client
