# The pricing tests use the tiers tests' seeded program and Bronze member.
from tests.tiers.conftest import bronze, events, seeded  # noqa: F401
