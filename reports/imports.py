"""Import members with opening balances (a merchant moving here from another program).

The file is a CSV with a header row; columns (any order, unknown ones ignored):
`external_id, phone, email, first_name, last_name, birth_date, balance, expires_at, tier`.

Rules (decided here, where the issue is silent):
- A row's key is its external_id, else its phone (E.164), else its email, within the program.
  A key seen earlier in the same file is a bad row ("duplicate of line N"), never a merge.
- A key that already belongs to a member (enrolled at the till, by the API or by an earlier run of
  the same file) is not created again: the member is "skipped". A new key whose phone, email or
  external id belongs to another member is a bad row ("A member with this phone already exists.").
- Members are created set-based by `accounts.services.members_bulk_create` (INSERT ... ON CONFLICT
  DO NOTHING). Imported members are migrations, not sign-ups: the `member_created` hooks do not run,
  so there is no registration bonus, no referral link and no `member.created` event (nor
  `tier.changed` / `points.*` events) for them: a merchant moving a million members does not want a
  million welcome bonuses and webhooks.
- Entry tier: the tier a new member with nothing earned gets (the program's rank-0 tier, exactly
  what enrolment's evaluation gives), recorded as an `enrolment` tier change. `tier` (a tier code
  of the program) other than it becomes a manual tier for the program's tier window (365 days when
  the window is lifetime): a `TierOverride` floor plus a `manual` tier change, as
  `tier_override_set` writes, only for members this import creates; after it the normal rules apply.
- The opening balance is one ledger posting per member with the reference
  `import-opening:<member id>`, written set-based per batch by `ledger.imports.opening_balances_post`
  (the same posting as `points_adjust`: kind `adjust`, reason "Opening balance imported", one lot
  expiring at `expires_at` when given, else after the program's lifetime). The ledger invariant
  holds and a second run finds the reference and posts nothing. A later file with a different
  balance for the same member is reported, not applied.
- Rows are read lazily and processed in batches; each batch is one transaction (a crash loses at
  most the batch in flight, which the next run redoes). Every bad row is caught while parsing or
  by the batch's set-based checks, never by an exception in the middle of a batch.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts import services as account_services
from accounts.models import Member, Program
from ledger.imports import opening_balances_post
from loyalty_site.core.bulk import rows_insert
from loyalty_site.core.errors import InvalidInput
from tiers.models import TierChange, TierOverride
from tiers.selectors import tier_for_value, tier_list

KEY_COLUMNS = ("external_id", "phone", "email")
KNOWN_COLUMNS = (*KEY_COLUMNS, "first_name", "last_name", "birth_date", "balance", "expires_at", "tier")
OPENING_REASON = gettext_lazy("Opening balance imported")
TIER_REASON = gettext_lazy("Tier imported from the previous program")
MAX_POINTS = 10**12


def opening_reference(member_id: int) -> str:
    return f"import-opening:{member_id}"


@dataclass
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    skipped: int = 0
    balances: int = 0
    points: int = 0
    tiers: int = 0
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)


@dataclass
class ParsedRow:
    line: int
    key: str
    profile: dict[str, Any]
    balance: int
    expires_at: datetime | None
    tier: Any


def rows_from_csv(handle) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row of a CSV text stream. Raises InvalidInput when the header
    names none of the key columns."""
    reader = csv.DictReader(handle)
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    if not set(header) & set(KEY_COLUMNS):
        raise InvalidInput(_("The header must name at least one of external_id, phone, email."))
    reader.fieldnames = header
    for row in reader:
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue  # blank line
        yield reader.line_num, row


def _text(row: dict, name: str) -> str:
    value = row.get(name)
    return value.strip() if isinstance(value, str) else ""


