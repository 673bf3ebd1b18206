"""The posting engine: the one place that writes entries, lots, allocations and the cached balances.

Every public service in `ledger.services` follows the same steps, inside one transaction:

1. the member's row lock (`accounts.locks`: the lock that guards the member's balance, lots,
   allocations and purchases; jobs lock several members in primary-key order), taken by the
   public service or by its caller for a `*_locked` service;
2. `posting_existing` (a repeated reference returns the original posting, or raises
   IdempotencyConflict when the request differs);
3. `lots_settle` (lazy lifecycle: pending lots whose return window closed become spendable, lots past
   their expiry move to the renewal window, renewal windows that ended close, and, when the posting
   is member activity, lots inside their renewal window are renewed);
4. a `Plan`: credits and debits computed in memory (first-expiring lot first), then `Plan.commit`
   writes the posting, its entries (summing to zero), the lots, the allocations and the member's
   cached balance, and runs the `points_posted` hook.
"""

from __future__ import annotations

import functools
import gc
import hashlib
import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.models import Member
from loyalty_site.core.bulk import instances_insert, pg_cursor, rows_insert, rows_insert_sql
from loyalty_site.core.db import pg_array, row_insert, row_insert_sql, row_inserted, select_columns
from loyalty_site.core.errors import IdempotencyConflict, InsufficientPoints
from loyalty_site.core.events import event_emit, event_emit_many
from loyalty_site.core.hooks import run_hooks, run_hooks_many

from .models import Account, Allocation, Entry, EntryKind, Lot, Posting, PostingKind, lot_expires_at
from .texts import member_text

_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


def fingerprint(**data: Any) -> str:
    """A stable hash of a posting request, to tell a replay (same hash) from a conflict."""
    return hashlib.sha256(_FINGERPRINT_JSON.encode(data).encode()).hexdigest()


def recording_clock() -> datetime:
    """The ledger's wall clock (tests that simulate time replace it, see tests/conftest.py)."""
    return timezone.now()


def recorded_moment(at: datetime) -> datetime:
    """When a posting made now for the moment `at` is recorded: the clock, or `at` when that is
    later (a job run for a moment ahead). A back-dated `at` (a POS syncing an old receipt) is
    recorded now, so the fraud rules' windows, which count `Posting.recorded_at`, see it."""
    now = recording_clock()
    return at if at > now else now


@functools.cache
def _fields_defaults(model) -> tuple[list[tuple[str, Any, Any]], frozenset[str]]:
    """The model's concrete fields as (attname, default factory or None, constant default), and
    the set of attnames. A factory is called per instance (a callable default, as Django does);
    otherwise the default is the constant `Field.get_default()` always returns."""
    fields = []
    for model_field in model._meta.concrete_fields:
        if model_field.has_default() and callable(model_field.default):
            fields.append((model_field.attname, model_field.get_default, None))
        else:
            fields.append((model_field.attname, None, model_field.get_default()))
    return fields, frozenset(name for name, _factory, _constant in fields)


def new_instance(model, **values: Any):
    """`model(**values)`, built positionally (as `Model.from_db` builds loaded rows) when every key
    is a field's attname: no keyword matching, a few times faster, which counts when a job builds
    thousands. Missing fields take their defaults, as with keywords."""
    fields, names = _fields_defaults(model)
    if not values.keys() <= names:
        return model(**values)
    return model(
        *[
            values[name] if name in values else factory() if factory else constant
            for name, factory, constant in fields
        ]
    )


