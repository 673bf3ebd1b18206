"""Campaign ROI and pre-activation simulation (read-only; shown in the admin).

ROI decisions:
- Cost = the grants' recorded cost (points × the point value at the grant; a personal coupon adds
  the money off and bonus points it gave when used) + what the campaign's open codes (batches)
  gave when used. Money off in another currency is converted by the rates' ratio
  (ledger.pricing.money_to_base).
- Revenue = the amount paid (amount due less refunds) of the rewarded members' purchases within
  `attribution_days` after their first grant of this campaign, in the base currency (other
  currencies converted at today's rates ratio).
- ROI = (revenue − cost) / cost; None when nothing was spent.
- Coupon redemption rate = the campaign's issued coupons used at least once / issued.
- Holdout: members of the target (all active members without targets) that the campaign's holdout
  share keeps out; their revenue per member over the same span (first grant → last grant +
  attribution days) is shown next to the rewarded members' revenue per member.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Min, Sum
from django.utils import timezone

from accounts.models import Member
from loyalty_site.core.money import money_round

from .engine import Context, condition_holds, in_holdout, period_key, period_window
from .jobs import previous_window
from .models import Campaign, CampaignCondition, CampaignGrant, CampaignReward, Coupon, CouponRedemption

SIMULATION_LIMIT = 20000

# conditions about the purchase or event itself: unknown before it happens
OCCURRENCE_CONDITIONS = {
    CampaignCondition.Kind.MIN_AMOUNT,
    CampaignCondition.Kind.NTH_PURCHASE,
    CampaignCondition.Kind.WEEKDAY_IN,
    CampaignCondition.Kind.HOUR_BETWEEN,
    CampaignCondition.Kind.CURRENCY_IN,
    CampaignCondition.Kind.EVENT_DATA,
    CampaignCondition.Kind.MIN_SCORE,
    CampaignCondition.Kind.FIRST_ORDER,
}


def _to_base(program, totals: dict[str, Decimal], at: datetime) -> Decimal:
    from ledger.pricing import money_to_base

    result = Decimal("0")
    for currency, amount in totals.items():
        if not amount:
            continue
        converted = money_to_base(program=program, amount=amount, currency=currency, at=at)
        result += converted if converted is not None else Decimal("0")
    return money_round(result)


def _redemptions_cost(program, redemptions, at: datetime) -> Decimal:
    discounts: dict[str, Decimal] = {}
    for row in redemptions.values("currency").annotate(total=Sum("discount")):
        discounts[row["currency"]] = row["total"]
    bonus = redemptions.aggregate(total=Sum("bonus_points"))["total"] or 0
    return money_round(_to_base(program, discounts, at) + Decimal(bonus) * program.point_value)


REVENUE_SQL = """
SELECT p.currency, SUM(p.amount_due) - SUM(p.refunded_amount)
FROM ledger_purchase AS p
JOIN unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS w(member_id, since, until)
  ON p.member_id = w.member_id AND p.occurred_at >= w.since AND p.occurred_at < w.until
