"""Scheduled ledger jobs. Each is a plain service taking `at`, idempotent for the same `at` (and for
any later `at` over the same period), working in chunks of members locked in primary-key order.

- expire_points (hourly): lots past their expiry leave the balance and enter the renewal window;
  ended windows close; pending lots whose return window closed become spendable.
- activate_pending (hourly): pending purchase points become spendable after the return window.
- warn_expiring (hourly): one `points.expiring` event per member and run for the lots expiring
  within the warning window (total points, earliest expiry, the lots in its data); a chunk's lots
  are marked warned with one UPDATE, so a lot is warned once per expiry date however often the
  job runs.
- decay_inactive (daily): members idle for n >= 1 whole inactivity periods lose floor(decay % of
  the balance), once per period (posting reference `decay:<member>:<idle since>:<n>`).
- rate_review_reminders (daily): `ledger.rates`, once per rate and due period.
- reconcile (nightly): checks the invariant for every member and that every posting sums to zero.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.locks import members_lock, members_lock_where
from accounts.models import Member, Program
from loyalty_site.core.db import atomic_with_retry
from loyalty_site.core.events import event_emit_many
from loyalty_site.core.i18n import member_language
from loyalty_site.core.jobs import job
from loyalty_site.core.money import points_floor

from .engine import (
    Batch,
    Plan,
    fingerprint,
    gc_paused,
    in_values,
    lots_settle,
    members_spendable_lots,
    settle_due_lots,
)
from .models import Account, EntryKind, Lot, Posting, PostingKind
from .rates import rate_review_reminders as _rate_review_reminders
from .texts import member_text

logger = logging.getLogger("loyalty.ledger")

# Members (lots for warn_expiring) per transaction. Bigger chunks mean fewer commits and fewer
# statements per member; the price is how long a chunk holds its members' locks (a purchase of a
# member in the chunk waits for it): ~1 s for 2000 settled members, ~4 s for 5000 decayed ones
# on the 1M benchmark. Decay runs daily at night and locks only idle members, so it takes more.
CHUNK = 2000
DECAY_CHUNK = 5000


def _member_ids_with_lots(lots, *, after: int, limit: int) -> list[int]:
    return list(
        lots.filter(member_id__gt=after)
        .order_by("member_id")
        .values_list("member_id", flat=True)
        .distinct()[:limit]
    )


@atomic_with_retry
def _settle_chunk(member_ids: list[int], *, at: datetime) -> int:
    batch = Batch()
    postings = 0
    members = members_lock(member_ids)
    due: dict[int, list[Lot]] = {}
    for lot in settle_due_lots(member_ids, at=at).order_by("member_id", "expires_at", "id"):
        due.setdefault(lot.member_id, []).append(lot)
    for member in members:
        postings += lots_settle(member, at=at, activity=False, batch=batch, due=due.get(member.pk, []))
    batch.flush()
    return postings


def _settle_due(lots, *, at: datetime) -> dict[str, int]:
    last, members, postings = 0, 0, 0
    while True:
        ids = _member_ids_with_lots(lots, after=last, limit=CHUNK)
        if not ids:
            break
        with gc_paused():
            postings += _settle_chunk(ids, at=at)
        members += len(ids)
        last = ids[-1]
    return {"members": members, "postings": postings}


@job(
    "expire_points",
    schedule="hourly",
    description=gettext_lazy(
        "Expire lots past their expiry (into the renewal window) and close ended renewal windows."
    ),
)
def expire_points(*, at: datetime) -> dict:
    """Expire lots past their expiry (into the renewal window) and close ended renewal windows."""
    summary = _settle_due(Lot.objects.filter(state=Lot.State.ACTIVE, expires_at__lte=at), at=at)
    # Ended windows: the points already left the balance, only the state changes. A concurrent
    # renewal holds the row and sets it active, so this UPDATE re-checks and skips it.
    closed = Lot.objects.filter(state=Lot.State.GRACE, grace_until__lte=at).update(state=Lot.State.EXPIRED)
    return {**summary, "closed": closed}


@job(
    "activate_pending",
    schedule="hourly",
    description=gettext_lazy("Pending purchase points whose return window closed become spendable."),
)
def activate_pending(*, at: datetime) -> dict:
    """Pending purchase points whose return window closed become spendable."""
    return _settle_due(Lot.objects.filter(state=Lot.State.PENDING, available_at__lte=at), at=at)


def expiring_event_data(member_id: int, lots: list[tuple[int, int, datetime]]) -> dict:
    """The data of one member's `points.expiring` event: the total, the earliest expiry and the
    lots, `lots` being (lot id, points, expires_at) first-expiring first."""
    return {
        "member_id": member_id,
        "points": sum(points for _lot, points, _expires in lots),
        "expires_at": lots[0][2].isoformat(),
        "lot_count": len(lots),
        "lots": [
            {"lot_id": lot_id, "points": points, "expires_at": expires_at.isoformat()}
            for lot_id, points, expires_at in lots
        ],
    }


@atomic_with_retry
def _warn_chunk(*, program: Program, at: datetime, after: int) -> tuple[int, int, int]:
    """Warn the next CHUNK of the program's members (id > `after`) with lots expiring within the
    warning window that are not warned yet: mark those lots warned (skipping lots a posting holds
    right now: the next run takes them) and emit ONE `points.expiring` per member, with the total,
    the earliest expiry and the lots. Returns (members warned, lots warned, last member id)."""
    window = timedelta(hours=program.expiry_warning_hours)
    due = Lot.objects.filter(
        program=program,
        state=Lot.State.ACTIVE,
        remaining__gt=0,
        warned_at__isnull=True,
        expires_at__gt=at,
        expires_at__lte=at + window,
    )
    member_ids = list(
        due.filter(member_id__gt=after)
        .order_by("member_id")
        .values_list("member_id", flat=True)
        .distinct()[:CHUNK]
    )
    if not member_ids:
        return 0, 0, after
    ids = list(
        in_values(due.select_for_update(skip_locked=True), "member", member_ids)
        .order_by("id")
        .values_list("id", flat=True)
    )
    if not ids:
        return 0, 0, member_ids[-1]
    in_values(Lot.objects.all(), "id", ids).update(warned_at=at)
    per_member: dict[int, list[tuple[int, int, datetime]]] = {}
    for lot_id, member_id, remaining, expires_at in (
        in_values(Lot.objects.all(), "id", ids)
        .order_by("member_id", "expires_at", "id")
        .values_list("id", "member_id", "remaining", "expires_at")
    ):
        per_member.setdefault(member_id, []).append((lot_id, remaining, expires_at))
    # the lots' members are the program's: one Program instance for all, not one joined per member
    members = {member.pk: member for member in in_values(Member.objects.all(), "id", per_member)}
    for member in members.values():
        member.program = program
    event_emit_many(
        program=program,
        type="points.expiring",
        at=at,
        events=[
            {
                "member": members[member_id],
                # the lots warned together: a repeated run finds them warned and sends nothing
                "key": f"points.expiring:member:{member_id}:lot:{min(lot for lot, _p, _e in lots)}"
                f":{int(lots[0][2].timestamp())}",
                "data": expiring_event_data(member_id, lots),
            }
            for member_id, lots in per_member.items()
        ],
    )
    return len(per_member), len(ids), member_ids[-1]


@job(
    "warn_expiring",
    schedule="hourly",
    description=gettext_lazy(
        "Warn members about points expiring within the program's warning window, once per lot."
    ),
)
def warn_expiring(*, at: datetime) -> dict:
    """Warn (points.expiring) about lots expiring within the program's warning window, once per lot
    and one message per member and run."""
    warned, lots = 0, 0
    for program in Program.objects.filter(is_active=True).order_by("pk"):
        after = 0
        while True:
            with gc_paused():
                members, count, last = _warn_chunk(program=program, at=at, after=after)
            warned, lots = warned + members, lots + count
            if last == after:
                break
            after = last
    return {"warned": warned, "lots": lots}


# The program's idle members with points, not yet decayed for their idle period (the others are
# skipped without being locked): the condition of `members_lock_where`, which locks the next chunk
# in id order. The program's constants are parameters, not a join per member row: the scan walks
# the members in id order and, on a base where one day's cohort goes idle, keeps about one in thirty.
DECAY_MEMBERS_WHERE = """
m.id > %(after)s AND m.balance > 0
  AND COALESCE(m.last_activity_at, m.created_at) <= %(at)s - make_interval(days => %(days)s)
  AND NOT EXISTS (
    SELECT 1 FROM ledger_posting d
    WHERE d.program_id = %(program)s
      AND d.reference = 'decay:' || m.id || ':'
          || floor(extract(epoch FROM COALESCE(m.last_activity_at, m.created_at)))::bigint || ':'
          || floor(extract(epoch FROM (%(at)s - COALESCE(m.last_activity_at, m.created_at)))
                   / (%(days)s * 86400))::bigint
  )
