"""Campaign ROI and pre-activation simulation (read-only; shown in the admin and the dashboard).

ROI decisions:
- Cost = the grants' recorded cost (points × the point value at the grant; a personal coupon adds
  the money off and bonus points it gave when used) + what the campaign's open codes (batches)
  gave when used. Money off in another currency is converted by the rates' ratio
  (ledger.services.money_to_base).
- Revenue = the amount paid (amount due less refunds) of the rewarded members' purchases within
  `attribution_days` after their first grant of this campaign, in the base currency (other
  currencies converted at today's rates ratio), leaving out the purchases that triggered the
  campaign's grants: the reward can only have caused what came after it.
- Conversion = rewarded members with such a purchase / rewarded members.
- Holdout: members of the target (all active members without targets) that the campaign's holdout
  share keeps out. Their revenue over [first grant, last grant + attribution days) is scaled to one
  attribution window (× attribution days / that span's days), per member.
- Lift per member = revenue per rewarded member − revenue per holdout member; incremental revenue =
  lift × rewarded members; ROI = (incremental revenue − cost) / cost, in percent. Without a holdout,
  or with fewer than MIN_HOLDOUT held members, the lift cannot be told apart from chance: ROI is
  None and `verdict` says why (the gross revenue is still shown, never as a return).
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Min, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Member
from ledger.models import Purchase
from ledger.services import money_to_base
from loyalty_site.core.money import money_round
from loyalty_site.core.periods import period_window

from .engine import Context, GrantBook, in_holdout
from .jobs import _birthday_today, previous_window
from .kinds import reward_kinds
from .models import ActivityEvent, Campaign, CampaignGrant, CampaignReward, Coupon, CouponRedemption

SIMULATION_LIMIT = 20000


def _to_base(program, totals: dict[str, Decimal], at: datetime) -> Decimal:
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
SELECT p.member_id, p.currency, SUM(p.amount_due - p.refunded_amount), COUNT(*)
FROM ledger_purchase AS p
JOIN unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS w(member_id, since, until)
  ON p.member_id = w.member_id AND p.occurred_at >= w.since AND p.occurred_at < w.until
WHERE NOT (p.external_id = ANY(%s::varchar[]))
GROUP BY p.member_id, p.currency
"""

MIN_HOLDOUT = 30
LOOKBACK_DAYS = 30


def _revenue(
    program, member_ids, since_by_member: dict[int, datetime], days: int, at: datetime, exclude_refs=()
) -> tuple[Decimal, int]:
    """(amount paid — due less refunds — by `member_ids`, each within [since, since + days), in the
    base currency; how many of them made such a purchase), leaving out the purchases whose external
    id is in `exclude_refs`. One grouped query (each member's window a row of an unnested array),
    on the database the ORM reads from here (the replica under a report page)."""
    from django.db import connections

    member_ids = list(member_ids)
    totals: dict[str, Decimal] = {}
    buyers: set[int] = set()
    if not member_ids:
        return _to_base(program, totals, at), 0
    span = timedelta(days=days)
    refs = sorted(set(exclude_refs))
    starts = [since_by_member[member_id] for member_id in member_ids]
    with connections[Purchase.objects.db].cursor() as cursor:
        cursor.execute(REVENUE_SQL, [member_ids, starts, [start + span for start in starts], refs])
        rows = cursor.fetchall()
    for member_id, currency, total, count in rows:
        totals[currency] = totals.get(currency, Decimal("0")) + Decimal(total)
        if count:
            buyers.add(member_id)
    return _to_base(program, totals, at), len(buyers)


def _percent(part, whole) -> Decimal | None:
    return (Decimal(part) / whole * 100).quantize(Decimal("0.1")) if whole else None


