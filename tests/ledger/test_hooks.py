"""The hook points the ledger runs: posting_check (may refuse), points_posted, member_activity;
and the qualifying points selector."""

from datetime import timedelta

import pytest

from ledger import services
from ledger.models import Posting
from loyalty_site.core import hooks
from loyalty_site.core.errors import LimitExceeded
from tiers.selectors import qualifying_points


@pytest.fixture
def recorded():
    calls: list[tuple[str, dict]] = []

    def make(name, raise_for=None):
        def func(**kwargs):
            calls.append((name, kwargs))
            if raise_for and kwargs.get("kind") == raise_for:
                raise LimitExceeded("fraud rule")

        hooks.register(name)(func)
        return func

    registered = []

    def register(name, raise_for=None):
        func = make(name, raise_for)
        registered.append((name, func))

    yield calls, register
    for name, func in registered:
        hooks._HOOKS[name].remove(func)


def test_posting_check_runs_under_the_lock_and_can_refuse(member, now, recorded, funded):
    calls, register = recorded
    funded(100)
    register("posting_check", raise_for="redeem")
    with pytest.raises(LimitExceeded):
        services.points_redeem(member=member, points=10, at=now, reference="r")
    member.refresh_from_db()
    assert member.balance == 100 and not Posting.objects.filter(reference="r").exists()
    assert [(c[1]["kind"], c[1]["points"]) for c in calls] == [("redeem", 10)]


def test_points_posted_and_member_activity_run(member, now, recorded):
    calls, register = recorded
    register("points_posted")
    register("member_activity")
    posting = services.points_earn(member=member, points=50, at=now, reference="e")
    services.points_bonus(member=member, points=5, at=now, reference="b", description="gift")
    names = [(name, kwargs.get("kind") or kwargs["posting"].kind) for name, kwargs in calls]
    assert names == [("member_activity", "earn"), ("points_posted", "earn"), ("points_posted", "bonus")]
    assert calls[1][1]["posting"].pk == posting.pk


def test_qualifying_points_count_earnings_less_reversals(member, now, funded):
    services.points_earn(member=member, points=1000, at=now, reference="e1")
    services.points_bonus(member=member, points=200, at=now, reference="b1", description="gift")
    services.points_redeem(member=member, points=700, at=now, reference="r1")
    services.points_adjust(member=member, points=50, at=now, reference="a1", reason="fix")
    services.points_adjust(member=member, points=-20, at=now, reference="a2", reason="fix")
    program = member.program
    assert qualifying_points(program=program, at=now, member_ids=[member.pk]) == {member.pk: 1200}
    assert qualifying_points(program=program, at=now - timedelta(seconds=1), member_ids=[member.pk]) == {}
