"""Shared fixtures. Tests run against the real PostgreSQL (DATABASE_URL, default the local server)."""

from datetime import UTC, datetime

import pytest

from accounts import services as account_services
from tests.factories import MemberFactory, MerchantFactory, ProgramFactory

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


@pytest.fixture
def now():
    return NOW


@pytest.fixture
def merchant(db):
    return MerchantFactory()


@pytest.fixture
def program(merchant):
    return ProgramFactory(merchant=merchant)


@pytest.fixture
def member(program, now):
    return MemberFactory(program=program, at=now)


@pytest.fixture
def staff_user(db, django_user_model):
    """Factory: staff_user(merchant, role) -> a logged-in-able user with that role."""
    counter = {"n": 0}

    def make(merchant, role="manager"):
        counter["n"] += 1
        return account_services.staff_user_create(
            merchant=merchant,
            username=f"{role}{counter['n']}-{merchant.pk}",
            password="pw-12345!x",
            role=role,
        )

    return make