def _parse(
    line: int, row: dict[str, str], *, program: Program, tiers: dict[str, Any], at: datetime
) -> ParsedRow:
    """Raises InvalidInput with the reason."""
    if None in row:  # DictReader puts surplus cells under the None key
        raise InvalidInput(_("more cells than header columns"))
    external_id = _text(row, "external_id") or None
    phone = _text(row, "phone") or None
    email = _text(row, "email") or None
    if external_id and len(external_id) > 100:
        raise InvalidInput(_("external_id is longer than 100 characters"))
    if phone:
        try:
            phone = account_services.phone_normalize(phone)
        except InvalidInput:
            raise InvalidInput(_("invalid phone '%(value)s'") % {"value": row.get("phone")})
    if email:
        email = account_services.email_normalize(email)
        if "@" not in email or " " in email or len(email) > 254:
            raise InvalidInput(_("invalid email '%(value)s'") % {"value": row.get("email")})
    key = (
        f"external_id:{external_id}"
        if external_id
        else f"phone:{phone}"
        if phone
        else f"email:{email}"
        if email
        else ""
    )
    if not key:
        raise InvalidInput(_("no external_id, phone or email"))
    birth_date = None
    if _text(row, "birth_date"):
        try:
            birth_date = parse_date(_text(row, "birth_date"))
        except ValueError:
            birth_date = None
        if birth_date is None or not (date(1900, 1, 1) <= birth_date <= at.date()):
            raise InvalidInput(
                _("invalid birth_date '%(value)s' (use YYYY-MM-DD)") % {"value": row.get("birth_date")}
            )
    balance = 0
    if _text(row, "balance"):
        try:
            balance = int(_text(row, "balance"))
        except ValueError:
            raise InvalidInput(_("balance '%(value)s' is not a whole number") % {"value": row.get("balance")})
        if balance < 0 or balance > MAX_POINTS:
            raise InvalidInput(
                _("balance %(value)s is out of range (0 to %(max)s)") % {"value": balance, "max": MAX_POINTS}
            )
    expires_at = None
    if _text(row, "expires_at"):
        expires_at = _parse_moment(_text(row, "expires_at"), program=program)
        if expires_at is None:
            raise InvalidInput(
                _("invalid expires_at '%(value)s' (use YYYY-MM-DD or ISO date-time)")
                % {"value": row.get("expires_at")}
            )
        if expires_at <= at:
            raise InvalidInput(_("expires_at '%(value)s' is already past") % {"value": row.get("expires_at")})
    tier = None
    if _text(row, "tier"):
        tier = tiers.get(_text(row, "tier").lower())
        if tier is None:
            raise InvalidInput(_("unknown tier '%(value)s'") % {"value": row.get("tier")})
    first_name, last_name = _text(row, "first_name")[:100], _text(row, "last_name")[:100]
    profile = {
        "external_id": external_id,
        "phone": phone,
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "birth_date": birth_date,
    }
    return ParsedRow(line=line, key=key, profile=profile, balance=balance, expires_at=expires_at, tier=tier)


def _parse_moment(text: str, *, program: Program) -> datetime | None:
    """A date means the end of that day in the program's zone; a naive date-time is program time.
    (The date form is tried first: `parse_datetime` accepts a bare date as its midnight.)"""
    day = None
    if len(text) == 10:
        try:
            day = parse_date(text)
        except ValueError:
            return None
    if day is not None:
        return datetime.combine(day + timedelta(days=1), time.min, tzinfo=program.tz)
    try:
        moment = parse_datetime(text)
    except ValueError:
        return None
    if moment is None:
        return None
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=program.tz)
    return moment


def _batches(rows: Iterable, size: int) -> Iterator[list]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def members_import(
    *,
    program: Program,
    rows: Iterable[tuple[int, dict[str, str]]],
    at: datetime,
    batch_size: int = 1000,
    user=None,
    progress: Callable[[ImportReport, int], None] | None = None,
    max_errors_kept: int = 100_000,
    skip_through: int = 0,
    checkpoint: Callable[[int, ImportReport], None] | None = None,
) -> ImportReport:
    """Import `rows` ((line, dict) pairs, e.g. from `rows_from_csv`) into `program` as of `at`.
    Idempotent: re-running the same rows creates and posts nothing. Returns the report; bad rows are
    in `errors` with their line number, never raised. `progress(report, rows_in_batch)` runs after
    each committed batch.

    Resuming (`reports.jobs`): rows up to line `skip_through` were committed by an earlier run;
    they are only parsed again to remember their keys (a later duplicate is still reported as
    one), not counted and not written. `checkpoint(last_line, batch_report)` runs inside each
    batch's transaction after its writes, with what that batch alone did, so a job records its
    progress atomically with the rows."""
    tiers = tier_list(program=program)
    context = _Context(
        program=program,
        at=at,
        user=user,
        tiers={tier.code.lower(): tier for tier in tiers},
        entry_tier=tier_for_value(tiers=tiers, value=0),
        max_errors_kept=max_errors_kept,
    )
    report = ImportReport()
    seen: dict[str, int] = {}
    for batch in _batches(rows, batch_size):
        parsed: list[ParsedRow] = []
        done = ImportReport()  # this batch's part
        for line, row in batch:
            try:
                item = _parse(line, row, program=program, tiers=context.tiers, at=at)
            except InvalidInput as error:
                if line > skip_through:
                    done.rows += 1
                    _keep(done.errors, RowError(line, error.message), max_errors_kept)
                continue
            first = seen.get(item.key)
            if line <= skip_through:
                seen.setdefault(item.key, line)
                continue
            done.rows += 1
            if first is not None:
                _keep(
                    done.errors,
                    RowError(
                        line, _("duplicate of line %(line)s (%(key)s)") % {"line": first, "key": item.key}
                    ),
                    max_errors_kept,
                )
                continue
            seen[item.key] = line
            parsed.append(item)
        if not done.rows:
            continue
        if parsed or checkpoint is not None:
            with transaction.atomic():
                # a crash loses at most the last moment's commits, and their checkpoint with them:
                # the resumed run redoes them (the WAL flush per batch was a fifth of the time)
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
                if parsed:
                    _import_batch(parsed, context=context, report=done)
                if checkpoint is not None:
                    checkpoint(batch[-1][0], done)
        _add(report, done, max_errors_kept)
        if progress is not None:
            progress(report, len(batch))
    return report


