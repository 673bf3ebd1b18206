"""Reads for tiers: the qualification metric, the tier a value qualifies for, progress, spend.

Qualification (per `program.tier_metric`, over `program.tier_window_days` up to `at`, 0 = lifetime):
- `qualifying_points`: points the member earned (member-side ledger entries of kind earn, bonus and
  partner), less earned points taken back (reversal). Spending, expiry and decay do not lower them;
  manual adjustments and renewals are not earnings and do not count;
- `amount_spent`: money actually paid (amount due less its refunded share) in the base currency, whole units,
  each currency converted at the rates in force at `at` (see `ledger.services.money_to_base`);
- `purchases`: purchases and bets that are not refunded in full;
- `visits`: days (program time zone) with at least one such purchase or bet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import Greatest, TruncDate

from ledger.models import Purchase
from ledger.services import money_to_base
from loyalty_site.core.config_cache import program_config, program_of

from .models import SpendDiscount, Tier

QUALIFYING_KINDS = ("earn", "bonus", "partner", "reversal")


def tier_list(*, program) -> list[Tier]:
    """The program's tiers, lowest rank first."""
    return list(Tier.objects.filter(program=program).order_by("rank"))


def tier_for_value(*, tiers: list[Tier], value: int) -> Tier | None:
    """The highest-ranked tier whose threshold `value` reaches (the lowest tier when none does)."""
    reached = [tier for tier in tiers if value >= tier.threshold]
    if reached:
        return max(reached, key=lambda tier: tier.rank)
    return tiers[0] if tiers else None


def tier_window(*, program, at: datetime) -> tuple[datetime | None, datetime]:
    """The rolling window the tier metric counts at `at`: (since, at], the last
    `program.tier_window_days` days up to and including `at` (PRODUCT.md §2.1: "over a rolling
    window, 12 months by default"). What happens at `at` counts (the earning that triggers an
    upgrade check); what happened exactly `tier_window_days` before has left the window. `since` is
    None for a lifetime window (`tier_window_days` 0). The one home of the window's edges."""
    since = at - timedelta(days=program.tier_window_days) if program.tier_window_days else None
    return since, at


def _counted_purchases(*, program, member_ids: Iterable[int] | None, since, until):
    """Purchases in (since, until] (`tier_window`'s edges; `since` None: from the start) that are
    not refunded in full."""

    # refunds are measured against the price after discounts (ledger.services.purchase_refund)
    purchases = Purchase.objects.filter(program=program, occurred_at__lte=until).filter(
        Q(refunded_amount=0) | Q(refunded_amount__lt=F("amount") - F("discount_amount"))
    )
    if since is not None:
        purchases = purchases.filter(occurred_at__gt=since)
    if member_ids is not None:
        purchases = purchases.filter(member_id__in=list(member_ids))
    return purchases


def qualifying_values(*, program, at: datetime, member_ids: Iterable[int] | None = None) -> dict[int, int]:
    """{member id: tier metric value at `at`} for the members of `program` (or just `member_ids`),
    set-based: one or two queries whatever the number of members. Members without activity are
    missing from the result (their value is 0)."""
    metric = program.tier_metric
    if metric == program.TierMetric.QUALIFYING_POINTS:
        return qualifying_points(program=program, at=at, member_ids=member_ids)

    since, until = tier_window(program=program, at=at)
    purchases = _counted_purchases(program=program, member_ids=member_ids, since=since, until=until)
    if metric == program.TierMetric.PURCHASES:
        rows = purchases.values("member_id").annotate(total=Count("id"))
        return {row["member_id"]: int(row["total"]) for row in rows}
    if metric == program.TierMetric.VISITS:
        rows = (
            purchases.annotate(day=TruncDate("occurred_at", tzinfo=program.tz))
            .values("member_id")
            .annotate(total=Count("day", distinct=True))
        )
        return {row["member_id"]: int(row["total"]) for row in rows}
    spent = member_spend_totals(program=program, at=at, member_ids=member_ids, since=since)
    return {member_id: int(total) for member_id, total in spent.items()}


def member_spend_totals(
    *, program, at: datetime, member_ids: Iterable[int] | None = None, since: datetime | None = None
) -> dict[int, Decimal]:
    """{member id: money paid (amount due less refunds) in the base currency} up to `at`. Each
    currency's total is converted at the rates in force at `at`; a currency that cannot be
    converted (no rate) does not count."""

    purchases = _counted_purchases(program=program, member_ids=member_ids, since=since, until=at)
    # the money paid less its refunded share: amount_due x (1 - refunded / (amount - discount))
    paid = ExpressionWrapper(
        F("amount_due")
        - F("amount_due")
        * F("refunded_amount")
        / Greatest(F("amount") - F("discount_amount"), Decimal("0.01")),
        output_field=DecimalField(max_digits=20, decimal_places=6),
    )
    rows = purchases.values("member_id", "currency").annotate(total=Sum(paid))
    totals: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        converted = money_to_base(program=program, amount=row["total"], currency=row["currency"], at=at)
        if converted is not None:
            totals[row["member_id"]] += converted
    return dict(totals)


