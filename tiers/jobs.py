"""Tier jobs: daily re-evaluation (downgrades after grace, floors ending) and periodic tier gifts."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils.translation import gettext_lazy

from accounts.locks import members_lock_values
from accounts.models import Member, Program
from loyalty_site.core.events import events_batched
from loyalty_site.core.jobs import job

from . import services
from .models import MemberTierState, Tier, TierChange
from .selectors import QUALIFYING_KINDS, qualifying_values, tier_for_value, tier_list, tier_window
from .services import change_emit

CHUNK = 2000

# The members of a program that re-evaluation may have to touch: whose tier is not the one their
# metric (or a manual floor in force) gives, or who are in a downgrade grace period. Everyone else
# (nearly the whole program on a normal day) is left alone by one set-based pass. `values` is a
# SELECT of (member_id, value); a member missing from it has 0.
CANDIDATES_SQL = """
WITH v AS ({values}), f AS (
    SELECT o.member_id, max(t.rank) AS rank FROM tiers_tieroverride o JOIN tiers_tier t ON t.id = o.tier_id
    WHERE o.program_id = %(program)s AND t.program_id = %(program)s
      AND o.starts_at <= %(at)s AND o.ends_at > %(at)s
    GROUP BY o.member_id
)
SELECT m.id FROM accounts_member m
LEFT JOIN tiers_tier cur ON cur.id = m.tier_id AND cur.program_id = m.program_id
LEFT JOIN v ON v.member_id = m.id
LEFT JOIN f ON f.member_id = m.id
LEFT JOIN tiers_membertierstate s ON s.member_id = m.id
WHERE m.program_id = %(program)s AND (
    cur.rank IS NULL OR s.below_since IS NOT NULL OR cur.rank <> GREATEST(
        COALESCE((SELECT max(t.rank) FROM tiers_tier t WHERE t.program_id = %(program)s
                  AND t.threshold <= COALESCE(v.value, 0)), %(lowest)s),
        COALESCE(f.rank, %(lowest)s)))
ORDER BY m.id
"""

# The qualifying points of every member (`tiers.selectors.qualifying_points` for the whole program,
# at the edges of `tiers.selectors.tier_window`)
POINTS_SQL = """
SELECT member_id, GREATEST(sum(points), 0) AS value FROM ledger_entry
WHERE program_id = %(program)s AND account IN ('member', 'member_pending') AND kind = ANY(%(kinds)s)
  AND created_at <= %(at)s AND (%(since)s::timestamptz IS NULL OR created_at > %(since)s::timestamptz)
GROUP BY member_id
"""


def _candidates(*, program: Program, tiers: list[Tier], at: datetime) -> list[int]:
    params = {
        "program": program.pk,
        "at": at,
        "lowest": tiers[0].rank,
        "kinds": list(QUALIFYING_KINDS),
        "since": tier_window(program=program, at=at)[0],
    }
    if program.tier_metric == program.TierMetric.QUALIFYING_POINTS:
        values = POINTS_SQL
    else:  # purchases, visits, spend: the selectors' set-based values, sent as two arrays
        computed = qualifying_values(program=program, at=at)
        params["ids"], params["values"] = list(computed), list(computed.values())
        values = "SELECT unnest(%(ids)s::bigint[]) AS member_id, unnest(%(values)s::bigint[]) AS value"
    with connection.cursor() as cursor:
        cursor.execute(CANDIDATES_SQL.format(values=values), params)
        return [row[0] for row in cursor.fetchall()]


def _floors(*, member_ids: list[int], at: datetime) -> dict[int, int]:
    """{member id: tier id of the highest manual floor in force at `at`} (`member_override_tier_id`
    for many members)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT ON (o.member_id) o.member_id, o.tier_id FROM tiers_tieroverride o "
            "JOIN tiers_tier t ON t.id = o.tier_id WHERE o.member_id = ANY(%s) AND o.starts_at <= %s "
            "AND o.ends_at > %s ORDER BY o.member_id, t.rank DESC, o.starts_at DESC",
            [member_ids, at, at],
        )
        return dict(cursor.fetchall())


