"""Real threads against real PostgreSQL: stock, per-member limits and the code pool hold."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from django.db import connection

from accounts.models import Member
from ledger import services as ledger
from loyalty_site.core.errors import LimitExceeded, OutOfStock
from rewards.models import Redemption, Reward, RewardCode
from rewards.services import redemption_cancel, reward_redeem
from tests.factories import MemberFactory

from .conftest import add_codes, make_reward

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

# 50 redemptions on 25 threads (25 connections): two xdist workers running this at once stay well
# under PostgreSQL's 100 connections
WORKERS = 25


def _parallel(func, items):
    """`func` over `items` on WORKERS threads; the first WORKERS start together (a barrier)."""
    barrier = Barrier(min(WORKERS, len(items)))

    def run(numbered):
        index, item = numbered
        if index < barrier.parties:
            barrier.wait(timeout=30)
        try:
            return func(item)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(run, enumerate(items)))


def _members(program, now, count, points):
    members = [MemberFactory(program=program, at=now) for _ in range(count)]
    for member in members:
        ledger.points_bonus(
            member=member, points=points, at=now, reference=f"fund-{member.pk}", description="f"
        )
    return [member.pk for member in members]


def _redeem(program, reward_id, now, reference_of):
    def redeem(member_id_and_i):
        member_id, i = member_id_and_i
        member = Member.objects.select_related("program").get(pk=member_id)
        reward = Reward.objects.get(pk=reward_id)
        try:
            return reward_redeem(
                program=program,
                member=member,
                reward=reward,
                reference=reference_of(i),
                at=now,
                channel="api",
            ).pk
        except (OutOfStock, LimitExceeded) as error:
            return error.code

    return redeem


def test_50_members_racing_for_a_stock_of_10_get_exactly_10(program, now, invariant):
    reward = make_reward(program, cost_points=100, stock_total=10)
    member_ids = _members(program, now, 50, 150)

    results = _parallel(
        _redeem(program, reward.pk, now, lambda i: f"r{i}"), list(zip(member_ids, range(50), strict=True))
    )

    assert sum(isinstance(r, int) for r in results) == 10
    assert results.count("out_of_stock") == 40
    reward.refresh_from_db()
    assert reward.redeemed_count == 10
    balances = sorted(Member.objects.filter(pk__in=member_ids).values_list("balance", flat=True))
    assert balances == [50] * 10 + [150] * 40
    for member in Member.objects.filter(pk__in=member_ids):
        invariant(member)


def test_one_member_racing_against_a_limit_of_2_gets_2(program, now, invariant):
    reward = make_reward(program, cost_points=10, limit_per_member=2)
    (member_id,) = _members(program, now, 1, 1000)

    results = _parallel(
        _redeem(program, reward.pk, now, lambda i: f"r{i}"), [(member_id, i) for i in range(30)]
    )

    assert sum(isinstance(r, int) for r in results) == 2
    assert results.count("limit_exceeded") == 28
    member = Member.objects.get(pk=member_id)
    assert member.balance == 980
    invariant(member)


def test_no_code_is_given_twice_under_concurrency(program, now, invariant):
    reward = make_reward(program, kind=Reward.Kind.VOUCHER, cost_points=10)
    codes = add_codes(reward, 30)
    member_ids = _members(program, now, 40, 10)

    results = _parallel(
        _redeem(program, reward.pk, now, lambda i: f"r{i}"), list(zip(member_ids, range(40), strict=True))
    )

    issued = Redemption.objects.filter(reward=reward)
    assert sum(isinstance(r, int) for r in results) == 30 and results.count("out_of_stock") == 10
    assert sorted(issued.values_list("code", flat=True)) == codes
    assert RewardCode.objects.filter(reward=reward, redemption__isnull=True).count() == 0

    # cancelling while others redeem: each released code goes to exactly one new redemption
    cancel_ids = list(issued.order_by("id").values_list("pk", flat=True)[:10])
    more_ids = _members(program, now, 10, 10)

    def work(item):
        kind, value = item
        if kind == "cancel":
            redemption_cancel(redemption=Redemption.objects.get(pk=value), at=now)
            return "cancelled"
        return _redeem(program, reward.pk, now, lambda i: f"again{i}")(value)

    items = [("cancel", pk) for pk in cancel_ids] + [("redeem", (m, i)) for i, m in enumerate(more_ids)]
    _parallel(work, items)

    live = Redemption.objects.filter(reward=reward).exclude(status="cancelled")
    held = list(
        RewardCode.objects.filter(reward=reward, redemption__isnull=False).values_list("code", flat=True)
    )
    assert len(set(live.values_list("code", flat=True))) == live.count() == len(held)
    reward.refresh_from_db()
    assert reward.redeemed_count == live.count()
    for member in Member.objects.filter(program=program):
        invariant(member)