def qualifying_points(*, program, at: datetime, member_ids: Iterable[int] | None = None) -> dict[int, int]:
    """{member id: qualifying points at `at`} for the members of `program` (or just `member_ids`;
    members without any are missing): the credits of QUALIFYING_KINDS (earn, bonus, partner, pending
    ones included) to the member's accounts less their reversals, created in `tier_window` (since,
    at]. Spending, expiry and decay do not lower them; refunds do (their reversal). Never negative.
    The one home of qualifying points: the tier decisions, the progress on the card and the API,
    the jobs. One plain statement: it runs on every earning posting (the upgrade check), where
    building the grouped ORM query cost more than running it."""
    from django.db import connection

    since, until = tier_window(program=program, at=at)
    kinds = ", ".join(["%s"] * len(QUALIFYING_KINDS))
    sql = (
        "SELECT member_id, sum(points) FROM ledger_entry WHERE program_id = %s "
        f"AND account IN ('member', 'member_pending') AND kind IN ({kinds}) AND created_at <= %s"
    )
    params = [program.pk, *QUALIFYING_KINDS, until]
    if since is not None:
        sql += " AND created_at > %s"
        params.append(since)
    if member_ids is not None:
        member_ids = list(member_ids)
        if not member_ids:
            return {}
        sql += f" AND member_id IN ({', '.join(['%s'] * len(member_ids))})"
        params += member_ids
    with connection.cursor() as cursor:
        cursor.execute(sql + " GROUP BY member_id", params)
        return {member_id: max(0, int(total or 0)) for member_id, total in cursor.fetchall()}


def member_qualifying_value(*, member, at: datetime) -> int:
    return qualifying_values(program=member.program, at=at, member_ids=[member.pk]).get(member.pk, 0)


def member_override_tier_id(*, member, at: datetime) -> int | None:
    """The tier id of the manual floor (`TierOverride`) in force at `at` (the highest, if several
    overlap), or None. One plain statement: it runs in the upgrade check of every earning posting."""
    from django.db import connection

    moment = at
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT o.tier_id FROM tiers_tieroverride o JOIN tiers_tier t ON t.id = o.tier_id "
            "WHERE o.member_id = %s AND o.starts_at <= %s AND o.ends_at > %s "
            "ORDER BY t.rank DESC, o.starts_at DESC LIMIT 1",
            [member.pk, moment, moment],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def member_tier_progress(*, member, at: datetime) -> dict:
    """For the card and the API: {"qualifying_points", "next_tier", "points_to_next"}.

    `qualifying_points` is the value of the program's tier metric (points, purchases, visits or
    whole base-currency units spent); `next_tier` is the code of the tier above the member's
    current one (None at the top) and `points_to_next` what is still missing to reach it (0 when
    already reached and waiting for the upgrade)."""
    value = member_qualifying_value(member=member, at=at)
    tiers = tier_list(program=member.program)
    # the tier as stored now: the caller's instance may predate an upgrade made by a posting hook
    tier_id = type(member).objects.filter(pk=member.pk).values_list("tier_id", flat=True).first()
    ranks = {tier.pk: tier.rank for tier in tiers}
    current_rank = ranks.get(tier_id, -1)
    higher = [tier for tier in tiers if tier.rank > current_rank]
    if not higher:
        return {"qualifying_points": value, "next_tier": None, "points_to_next": 0}
    next_tier = higher[0]
    return {
        "qualifying_points": value,
        "next_tier": next_tier.code,
        "points_to_next": max(0, int(next_tier.threshold) - value),
    }


def members_tier_progress(*, members: list, at: datetime) -> dict[int, dict]:
    """`member_tier_progress` for many members of one program in a fixed number of queries
    (for lists). The members' `tier_id` is taken as loaded."""
    if not members:
        return {}
    program = members[0].program
    values = qualifying_values(program=program, at=at, member_ids=[m.pk for m in members])
    tiers = tier_list(program=program)
    ranks = {tier.pk: tier.rank for tier in tiers}
    progress = {}
    for member in members:
        value = values.get(member.pk, 0)
        current_rank = ranks.get(member.tier_id, -1)
        higher = [tier for tier in tiers if tier.rank > current_rank]
        if not higher:
            progress[member.pk] = {"qualifying_points": value, "next_tier": None, "points_to_next": 0}
            continue
        progress[member.pk] = {
            "qualifying_points": value,
            "next_tier": higher[0].code,
            "points_to_next": max(0, int(higher[0].threshold) - value),
        }
    return progress


def member_spend_discount(*, member, at: datetime) -> SpendDiscount | None:
    """The highest active spend-discount step the member's lifetime spend reached, or None."""

    program_id = member.program_id
    steps = program_config(
        program_of(member),
        "spend_discounts",
        lambda: list(
            SpendDiscount.objects.filter(program_id=program_id, is_active=True).order_by("-threshold")
        ),
    )
    if not steps:
        return None
    spent = member_spend_totals(program=member.program, at=at, member_ids=[member.pk]).get(
        member.pk, Decimal("0")
    )
    for step in steps:
        if spent >= step.threshold:
            return step
    return None


def member_privileges(*, member) -> dict:
    """The privileges the member's tier gives (the API member object, the till): flags, and the
    personal manager's name and e-mail when one is assigned (read only for such tiers)."""
    from .models import PersonalManager

    tier = member.tier if member.tier_id else None
    flags = {
        name: bool(tier is not None and getattr(tier, name))
        for name in ("priority_support", "fast_processing", "personal_manager", "event_invitations")
    }
    manager = None
    if flags["personal_manager"]:
        row = PersonalManager.objects.filter(member_id=member.pk).select_related("manager__user").first()
        if row is not None:
            user = row.manager.user
            manager = {"name": user.get_full_name() or user.get_username(), "email": user.email or None}
    return {**flags, "manager": manager}
