"""reward_redeem / redemption_cancel / redemption_fulfil through the services, exact numbers."""

from datetime import timedelta
from decimal import Decimal

import pytest

from campaigns.models import Coupon, Segment, SegmentMembership
from ledger import services as ledger
from ledger.models import Allocation, Lot, Posting
from loyalty_site.core.errors import (
    IdempotencyConflict,
    InsufficientPoints,
    LimitExceeded,
    MemberBlocked,
    NotFound,
    OutOfStock,
    RedemptionClosed,
    RewardUnavailable,
)
from notifications.models import Event
from rewards.models import Redemption, Reward, RewardCode
from rewards.selectors import member_reward_offers
from rewards.services import redemption_cancel, redemption_fulfil, reward_redeem
from tests.factories import MemberFactory, ProgramFactory
from tiers.models import Tier

from .conftest import add_codes, make_reward


def _fund(member, now):
    """Three lots: 60 expiring first, then 100, then 500 (earned at different moments)."""
    lifetime = timedelta(days=member.program.points_lifetime_days)
    ledger.points_bonus(
        member=member, points=60, at=now - lifetime + timedelta(days=5), reference="a", description="a"
    )
    ledger.points_bonus(
        member=member, points=100, at=now - timedelta(days=10), reference="b", description="b"
    )
    ledger.points_bonus(member=member, points=500, at=now - timedelta(days=1), reference="c", description="c")
    member.refresh_from_db()
    return list(Lot.objects.filter(member=member).order_by("expires_at"))


def _remaining(member):
    return [lot.remaining for lot in Lot.objects.filter(member=member).order_by("expires_at")]


def test_redeem_spends_earliest_expiring_lots_and_cancel_restores_them_exactly(
    program, member, now, invariant, ledger_clean
):
    _fund(member, now)
    reward = make_reward(program, cost_points=130, stock_total=5)

    redemption = reward_redeem(
        program=program, member=member, reward=reward, reference="r1", at=now, channel="api"
    )

    assert member.balance == 660 - 130
    assert _remaining(member) == [0, 30, 500]
    assert redemption.status == Redemption.Status.PENDING and redemption.points == 130
    assert [(a.lot.points, a.points) for a in Allocation.objects.filter(posting=redemption.posting)] == [
        (60, 60),
        (100, 70),
    ]
    reward.refresh_from_db()
    assert reward.redeemed_count == 1 and reward.stock_left == 4

    cancelled = redemption_cancel(redemption=redemption, at=now + timedelta(minutes=5))

    member.refresh_from_db()
    assert cancelled.status == Redemption.Status.CANCELLED
    assert member.balance == 660
    assert _remaining(member) == [60, 100, 500]
    assert cancelled.return_posting.points == 130
    reward.refresh_from_db()
    assert reward.redeemed_count == 0 and reward.stock_left == 5
    invariant(member)
    ledger_clean()


def test_cancel_twice_is_refused_and_returns_nothing_more(program, member, now, invariant):
    _fund(member, now)
    redemption = reward_redeem(
        program=program, member=member, reward=make_reward(program), reference="r1", at=now, channel="till"
    )
    redemption_cancel(redemption=redemption, at=now)

    with pytest.raises(RedemptionClosed):
        redemption_cancel(redemption=redemption, at=now)

    member.refresh_from_db()
    assert member.balance == 660
    assert Posting.objects.filter(member=member, kind="refund").count() == 1
    invariant(member)


def test_points_of_an_expired_lot_come_back_in_a_new_lot(program, member, now, invariant):
    _fund(member, now)
    redemption = reward_redeem(
        program=program,
        member=member,
        reward=make_reward(program, cost_points=60),
        reference="r",
        at=now,
        channel="api",
    )
    Lot.objects.filter(member=member, points=60).update(state=Lot.State.EXPIRED)

    redemption_cancel(redemption=redemption, at=now + timedelta(days=1))

    member.refresh_from_db()
    assert member.balance == 660
    new = Lot.objects.get(member=member, source="refund")
    assert new.remaining == 60
    assert new.expires_at == now + timedelta(days=1 + program.points_lifetime_days)
    invariant(member)


