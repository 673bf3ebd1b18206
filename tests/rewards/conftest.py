"""Rewards fixtures: a reward factory and the ledger invariant check."""

from datetime import timedelta

import pytest

from ledger.jobs import reconcile
from rewards.models import Reward, RewardCode
from tests.ledger.conftest import assert_invariant


def make_reward(program, **fields) -> Reward:
    fields.setdefault("name", "Free coffee")
    fields.setdefault("kind", Reward.Kind.GIFT)
    fields.setdefault("cost_points", 100)
    return Reward.objects.create(program=program, **fields)


def add_codes(reward: Reward, count: int, prefix: str = "C") -> list[str]:
    codes = [f"{prefix}{i:04d}" for i in range(count)]
    RewardCode.objects.bulk_create(RewardCode(reward=reward, code=code) for code in codes)
    return codes


@pytest.fixture
def invariant():
    return assert_invariant


@pytest.fixture
def ledger_clean(now):
    """Whether the nightly `reconcile` finds nothing wrong."""

    def check():
        report = reconcile(at=now + timedelta(hours=1))
        assert report["mismatches"] == 0 and report["unbalanced_postings"] == 0, report

    return check


@pytest.fixture
def seeded_program(program, now):
    """A program with the seed preset: tiers, the café catalogue, the reward templates."""
    from loyalty_site.core.presets import preset_apply

    preset_apply(program=program, preset="seed", at=now)
    return program
