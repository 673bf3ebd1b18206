"""`points_bonus` for a job's chunk of members: the same rows, written set-based.

A job that gives thousands of members a bonus (tier gifts, birthday points, campaign grants) locks a
chunk of them (primary-key order, `accounts.locks.members_lock`), then calls `bonuses_post` once inside the
chunk's transaction. For each bonus it does what `ledger.services.points_bonus` does for one member,
in this order and by the same rules:

1. a reference already posted is a replay: the same request (fingerprint) gives the existing
   posting back and writes nothing, a different one is refused (IdempotencyConflict);
2. `posting_check` (the fraud limits) may refuse it (LimitExceeded);
3. the member's lots are brought up to `at` (`lots_settle`, not activity: expiries, activations);
4. the bonus is credited as a new lot, spendable at once, with its `points.earned` event; the
   `points_posted` hook upgrades the tiers (set-based: `tiers.hook_handlers.on_points_posted_many`).

The writes go through `engine.Batch` (one statement per table for the whole chunk: postings,
entries, lots, members' balances, events). `bonuses_refused` runs steps 1-2 alone, before anything
is written, so that a caller can drop a refused member's other rows (a gift, a grant) as the
per-member path's rollback does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils.translation import gettext as _

from accounts.models import Member
from loyalty_site.core.errors import IdempotencyConflict, LoyaltyError
from loyalty_site.core.hooks import run_hooks

from .engine import Batch, Plan, fingerprint, in_values, lots_settle, settle_due_lots
from .models import Account, Lot, Posting, lot_expires_at


@dataclass
class Bonus:
    """One bonus to post: `member` is locked by the caller (its `program` set)."""

    member: Member
    points: int
    reference: str
    description: str
    campaign_id: int | None = None
    kind: str = "bonus"
    # set by `bonuses_refused` / `bonuses_post`: the posting (new or the replayed one), or the error
    posting: Posting | None = None
    error: LoyaltyError | None = None
    replay: bool = field(default=False)

    @property
    def fingerprint(self) -> str:
        return fingerprint(
            kind=self.kind, member=self.member.pk, points=self.points, campaign=self.campaign_id
        )


def bonuses_refused(bonuses: list[Bonus], *, at: datetime) -> list[Bonus]:
    """Steps 1-2 for every bonus (reads only: one query for the replays, the `posting_check` hook
    per bonus, which reads nothing unless a fraud rule counts bonuses). Marks replays (`replay`,
    `posting`) and refusals (`error`); returns the refused ones."""
    by_reference: dict[tuple[int, str], Bonus] = {}
    for bonus in bonuses:
        if bonus.points <= 0:
            raise ValueError(f"A bonus needs positive points ({bonus.reference}).")
        by_reference[(bonus.member.program_id, bonus.reference)] = bonus
    programs: dict[int, list[str]] = {}
    for program_id, reference in by_reference:
        programs.setdefault(program_id, []).append(reference)
    for program_id, references in programs.items():
        existing = in_values(
            Posting.objects.filter(program_id=program_id), "reference", references, type="varchar"
        ).only("id", "program_id", "reference", "fingerprint")
        for posting in existing:
            bonus = by_reference.get((posting.program_id, posting.reference))
            if bonus is None:
                continue
            if posting.fingerprint != bonus.fingerprint:
                bonus.error = IdempotencyConflict(
                    _("This request's reference was already used for a different posting.")
                )
            else:
                bonus.replay, bonus.posting = True, posting
    refused = []
    for bonus in bonuses:
        if bonus.replay or bonus.error is not None:
            if bonus.error is not None:
                refused.append(bonus)
            continue
        try:
            run_hooks(
                "posting_check", member=bonus.member, kind=bonus.kind, points=bonus.points, amount=None, at=at
            )
        except LoyaltyError as error:
            bonus.error = error
            refused.append(bonus)
    return refused


def bonuses_post(bonuses: list[Bonus], *, at: datetime, checked: bool = False) -> list[Bonus]:
    """Post `bonuses` (members locked by the caller, in the order given; a member may have several)
    as `points_bonus` would one by one, in the caller's transaction. `checked`: the caller ran
    `bonuses_refused` already. Returns the bonuses posted now (replays and refusals are marked on
    their `Bonus` and skipped)."""
    if not checked:
        bonuses_refused(bonuses, at=at)
    todo = [bonus for bonus in bonuses if not bonus.replay and bonus.error is None]
    if not todo:
        return []
    members: dict[int, Member] = {}
    for bonus in todo:
        members.setdefault(bonus.member.pk, bonus.member)
    batch = Batch()
    due: dict[int, list[Lot]] = {}
    for lot in settle_due_lots(list(members), at=at).order_by("member_id", "expires_at", "id"):
        due.setdefault(lot.member_id, []).append(lot)
    settled: set[int] = set()
    for bonus in todo:
        member = bonus.member
        if member.pk not in settled:
            settled.add(member.pk)
            if member.pk in due:
                lots_settle(member, at=at, activity=False, batch=batch, due=due[member.pk])
        plan = Plan(member=member, at=at)
        plan.credit(
            bonus.points,
            kind=bonus.kind,
            counter=[(Account.ISSUED, bonus.points)],
            expires_at=lot_expires_at(program=member.program, at=at),
        )
        batch.add(
            plan,
            kind=bonus.kind,
            reference=bonus.reference,
            fingerprint=bonus.fingerprint,
            campaign_id=bonus.campaign_id,
            description=bonus.description,
            events=("points.earned",),
        )
        bonus.posting = batch.items[-1][1]
    batch.flush()
    return todo