def test_same_reference_replays_and_another_body_conflicts(program, member, now):
    _fund(member, now)
    reward = make_reward(program)
    first = reward_redeem(
        program=program, member=member, reward=reward, reference="r1", at=now, channel="api"
    )

    again = reward_redeem(
        program=program, member=member, reward=reward, reference="r1", at=now, channel="api"
    )

    assert again.pk == first.pk and again.replayed
    member.refresh_from_db()
    assert member.balance == 560
    with pytest.raises(IdempotencyConflict):
        reward_redeem(
            program=program,
            member=member,
            reward=make_reward(program, name="Other"),
            reference="r1",
            at=now,
            channel="api",
        )
    assert Redemption.objects.count() == 1


def test_voucher_gives_codes_in_order_and_cancel_releases_the_code(program, member, now):
    _fund(member, now)
    reward = make_reward(program, kind=Reward.Kind.VOUCHER, cost_points=10)
    add_codes(reward, 2)

    one = reward_redeem(program=program, member=member, reward=reward, reference="1", at=now, channel="api")
    two = reward_redeem(program=program, member=member, reward=reward, reference="2", at=now, channel="api")

    assert (one.code, two.code) == ("C0000", "C0001")
    assert one.status == Redemption.Status.ISSUED
    with pytest.raises(OutOfStock):
        reward_redeem(program=program, member=member, reward=reward, reference="3", at=now, channel="api")
    member.refresh_from_db()
    assert member.balance == 640  # the refused third one spent nothing

    redemption_cancel(redemption=one, at=now)
    three = reward_redeem(program=program, member=member, reward=reward, reference="4", at=now, channel="api")
    assert three.code == "C0000"
    assert RewardCode.objects.get(code="C0000").redemption_id == three.pk


def test_coupon_reward_issues_a_personal_coupon_and_cancel_deactivates_it(program, member, now):
    _fund(member, now)
    reward = make_reward(
        program, kind=Reward.Kind.COUPON, cost_points=200, coupon_kind="percent", coupon_value=Decimal("15")
    )

    redemption = reward_redeem(
        program=program, member=member, reward=reward, reference="c", at=now, channel="api"
    )

    coupon = redemption.coupon
    assert (coupon.member_id, coupon.kind, coupon.value, coupon.max_uses) == (
        member.pk,
        "percent",
        Decimal("15"),
        1,
    )
    assert coupon.ends_at == now + timedelta(days=30)
    redemption_cancel(redemption=redemption, at=now)
    assert not Coupon.objects.get(pk=coupon.pk).is_active


def test_a_used_coupon_cannot_be_cancelled(program, member, now):
    _fund(member, now)
    reward = make_reward(
        program, kind=Reward.Kind.COUPON, cost_points=200, coupon_kind="fixed", coupon_value=Decimal("5")
    )
    redemption = reward_redeem(
        program=program, member=member, reward=reward, reference="c", at=now, channel="api"
    )
    Coupon.objects.filter(pk=redemption.coupon_id).update(uses_count=1)

    with pytest.raises(RedemptionClosed):
        redemption_cancel(redemption=redemption, at=now)
    member.refresh_from_db()
    assert member.balance == 460


def test_fulfil_a_gift_once(program, member, now):
    _fund(member, now)
    redemption = reward_redeem(
        program=program, member=member, reward=make_reward(program), reference="g", at=now, channel="till"
    )

    done = redemption_fulfil(redemption=redemption, at=now + timedelta(hours=1))

    assert done.status == Redemption.Status.FULFILLED and done.fulfilled_at == now + timedelta(hours=1)
    with pytest.raises(RedemptionClosed):
        redemption_fulfil(redemption=redemption, at=now)
    with pytest.raises(RedemptionClosed):
        redemption_cancel(redemption=redemption, at=now)
    assert list(
        Event.objects.filter(member=member, type__startswith="reward.")
        .order_by("id")
        .values_list("type", flat=True)
    ) == ["reward.redeemed", "reward.fulfilled"]