def campaign_roi(
    *,
    campaign: Campaign,
    at: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict:
    """The campaign's ROI report (see the module docstring) over the grants made in [since, until)
    (default: all), valued at `at` (default `until`, else now). `roi` and the rates are percents."""
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
    triggers = set(grants.exclude(purchase_ref="").values_list("purchase_ref", flat=True))
    days = campaign.attribution_days
    revenue, converted = _revenue(program, list(first_grants), first_grants, days, at, triggers)
    rewarded = len(first_grants)
    per_member = revenue / rewarded if rewarded else None
    report = {
        "members_rewarded": rewarded,
        "grants": grants.count(),
        "points": points,
        "points_cost": money_round(points_cost),
        "coupons_issued": issued,
        "coupons_redeemed": used,
        "coupon_redemption_rate": _percent(used, issued),
        "coupon_cost": coupon_cost,
        "cost": cost,
        "revenue": revenue,
        "revenue_per_member": money_round(per_member) if per_member is not None else None,
        "converted_members": converted,
        "conversion_rate": _percent(converted, rewarded),
        "holdout_members": None,
        "holdout_revenue_per_member": None,
        "holdout_converted": None,
        "holdout_conversion_rate": None,
        "lift_per_member": None,
        "incremental_revenue": None,
        "roi": None,
        "verdict": "",
        "min_holdout": MIN_HOLDOUT,
        "currency": program.base_currency,
        "attribution_days": days,
    }
    if not rewarded:
        report["verdict"] = _("No member has been rewarded yet.")
        return report
    if not campaign.holdout_percent:
        report["verdict"] = _(
            "No holdout: set a holdout share so the lift over members who got nothing can be measured."
        )
        return report
    start = min(first_grants.values())
    span = (max(first_grants.values()) - start).days + days
    held = [m.pk for m in _targeted_members(campaign) if in_holdout(campaign, m)]
    revenue_held, held_converted = _revenue(program, held, dict.fromkeys(held, start), span, at)
    report["holdout_members"] = len(held)
    report["holdout_converted"] = held_converted
    report["holdout_conversion_rate"] = _percent(held_converted, len(held))
    if not held:
        report["verdict"] = _("Holdout too small to tell: no member held out (at least %(min)s needed).") % {
            "min": MIN_HOLDOUT
        }
        return report
    held_per_member = revenue_held / len(held) * days / span  # scaled to one attribution window
    report["holdout_revenue_per_member"] = money_round(held_per_member)
    if len(held) < MIN_HOLDOUT:
        report["verdict"] = ngettext(
            "Holdout too small to tell: %(held)s member held out, at least %(min)s needed.",
            "Holdout too small to tell: %(held)s members held out, at least %(min)s needed.",
            len(held),
        ) % {"held": len(held), "min": MIN_HOLDOUT}
        return report
    lift = money_round(report["revenue_per_member"] - report["holdout_revenue_per_member"])
    incremental = money_round(lift * rewarded)
    report["lift_per_member"] = lift
    report["incremental_revenue"] = incremental
    if cost:
        report["roi"] = ((incremental - cost) / cost * 100).quantize(Decimal("0.1"))
        report["verdict"] = ngettext(
            "Measured against %(held)s held-out member.",
            "Measured against %(held)s held-out members.",
            len(held),
        ) % {"held": len(held)}
    else:
        report["verdict"] = _("Nothing was spent: no return to compute.")
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


def _simulated(campaign: Campaign) -> Campaign:
    """A running copy of `campaign` (active, no window) with its rules prefetched, so the engine's
    `plan` evaluates it whether or not it is active yet. Never saved."""
    from django.db.models import prefetch_related_objects

    prefetch_related_objects([campaign], "conditions", "rewards", "target_tiers", "target_segments")
    copy_ = copy.copy(campaign)
    copy_.is_active, copy_.starts_at, copy_.ends_at = True, None, None
    return copy_


def _earn_points(purchase) -> int:
    """The purchase's points from the rate (× tier multiplier): a multiplier reward's base."""
    return sum(
        int(line.get("points") or 0) for line in purchase.applied or [] if line.get("source") == "earn"
    )


class SimulatedGrants(GrantBook):
    """The engine's grant book for a simulation: the database's grants plus those the simulation
    planned so far, so `plan` applies the period, per-member and budget limits to both."""

    def __init__(self) -> None:
        self.periods: set[tuple[int, str]] = set()
        self.per_member: dict[int, int] = {}
        self.points = 0
        self._granted: int | None = None

    def member_counts(self, campaign, member, period_key: str) -> tuple[int, int]:
        total, this_period = super().member_counts(campaign, member, period_key)
        planned = (member.pk, period_key) in self.periods
        return total + self.per_member.get(member.pk, 0), this_period + planned

    def points_granted(self, campaign) -> int:
        if self._granted is None:
            self._granted = super().points_granted(campaign)
        return self._granted + self.points

    def record(self, planned) -> None:
        member_id = planned.member.pk
        self.periods.add((member_id, planned.period_key))
        self.per_member[member_id] = self.per_member.get(member_id, 0) + 1
        self.points += planned.points


class Estimate:
    """Adds up the grants a simulation planned: members, points and, by each reward kind's
    `simulate` (campaigns.kinds), coupons and extensions, valued in the base currency."""

    def __init__(self, campaign: Campaign, at: datetime, since: datetime):
        self.campaign, self.at, self.program = campaign, at, campaign.program
        self.members: set[int] = set()
        self.grants = self.points = self.coupons = self.extended_points = 0
        self.coupon_cost = Decimal("0")
        self.book = SimulatedGrants()
        self.since = since
        self._average: dict[int | None, Decimal] = {}

    def average_paid(self, member_id: int | None) -> Decimal:
        """Average amount paid per purchase in the lookback (base currency): the member's, else the
        program's: what a percent coupon would likely take off."""
        from .segments import purchases_paid_in_base

        if member_id not in self._average:
            purchases = Purchase.objects.filter(
                program=self.program, occurred_at__gte=self.since, occurred_at__lt=self.at
            )
            if member_id is not None:
                purchases = purchases.filter(member_id=member_id)
            purchases = purchases_paid_in_base(purchases, base_currency=self.program.base_currency)
            totals = purchases.aggregate(total=Sum("paid_base"), n=Count("id"))
            average = totals["total"] / totals["n"] if totals["n"] and totals["total"] is not None else None
            if average is None and member_id is not None:
                average = self.average_paid(None)
            self._average[member_id] = money_round(average or Decimal("0"))
        return self._average[member_id]

    def add(self, planned) -> None:
        """Count a grant the engine's `plan` made with this estimate's `book`."""
        member_id = planned.member.pk
        self.book.record(planned)
        self.members.add(member_id)
        self.grants += 1
        self.points += planned.points
        for reward in planned.rewards:
            kind = reward_kinds.get(reward.kind)
            if kind is not None:
                kind.simulate(reward, self, member_id)


def campaign_simulate(*, campaign: Campaign, at: datetime, lookback_days: int = LOOKBACK_DAYS) -> dict:
    """Who would be rewarded and what it would cost, whether or not the campaign is active, by the
    campaign engine's own `plan` (targets, holdout, conditions, period and per-member limits, the
    remaining budget) on a running copy of the campaign.

    Per trigger: purchase and rate rise → each targeted member's purchases of the last
    `lookback_days` replayed as if the campaign had run (amount, currency, time and earned points of
    each, so amount / currency / day / hour / Nth-purchase / in-window conditions and multiplier and
    percent rewards are honoured); event → the members' events of that type in the lookback,
    replayed; birthday → born today; inactivity → idle at least the campaign's days and not yet
    reached in this idle stretch; schedule → the period that just ended; registration / referral →
    nobody yet (the cost per new member is shown).

    Cost: points × point value; a coupon by its kind (fixed: its amount; points: their value;
    percent: of the member's average purchase in the lookback, else the program's); an extension:
    the value of the member's points it would save from expiring. At most SIMULATION_LIMIT members."""
    from .engine import plan

    program = campaign.program
    sim = _simulated(campaign)
    rewards = [r for r in sim.rewards.all() if r.recipient == CampaignReward.Recipient.MEMBER]
    kinds = [(reward, reward_kinds.get(reward.kind)) for reward in rewards]
    fixed_points = sum(kind.fixed_points(reward) for reward, kind in kinds if kind is not None)
    trigger = campaign.trigger
    since = at - timedelta(days=lookback_days)
    estimate = Estimate(campaign, at, since)
    evaluated = 0
    replayed = 0
    if trigger not in (Campaign.Trigger.REGISTRATION, Campaign.Trigger.REFERRAL):
        window = key = None
        if trigger == Campaign.Trigger.SCHEDULE and campaign.schedule:
            key, window = previous_window(campaign.schedule, at, program.tz)
        today = at.astimezone(program.tz).date()
        for member in _targeted_members(campaign):
            evaluated += 1
            contexts = []
            if trigger in (Campaign.Trigger.PURCHASE, Campaign.Trigger.RATE_RISE):
                purchases = Purchase.objects.filter(
                    member=member, occurred_at__gte=since, occurred_at__lt=at
                ).order_by("occurred_at", "pk")
                for purchase in purchases:
                    contexts.append(
                        Context(
                            member=member,
                            at=purchase.occurred_at,
                            amount=purchase.amount_due,
                            currency=purchase.currency,
                            base_points=_earn_points(purchase),
                            purchase=purchase,
                            occurrence=f"simulation:{purchase.pk}",
                            is_purchase=True,
                            replay=True,
                        )
                    )
            elif trigger == Campaign.Trigger.EVENT:
                events = ActivityEvent.objects.filter(
                    member=member, type=campaign.event_type, occurred_at__gte=since, occurred_at__lt=at
                ).order_by("occurred_at", "pk")
                for event in events:
                    contexts.append(
                        Context(
                            member=member,
                            at=event.occurred_at,
                            event=event,
                            occurrence=f"simulation:{event.pk}",
                            replay=True,
                        )
                    )
            elif trigger == Campaign.Trigger.BIRTHDAY:
                birth = member.birth_date
                if birth is not None and _birthday_today(birth, today):
                    contexts.append(Context(member=member, at=at, period_key=str(today.year)))
            elif trigger == Campaign.Trigger.INACTIVITY:
                idle_since = member.last_activity_at
                if idle_since is not None and idle_since <= at - timedelta(days=campaign.trigger_days or 0):
                    contexts.append(
                        Context(member=member, at=at, period_key=f"idle:{idle_since.isoformat()}")
                    )
            else:
                contexts.append(Context(member=member, at=at, window=window, period_key=key))
            for ctx in contexts:
                replayed += ctx.replay
                planned = plan(sim, ctx, grants=estimate.book)
                if planned is not None:
                    estimate.add(planned)
    cost_per_new = sum(
        (kind.new_member_cost(reward, estimate) for reward, kind in kinds if kind is not None), Decimal("0")
    )
    points_cost = program.points_value(estimate.points)
    extend_cost = program.points_value(estimate.extended_points)
    return {
        "trigger": campaign.get_trigger_display(),
        "lookback_days": lookback_days,
        "members_evaluated": evaluated,
        "occurrences_replayed": replayed,
        "qualifying_now": len(estimate.members),
        "grants": estimate.grants,
        "points_per_member": fixed_points,
        "estimated_points": estimate.points,
        "points_cost": points_cost,
        "coupons": estimate.coupons,
        "coupon_cost": money_round(estimate.coupon_cost),
        "extended_points": estimate.extended_points,
        "extend_cost": extend_cost,
        "estimated_cost": money_round(points_cost + estimate.coupon_cost + extend_cost),
        "cost_per_new_member": program.points_value(fixed_points) + cost_per_new,
        "currency": program.base_currency,
        "window": period_window(campaign.period, at, program.tz),
    }