@contextmanager
def gc_paused():
    """Automatic garbage collection off for a job's chunk. A chunk builds a few hundred thousand
    objects (model instances, plans, rows) that all live until it ends and hold no reference
    cycles: the collector would walk them over and over (a tenth of the decay job at 1 000 000
    members) and free nothing; reference counting frees them when the chunk ends. Process-wide,
    so only for bounded work; the previous setting is restored."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def in_values(queryset, field: str, values, *, type: str = "bigint"):
    """`queryset` filtered on `field` IN `values` as `<column> = ANY(<one array
    parameter>)`, so a job's chunk of thousands of ids is one parameter, not thousands of
    placeholders to compile and bind."""
    values = list(values)
    model = queryset.model
    column = model._meta.get_field(field).column
    return queryset.extra(
        where=[f'"{model._meta.db_table}"."{column}" = ANY(%s::{type}[])'], params=[pg_array(values)]
    )


def posting_existing(*, program_id: int, reference: str, fingerprint: str) -> Posting | None:
    """The posting already written for `reference`, or None. Raises IdempotencyConflict when the
    reference was used for a different request."""
    posting = Posting.objects.filter(program_id=program_id, reference=reference).first()
    if posting is not None and posting.fingerprint != fingerprint:
        # the reference is internal (derived from an API key's claim, a job's key): never shown
        raise IdempotencyConflict(_("This request's reference was already used for a different posting."))
    return posting


def sync_member(target: Member, source: Member) -> None:
    """Copy the cached ledger fields onto the caller's instance, so it shows the new balance."""
    if target is not source:
        target.balance = source.balance
        target.pending_points = source.pending_points
        target.last_activity_at = source.last_activity_at


@dataclass(slots=True)
class SpendableLot:
    """An active lot as a debit needs it (`Plan.debit_lots`): its id and points left, read as plain
    values. Jobs that debit thousands of members use it instead of a `Lot` instance; writing it
    back (`lots_update`) sets `remaining` only."""

    pk: int
    remaining: int
    state: str = Lot.State.ACTIVE


def members_spendable_lots(member_ids: list[int]) -> dict[int, list[SpendableLot]]:
    """{member id: active lots with points left, first-expiring first} for a locked chunk (one query,
    no model instances): what `spendable_lots` gives for one member."""
    lots: dict[int, list[SpendableLot]] = {}
    rows = (
        in_values(Lot.objects.filter(state=Lot.State.ACTIVE, remaining__gt=0), "member", member_ids)
        .order_by("member_id", "expires_at", "id")
        .values_list("member_id", "id", "remaining")
    )
    for member_id, pk, remaining in rows:
        lots.setdefault(member_id, []).append(SpendableLot(pk, remaining))
    return lots