def test_refusals_change_nothing(program, member, now):
    _fund(member, now)
    gold = Tier.objects.create(program=program, code="gold", name="Gold", rank=2, threshold=3000)
    cases = [
        (make_reward(program, cost_points=1000), InsufficientPoints),
        (make_reward(program, stock_total=0), OutOfStock),
        (make_reward(program, is_active=False), RewardUnavailable),
        (make_reward(program, active_from=now + timedelta(days=1)), RewardUnavailable),
        (make_reward(program, active_to=now), RewardUnavailable),
        (make_reward(program, channel=Reward.Channel.TILL), RewardUnavailable),
    ]
    gold_only = make_reward(program)
    gold_only.tiers.add(gold)
    cases.append((gold_only, RewardUnavailable))
    segment = Segment.objects.create(program=program, code="vip", name="VIP")
    vip_only = make_reward(program)
    vip_only.segments.add(segment)
    cases.append((vip_only, RewardUnavailable))

    for i, (reward, error) in enumerate(cases):
        with pytest.raises(error):
            reward_redeem(
                program=program, member=member, reward=reward, reference=f"x{i}", at=now, channel="api"
            )

    member.refresh_from_db()
    assert member.balance == 660
    assert Redemption.objects.count() == 0 and Posting.objects.filter(kind="redeem").count() == 0

    SegmentMembership.objects.create(segment=segment, member=member, since=now)
    reward_redeem(program=program, member=member, reward=vip_only, reference="vip", at=now, channel="api")


def test_blocked_member_is_refused(program, member, now):
    _fund(member, now)
    member.status = "blocked"
    member.save(update_fields=["status"])
    with pytest.raises(MemberBlocked):
        reward_redeem(
            program=program, member=member, reward=make_reward(program), reference="b", at=now, channel="api"
        )


def test_per_member_limit_per_week_in_program_time(program, member, now):
    _fund(member, now)  # now is Sunday 22 Nov 2026, 10:00 UTC
    reward = make_reward(program, cost_points=10, limit_per_member=2, limit_period=Reward.LimitPeriod.WEEK)
    other = MemberFactory(program=program, at=now)
    ledger.points_bonus(member=other, points=100, at=now, reference="o", description="o")

    reward_redeem(program=program, member=member, reward=reward, reference="1", at=now, channel="api")
    reward_redeem(program=program, member=member, reward=reward, reference="2", at=now, channel="api")
    with pytest.raises(LimitExceeded):
        reward_redeem(program=program, member=member, reward=reward, reference="3", at=now, channel="api")
    reward_redeem(program=program, member=other, reward=reward, reference="o1", at=now, channel="api")
    # Monday: a new week
    reward_redeem(
        program=program,
        member=member,
        reward=reward,
        reference="4",
        at=now + timedelta(days=1),
        channel="api",
    )


def test_another_programs_reward_is_not_found(program, member, now):
    other = make_reward(ProgramFactory())
    with pytest.raises(NotFound):
        reward_redeem(program=program, member=member, reward=other, reference="x", at=now, channel="api")


def test_offers_show_affordable_and_points_missing(program, member, now):
    _fund(member, now)
    cheap = make_reward(program, cost_points=100, display_order=1)
    dear = make_reward(program, cost_points=1000, display_order=2)
    make_reward(program, cost_points=50, channel=Reward.Channel.TILL)
    voucher = make_reward(program, kind=Reward.Kind.VOUCHER, cost_points=5, display_order=3)

    offers = member_reward_offers(member=member, at=now, channel="api")

    assert [(o.reward.pk, o.affordable, o.points_missing, o.redeemable) for o in offers] == [
        (cheap.pk, True, 0, True),
        (dear.pk, False, 340, False),
        (voucher.pk, True, 0, False),  # no codes in its pool
    ]
