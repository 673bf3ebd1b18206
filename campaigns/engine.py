"""The campaign engine: does a campaign apply to a member now, and what does it give.

Every trigger (purchase, event, registration, referral, jobs) builds a `Context` and calls
`campaigns_apply`. Campaigns run in priority order (lower first); an exclusive campaign that grants
stops the ones after it. A campaign grants when it is running (active and inside its window), the
member is targeted (tiers / segments; not in the holdout share), every condition holds, the
(campaign, member, period key) grant does not exist yet, the per-member limit is not reached, and
the points fit in the remaining budget (no partial grants).

Writes (`dry_run=False`) are one savepoint per grant: the `CampaignGrant` row (unique per campaign,
member, period key: a concurrent or repeated grant fails on the constraint and is skipped), the
budget taken by a conditional UPDATE (`points_granted + points <= points_budget`), then the rewards.
Lock order: the member row first (the caller: the ledger's purchase or our own `select_for_update`),
then the campaign row (the budget UPDATE), so two paths never wait on each other in reverse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction

from loyalty_site.core.db import holds_lock, row_insert, row_update
from loyalty_site.core.events import event_emit
from loyalty_site.core.money import points_floor

from .models import Campaign, CampaignCondition, CampaignGrant, CampaignReward, SegmentMembership
from .selectors import (
    longest_streak,
    member_amount_spent,
    member_grant_counts,
    member_login_days,
    member_purchase_count,
    member_purchase_counts_prefetch,
)

Kind = CampaignCondition.Kind
RewardKind = CampaignReward.Kind
# conditions decided from the context and prefetched rows alone (no query)
_NO_QUERY_KINDS = frozenset(
    {
        Kind.MIN_AMOUNT,
        Kind.TIER_IN,
        Kind.WEEKDAY_IN,
        Kind.HOUR_BETWEEN,
        Kind.CURRENCY_IN,
        Kind.EVENT_DATA,
        Kind.MIN_SCORE,
    }
)


@dataclass
class Context:
    """What happened. `at` is the moment of the trigger; `window` the period a job evaluates (the
    ISO week just ended...), else the campaign's period around `at`; `occurrence` the key of a
    purchase or event for per-occurrence campaigns; `period_key` overrides the campaign's period."""

    member: Any
    at: datetime
    amount: Decimal | None = None
    currency: str | None = None
    base_points: int = 0
    purchase: Any = None
    event: Any = None
    window: tuple[datetime, datetime] | None = None
    occurrence: str | None = None
    period_key: str | None = None
    is_purchase: bool = False
    # a past purchase or event replayed by the simulation (campaigns.reports): purchase counts see
    # only what came before it, as they did when it happened
    replay: bool = False


@dataclass
class Planned:
    campaign: Campaign
    member: Any
    period_key: str
    points: int
    rewards: list[CampaignReward]
    description: str
    extra: dict = field(default_factory=dict)


# --- periods ------------------------------------------------------------------------------------


