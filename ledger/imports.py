"""Opening balances of imported members, posted set-based (one batch of members per call).

Each member gets exactly the posting `points_adjust` would write for a positive manual adjustment
(kind `adjust`, the same fingerprint, so a later `points_adjust` with the same reference replays it):
a `member` entry credit, an `adjustment` system entry debit (the two sum to zero), one active lot
(expiring at the file's date when given, else after the program's lifetime) and the cached balance
moved by the same amount. The ledger invariant (balance == member entries == remaining of active
lots) and double entry hold exactly as for any other posting.

Decisions (an import is a migration, not activity):
- The reference is `<reference_prefix>:<member id>` (`import-opening:<id>` for the import), unique
  per program: a member whose reference exists is skipped and the existing points are returned, so
  a re-run or a concurrent import posts nothing twice.
- The members are locked in primary-key order first (as the ledger jobs do), so a concurrent
  purchase or adjustment of an existing member serialises with the import.
- The `posting_check` (fraud limits) and `points_posted` hooks do not run and no `points.*` events
  are emitted: opening balances carried over from another program are neither fraud signals, nor
  tier-qualifying points (`adjust` never qualifies), nor news to the member. Lazy lot settling of
  existing members is left to the hourly jobs (it does not affect the invariant).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.locks import members_lock_values
from accounts.models import Member
from loyalty_site.core.bulk import rows_insert
from loyalty_site.core.errors import InvalidInput

from .engine import fingerprint, recorded_moment
from .models import Account, Entry, EntryKind, Lot, Posting, PostingKind, lot_expires_at

OPENING_REASON = gettext_lazy("Opening balance imported")


@dataclass
class OpeningResult:
    posted: dict[int, int] = field(default_factory=dict)  # member id -> points of the new posting
    postings: dict[int, int] = field(default_factory=dict)  # member id -> id of the new posting
    existing: dict[int, int] = field(default_factory=dict)  # member id -> points of the earlier posting


def opening_reference(member_id: int, prefix: str = "import-opening") -> str:
    return f"{prefix}:{member_id}"


def opening_balances_post(
    *,
    members_points: list[tuple[Member, int, datetime | None]],
    at: datetime,
    reference_prefix: str = "import-opening",
    reason: str = OPENING_REASON,
    user=None,
    included: frozenset[int] | set[int] = frozenset(),
) -> OpeningResult:
    """Post an opening balance for each (member, points, expires_at or None) in one transaction
    (joining the caller's): one posting, two entries and one lot per member, written with one
    statement per table (`loyalty_site.core.bulk.rows_insert`). Members of one program only, each once,
    points > 0. Returns the new postings' points and ids and, for members whose reference already
    exists, the points posted earlier (nothing is written for them). `included`: ids of members the
    caller created in this transaction with these points already as their cached balance (the
    import: no second write of each new member row).
    Raises InvalidInput (bad points, mixed programs, repeated member, expiry not after `at`)."""
    result = OpeningResult()
    if not members_points:
        return result
    programs = {member.program_id for member, _points, _expires in members_points}
    if len(programs) != 1:
        raise InvalidInput(_("Opening balances are posted for one program at a time."))
    wanted: dict[int, tuple[int, datetime | None]] = {}
    for member, points, expires_at in members_points:
        if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            raise InvalidInput(
                _("Opening balance of member %(id)s must be a positive whole number.") % {"id": member.pk}
            )
        if expires_at is not None and expires_at <= at:
            raise InvalidInput(
                _("Opening balance of member %(id)s would expire before %(at)s.")
                % {"id": member.pk, "at": at}
            )
        if member.pk in wanted:
            raise InvalidInput(_("Member %(id)s appears twice in one batch.") % {"id": member.pk})
        wanted[member.pk] = (points, expires_at)
    (program_id,) = programs
    program = members_points[0][0].program
    lifetime = lot_expires_at(program=program, at=at)
    references = {pk: opening_reference(pk, reference_prefix) for pk in wanted}
    with transaction.atomic():
        # the ledger's lock order: member rows in primary-key order
        balances = dict(members_lock_values(wanted, "balance"))
        by_reference = {ref: pk for pk, ref in references.items()}
        for reference, points in Posting.objects.filter(
            program_id=program_id, reference__in=list(references.values())
        ).values_list("reference", "points"):
            result.existing[by_reference[reference]] = points
        todo = [pk for pk in sorted(wanted) if pk not in result.existing and pk in balances]
        if not todo:
            return result
        points_of = [wanted[pk][0] for pk in todo]
        after = [
            balances[pk] + (0 if pk in included else points)
            for pk, points in zip(todo, points_of, strict=True)
        ]
        returned = rows_insert(
            Posting,
            {
                "member_id": todo,
                "reference": [references[pk] for pk in todo],
                "fingerprint": [
                    fingerprint(kind="adjust", member=pk, points=points)
                    for pk, points in zip(todo, points_of, strict=True)
                ],
                "points": points_of,
                "balance_after": after,
            },
            constants={
                "program_id": program_id,
                "kind": PostingKind.ADJUST,
                "pending_points": 0,
                "purchase_id": None,
                "campaign_id": None,
                "amount": None,
                "fee": None,
                "description": reason.strip()[:255],
                "user_id": getattr(user, "pk", None),
                "data": {"reason": reason.strip(), "user": getattr(user, "pk", None)},
                "created_at": at,
                "recorded_at": recorded_moment(at),
            },
            returning=("id", "member_id"),
        )
        posting_of = {member_id: posting_id for posting_id, member_id in returned}
        posting_ids = [posting_of[pk] for pk in todo]
        # entries: the member credit (with the balance after it) and the adjustment account debit
        rows_insert(
            Entry,
            {
                "posting_id": posting_ids + posting_ids,
                "member_id": todo + [None] * len(todo),
                "account": [Account.MEMBER] * len(todo) + [Account.ADJUSTMENT] * len(todo),
                "points": points_of + [-points for points in points_of],
                "balance_after": after + [None] * len(todo),
            },
            constants={"program_id": program_id, "kind": EntryKind.ADJUST, "created_at": at},
        )
        rows_insert(
            Lot,
            {
                "member_id": todo,
                "posting_id": posting_ids,
                "points": points_of,
                "remaining": points_of,
                "expires_at": [wanted[pk][1] or lifetime for pk in todo],
            },
            constants={
                "program_id": program_id,
                "source": EntryKind.ADJUST,
                "state": Lot.State.ACTIVE,
                "earned_at": at,
                "available_at": at,
                "grace_until": None,
                "warned_at": None,
            },
        )
        moved = [(pk, balance) for pk, balance in zip(todo, after, strict=True) if pk not in included]
        if moved:
            _balances_update([pk for pk, _b in moved], [balance for _pk, balance in moved])
        for pk, points, posting_id in zip(todo, points_of, posting_ids, strict=True):
            result.posted[pk] = points
            result.postings[pk] = posting_id
    balance_after = dict(zip(todo, after, strict=True))
    for member, _points, _expires in members_points:
        if member.pk in balance_after:
            member.balance = balance_after[member.pk]
    return result


def _balances_update(member_ids: list[int], balances: list[int]) -> None:
    """Set the members' cached balances (the members are locked by the caller), one statement."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_member AS m SET balance = v.balance "
            "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, balance) WHERE m.id = v.id",
            [member_ids, balances],
        )