"""


def _decay_reference(member: Member, *, at: datetime) -> tuple[str, datetime, int]:
    idle_since = member.last_activity_at or member.created_at
    periods = (at - idle_since).days // member.program.inactivity_days
    return f"decay:{member.pk}:{int(idle_since.timestamp())}:{periods}", idle_since, periods


def _decay_members_lock(program: Program, *, after: int, at: datetime) -> list[Member]:
    """Lock and return the program's next DECAY_CHUNK idle members with points (id > `after`), in
    id order; only those not yet decayed for their idle period."""
    params = {"program": program.pk, "days": program.inactivity_days, "after": after, "at": at}
    return members_lock_where(DECAY_MEMBERS_WHERE, params, limit=DECAY_CHUNK, program=program)


@atomic_with_retry
def _decay_chunk(program: Program, *, after: int, at: datetime) -> tuple[int, int, int]:
    """Lock the next chunk of idle members (after member id `after`), bring their lots up to `at`
    (written first, so the lots read next are current), then decay each member still idle and
    not yet decayed for this period. Returns (members locked, members decayed, last member id)."""
    members = _decay_members_lock(program, after=after, at=at)
    if not members:
        return 0, 0, after
    member_ids = [member.pk for member in members]
    due: dict[int, list[Lot]] = {}
    for lot in settle_due_lots(member_ids, at=at).order_by("member_id", "expires_at", "id"):
        due.setdefault(lot.member_id, []).append(lot)
    if due:
        settled = Batch()
        for member in members:
            if member.pk in due:
                lots_settle(member, at=at, activity=False, batch=settled, due=due[member.pk])
        settled.flush()

    references = {member.pk: _decay_reference(member, at=at) for member in members}
    # decayed by a concurrent run since the lock query's snapshot (this statement sees its commit)
    done = set(
        in_values(
            Posting.objects.filter(program=program),
            "reference",
            [ref for ref, _since, _periods in references.values()],
            type="varchar",
        ).values_list("reference", flat=True)
    )
    lots = members_spendable_lots(member_ids)
    percent = str(program.decay_percent)
    descriptions: dict[str, str] = {}  # by the member's language
    batch = Batch()
    for member in members:
        reference, idle_since, periods = references[member.pk]
        if periods < 1 or reference in done:
            continue  # active again since the candidate query, or decayed by a concurrent run
        points = points_floor(Decimal(member.balance) * program.decay_percent / Decimal(100))
        if points <= 0:
            continue
        language = member_language(member)
        if language not in descriptions:
            descriptions[language] = member_text(
                member,
                lambda: (
                    _("Inactivity: %(percent)s%% of the balance")
                    % {"percent": program.decay_percent.normalize()}
                ),
            )
        description = descriptions[language]
        plan = Plan(member=member, at=at)
        plan.debit_lots(lots.get(member.pk, []), points, kind=EntryKind.DECAY, counter=Account.DECAYED)
        batch.add(
            plan,
            kind=PostingKind.DECAY,
            reference=reference,
            fingerprint=fingerprint(kind="decay", member=member.pk, idle_since=idle_since, periods=periods),
            description=description,
            data={"idle_since": idle_since.isoformat(), "period": periods, "percent": percent},
            events=("points.decayed",),
        )
    return len(members), len(batch.flush()), member_ids[-1]


@job(
    "decay_inactive",
    schedule="daily",
    description=gettext_lazy(
        "Members idle for whole inactivity periods lose the decay percent of their balance."
    ),
)
def decay_inactive(*, at: datetime) -> dict:
    """Members idle for whole inactivity periods lose the decay percent of their balance, once per
    period. Jobs are not activity, so the idle clock keeps running."""
    checked, decayed = 0, 0
    for program in Program.objects.filter(decay_percent__gt=0).order_by("pk"):
        last = 0
        while True:
            with gc_paused():
                locked, count, last = _decay_chunk(program, after=last, at=at)
            if not locked:
                break
            checked += locked
            decayed += count
    return {"candidates": checked, "decayed": decayed}


RECONCILE_SQL = """
WITH e AS (
    SELECT member_id,
           SUM(points) FILTER (WHERE account = 'member') AS spendable,
           SUM(points) FILTER (WHERE account = 'member_pending') AS pending
    FROM ledger_entry WHERE member_id >= %(lo)s AND member_id < %(hi)s GROUP BY member_id
), l AS (
    SELECT member_id,
           SUM(remaining) FILTER (WHERE state = 'active') AS spendable,
           SUM(remaining) FILTER (WHERE state = 'pending') AS pending
    FROM ledger_lot WHERE member_id >= %(lo)s AND member_id < %(hi)s GROUP BY member_id
)
SELECT m.id, m.balance, COALESCE(e.spendable, 0), COALESCE(l.spendable, 0),
       m.pending_points, COALESCE(e.pending, 0), COALESCE(l.pending, 0)
