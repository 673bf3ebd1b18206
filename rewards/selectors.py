"""Reads of the rewards catalogue: what a member may redeem now, what they can afford, and the
redemptions. The same rules as `rewards.services.reward_redeem` checks under its locks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import Member, Program
from campaigns.models import SegmentMembership
from loyalty_site.core.periods import period_start

from .models import Redemption, Reward, RewardCode

#: Which rewards each way of redeeming may redeem.
CHANNEL_REWARDS = {
    "till": (Reward.Channel.TILL, Reward.Channel.BOTH),
    "api": (Reward.Channel.API, Reward.Channel.BOTH),
}


def rewards_active(*, program: Program, at: datetime, channel: str | None = None) -> QuerySet[Reward]:
    """The program's rewards in the catalogue at `at` (active, inside their window), catalogue
    order; `channel` (till / api) keeps those it may redeem."""
    rewards = Reward.objects.filter(program=program, is_active=True).filter(
        Q(active_from__isnull=True) | Q(active_from__lte=at), Q(active_to__isnull=True) | Q(active_to__gt=at)
    )
    if channel is not None:
        rewards = rewards.filter(channel__in=CHANNEL_REWARDS[channel])
    return (
        rewards.annotate(codes_free=Count("codes", filter=Q(codes__redemption__isnull=True)))
        .prefetch_related("tiers", "segments")
        .order_by("display_order", "cost_points", "id")
    )


def member_segment_ids(member: Member) -> set[int]:
    return set(SegmentMembership.objects.filter(member_id=member.pk).values_list("segment_id", flat=True))


def reward_eligible(reward: Reward, member: Member, segment_ids: set[int] | None = None) -> bool:
    """Whether the member's tier and segments let them redeem `reward` (prefetched tiers and
    segments are used when there)."""
    tier_ids = {tier.pk for tier in reward.tiers.all()}
    if tier_ids and member.tier_id not in tier_ids:
        return False
    reward_segments = {segment.pk for segment in reward.segments.all()}
    if reward_segments:
        if segment_ids is None:
            segment_ids = member_segment_ids(member)
        if not reward_segments & segment_ids:
            return False
    return True


def member_reward_uses(*, member: Member, reward: Reward, at: datetime) -> int:
    """Redemptions of `reward` by the member, not cancelled, in the limit's current period."""
    uses = Redemption.objects.filter(member_id=member.pk, reward_id=reward.pk).exclude(
        status=Redemption.Status.CANCELLED
    )
    start = period_start(reward.limit_period, at, member.program.tz)
    if start is not None:
        uses = uses.filter(created_at__gte=start)
    return uses.count()


@dataclass
class RewardOffer:
    """A reward as one member sees it now."""

    reward: Reward
    affordable: bool
    points_missing: int
    in_stock: bool
    limit_reached: bool

    @property
    def redeemable(self) -> bool:
        return self.affordable and self.in_stock and not self.limit_reached


def member_reward_offers(*, member: Member, at: datetime, channel: str | None = None) -> list[RewardOffer]:
    """The rewards the member may see now (active, eligible by tier and segment; `channel` keeps
    those it may redeem), catalogue order, each with whether the balance covers it, the points
    still missing, stock and the member's limit."""
    candidates = list(rewards_active(program=member.program, at=at, channel=channel))
    # the member's segments are read once, and only when some reward is limited to segments
    segment_ids = member_segment_ids(member) if any(r.segments.all() for r in candidates) else set()
    rewards = [reward for reward in candidates if reward_eligible(reward, member, segment_ids)]
    limited = [reward for reward in rewards if reward.limit_per_member]
    uses: dict[int, int] = {}
    if limited:
        rows = (
            Redemption.objects.filter(member_id=member.pk, reward__in=limited)
            .exclude(status=Redemption.Status.CANCELLED)
            .values_list("reward_id", "created_at")
        )
        starts = {reward.pk: period_start(reward.limit_period, at, member.program.tz) for reward in limited}
        for reward_id, created_at in rows:
            start = starts[reward_id]
            if start is None or created_at >= start:
                uses[reward_id] = uses.get(reward_id, 0) + 1
    offers = []
    for reward in rewards:
        missing = max(reward.cost_points - member.balance, 0)
        offers.append(
            RewardOffer(
                reward=reward,
                affordable=missing == 0,
                points_missing=missing,
                in_stock=(reward.stock_left is None or reward.stock_left > 0)
                and (reward.kind != Reward.Kind.VOUCHER or reward.codes_free > 0),
                limit_reached=bool(reward.limit_per_member)
                and uses.get(reward.pk, 0) >= reward.limit_per_member,
            )
        )
    return offers


def redemptions_list(*, program: Program, member: Member | None = None) -> QuerySet[Redemption]:
    """The program's redemptions (a member's when given), newest first."""
    redemptions = Redemption.objects.filter(program_id=program.pk).select_related("reward", "coupon")
    if member is not None:
        redemptions = redemptions.filter(member_id=member.pk)
    return redemptions.order_by("-created_at", "-id")


def rewards_report(*, rewards) -> list[dict]:
    """Per reward: redemptions not cancelled, cancelled ones, points spent, their cost (points x the
    program's point value, base currency), co-payments collected, stock and codes left."""
    rows = []
    stats = {
        row["reward_id"]: row
        for row in Redemption.objects.filter(reward__in=rewards)
        .exclude(status=Redemption.Status.CANCELLED)
        .values("reward_id")
        .annotate(n=Count("id"), points=Sum("points"), co_payment=Sum("co_payment"))
    }
    cancelled = dict(
        Redemption.objects.filter(reward__in=rewards, status=Redemption.Status.CANCELLED)
        .values("reward_id")
        .annotate(n=Count("id"))
        .values_list("reward_id", "n")
    )
    codes_left = dict(
        RewardCode.objects.filter(reward__in=rewards, redemption__isnull=True)
        .values("reward_id")
        .annotate(n=Count("id"))
        .values_list("reward_id", "n")
    )
    for reward in rewards:
        row = stats.get(reward.pk, {})
        points = int(row.get("points") or 0)
        rows.append(
            {
                "reward": reward,
                "redemptions": row.get("n", 0),
                "cancelled": cancelled.get(reward.pk, 0),
                "points": points,
                "cost": reward.program.points_value(points),
                "co_payments": row.get("co_payment") or 0,
                "currency": reward.program.base_currency,
                "stock_left": reward.stock_left,
                "codes_left": codes_left.get(reward.pk, 0) if reward.kind == Reward.Kind.VOUCHER else None,
            }
        )
    return rows
