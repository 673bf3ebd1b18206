"""Reads of the ledger: history, expiring lots, balances by account. (Qualifying points are the
tiers' rule: `tiers.selectors.qualifying_points`.)"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet, Sum

from accounts.models import Member

from .models import Account, Entry, Lot


def member_entries(
    *,
    member: Member,
    kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Entry]:
    """The member's spendable-account entries, newest first (API.md `entries`). Pending-account
    legs are internal: purchase points show in the history when they become spendable."""
    entries = Entry.objects.filter(member=member, account=Account.MEMBER).select_related("posting")
    if kind:
        entries = entries.filter(kind=kind)
    if since:
        entries = entries.filter(created_at__gte=since)
    if until:
        entries = entries.filter(created_at__lt=until)
    return entries.order_by("-id")


def member_expiring_lots(*, member: Member, at: datetime, unwarned_only: bool = False) -> QuerySet[Lot]:
    """Active lots with points that expire within the program's warning window after `at`,
    soonest first. `unwarned_only` keeps those whose warning has not gone out yet."""
    window = timedelta(hours=member.program.expiry_warning_hours)
    lots = Lot.objects.filter(
        member=member,
        state=Lot.State.ACTIVE,
        remaining__gt=0,
        expires_at__gt=at,
        expires_at__lte=at + window,
    )
    if unwarned_only:
        lots = lots.filter(warned_at__isnull=True)
    return lots.order_by("expires_at", "id")


def members_expiring_lots(*, members: list[Member], at: datetime) -> dict[int, list[Lot]]:
    """`member_expiring_lots` for many members of one program in one query (for lists)."""
    if not members:
        return {}
    window = timedelta(hours=members[0].program.expiry_warning_hours)
    lots = Lot.objects.filter(
        member_id__in=[m.pk for m in members],
        state=Lot.State.ACTIVE,
        remaining__gt=0,
        expires_at__gt=at,
        expires_at__lte=at + window,
    ).order_by("expires_at", "id")
    found: dict[int, list[Lot]] = {m.pk: [] for m in members}
    for lot in lots:
        found[lot.member_id].append(lot)
    return found


def member_lots(
    *, member: Member, states: tuple[str, ...] = (Lot.State.ACTIVE, Lot.State.PENDING)
) -> QuerySet[Lot]:
    return Lot.objects.filter(member=member, state__in=states).order_by("expires_at", "id")


def member_ledger_check(*, member: Member) -> dict[str, int]:
    """The three views of a member's points that must agree (see `reconcile`)."""
    member.refresh_from_db(fields=["balance", "pending_points"])
    sums = {
        row["account"]: row["total"]
        for row in Entry.objects.filter(member=member).values("account").annotate(total=Sum("points"))
    }
    lots = {
        row["state"]: row["total"]
        for row in Lot.objects.filter(member=member, state__in=[Lot.State.ACTIVE, Lot.State.PENDING])
        .values("state")
        .annotate(total=Sum("remaining"))
    }
    return {
        "balance": member.balance,
        "entries": int(sums.get(Account.MEMBER, 0)),
        "lots": int(lots.get(Lot.State.ACTIVE, 0)),
        "pending_points": member.pending_points,
        "pending_entries": int(sums.get(Account.MEMBER_PENDING, 0)),
        "pending_lots": int(lots.get(Lot.State.PENDING, 0)),
    }


def program_account_balances(*, program) -> dict[str, int]:
    """Sum of entries per account of a program (all accounts together sum to zero)."""
    rows = Entry.objects.filter(program=program).values("account").annotate(total=Sum("points"))
    return {row["account"]: int(row["total"]) for row in rows}