FROM accounts_member m
LEFT JOIN e ON e.member_id = m.id LEFT JOIN l ON l.member_id = m.id
WHERE m.id >= %(lo)s AND m.id < %(hi)s
  AND NOT (m.balance = COALESCE(e.spendable, 0) AND m.balance = COALESCE(l.spendable, 0)
           AND m.pending_points = COALESCE(e.pending, 0) AND m.pending_points = COALESCE(l.pending, 0))
ORDER BY m.id
"""

UNBALANCED_SQL = """
SELECT posting_id, SUM(points) FROM ledger_entry GROUP BY posting_id HAVING SUM(points) <> 0
ORDER BY posting_id LIMIT 100
"""

RANGE = 50_000


def ledger_reconcile() -> dict:
    """Every member's cached balance against their entries and their lots (spendable and pending),
    and every posting's entries against zero. Returns counts and up to 100 examples of each."""
    mismatches: list[dict] = []
    count = 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0), COUNT(*) FROM accounts_member")
        max_id, members = cursor.fetchone()
        for lo in range(0, max_id + 1, RANGE):
            cursor.execute(RECONCILE_SQL, {"lo": lo, "hi": lo + RANGE})
            for row in cursor.fetchall():
                count += 1
                if len(mismatches) < 100:
                    keys = (
                        "member_id",
                        "balance",
                        "entries",
                        "lots",
                        "pending_points",
                        "pending_entries",
                        "pending_lots",
                    )
                    mismatches.append(dict(zip(keys, row, strict=True)))
        cursor.execute(UNBALANCED_SQL)
        unbalanced = [{"posting_id": p, "sum": s} for p, s in cursor.fetchall()]
    if count or unbalanced:
        logger.error("ledger reconcile: %d member mismatches, %d unbalanced postings", count, len(unbalanced))
    return {
        "members": members,
        "mismatches": count,
        "examples": mismatches,
        "unbalanced_postings": len(unbalanced),
        "unbalanced_examples": unbalanced,
    }


@job(
    "reconcile",
    schedule="nightly",
    description=gettext_lazy(
        "Check the ledger invariant for every member; report mismatches (changes nothing)."
    ),
)
def reconcile(*, at: datetime) -> dict:
    """Check the ledger invariant for every member; report mismatches (changes nothing)."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            # One snapshot for the whole check, so concurrent postings never look like mismatches.
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        return ledger_reconcile()


@job(
    "rate_review_reminders",
    schedule="0 7 * * *",
    description=gettext_lazy("Remind merchants of currency rates due for review"),
)
def rate_review_reminders(*, at: datetime) -> dict:
    """Remind each merchant of its rates due for review (event, e-mail), once per due period."""
    return _rate_review_reminders(at=at)