@dataclass
class Plan:
    """The entries, lots and allocations of one posting, computed before anything is written."""

    member: Member
    at: datetime
    balance: int = 0
    pending: int = 0
    start_balance: int = 0
    start_pending: int = 0
    # (account, kind, points, member id or None, balance_after or None): plain tuples, turned into
    # rows by `_write_legs` (no model instance per leg: jobs write tens of thousands of them)
    entries: list[tuple] = field(default_factory=list)
    new_lots: list[Lot] = field(default_factory=list)
    draws: list[tuple[Lot, int]] = field(default_factory=list)
    touched: dict[int, Lot] = field(default_factory=dict)
    # the member's new last_activity_at, written with the balance (`ledger.services._activity_touch`)
    activity_at: datetime | None = None

    def __post_init__(self) -> None:
        self.balance = self.start_balance = self.member.balance
        self.pending = self.start_pending = self.member.pending_points

    # -- legs -------------------------------------------------------------------------------------

    def _member_leg(self, account: str, kind: str, points: int) -> None:
        if account == Account.MEMBER:
            self.balance += points
            after = self.balance
        else:
            self.pending += points
            after = self.pending
        self.entries.append((account, kind, points, self.member.pk, after))

    def _system_leg(self, account: str, kind: str, points: int) -> None:
        self.entries.append((account, kind, points, None, None))

    def credit(
        self,
        points: int,
        *,
        kind: str,
        counter: list[tuple[str, int]],
        expires_at: datetime,
        available_at: datetime | None = None,
    ) -> Lot:
        """Credit `points` to the member as a new lot (pending until `available_at` if later than
        now), debiting the system accounts in `counter` (their points sum to `points`)."""
        assert points > 0 and sum(p for _a, p in counter) == points
        pending = available_at is not None and available_at > self.at
        self._member_leg(Account.MEMBER_PENDING if pending else Account.MEMBER, kind, points)
        for account, part in counter:
            if part:
                self._system_leg(account, kind, -part)
        lot = Lot(
            program_id=self.member.program_id,
            member_id=self.member.pk,
            source=kind,
            points=points,
            remaining=points,
            state=Lot.State.PENDING if pending else Lot.State.ACTIVE,
            earned_at=self.at,
            available_at=available_at if pending else self.at,
            expires_at=expires_at,
        )
        self.new_lots.append(lot)
        return lot

    def credit_lot(self, lot: Lot, points: int, *, kind: str, counter: str) -> None:
        """Give `points` back to an existing active lot (refund of spent points)."""
        self._member_leg(Account.MEMBER, kind, points)
        self._system_leg(counter, kind, -points)
        lot.remaining += points
        self.touched[lot.pk] = lot

    def debit_lots(
        self,
        lots: list[Lot] | list[SpendableLot],
        points: int,
        *,
        kind: str,
        counter: str,
        partial: bool = False,
    ) -> int:
        """Take `points` from `lots` in the given order (callers pass first-expiring first). Records
        the allocations. Returns the points taken; raises InsufficientPoints unless `partial`."""
        available = sum(lot.remaining for lot in lots)
        if available < points and not partial:
            raise InsufficientPoints(
                ngettext(
                    "The member has %(balance)s point, %(needed)s are needed.",
                    "The member has %(balance)s points, %(needed)s are needed.",
                    available,
                )
                % {"balance": available, "needed": points}
            )
        left = min(points, available)
        taken = left
        by_account = {Account.MEMBER: 0, Account.MEMBER_PENDING: 0}
        for lot in lots:
            if left == 0:
                break
            part = min(lot.remaining, left)
            if part == 0:
                continue
            account = Account.MEMBER_PENDING if lot.state == Lot.State.PENDING else Account.MEMBER
            by_account[account] += part
            lot.remaining -= part
            left -= part
            self.touched[lot.pk] = lot
            self.draws.append((lot, part))
        for account, part in by_account.items():
            if part:
                self._member_leg(account, kind, -part)
        if taken:
            self._system_leg(counter, kind, taken)
        return taken

    def touch(self, lot: Lot) -> None:
        self.touched[lot.pk] = lot

    # -- writing ----------------------------------------------------------------------------------

    def build_posting(self, *, kind: str, reference: str, fingerprint: str, **posting_fields: Any) -> Posting:
        assert sum(entry[2] for entry in self.entries) == 0, "entries must sum to zero"
        return new_instance(
            Posting,
            program_id=self.member.program_id,
            member_id=self.member.pk,
            kind=kind,
            reference=reference,
            fingerprint=fingerprint,
            points=self.balance - self.start_balance,
            pending_points=self.pending - self.start_pending,
            balance_after=self.balance,
            created_at=self.at,
            recorded_at=recorded_moment(self.at),
            **posting_fields,
        )

    def commit(
        self,
        *,
        kind: str,
        reference: str,
        fingerprint: str,
        events: tuple[str, ...] = (),
        new_reference: bool = False,
        **posting_fields: Any,
    ) -> Posting:
        """Write everything and run `points_posted`. Raises AlreadyPosted when another
        transaction wrote the same reference in the meantime (IdempotencyConflict if it differs).
        `new_reference`: the caller knows no posting can have this reference (the postings of a
        purchase row its transaction created): no savepoint to catch a duplicate (one would fail
        the caller's transaction, still never posting twice)."""
        member = self.member
        posting = self.build_posting(
            kind=kind, reference=reference, fingerprint=fingerprint, **posting_fields
        )
        # a reference used meanwhile (by a concurrent transaction) is skipped by the insert, not
        # raised: no savepoint needed; a new purchase's reference cannot be taken (`new_reference`)
        member_changed = (
            self.balance != self.start_balance or self.pending != self.start_pending or bool(self.activity_at)
        )
        one_statement = not self.draws and not self.touched and len(self.new_lots) < 2
        write = _posting_write if one_statement else _posting_write_each
        skip = False if new_reference else "posting_unique_reference"
        written = write(self, posting, skip_conflict=skip, member=member_changed)
        if not written:
            existing = posting_existing(
                program_id=member.program_id, reference=reference, fingerprint=fingerprint
            )
            if existing is None:  # pragma: no cover - a unique constraint fired, so the row exists
                raise IntegrityError(f"The posting {reference!r} conflicts with a row that is not there.")
            raise AlreadyPosted(existing)
        if member_changed:
            member.balance, member.pending_points = self.balance, self.pending
        _after_posting(member, posting, events, at=self.at)
        return posting