def _add(report: ImportReport, part: ImportReport, limit: int) -> None:
    for name in ("rows", "created", "skipped", "balances", "points", "tiers"):
        setattr(report, name, getattr(report, name) + getattr(part, name))
    for error in part.errors:
        _keep(report.errors, error, limit)
    for warning in part.warnings:
        _keep(report.warnings, warning, limit)


@dataclass
class _Context:
    program: Program
    at: datetime
    user: Any
    tiers: dict[str, Any]
    entry_tier: Any
    max_errors_kept: int


def _keep(bucket: list[RowError], error: RowError, limit: int) -> None:
    if len(bucket) < limit:
        bucket.append(error)


def _import_batch(parsed: list[ParsedRow], *, context: _Context, report: ImportReport) -> None:
    """One batch, inside its transaction: find existing members, create the new ones in bulk, write
    their tiers, post the opening balances in bulk, and count everything into `report`."""
    program, at = context.program, context.at
    bad: dict[int, str] = {}  # line -> reason
    existing = _existing_members(program=program, parsed=parsed)
    new = [item for item in parsed if item.key not in existing]
    entry_id = context.entry_tier.pk if context.entry_tier is not None else None
    created = account_services.members_bulk_create(
        program=program,
        rows=[
            {**item.profile, "tier_id": _start_tier_id(item, entry_id), "balance": item.balance}
            for item in new
        ],
        at=at,
    )
    members: dict[str, Member] = dict(existing)
    created_keys: set[str] = set()
    for member in created:  # a member's key is its row's key (the same rule as `_parse`)
        kind = next(kind for kind in KEY_COLUMNS if getattr(member, kind))
        key = f"{kind}:{getattr(member, kind)}"
        members[key] = member
        created_keys.add(key)
    lost = [item for item in new if item.key not in created_keys]
    if lost:  # not created: the key was enrolled meanwhile, or another identifier is taken
        created_ids = {member.pk for member in created}
        raced = {
            key: member
            for key, member in _existing_members(program=program, parsed=lost).items()
            if member.pk not in created_ids  # an earlier row of this batch: a clash, not a race
        }
        members.update(raced)
        taken = account_services._keys_taken(program=program, rows=[item.profile for item in lost])
        for item in lost:
            if item.key in raced:
                continue
            name = next(
                (k for k in KEY_COLUMNS if item.profile.get(k) and (k, item.profile[k]) in taken), None
            )
            bad[item.line] = {
                "phone": lambda: _("A member with this phone already exists."),
                "email": lambda: _("A member with this email already exists."),
                "external_id": lambda: _("A member with this external id already exists."),
            }.get(name, lambda: _("A member with this phone, email or external id already exists."))()
    created_by_key = {item.key for item in new if item.key in created_keys}
    tiers_set = _tiers_write(
        [(members[item.key], item) for item in new if item.key in created_by_key], context
    )
    # two rows may name one existing member by different keys: the first row's balance counts,
    # the later ones compare against it as against an earlier run
    first_balance: dict[int, int] = {}
    to_post = []
    for item in parsed:
        if item.line in bad or item.balance <= 0:
            continue
        member = members[item.key]
        if member.pk in first_balance:
            continue
        first_balance[member.pk] = item.balance
        to_post.append((member, item.balance, item.expires_at))
    # the members created above hold their opening balance already (`members_bulk_create`'s
    # `balance`); one whose row turned out bad was not created, so every created one is posted
    result = opening_balances_post(
        members_points=to_post,
        at=at,
        reference_prefix="import-opening",
        reason=OPENING_REASON,
        user=context.user,
        included={member.pk for member in created},
    )
    counted: set[int] = set()
    for item in parsed:
        if item.line in bad:
            _keep(report.errors, RowError(item.line, bad[item.line]), context.max_errors_kept)
            continue
        member = members[item.key]
        already = result.existing.get(member.pk)
        if member.pk in counted and member.pk in result.posted:
            already = result.posted[member.pk]
        if item.balance > 0 and already is not None and already != item.balance:
            _keep(
                report.errors,
                RowError(
                    item.line,
                    _("opening balance already imported as %(already)s points; this row says %(balance)s")
                    % {"already": already, "balance": item.balance},
                ),
                context.max_errors_kept,
            )
            continue
        if item.key in created_by_key:
            report.created += 1
        else:
            report.skipped += 1
        if member.pk in result.posted and member.pk not in counted:
            report.balances += 1
            report.points += item.balance
        if member.pk in tiers_set:
            report.tiers += 1
        counted.add(member.pk)