GROUP BY p.currency
"""


def _revenue(program, member_ids, since_by_member: dict[int, datetime], days: int, at: datetime) -> Decimal:
    """Amount paid (due less refunds) by `member_ids`, each within [since, since + days), in the
    base currency. One grouped query (each member's window is a row of an unnested array)."""
    from django.db import connection

    from ledger.models import Purchase

    member_ids = list(member_ids)
    totals: dict[str, Decimal] = {}
    if not member_ids:
        return _to_base(program, totals, at)
    span = timedelta(days=days)
    if connection.vendor == "postgresql":
        starts = [since_by_member[member_id] for member_id in member_ids]
        with connection.cursor() as cursor:
            cursor.execute(REVENUE_SQL, [member_ids, starts, [start + span for start in starts]])
            totals = {currency: Decimal(total) for currency, total in cursor.fetchall()}
        return _to_base(program, totals, at)
    for member_id in member_ids:  # the SQLite demo database
        since = since_by_member[member_id]
        rows = (
            Purchase.objects.filter(member_id=member_id, occurred_at__gte=since, occurred_at__lt=since + span)
            .values("currency")
            .annotate(due=Sum("amount_due"), refunded=Sum("refunded_amount"))
        )
        for row in rows:
            totals[row["currency"]] = totals.get(row["currency"], Decimal("0")) + row["due"] - row["refunded"]
    return _to_base(program, totals, at)


def campaign_roi(
    *,
    campaign: Campaign,
    at: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict:
    """The campaign's ROI report (see the module docstring) over the grants made in [since, until)
    (default: all), valued at `at` (default `until`, else now). `roi` is a percent."""
    program = campaign.program
    at = at or until or timezone.now()
    grants = CampaignGrant.objects.filter(campaign=campaign)
    if since is not None:
        grants = grants.filter(created_at__gte=since)
    if until is not None:
        grants = grants.filter(created_at__lt=until)
    first_grants = dict(
        grants.values("member_id").annotate(first=Min("created_at")).values_list("member_id", "first")
    )
    points = grants.aggregate(total=Sum("points"))["total"] or 0
    grant_cost = grants.aggregate(total=Sum("cost"))["total"] or Decimal("0")
    coupons = Coupon.objects.filter(campaign=campaign)
    redemptions = CouponRedemption.objects.filter(coupon__campaign=campaign)
    if since is not None:
        coupons = coupons.filter(created_at__gte=since)
        redemptions = redemptions.filter(created_at__gte=since)
    if until is not None:
        coupons = coupons.filter(created_at__lt=until)
        redemptions = redemptions.filter(created_at__lt=until)
    issued = coupons.count()
    used = coupons.filter(uses_count__gt=0).count()
    coupon_cost = _redemptions_cost(program, redemptions, at)
    # personal coupons add their use to their grant's cost already; open codes (batches) do not
    granted_coupons = CampaignGrant.objects.filter(campaign=campaign, coupon__isnull=False).values("coupon")
    unattached = _redemptions_cost(program, redemptions.exclude(coupon__in=granted_coupons), at)
    cost = money_round(grant_cost + unattached)
    points_cost = program.points_value(points)
    revenue = _revenue(program, list(first_grants), first_grants, campaign.attribution_days, at)
    rewarded = len(first_grants)
    report = {
        "members_rewarded": rewarded,
        "grants": grants.count(),
        "points": points,
        "points_cost": money_round(points_cost),
        "coupons_issued": issued,
        "coupons_redeemed": used,
        "coupon_redemption_rate": (Decimal(used) / issued * 100).quantize(Decimal("0.1")) if issued else None,
        "coupon_cost": coupon_cost,
        "cost": cost,
        "revenue": revenue,
        "roi": ((revenue - cost) / cost * 100).quantize(Decimal("0.1")) if cost else None,
        "revenue_per_member": money_round(revenue / rewarded) if rewarded else None,
        "holdout_members": None,
        "holdout_revenue_per_member": None,
        "currency": program.base_currency,
        "attribution_days": campaign.attribution_days,
    }
    if campaign.holdout_percent and first_grants:
        start = min(first_grants.values())
        span = (max(first_grants.values()) - start).days + campaign.attribution_days
        held = [m.pk for m in _targeted_members(campaign) if in_holdout(campaign, m)]
        revenue_held = _revenue(program, held, dict.fromkeys(held, start), span, at)
        report["holdout_members"] = len(held)
        report["holdout_revenue_per_member"] = money_round(revenue_held / len(held)) if held else None
    return report


def _targeted_members(campaign: Campaign):
    members = Member.objects.filter(program=campaign.program_id, status=Member.Status.ACTIVE)
    tiers = list(campaign.target_tiers.values_list("pk", flat=True))
    if tiers:
        members = members.filter(tier_id__in=tiers)
    if campaign.tier_exclusive:
        members = members.filter(tier__exclusive_campaigns=True)
    segments = list(campaign.target_segments.values_list("pk", flat=True))
    if segments:
        members = members.filter(segment_rows__segment_id__in=segments).distinct()
    return members.select_related("program", "tier", "referred_by").order_by("pk")[:SIMULATION_LIMIT]


def campaign_simulate(*, campaign: Campaign, at: datetime) -> dict:
    """Who would qualify now and what it would cost, whether or not the campaign is active.

    Per trigger, "now" means: birthday → born today; inactivity → idle at least the campaign's
    days and not yet reached in this idle stretch; schedule → the period that just ended;
    registration / referral → nobody yet (a cost per member is shown); purchase, rate rise and event
    → the members for whom every condition that does not depend on the purchase or event itself
    holds (those are checked when it happens). Targets, holdout, the per-member limit and grants
    already made this period are applied. Points of multiplier / percent rewards depend on the
    purchase and are not estimated. At most SIMULATION_LIMIT members are evaluated."""
    program = campaign.program
    fixed_points = sum(
        r.points
        for r in campaign.rewards.all()
        if r.kind == CampaignReward.Kind.POINTS and r.recipient == CampaignReward.Recipient.MEMBER
    )
    variable = any(
        r.kind in (CampaignReward.Kind.MULTIPLIER, CampaignReward.Kind.PERCENT_POINTS)
        for r in campaign.rewards.all()
    )
    coupons = sum(1 for r in campaign.rewards.all() if r.kind == CampaignReward.Kind.COUPON)
    trigger = campaign.trigger
    conditions = list(campaign.conditions.all())
    qualifying = 0
    evaluated = 0
    if trigger not in (Campaign.Trigger.REGISTRATION, Campaign.Trigger.REFERRAL):
        window = None
        key = None
        if trigger == Campaign.Trigger.SCHEDULE and campaign.schedule:
            key, window = previous_window(campaign.schedule, at, program.tz)
        today = at.astimezone(program.tz).date()
        for member in _targeted_members(campaign):
            evaluated += 1
            if in_holdout(campaign, member):
                continue
            if trigger == Campaign.Trigger.BIRTHDAY:
                birth = member.birth_date
                if birth is None or (birth.month, birth.day) != (today.month, today.day):
                    continue
            if trigger == Campaign.Trigger.INACTIVITY:
                idle_since = member.last_activity_at
                if idle_since is None or idle_since > at - timedelta(days=campaign.trigger_days or 0):
                    continue
                if CampaignGrant.objects.filter(
                    campaign=campaign, member=member, period_key=f"idle:{idle_since.isoformat()}"
                ).exists():
                    continue
            ctx = Context(member=member, at=at, window=window, period_key=key)
            if not all(
                condition_holds(c, campaign, ctx) for c in conditions if c.kind not in OCCURRENCE_CONDITIONS
            ):
                continue
            done = CampaignGrant.objects.filter(campaign=campaign, member=member)
            if campaign.max_per_member and done.count() >= campaign.max_per_member:
                continue
            if campaign.period not in (Campaign.Period.EACH,) and trigger != Campaign.Trigger.INACTIVITY:
                this_key = key or period_key(campaign.period, window[0] if window else at, program.tz)
                if done.filter(period_key=this_key).exists():
                    continue
            qualifying += 1
    points = qualifying * fixed_points
    if campaign.points_budget:
        points = min(points, max(0, campaign.points_budget - campaign.points_granted))
    return {
        "trigger": campaign.get_trigger_display(),
        "members_evaluated": evaluated,
        "qualifying_now": qualifying,
        "points_per_member": fixed_points,
        "estimated_points": points,
        "estimated_cost": program.points_value(points),
        "coupons": qualifying * coupons,
        "variable_points": variable,
        "currency": program.base_currency,
        "window": period_window(campaign.period, at, program.tz),
    }
