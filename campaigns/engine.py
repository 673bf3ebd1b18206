"""The campaign engine: does a campaign apply to a member now, and what does it give.

Every trigger (purchase, event, registration, referral, jobs) builds a `Context` and calls
`campaigns_apply`. Campaigns run in priority order (lower first); an exclusive campaign that grants
stops the ones after it. A campaign grants when it is running (active and inside its window), the
member is targeted (tiers / segments; not in the holdout share), every condition holds, the
(campaign, member, period key) grant does not exist yet, the per-member limit is not reached, and
the points fit in the remaining budget (no partial grants).

Writes (`dry_run=False`) run in the caller's transaction, the member locked by the caller: the
`CampaignGrant` row (unique per campaign, member, period key: a concurrent or repeated grant fails
on the constraint and is skipped), the budget taken by a conditional UPDATE (`points_granted +
points <= points_budget`), then the rewards. Lock order: the member row first (the caller: the
purchase, or our own services via `accounts.locks`), then the campaign row (the budget UPDATE),
so two paths never wait on each other in reverse.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext, ngettext

from ledger import services as ledger
from ledger.services import program_rates
from ledger.texts import member_text
from loyalty_site.core.config_cache import program_of
from loyalty_site.core.db import row_insert
from loyalty_site.core.events import event_emit
from loyalty_site.core.memo import memoized
from loyalty_site.core.periods import period_key

from .kinds import condition_kinds, reward_kinds
from .models import Campaign, CampaignCondition, CampaignGrant, CampaignReward, SegmentMembership
from .selectors import member_grant_counts, member_purchase_counts_prefetch


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


# --- periods, targeting and conditions -----------------------------------------------------


def _key(campaign: Campaign, ctx: Context) -> str | None:
    if ctx.period_key:
        return ctx.period_key
    if campaign.period == Campaign.Period.EACH:
        return ctx.occurrence  # None in a quote: nothing to collide with yet
    moment = ctx.window[0] if ctx.window else ctx.at
    return period_key(campaign.period, moment, campaign.program.tz)


def in_holdout(campaign: Campaign, member) -> bool:
    """Deterministic control group: the same member is always in or out for a campaign."""
    if not campaign.holdout_percent:
        return False
    digest = hashlib.sha256(f"holdout:{campaign.pk}:{member.pk}".encode()).hexdigest()
    return int(digest[:8], 16) % 100 < campaign.holdout_percent


def related(campaign: Campaign, name: str) -> list:
    """`list(campaign.<name>.all())`, taken straight from the prefetch cache when the rows are
    prefetched (`campaigns_running` prefetches them): `plan` runs for every member of a job's chunk,
    and building a queryset per relation per member cost a fifth of the inactivity job."""
    cache = getattr(campaign, "_prefetched_objects_cache", {})
    if name in cache:
        return list(cache[name])
    return list(getattr(campaign, name).all())


def _tier_targeted(campaign: Campaign, member) -> bool:
    """The targeting checks that read nothing (the tier targets are prefetched)."""
    if campaign.tier_exclusive and not (member.tier_id and member.tier.exclusive_campaigns):
        return False
    tiers = [tier.pk for tier in related(campaign, "target_tiers")]
    return not tiers or member.tier_id in tiers


def is_targeted(campaign: Campaign, member) -> bool:
    if not _tier_targeted(campaign, member):
        return False
    segments = [segment.pk for segment in related(campaign, "target_segments")]
    return not segments or SegmentMembership.objects.filter(segment_id__in=segments, member=member).exists()


def condition_holds(condition: CampaignCondition, campaign: Campaign, ctx: Context) -> bool:
    """Whether `condition` holds for `ctx`: its kind's `evaluate`, or `simulate` for a past
    occurrence the simulation replays. A condition of an unknown kind never holds."""
    kind = condition_kinds.get(condition.kind)
    if kind is None:
        return False
    if ctx.replay:
        return kind.simulate(condition, campaign, ctx)
    return kind.evaluate(condition, campaign, ctx)


def _queries(condition: CampaignCondition) -> bool:
    """Whether evaluating the condition may read the database (unknown kinds read nothing)."""
    kind = condition_kinds.get(condition.kind)
    return kind is not None and kind.queries


def rate_risen(campaign: Campaign, ctx: Context) -> bool:
    """Rate-rise trigger: the purchase is in the watched currency and the rate in force at `at` is
    at least `trigger_percent` above the rate it replaced (the ledger's points-per-unit rates are
    the program's exchange rates, see ledger.services.point_value_in)."""

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
    kind = reward_kinds.get(reward.kind)
    return kind.evaluate(reward, ctx) if kind is not None else 0


def _describe(campaign: Campaign, rewards: list[CampaignReward], points: int) -> str:
    parts = []
    if points:
        parts.append(ngettext("+%(points)s point", "+%(points)s points", points) % {"points": points})
    for reward in rewards:
        kind = reward_kinds.get(reward.kind)
        text = kind.summary(reward) if kind is not None else ""
        if text:
            parts.append(text)
    if not parts:
        return campaign.name
    return gettext("%(campaign)s: %(rewards)s") % {"campaign": campaign.name, "rewards": ", ".join(parts)}


class GrantBook:
    """What `plan` asks about the grants made so far: the member's grants of the campaign (all of
    them, those of a period key) and the points the campaign has granted. Reads the database;
    the simulation's book adds the grants it planned (campaigns.reports)."""

    def member_counts(self, campaign: Campaign, member, period_key: str) -> tuple[int, int]:
        return member_grant_counts(campaign=campaign, member=member, period_key=period_key)

    def points_granted(self, campaign: Campaign) -> int:
        # the counter moves with every grant: read it now (the campaign row may come from the
        # configuration cache); `grant` takes the budget with a conditional UPDATE anyway
        granted = Campaign.objects.filter(pk=campaign.pk).values_list("points_granted", flat=True).first()
        return granted or 0


GRANTS = GrantBook()


def plan(
    campaign: Campaign,
    ctx: Context,
    *,
    recipient: str = CampaignReward.Recipient.MEMBER,
    grants: GrantBook = GRANTS,
):
    """The grant `campaign` would make to `recipient` (the member who acted, or their referrer)
    for `ctx` now, or None. Targeting, holdout and conditions are about the member who acted; the
    referrer is rewarded for it. `grants` answers the period, per-member and budget limits (the
    database's grants; the simulation passes its own book). Reads only."""
    rewards = [r for r in related(campaign, "rewards") if r.recipient == recipient]
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
    conditions = related(campaign, "conditions")
    if not _cheap_checks_hold(campaign, conditions, ctx):
        return None
    if campaign.trigger == Campaign.Trigger.RATE_RISE and not rate_risen(campaign, ctx):
        return None
    if not is_targeted(campaign, ctx.member):
        return None
    if not all(condition_holds(c, campaign, ctx) for c in conditions if _queries(c)):
        return None
    key = _key(campaign, ctx)
    if key is not None or campaign.max_per_member:
        # the grant of this period and the member's grant count in one query
        total, this_period = grants.member_counts(campaign, member, key or "")
        if key is not None and this_period:
            return None
        if campaign.max_per_member and total >= campaign.max_per_member:
            return None
    points = sum(reward_points(r, ctx) for r in rewards)
    if (
        campaign.points_budget
        and points
        and grants.points_granted(campaign) + points > campaign.points_budget
    ):
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
    """Write `planned`: the budget, the grant row, the rewards. Returns None when the budget ran
    out meanwhile or the grant exists already (same campaign, member, period: a repeat, or a
    concurrent transaction that got there first), having written nothing.
    `post_points=False` when the purchase posting carries the points (purchase-time bonuses).

    Precondition (`campaigns_apply`'s): `ctx.member` is locked by the caller in its transaction.
    The grant runs in that transaction with no savepoint: neither case above raises (the budget
    is a conditional UPDATE, the row an insert that skips a conflict), and any other error aborts
    the caller's block (callers that go on after a refused member, the jobs, wrap each member in
    their own savepoint). The member's points post with `points_bonus_locked`; a referrer's with
    `points_bonus`, which locks the referrer."""

    campaign, member, at = planned.campaign, planned.member, ctx.at
    program = campaign.program
    with transaction.atomic(savepoint=False):
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
            post = ledger.points_bonus_locked if member.pk == ctx.member.pk else ledger.points_bonus
            post(
                member=member,
                points=planned.points,
                at=at,
                reference=reference,
                description=member_text(member, lambda: campaign.name),
                campaign=campaign,
            )
        for reward in planned.rewards:
            kind = reward_kinds.get(reward.kind)
            if kind is not None:
                kind.give(reward, row=row, ctx=ctx, reference=reference)
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


def _cheap_checks_hold(campaign: Campaign, conditions: list[CampaignCondition], ctx: Context) -> bool:
    """The checks that read nothing: the conditions on the amount, currency, tier, time and event
    data, the holdout and the tier targets."""
    if not all(condition_holds(c, campaign, ctx) for c in conditions if not _queries(c)):
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
            kind = condition_kinds.get(condition.kind)
            if kind is not None:
                windows += kind.counted_windows(condition, campaign, ctx)
        key = _key(campaign, ctx)
        if key is not None or campaign.max_per_member:  # what `plan` counts for the member's side
            grants.append((campaign.pk, key or ""))
    member_purchase_counts_prefetch(member=ctx.member, exclude=ctx.purchase, windows=windows, grants=grants)


def campaigns_apply(
    campaigns: list[Campaign], ctx: Context, *, dry_run: bool, post_points: bool = True
) -> list[Planned | CampaignGrant]:
    """Run `campaigns` (already in priority order) for `ctx`: plans in a dry run, grants otherwise.
    Referrer-side rewards of a campaign are granted to the referrer (always posted by us).
    Grants (`dry_run=False`) need `ctx.member` locked by the caller in its transaction (`grant`)."""
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
