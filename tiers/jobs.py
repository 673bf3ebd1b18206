"""Tier jobs: daily re-evaluation (downgrades after grace, floors ending) and periodic tier gifts."""

from __future__ import annotations

from datetime import datetime

from accounts.models import Member, Program
from loyalty_site.core.jobs import job

from . import services
from .models import MemberTierState, Tier, TierChange
from .selectors import qualifying_values, tier_for_value, tier_list


def program_tiers_reevaluate(*, program: Program, at: datetime) -> dict[str, int]:
    """Re-evaluate every member of `program` at `at`. The metric is computed set-based for the
    whole program; only members whose qualifying tier differs from their current one (or who are
    in a downgrade grace period) are evaluated one by one, each in its own transaction."""
    tiers = tier_list(program=program)
    if not tiers:
        return {"evaluated": 0, "upgraded": 0, "downgraded": 0}
    ranks = {tier.pk: tier.rank for tier in tiers}
    values = qualifying_values(program=program, at=at)
    in_grace = set(
        MemberTierState.objects.filter(member__program=program, below_since__isnull=False).values_list(
            "member_id", flat=True
        )
    )
    evaluated = upgraded = downgraded = 0
    members = Member.objects.filter(program=program).values_list("pk", "tier_id").order_by("pk")
    for member_id, tier_id in members.iterator(chunk_size=2000):
        value = values.get(member_id, 0)
        target = tier_for_value(tiers=tiers, value=value)
        if tier_id in ranks and ranks[tier_id] == target.rank and member_id not in in_grace:
            continue
        evaluated += 1
        member = Member.objects.select_related("program", "tier").get(pk=member_id)
        change = services.member_tier_evaluate(
            member=member, at=at, reason=TierChange.Reason.REEVALUATION, allow_downgrade=True, value=value
        )
        if change is None:
            continue
        if change.from_tier is None or change.to_tier.rank > change.from_tier.rank:
            upgraded += 1
        else:
            downgraded += 1
    return {"evaluated": evaluated, "upgraded": upgraded, "downgraded": downgraded}


@job("reevaluate_tiers", schedule="daily")
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


@job("tier_gifts", schedule="daily")
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