def _start_tier_id(item: ParsedRow, entry_id: int | None) -> int | None:
    if item.tier is not None and (entry_id is None or item.tier.pk != entry_id):
        return item.tier.pk
    return entry_id


def _tiers_write(created: list[tuple[Member, ParsedRow]], context: _Context) -> set[int]:
    """The tier history of the members just created (their `tier` is already in the row): an
    `enrolment` change to the entry tier and, for a file tier other than it, a manual floor
    (`TierOverride`) and a `manual` change, as enrolment plus `tier_override_set` would write.
    Returns the ids of the members given a file tier."""
    entry = context.entry_tier
    if entry is None:
        return set()
    at, program = context.at, context.program
    ends_at = at + timedelta(days=program.tier_window_days or 365)
    user_id = getattr(context.user, "pk", None)
    changes: dict[str, list] = {
        k: [] for k in ("member_id", "from_tier_id", "to_tier_id", "reason", "note", "created_by_id")
    }
    overrides: dict[str, list] = {"member_id": [], "tier_id": []}
    manual: set[int] = set()
    for member, item in created:
        for key, value in zip(
            changes, (member.pk, None, entry.pk, TierChange.Reason.ENROLMENT, "", None), strict=True
        ):
            changes[key].append(value)
        if item.tier is not None and item.tier.pk != entry.pk:
            overrides["member_id"].append(member.pk)
            overrides["tier_id"].append(item.tier.pk)
            for key, value in zip(
                changes,
                (member.pk, entry.pk, item.tier.pk, TierChange.Reason.MANUAL, str(TIER_REASON), user_id),
                strict=True,
            ):
                changes[key].append(value)
            manual.add(member.pk)
    if changes["member_id"]:
        rows_insert(
            TierChange,
            changes,
            constants={"program_id": program.pk, "qualifying_value": 0, "at": at},
        )
    if overrides["member_id"]:
        rows_insert(
            TierOverride,
            overrides,
            constants={
                "program_id": program.pk,
                "reason": str(TIER_REASON),
                "starts_at": at,
                "ends_at": ends_at,
                "created_by_id": user_id,
                "created_at": at,
            },
        )
    return manual


def _existing_members(*, program: Program, parsed: list[ParsedRow]) -> dict[str, Member]:
    """Members already holding the batch's keys, by key (one query)."""
    by_kind: dict[str, list[str]] = {"external_id": [], "phone": [], "email": []}
    for item in parsed:
        kind, value = item.key.split(":", 1)
        by_kind[kind].append(value)
    condition = Q()
    for kind, values in by_kind.items():
        if values:
            condition |= Q(**{f"{kind}__in": values})
    if not condition:
        return {}
    keys = {item.key for item in parsed}
    found: dict[str, Member] = {}
    for member in (
        Member.objects.filter(program=program)
        .filter(condition)
        .only("id", "program_id", "external_id", "phone", "email")
    ):
        for kind in KEY_COLUMNS:
            value = getattr(member, kind)
            if value and f"{kind}:{value}" in keys:
                found.setdefault(f"{kind}:{value}", member)
    return found
