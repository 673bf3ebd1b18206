"""Shared fixtures. Tests run against the real PostgreSQL (DATABASE_URL, default the local server)."""

import os
from datetime import UTC, datetime

import pytest

from accounts import services as account_services
from tests.factories import MemberFactory, MerchantFactory, ProgramFactory

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)

#: The Redis database the tests that need Redis use (a broker, a shared cache): TEST_REDIS_URL, else
#: database REDIS_DB (default 9) of the local server, so parallel checkouts can keep apart.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", f"redis://127.0.0.1:6379/{os.environ.get('REDIS_DB', '9')}")


def pytest_sessionstart(session):
    """The compiled catalogues are not in git: compile the stale ones (make install-test does too, but
    a test run straight after editing a .po must see it)."""
    from loyalty_site.core.catalogues import compile_all

    compile_all()


@pytest.fixture
def redis_url():
    """TEST_REDIS_URL, checked to answer; the keys a test adds are deleted after it (keys that were
    there before are left alone). Fails, naming the URL, when no Redis answers there."""
    import redis

    client = redis.Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.fail(f"This test needs Redis at {TEST_REDIS_URL} (TEST_REDIS_URL): {error}")
    before = set(client.scan_iter(count=1000))
    yield TEST_REDIS_URL
    added = [key for key in client.scan_iter(count=1000) if key not in before]
    if added:
        client.delete(*added)
    client.close()


@pytest.fixture(autouse=True)
def ledger_clock(request, monkeypatch):
    """Tests simulate time with `at` (NOW and moments around it), so by default the ledger records
    a posting at its `at` (`ledger.engine.recorded_moment`) and the fraud windows move with the
    simulated time. Tests marked `real_clock` keep the wall clock: postings are recorded when they
    are written, as in production (back-dating, races)."""
    if request.node.get_closest_marker("real_clock") is None:
        from ledger import engine

        monkeypatch.setattr(engine, "recording_clock", lambda: datetime.min.replace(tzinfo=UTC))


@pytest.fixture(autouse=True)
def default_language():
    """Every test starts and ends in the default language: a test (or a request it makes through the
    Django client) that activates another one must not leak it into the next test on the worker,
    where texts stored at write time (a block reason, a posting description) would come out in it."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


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
