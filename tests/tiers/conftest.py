import pytest

from tests.factories import MemberFactory, ProgramFactory
from tests.tiers.helpers import seed_program


@pytest.fixture
def events(monkeypatch):
    """The domain events tiers emit, recorded in order."""
    recorded = []

    def record(**kwargs):
        recorded.append(kwargs)

    monkeypatch.setattr("tiers.services.event_emit", record)
    return recorded


@pytest.fixture
def seeded(db, now):
    return seed_program(ProgramFactory(base_currency="AZN", time_zone="UTC"), at=now)


@pytest.fixture
def bronze(seeded, now):
    return MemberFactory(program=seeded, at=now)