def period_window(period: str, at: datetime, tz) -> tuple[datetime, datetime] | None:
    """[start, end) of the day / ISO week / month / year containing `at` in time zone `tz`."""
    local = at.astimezone(tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == Campaign.Period.DAY:
        start, end = day, day + timedelta(days=1)
    elif period == Campaign.Period.WEEK:
        start = day - timedelta(days=local.isoweekday() - 1)
        end = start + timedelta(days=7)
    elif period == Campaign.Period.MONTH:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    elif period == Campaign.Period.YEAR:
        start = day.replace(month=1, day=1)
        end = start.replace(year=start.year + 1)
    else:
        return None
    # re-attach the zone so DST changes inside the window are honoured
    return start.replace(tzinfo=tz), end.replace(tzinfo=tz)


def period_key(period: str, at: datetime, tz) -> str:
    local = at.astimezone(tz)
    if period == Campaign.Period.DAY:
        return local.date().isoformat()
    if period == Campaign.Period.WEEK:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if period == Campaign.Period.MONTH:
        return f"{local.year}-{local.month:02d}"
    if period == Campaign.Period.YEAR:
        return str(local.year)
    return "once"


def _key(campaign: Campaign, ctx: Context) -> str | None:
    if ctx.period_key:
        return ctx.period_key
    if campaign.period == Campaign.Period.EACH:
        return ctx.occurrence  # None in a quote: nothing to collide with yet
    moment = ctx.window[0] if ctx.window else ctx.at
    return period_key(campaign.period, moment, campaign.program.tz)


# --- targeting and conditions -------------------------------------------------------------------


def in_holdout(campaign: Campaign, member) -> bool:
    """Deterministic control group: the same member is always in or out for a campaign."""
    if not campaign.holdout_percent:
        return False
    digest = hashlib.sha256(f"holdout:{campaign.pk}:{member.pk}".encode()).hexdigest()
    return int(digest[:8], 16) % 100 < campaign.holdout_percent


def _tier_targeted(campaign: Campaign, member) -> bool:
    """The targeting checks that read nothing (the tier targets are prefetched)."""
    if campaign.tier_exclusive and not (member.tier_id and member.tier.exclusive_campaigns):
        return False
    tiers = [tier.pk for tier in campaign.target_tiers.all()]
    return not tiers or member.tier_id in tiers


def is_targeted(campaign: Campaign, member) -> bool:
    if not _tier_targeted(campaign, member):
        return False
    segments = [segment.pk for segment in campaign.target_segments.all()]
    return not segments or SegmentMembership.objects.filter(segment_id__in=segments, member=member).exists()


def _values(text: str) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _window(condition: CampaignCondition, campaign: Campaign, ctx: Context):
    """The time range [since, until) an in-window condition counts over. For a purchase or an
    event `until` includes the moment itself (another purchase at the same instant counts; the
    purchase being priced is excluded and counted once by the caller)."""
    now = ctx.at + timedelta(microseconds=1)
    if condition.days:
        end = ctx.window[1] if ctx.window else now
        return end - timedelta(days=condition.days), end
    if ctx.window:
        return ctx.window
    window = period_window(campaign.period, ctx.at, campaign.program.tz)
    if window is None:
        return None, now
    return window[0], now if ctx.is_purchase else window[1]


def condition_holds(condition: CampaignCondition, campaign: Campaign, ctx: Context) -> bool:
    member = ctx.member
    tz = campaign.program.tz
    kind = condition.kind
    current = 1 if ctx.is_purchase else 0  # the purchase being priced counts for itself
    if kind == Kind.MIN_AMOUNT:
        return ctx.amount is not None and ctx.amount >= (condition.amount or 0)
    before = ctx.at + timedelta(microseconds=1) if ctx.replay else None
    if kind == Kind.NTH_PURCHASE:
        if not ctx.is_purchase:
            return False
        count = member_purchase_count(member=member, exclude=ctx.purchase, until=before)
        return count + 1 == (condition.count or 0)
    if kind == Kind.FIRST_ORDER:
        return (
            ctx.is_purchase and member_purchase_count(member=member, exclude=ctx.purchase, until=before) == 0
        )
    if kind == Kind.PURCHASES_IN_WINDOW:
        since, until = _window(condition, campaign, ctx)
        count = member_purchase_count(member=member, exclude=ctx.purchase, since=since, until=until)
        return count + current >= (condition.count or 0)
    if kind == Kind.SPENT_IN_WINDOW:
        since, until = _window(condition, campaign, ctx)
        spent = member_amount_spent(member=member, since=since, until=until, exclude=ctx.purchase)
        if ctx.is_purchase and ctx.amount and ctx.currency:
            from ledger.pricing import money_to_base

            program = campaign.program
            spent += money_to_base(program=program, amount=ctx.amount, currency=ctx.currency, at=ctx.at) or 0
        return spent >= (condition.amount or 0)
    if kind == Kind.TIER_IN:
        return member.tier_id is not None and member.tier.code in _values(condition.value)
    if kind == Kind.SEGMENT_IN:
        return SegmentMembership.objects.filter(
            member=member, segment__code__in=_values(condition.value), segment__program=campaign.program_id
        ).exists()
    if kind == Kind.CONSECUTIVE_LOGINS:
        since, until = _window(condition, campaign, ctx)
        if since is None:
            return False
        days = member_login_days(member=member, since=since, until=until, tz=tz)
        return longest_streak(days) >= (condition.count or 0)
    if kind == Kind.WEEKDAY_IN:
        return str(ctx.at.astimezone(tz).isoweekday()) in _values(condition.value)
    if kind == Kind.HOUR_BETWEEN:
        try:
            start, end = (int(part) for part in condition.value.split("-", 1))
        except ValueError:
            return False
        hour = ctx.at.astimezone(tz).hour
        return start <= hour < end if start <= end else (hour >= start or hour < end)
    if kind == Kind.CURRENCY_IN:
        return ctx.currency is not None and ctx.currency in [v.upper() for v in _values(condition.value)]
    if kind == Kind.EVENT_DATA:
        if ctx.event is None or "=" not in condition.value:
            return False
        key, expected = condition.value.split("=", 1)
        return str((ctx.event.data or {}).get(key.strip())) == expected.strip()
    if kind == Kind.MIN_SCORE:
        if ctx.event is None:
            return False
        try:
            return int((ctx.event.data or {}).get("score")) >= (condition.count or 0)
        except (TypeError, ValueError):
            return False
    return False


def rate_risen(campaign: Campaign, ctx: Context) -> bool:
    """Rate-rise trigger: the purchase is in the watched currency and the rate in force at `at` is
    at least `trigger_percent` above the rate it replaced (the ledger's points-per-unit rates are
    the program's exchange rates, see ledger.pricing)."""
    from ledger.pricing import memoized
    from ledger.services import program_rates
    from loyalty_site.core.config_cache import program_of

    if not ctx.currency or ctx.currency != campaign.trigger_currency.upper():
        return False

    def current_and_previous():
        # the rates that started by `at`, newest first: the one in force, then the one it replaced
        rates = [
            rate
            for rate in program_rates(program_of(campaign))
            if rate.currency == ctx.currency and rate.valid_from <= ctx.at
        ]
        for index, rate in enumerate(rates):
            if rate.valid_to is None or rate.valid_to > ctx.at:
                older = [r for r in rates[index + 1 :] if r.valid_from < rate.valid_from]
                return rate, (older[0] if older else None)
        return None, None

    current, previous = memoized(
        ("rate_pair", campaign.program_id, ctx.currency, ctx.at), current_and_previous
    )
    if current is None or previous is None:
        return False
    threshold = previous.points_per_unit * (1 + Decimal(campaign.trigger_percent or 0) / 100)
    return current.points_per_unit >= threshold


# --- rewards ------------------------------------------------------------------------------------


def reward_points(reward: CampaignReward, ctx: Context) -> int:
    if reward.kind == RewardKind.POINTS:
        return int(reward.points)
    if reward.kind == RewardKind.MULTIPLIER:
        return max(0, points_floor(Decimal(ctx.base_points) * (reward.value - 1)))
    if reward.kind == RewardKind.PERCENT_POINTS:
        if not ctx.amount or not ctx.currency:
            return 0
        from ledger.pricing import point_value_in

        value = point_value_in(program=ctx.member.program, currency=ctx.currency, at=ctx.at)
        if not value:
            return 0
        return points_floor(ctx.amount * reward.value / Decimal(100) / value)
    return 0


def _describe(campaign: Campaign, rewards: list[CampaignReward], points: int) -> str:
    parts = []
    if points:
        parts.append(f"+{points} points")
    for reward in rewards:
        if reward.kind == RewardKind.COUPON:
            unit = "%" if reward.coupon_kind == "percent" else ""
            parts.append(f"{reward.value.normalize():f}{unit} coupon")
        elif reward.kind == RewardKind.EXTEND_EXPIRY:
            parts.append(f"points extended by {reward.days} days")
    return f"{campaign.name}: {', '.join(parts)}" if parts else campaign.name


def plan(campaign: Campaign, ctx: Context, *, recipient: str = CampaignReward.Recipient.MEMBER):
    """The grant `campaign` would make to `recipient` (the member who acted, or their referrer)
    for `ctx` now, or None. Targeting, holdout and conditions are about the member who acted; the
    referrer is rewarded for it. Reads only."""
    rewards = [r for r in campaign.rewards.all() if r.recipient == recipient]
    if not rewards or not campaign.is_running(ctx.at):
        return None
    member = ctx.member
    if recipient == CampaignReward.Recipient.REFERRER:
        member = member.referred_by
        if member is None or member.pk == ctx.member.pk or member.is_blocked:
            return None
    if ctx.member.is_blocked:
        return None
    # Every check must hold, so they run cheapest first: the checks that read nothing reject most
    # campaigns before any query (rate rise, segments, purchase history, grants) runs.
    conditions = list(campaign.conditions.all())
    if not _cheap_checks_hold(campaign, conditions, ctx):
        return None
    if campaign.trigger == Campaign.Trigger.RATE_RISE and not rate_risen(campaign, ctx):
        return None
    if not is_targeted(campaign, ctx.member):
        return None
    if not all(condition_holds(c, campaign, ctx) for c in conditions if c.kind not in _NO_QUERY_KINDS):
        return None
    key = _key(campaign, ctx)
    if key is not None or campaign.max_per_member:
        # the grant of this period and the member's grant count in one query
        total, this_period = member_grant_counts(campaign=campaign, member=member, period_key=key or "")
        if key is not None and this_period:
            return None
        if campaign.max_per_member and total >= campaign.max_per_member:
            return None
    points = sum(reward_points(r, ctx) for r in rewards)
    if campaign.points_budget and points:
        # the counter moves with every grant: read it now (the campaign row may come from the
        # configuration cache); `grant` takes the budget with a conditional UPDATE anyway
        granted = Campaign.objects.filter(pk=campaign.pk).values_list("points_granted", flat=True).first()
        if (granted or 0) + points > campaign.points_budget:
            return None
    return Planned(
        campaign=campaign,
        member=member,
        period_key=key or "quote",
        points=points,
        rewards=rewards,
        description=_describe(campaign, rewards, points),
    )


def grant(planned: Planned, ctx: Context, *, post_points: bool = True) -> CampaignGrant | None:
    """Write `planned` in one savepoint: the budget, the grant row, the rewards. Returns None when
    the budget ran out meanwhile or the grant exists already (same campaign, member, period: a
    repeat, or a concurrent transaction that got there first), having written nothing.
    `post_points=False` when the purchase posting carries the points (purchase-time bonuses).

    Neither case raises out of the block (the budget is a conditional UPDATE, the row an insert
    that skips a conflict), so for a member the caller declared locked (`rows_locked`: a purchase)
    the block needs no savepoint: any other error aborts the caller's whole block anyway."""
    from ledger import services as ledger

    campaign, member, at = planned.campaign, planned.member, ctx.at
    program = campaign.program
    with transaction.atomic(savepoint=not holds_lock(member)):
        if planned.points and not _budget_take(campaign, planned.points):
            return None
        row = CampaignGrant(
            campaign=campaign,
            member=member,
            period_key=planned.period_key,
            points=planned.points,
            cost=program.points_value(planned.points),
            purchase_ref=ctx.purchase.external_id if ctx.purchase is not None else "",
            created_at=at,
        )
        if not row_insert(row, skip_conflict="grant_unique_period"):  # granted already: give the budget back
            if planned.points:
                _budget_take(campaign, -planned.points)
            return None
        reference = f"campaign:{campaign.pk}:{member.pk}:{planned.period_key}"
        if planned.points and post_points:
            ledger.points_bonus(
                member=member,
                points=planned.points,
                at=at,
                reference=reference,
                description=campaign.name,
                campaign=campaign,
            )
        for reward in planned.rewards:
            _reward_side_effect(reward, row=row, ctx=ctx, reference=reference)
    if row.points or row.coupon_id:
        event_emit(
            program=program,
            type="reward.granted",
            at=at,
            member=member,
            key=f"reward.granted:{row.pk}",
            data={
                "campaign": campaign.code,
                "campaign_name": campaign.name,
                "points": row.points,
                "coupon": row.coupon.code if row.coupon_id else None,
                "description": planned.description,
            },
        )
    return row


BUDGET_TAKE_SQL = (
    "UPDATE campaigns_campaign SET points_granted = points_granted + %s WHERE id = %s "
    "AND (points_budget = 0 OR points_granted <= points_budget - %s)"
)


def _budget_take(campaign: Campaign, points: int) -> bool:
    """Add `points` to the campaign's granted counter unless that would pass its budget (none:
    no limit); negative points give taken ones back. Whether the counter moved. One plain
    statement: it runs for every bonus a purchase earns."""
    with connection.cursor() as cursor:
        cursor.execute(BUDGET_TAKE_SQL, [points, campaign.pk, points])
        return cursor.rowcount == 1


def _reward_side_effect(reward: CampaignReward, *, row: CampaignGrant, ctx: Context, reference: str) -> None:
    from ledger import services as ledger

    from .coupons import coupon_issue

    member, at, campaign = row.member, ctx.at, row.campaign
    if reward.kind == RewardKind.COUPON:
        row.coupon = coupon_issue(
            program=campaign.program,
            member=member,
            kind=reward.coupon_kind or "percent",
            value=reward.value,
            at=at,
            valid_days=reward.days,
            min_purchase=reward.coupon_min_purchase,
            campaign=campaign,
        )
        row_update(row, ["coupon"])
    elif reward.kind == RewardKind.EXTEND_EXPIRY and reward.days:
        ledger.points_extend(member=member, days=reward.days, at=at, reference=f"{reference}:extend")
    elif reward.kind == RewardKind.NOTIFICATION:
        event_emit(
            program=campaign.program,
            type=reward.notify_event or "reward.granted",
            at=at,
            member=member,
            key=f"{reward.notify_event or 'reward.granted'}:{row.pk}",
            data={
                "campaign": campaign.code,
                "campaign_name": campaign.name,
                "message": reward.message,
                "coupon": row.coupon.code if row.coupon_id else None,
                "idle_days": (at - member.last_activity_at).days if member.last_activity_at else None,
            },
        )


def _cheap_checks_hold(campaign: Campaign, conditions: list[CampaignCondition], ctx: Context) -> bool:
    """The checks that read nothing: the conditions on the amount, currency, tier, time and event
    data, the holdout and the tier targets."""
    if not all(condition_holds(c, campaign, ctx) for c in conditions if c.kind in _NO_QUERY_KINDS):
        return False
    return not in_holdout(campaign, ctx.member) and _tier_targeted(campaign, ctx.member)


def _prefetch_purchase_counts(campaigns: list[Campaign], ctx: Context) -> None:
    """The member's purchase counts that the conditions of these campaigns will ask for (n-th
    purchase, first order, purchases in a window) and the member's grant counts `plan` will ask
    for, in one query when there are two or more, for the campaigns that pass the checks that read
    nothing."""
    windows, grants = [], []
    for campaign in campaigns:
        if not campaign.is_running(ctx.at):
            continue
        conditions = list(campaign.conditions.all())
        if not _cheap_checks_hold(campaign, conditions, ctx):
            continue
        for condition in conditions:
            if condition.kind in (Kind.NTH_PURCHASE, Kind.FIRST_ORDER):
                windows.append((None, None))
            elif condition.kind == Kind.PURCHASES_IN_WINDOW:
                windows.append(_window(condition, campaign, ctx))
        key = _key(campaign, ctx)
        if key is not None or campaign.max_per_member:  # what `plan` counts for the member's side
            grants.append((campaign.pk, key or ""))
    member_purchase_counts_prefetch(member=ctx.member, exclude=ctx.purchase, windows=windows, grants=grants)


def campaigns_apply(
    campaigns: list[Campaign], ctx: Context, *, dry_run: bool, post_points: bool = True
) -> list[Planned | CampaignGrant]:
    """Run `campaigns` (already in priority order) for `ctx`: plans in a dry run, grants otherwise.
    Referrer-side rewards of a campaign are granted to the referrer (always posted by us)."""
    results: list[Any] = []
    if ctx.is_purchase:
        _prefetch_purchase_counts(campaigns, ctx)
    for campaign in campaigns:
        granted = False
        for recipient in CampaignReward.Recipient.values:
            planned = plan(campaign, ctx, recipient=recipient)
            if planned is None:
                continue
            if dry_run:
                results.append(planned)
                granted = True
                continue
            own = recipient == CampaignReward.Recipient.MEMBER
            row = grant(planned, ctx, post_points=post_points or not own)
            if row is not None:
                row.description = planned.description
                results.append(row)
                granted = True
        if granted and campaign.exclusive:
            break
    return results