def members_tier_evaluate(
    *,
    program: Program,
    tiers: list[Tier],
    member_ids: list[int],
    at: datetime,
    allow_downgrade: bool = True,
    reason: str = TierChange.Reason.REEVALUATION,
) -> dict:
    """`member_tier_evaluate(allow_downgrade=..., reason=...)` for many members of `program`, in
    one transaction: their rows locked (id order), their metric, floors and grace state read under
    the lock with one query each, the decisions made by the same rules, and the writes (tier
    changes, members' tiers, grace state, `tier.changed` events) done with one statement each.
    Without `allow_downgrade` (a job's chunk of credits: `points_posted`) only upgrades happen, and
    a member with no tier yet whose value is 0 gets it for enrolment, as one by one."""
    by_id = {tier.pk: tier for tier in tiers}
    by_rank = sorted(tiers, key=lambda tier: tier.rank)
    grace = timedelta(days=program.tier_downgrade_grace_days)
    upgraded = downgraded = 0
    with transaction.atomic(), events_batched():
        locked = dict(members_lock_values(member_ids, "tier_id"))
        ids = list(locked)
        values = qualifying_values(program=program, at=at, member_ids=ids)
        floors = _floors(member_ids=ids, at=at)
        states = dict(
            MemberTierState.objects.filter(member_id__in=ids).values_list("member_id", "below_since")
        )
        changes: list[tuple[int, int | None, Tier, int]] = []
        grace_start: list[int] = []
        cleared: list[int] = []
        foreign = {tier_id for tier_id in locked.values() if tier_id is not None and tier_id not in by_id}
        foreign_tiers = {tier.pk: tier for tier in Tier.objects.filter(pk__in=foreign)}
        for member_id, tier_id in locked.items():
            value = values.get(member_id, 0)
            target = tier_for_value(tiers=by_rank, value=value)
            floor = by_id.get(floors.get(member_id))
            if floor is not None and floor.rank > target.rank:
                target = floor
            current = by_id.get(tier_id)  # None: no tier, or one of another program
            if current is None or target.rank > current.rank:
                changes.append((member_id, tier_id, target, value))
            elif not allow_downgrade:
                continue
            elif target.rank == current.rank:
                if states.get(member_id) is not None:
                    cleared.append(member_id)
            elif not grace:
                changes.append((member_id, tier_id, target, value))
            else:
                below_since = states.get(member_id)
                if below_since is None or below_since > at:
                    grace_start.append(member_id)
                elif at - below_since >= grace:
                    changes.append((member_id, tier_id, target, value))
        if changes:
            rows = TierChange.objects.bulk_create(
                [
                    TierChange(
                        program_id=program.pk,
                        member_id=member_id,
                        from_tier_id=from_id,
                        to_tier=target,
                        reason=TierChange.Reason.ENROLMENT
                        if from_id not in by_id and value == 0 and reason == TierChange.Reason.EARNING
                        else reason,
                        note="",
                        qualifying_value=value,
                        at=at,
                    )
                    for member_id, from_id, target, value in changes
                ]
            )
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE accounts_member m SET tier_id = c.tier_id FROM "
                    "unnest(%s::bigint[], %s::bigint[]) AS c(member_id, tier_id) WHERE m.id = c.member_id",
                    [[c[0] for c in changes], [c[2].pk for c in changes]],
                )
            members = {m.pk: m for m in Member.objects.filter(pk__in=[c[0] for c in changes])}
            for row, (member_id, from_id, target, _value) in zip(rows, changes, strict=True):
                from_tier = by_id.get(from_id) or foreign_tiers.get(from_id)
                member = members[member_id]
                member.program = program
                change_emit(change=row, member=member, from_tier=from_tier, to_tier=target, at=at)
                if from_tier is None or target.rank > from_tier.rank:
                    upgraded += 1
                else:
                    downgraded += 1
        changed = [c[0] for c in changes]
        if changed or cleared:
            MemberTierState.objects.filter(member_id__in=changed + cleared).update(
                below_since=None, evaluated_at=at
            )
        if grace_start:
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO tiers_membertierstate (member_id, below_since, evaluated_at) "
                    "SELECT unnest(%s::bigint[]), %s, %s ON CONFLICT (member_id) DO UPDATE "
                    "SET below_since = EXCLUDED.below_since, evaluated_at = EXCLUDED.evaluated_at",
                    [grace_start, at, at],
                )
    return {"evaluated": len(ids), "upgraded": upgraded, "downgraded": downgraded}


def program_tiers_reevaluate(*, program: Program, at: datetime) -> dict[str, int]:
    """Re-evaluate every member of `program` at `at`, set-based: one query finds the members whose
    tier is not the one their metric and manual floor give, or who are in a grace period; those are
    re-evaluated by chunks of CHUNK (`members_tier_evaluate`), each one transaction. The rules are
    `member_tier_evaluate`'s with `allow_downgrade` (upgrades at once, downgrades after the
    program's grace days, a manual floor in force is never gone below)."""
    tiers = tier_list(program=program)
    summary = {"evaluated": 0, "upgraded": 0, "downgraded": 0}
    if not tiers:
        return summary
    candidates = _candidates(program=program, tiers=tiers, at=at)
    for start in range(0, len(candidates), CHUNK):
        result = members_tier_evaluate(
            program=program, tiers=tiers, member_ids=candidates[start : start + CHUNK], at=at
        )
        for name, count in result.items():
            summary[name] += count
    return summary


@job(
    "reevaluate_tiers",
    schedule="daily",
    description=gettext_lazy(
        "Re-evaluate members' tiers: downgrades after the grace days, manual floors that ended."
    ),
)
def reevaluate_tiers(*, at: datetime) -> dict[str, int]:
    """Re-evaluate members' tiers: downgrades after the grace days, manual floors that ended."""
    summary = {"programs": 0, "evaluated": 0, "upgraded": 0, "downgraded": 0}
    program_ids = Tier.objects.values_list("program_id", flat=True).distinct()
    for program in Program.objects.filter(pk__in=program_ids, is_active=True).order_by("pk"):
        result = program_tiers_reevaluate(program=program, at=at)
        summary["programs"] += 1
        for name, count in result.items():
            summary[name] += count
    return summary


@job(
    "tier_gifts",
    schedule="daily",
    description=gettext_lazy(
        "Periodic tier gifts (daily / weekly / monthly) for the last completed period, once each."
    ),
)
def tier_gifts(*, at: datetime) -> dict[str, int]:
    """Periodic tier gifts (daily / weekly / monthly) for the last completed period, once each."""
    summary = {"programs": 0, "given": 0, "skipped": 0}
    program_ids = (
        Tier.objects.filter(gift_points__gt=0).exclude(gift_period="").values_list("program_id", flat=True)
    )
    for program in Program.objects.filter(pk__in=program_ids, is_active=True).order_by("pk"):
        result = services.program_tier_gifts(program=program, at=at)
        summary["programs"] += 1
        summary["given"] += result["given"]
        summary["skipped"] += result["skipped"]
    return summary