ENTRY_COLUMNS = (
    "posting_id",
    "program_id",
    "member_id",
    "account",
    "kind",
    "points",
    "balance_after",
    "created_at",
)


def _entry_columns(items: list[tuple[Plan, Posting | None]]) -> dict[str, list]:
    """The entries of `items` as one list per column (ENTRY_COLUMNS, posting id first), for
    `bulk.rows_insert`: the model's other columns take their defaults."""
    columns: list[list] = [[] for _ in ENTRY_COLUMNS]
    postings, programs, members, accounts, kinds, points_, afters, moments = columns
    for plan, posting in items:  # plain appends: a job's chunk writes hundreds of thousands
        program_id, at, posting_id = plan.member.program_id, plan.at, posting.pk if posting else None
        for account, kind, points, member_id, after in plan.entries:
            postings.append(posting_id)
            programs.append(program_id)
            members.append(member_id)
            accounts.append(account)
            kinds.append(kind)
            points_.append(points)
            afters.append(after)
            moments.append(at)
    return dict(zip(ENTRY_COLUMNS, columns, strict=True))


# the posting, its entries (the posting's id from the row `p` inserts), its lot and the member's
# balances in one statement: every earning and bonus posting (a purchase's path)
POSTING_WRITE_SQL = (
    "WITH p AS ({posting}),\ne AS ({entries}){lot}{member}\nSELECT (SELECT id FROM p), {lot_id}"
)
POSTING_WRITE_LOT = ",\nl AS ({lot})"
# a member's cached balances and (unless NULL) new last activity: `_member_update`, and in
# `_posting_write` only when the posting was written
MEMBER_UPDATE_SQL = (
    "UPDATE accounts_member SET balance = %s, pending_points = %s, "
    "last_activity_at = coalesce(%s, last_activity_at) WHERE id = %s"
)
POSTING_WRITE_MEMBER = f",\nm AS ({MEMBER_UPDATE_SQL} AND EXISTS (SELECT 1 FROM p))"


def _posting_write_each(plan: Plan, posting: Posting, *, skip_conflict: bool | str, member: bool) -> bool:
    """Write the posting (skipped, returning False, when `skip_conflict` and its reference exists),
    then its entries, lots and allocations (`_write_legs`) and, with `member`, the member's
    balances and last activity."""
    if not row_insert(posting, skip_conflict=skip_conflict):
        return False
    _write_legs([(plan, posting)])
    if member:
        _member_update(plan.member, balance=plan.balance, pending=plan.pending, activity_at=plan.activity_at)
    return True


