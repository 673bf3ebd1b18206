"""Hook functions of the tiers app (registered in TiersConfig.ready)."""

from __future__ import annotations

from datetime import datetime

from .models import TierChange
from .services import member_tier_evaluate, member_tier_evaluate_locked


def on_member_created(*, member, at: datetime, **_: object) -> None:
    """The entry tier on enrolment (the lowest tier, or higher if a floor says so)."""
    member_tier_evaluate(member=member, at=at, reason=TierChange.Reason.ENROLMENT)


def on_points_posted(*, member, posting, at: datetime, **_: object) -> None:
    """Upgrade at once when points are credited. The ledger runs `points_posted` inside the
    posting's transaction with `member` locked, so the `*_locked` evaluation runs (no second lock,
    no savepoint). A refund that takes back earned points downgrades at once (no grace) when it is
    what put the member below their tier; other debits cannot lower qualifying points, and points
    leaving the rolling window are re-evaluated by the scheduled job (with its grace)."""
    if getattr(posting, "kind", "") == "refund":
        reversed_points = int((getattr(posting, "data", None) or {}).get("points_reversed") or 0)
        if reversed_points > 0:
            _refund_downgrade(member=member, reversed_points=reversed_points, at=at)
        return
    if getattr(posting, "points", 0) <= 0 and getattr(posting, "pending_points", 0) <= 0:
        return
    member_tier_evaluate_locked(member=member, at=at, reason=TierChange.Reason.EARNING)


def on_points_posted_many(calls: list[dict]) -> None:
    """`on_points_posted` for a job's batch of postings (`run_hooks_many`): the members credited are
    evaluated together, per program and moment, by `tiers.jobs.members_tier_evaluate` (upgrades
    only, the same rules); a refund goes one by one."""
    from .jobs import members_tier_evaluate
    from .services import program_tiers

    credited: dict[tuple, tuple[object, dict[int, None]]] = {}
    for call in calls:
        member, posting = call["member"], call["posting"]
        if getattr(posting, "kind", "") == "refund":
            on_points_posted(**call)
        elif getattr(posting, "points", 0) > 0 or getattr(posting, "pending_points", 0) > 0:
            program, members = credited.setdefault((member.program_id, call["at"]), (member.program, {}))
            members[member.pk] = None
    for (_program_id, at), (program, members) in credited.items():
        tiers = program_tiers(program=program)
        if tiers:
            members_tier_evaluate(
                program=program,
                tiers=tiers,
                member_ids=sorted(members),
                at=at,
                allow_downgrade=False,
                reason=TierChange.Reason.EARNING,
            )


on_points_posted.many = on_points_posted_many  # type: ignore[attr-defined]


def _refund_downgrade(*, member, reversed_points: int, at: datetime) -> None:
    from .selectors import member_qualifying_value
    from .services import member_tier_of

    tier = member_tier_of(member=member)
    if tier is None:
        return
    value = member_qualifying_value(member=member, at=at)
    if value >= tier.threshold:
        return
    if member.program.tier_metric == "qualifying_points" and value + reversed_points < tier.threshold:
        return  # below already before the refund (points aged out): the scheduled job decides
    member_tier_evaluate_locked(
        member=member,
        at=at,
        reason=TierChange.Reason.REFUND,
        allow_downgrade=True,
        immediate=True,
        value=value,
    )