def _posting_write(plan: Plan, posting: Posting, *, skip_conflict: bool | str, member: bool) -> bool:
    """`_posting_write_each` as one statement, for a plan with no debit (no allocations, no lot
    changed) and at most one new lot (PostgreSQL: every earning and bonus posting is one)."""
    posting_sql, params = row_insert_sql(posting, skip_conflict=skip_conflict)
    entries = _entry_columns([(plan, None)])
    del entries["posting_id"]
    entries_sql, entries_params = rows_insert_sql(
        Entry, entries, expressions={"posting_id": "p.id"}, source="p"
    )
    params += entries_params
    lot_sql = ""
    if plan.new_lots:
        lot = plan.new_lots[0]
        lot.posting = posting
        sql, lot_params = row_insert_sql(lot, expressions={"posting_id": "p.id"}, source="p")
        lot_sql = POSTING_WRITE_LOT.format(lot=sql)
        params += lot_params
    member_sql = ""
    if member:
        member_sql = POSTING_WRITE_MEMBER
        params += [plan.balance, plan.pending, plan.activity_at, plan.member.pk]
    sql = POSTING_WRITE_SQL.format(
        posting=posting_sql,
        entries=entries_sql,
        lot=lot_sql,
        member=member_sql,
        lot_id="(SELECT id FROM l)" if lot_sql else "NULL",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        posting_id, lot_id = cursor.fetchone()
    if posting_id is None:
        return False
    row_inserted(posting, posting_id)
    if lot_sql:
        row_inserted(plan.new_lots[0], lot_id)
        plan.new_lots[0].posting_id = posting_id
    return True


def _member_update(member: Member, *, balance: int, pending: int, activity_at: datetime | None) -> None:
    """Write one member's cached balances (and its new last activity, when given): one plain
    statement (every posting runs it)."""
    with connection.cursor() as cursor:
        cursor.execute(MEMBER_UPDATE_SQL, [balance, pending, activity_at, member.pk])


_pg_cursor = pg_cursor  # the bulk statements' cursor (server-side binding)


LOTS_UPDATE_SQL = """
UPDATE ledger_lot AS l SET remaining = v.remaining, state = v.state, expires_at = v.expires_at,
    grace_until = v.grace_until, warned_at = v.warned_at
FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::timestamptz[], %s::timestamptz[],
            %s::timestamptz[]) AS v(id, remaining, state, expires_at, grace_until, warned_at)
WHERE l.id = v.id
"""

LOTS_REMAINING_UPDATE_SQL = """
UPDATE ledger_lot AS l SET remaining = v.remaining
FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, remaining) WHERE l.id = v.id
"""

MEMBERS_UPDATE_SQL = """
UPDATE accounts_member AS m SET balance = v.balance, pending_points = v.pending
FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(id, balance, pending) WHERE m.id = v.id
"""


def _write_legs(items: list[tuple[Plan, Posting]]) -> None:
    """Entries, new lots, changed lots and allocations of already saved postings, in bulk: entries
    and allocations each one `bulk.rows_insert` (no model instances: a chunk writes hundreds of
    thousands of entries); new lots through `bulk.instances_insert`, which sets their primary keys
    (a chunk of bonuses writes thousands: bulk_create took a fifth of the tier gifts job's time)."""
    new_lots, touched, allocations = [], {}, []
    for plan, posting in items:
        for lot in plan.new_lots:
            lot.posting = posting
        new_lots.extend(plan.new_lots)
    columns = _entry_columns(items)
    if columns["posting_id"]:
        rows_insert(Entry, columns)
    if new_lots:
        instances_insert(new_lots)  # sets the primary keys, so allocations can point at them
    for plan, posting in items:
        touched.update({lot.pk: lot for lot in plan.touched.values()})
        merged: dict[int, list] = {}
        for lot, part in plan.draws:
            merged.setdefault(lot.pk, [lot, 0])[1] += part
        allocations.extend((posting, lot, part) for lot, part in merged.values())
    if touched:
        lots_update(list(touched.values()))
    if not allocations:
        return
    rows_insert(
        Allocation,
        {
            "posting_id": [p.pk for p, _l, _n in allocations],
            "lot_id": [lot.pk for _p, lot, _n in allocations],
            "points": [n for _p, _l, n in allocations],
        },
    )


def lots_update(lots: list[Lot] | list[SpendableLot]) -> None:
    """Write the mutable fields of `lots` in one statement (UPDATE ... FROM unnest(<arrays>) on
    PostgreSQL, which stays linear where bulk_update's CASE expressions do not); of a
    `SpendableLot` only `remaining`."""
    spendable = [lot for lot in lots if type(lot) is SpendableLot]
    if spendable:
        lots = [lot for lot in lots if type(lot) is not SpendableLot]
        with _pg_cursor() as cursor:
            cursor.execute(
                LOTS_REMAINING_UPDATE_SQL,
                [pg_array([lot.pk for lot in spendable]), pg_array([lot.remaining for lot in spendable])],
            )
    if not lots:
        return
    with _pg_cursor() as cursor:
        cursor.execute(
            LOTS_UPDATE_SQL,
            [
                pg_array(column)
                for column in (
                    [lot.pk for lot in lots],
                    [lot.remaining for lot in lots],
                    [lot.state for lot in lots],
                    [lot.expires_at for lot in lots],
                    [lot.grace_until for lot in lots],
                    [lot.warned_at for lot in lots],
                )
            ],
        )


def _after_posting(member: Member, posting: Posting, events: tuple[str, ...], *, at: datetime) -> None:
    run_hooks("points_posted", member=member, posting=posting, at=at)
    for event_type in events:
        event_emit(
            program=member.program,
            type=event_type,
            at=at,
            member=member,
            key=f"{event_type}:posting:{posting.pk}",
            data=posting_event_data(posting),
        )


class Batch:
    """Postings of several locked members written together (the jobs): one INSERT for the
    postings, one for the entries, one UPDATE for the lots and one for the members' balances.
    Plans for the same member must be added in order; `add` moves the member's in-memory balance
    so the next plan starts from it. References must be new (jobs hold the member locks and check
    them first): a duplicate fails the whole chunk, which the job's retry then re-plans."""

    def __init__(self) -> None:
        self.items: list[tuple[Plan, Posting, tuple[str, ...]]] = []
        self.members: dict[int, Member] = {}
        # events built from the postings once they have ids: (member, type, at, build() -> event)
        self.later: list[tuple[Member, str, datetime, Callable[[], dict[str, Any]]]] = []

    def add(self, plan: Plan, *, events: tuple[str, ...] = (), **kwargs: Any) -> None:
        posting = plan.build_posting(**kwargs)
        self.items.append((plan, posting, events))
        plan.member.balance, plan.member.pending_points = plan.balance, plan.pending
        self.members[plan.member.pk] = plan.member

    def flush(self) -> list[Posting]:
        if not self.items:
            return []
        instances_insert([posting for _plan, posting, _events in self.items])
        _write_legs([(plan, posting) for plan, posting, _events in self.items])
        rows = [(m.pk, m.balance, m.pending_points) for m in self.members.values()]
        with _pg_cursor() as cursor:
            cursor.execute(MEMBERS_UPDATE_SQL, [pg_array(list(column)) for column in zip(*rows, strict=True)])
        grouped: dict[tuple, list[dict[str, Any]]] = {}
        # the chunk's `points_posted` in one call per hook that has a set-based version (tiers)
        run_hooks_many(
            "points_posted",
            [{"member": plan.member, "posting": posting, "at": plan.at} for plan, posting, _e in self.items],
        )
        for plan, posting, events in self.items:
            for event_type in events:
                grouped.setdefault((plan.member.program_id, event_type, plan.at), []).append(
                    {
                        "member": plan.member,
                        "key": f"{event_type}:posting:{posting.pk}",
                        "data": posting_event_data(posting),
                    }
                )
        for member, event_type, at, build in self.later:
            grouped.setdefault((member.program_id, event_type, at), []).append(build())
        programs = {plan.member.program_id: plan.member.program for plan, _posting, _events in self.items}
        for (program_id, event_type, at), events in grouped.items():
            event_emit_many(program=programs[program_id], type=event_type, at=at, events=events)
        postings = [posting for _plan, posting, _events in self.items]
        self.items, self.members, self.later = [], {}, []
        return postings


class AlreadyPosted(Exception):
    """Raised out of `Plan.commit` when a concurrent transaction used the reference first."""

    def __init__(self, posting: Posting):
        self.posting = posting


def posting_event_data(posting: Posting) -> dict[str, Any]:
    return {
        "member_id": posting.member_id,
        "posting_id": posting.pk,
        "kind": str(posting.kind),  # plain text, as the event reads back (not the enum member)
        # magnitude (templates say "300 points expired"); `change` keeps the sign
        "points": abs(posting.points + posting.pending_points),
        "change": posting.points + posting.pending_points,
        "pending_points": posting.pending_points,
        "balance": posting.balance_after,
        "reference": posting.reference,
        "purchase_id": posting.purchase_id,
        "created_at": posting.created_at.isoformat(),
    }


def spendable_lots(member: Member) -> list[Lot]:
    """The member's active lots with points left, first-expiring first."""
    return list(
        Lot.objects.filter(member_id=member.pk, state=Lot.State.ACTIVE, remaining__gt=0).order_by(
            "expires_at", "id"
        )
    )


# the lots `lots_settle` may change at a moment (both %s: the moment): pending lots whose return
# window closed, active lots past their expiry, lots in their renewal window
SETTLE_DUE_WHERE = (
    "((ledger_lot.state = 'pending' AND ledger_lot.available_at <= %s) "
    "OR (ledger_lot.state = 'active' AND ledger_lot.expires_at <= %s) OR ledger_lot.state = 'grace')"
)
MEMBER_DUE_LOTS_SQL = (
    f"SELECT {select_columns(Lot)} FROM ledger_lot WHERE ledger_lot.member_id = %s AND {SETTLE_DUE_WHERE} "
    "ORDER BY expires_at, id"
)


def settle_due_lots(member_ids, *, at: datetime):
    """The lots of these members that `lots_settle` may change at `at` (one query)."""
    moment = connection.ops.adapt_datetimefield_value(at)
    lots = in_values(Lot.objects.all(), "member", member_ids)
    return lots.extra(where=[SETTLE_DUE_WHERE], params=[moment, moment])


def member_due_lots(member: Member, *, at: datetime) -> list[Lot]:
    """`settle_due_lots` of one member, first-expiring first: one plain statement (every posting
    runs it)."""
    moment = connection.ops.adapt_datetimefield_value(at)
    return list(Lot.objects.raw(MEMBER_DUE_LOTS_SQL, [member.pk, moment, moment]))


def lots_settle(
    member: Member,
    *,
    at: datetime,
    activity: bool,
    batch: Batch | None = None,
    due: list[Lot] | None = None,
) -> int:
    """Bring the member's lots up to `at` (the member must be locked): activate pending lots whose
    return window closed, expire active lots past their expiry (into the renewal window, or straight
    to expired when the window has passed too), close ended renewal windows, and, for `activity`,
    renew the lots still inside their renewal window. With `batch` the postings are added to it
    (written by `Batch.flush`) instead of written one by one; `due` passes the member's lots from
    `settle_due_lots` when the caller fetched a chunk's at once. Returns the number of postings."""
    program = member.program
    window = timedelta(hours=program.renewal_window_hours)
    if due is None:
        due = member_due_lots(member, at=at)
    postings = 0
    closed: list[Lot] = []
    expired: list[tuple[Lot, Posting]] = []
    for lot in due:
        if lot.state == Lot.State.PENDING:
            postings += _lot_activate(member, lot, at=at, batch=batch)
        elif lot.state == Lot.State.ACTIVE:
            postings += _lot_expire(member, lot, at=at, window=window, batch=batch, expired=expired)
        if lot.state == Lot.State.GRACE:
            if lot.grace_until <= at:
                lot.state = Lot.State.EXPIRED
                closed.append(lot)
            elif activity:
                postings += _lot_renew(member, lot, at=at, batch=batch)
    if closed:
        Lot.objects.bulk_update(closed, ["state"])
    # lots the same activity renewed at once are not lost: no message for them
    expired = [(lot, posting) for lot, posting in expired if lot.state != Lot.State.ACTIVE]
    if expired:
        _expired_event(member, expired, at=at, batch=batch)
    return postings


def expired_event(member: Member, expired: list[tuple[Lot, Posting]]) -> dict[str, Any]:
    """One member's `points.expired` event for the lots one settlement expired (its postings
    written): the total, the balance after, the earliest renewal deadline and the lots. Keyed by
    the first posting, so the event exists once whoever settles the lots."""
    postings = [posting for _lot, posting in expired]
    points = sum(-posting.points for posting in postings)
    return {
        "member": member,
        "key": f"points.expired:member:{member.pk}:posting:{postings[0].pk}",
        "data": {
            "member_id": member.pk,
            "posting_id": postings[0].pk,
            "kind": "expire",
            "points": points,
            "change": -points,
            "balance": postings[-1].balance_after,
            "expired_at": min(lot.expires_at for lot, _posting in expired).isoformat(),
            "renew_until": min(posting.data["renew_until"] for _lot, posting in expired),
            "lot_count": len(expired),
            "lots": [
                {
                    "lot_id": lot.pk,
                    "points": -posting.points,
                    "expired_at": lot.expires_at.isoformat(),
                    "posting_id": posting.pk,
                }
                for lot, posting in expired
            ],
            "created_at": postings[-1].created_at.isoformat(),
        },
    }


def _expired_event(
    member: Member, expired: list[tuple[Lot, Posting]], *, at: datetime, batch: Batch | None
) -> None:
    """ONE `points.expired` per member and settlement, however many lots expired."""
    if batch is not None:
        batch.later.append((member, "points.expired", at, lambda: expired_event(member, expired)))
        return
    event = expired_event(member, expired)
    event_emit(program=member.program, type="points.expired", at=at, **event)


def _finish(plan: Plan, batch: Batch | None, **kwargs: Any) -> Posting:
    if batch is None:
        return plan.commit(**kwargs)
    batch.add(plan, **kwargs)
    return batch.items[-1][1]


def _lot_activate(member: Member, lot: Lot, *, at: datetime, batch: Batch | None) -> int:
    plan = Plan(member=member, at=at)
    if lot.remaining:
        plan._member_leg(Account.MEMBER_PENDING, EntryKind.EARN, -lot.remaining)
        plan._member_leg(Account.MEMBER, EntryKind.EARN, lot.remaining)
    lot.state = Lot.State.ACTIVE
    plan.touch(lot)
    reference = f"activate:{lot.pk}"
    _finish(
        plan,
        batch,
        kind=PostingKind.ACTIVATE,
        reference=reference,
        fingerprint=fingerprint(kind="activate", lot=lot.pk),
        description=member_text(member, lambda: _("Return window closed: points are spendable")),
        data={"lot": lot.pk},
    )
    return 1


def _lot_expire(
    member: Member,
    lot: Lot,
    *,
    at: datetime,
    window: timedelta,
    batch: Batch | None,
    expired: list[tuple[Lot, Posting]],
) -> int:
    """Expire an active lot whose `expires_at` has passed. Its points leave the balance now; while
    the renewal window lasts (`grace_until`) activity restores them. The posting is added to
    `expired` (the caller emits one event for all of a member's expired lots)."""
    grace_until = lot.expires_at + window
    lot.grace_until = grace_until
    lot.state = Lot.State.GRACE if at < grace_until else Lot.State.EXPIRED
    if lot.remaining == 0:
        lot.state = Lot.State.EXPIRED
        Lot.objects.filter(pk=lot.pk).update(state=lot.state, grace_until=grace_until)
        return 0
    plan = Plan(member=member, at=at)
    points = lot.remaining
    plan._member_leg(Account.MEMBER, EntryKind.EXPIRE, -points)
    plan._system_leg(Account.EXPIRED, EntryKind.EXPIRE, points)
    plan.touch(lot)
    reference = f"expire:{lot.pk}:{int(lot.expires_at.timestamp())}"
    posting = _finish(
        plan,
        batch,
        kind=PostingKind.EXPIRE,
        reference=reference,
        fingerprint=fingerprint(kind="expire", lot=lot.pk, expires_at=lot.expires_at),
        description=member_text(member, lambda: _("Points expired")),
        data={
            "lot": lot.pk,
            "expired_at": lot.expires_at.isoformat(),
            "renew_until": grace_until.isoformat(),
        },
    )
    expired.append((lot, posting))
    return 1


def _lot_renew(member: Member, lot: Lot, *, at: datetime, batch: Batch | None) -> int:
    """Activity inside the renewal window restores the lot for a full new lifetime from `at`."""
    plan = Plan(member=member, at=at)
    points = lot.remaining
    reference = f"renew:{lot.pk}:{int(lot.grace_until.timestamp())}"
    plan._member_leg(Account.MEMBER, EntryKind.RENEW, points)
    plan._system_leg(Account.EXPIRED, EntryKind.RENEW, -points)
    lot.state = Lot.State.ACTIVE
    lot.expires_at = lot_expires_at(program=member.program, at=at)
    lot.grace_until = None
    lot.warned_at = None
    plan.touch(lot)
    _finish(
        plan,
        batch,
        kind=PostingKind.RENEW,
        reference=reference,
        fingerprint=fingerprint(kind="renew", lot=lot.pk),
        description=member_text(member, lambda: _("Points renewed by activity")),
        data={"lot": lot.pk, "expires_at": lot.expires_at.isoformat()},
    )
    return 1
