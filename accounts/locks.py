"""The member row locks: the one place that locks `Member` rows (Saleor's `lock_objects.py` shape).

The member row guards everything of that member: balance, lots, allocations, purchases, tier,
grants. Every service that changes one of those takes the member's lock first (then other rows:
a campaign's budget, a reward's stock), and code that locks several members locks them in
primary-key order, so two transactions never wait on each other in reverse.

Three rules hold for every function here (`tests/accounts/test_locks.py` checks that nothing
else in the project locks a member):

- `FOR NO KEY UPDATE`: a member's key is never changed, so the lock does not need to conflict
  with the `FOR KEY SHARE` lock that PostgreSQL takes on the member when another transaction
  inserts or updates a row referencing it (a posting, an event, a notification). A job holding a
  chunk of 5 000 members therefore blocks nobody but other writers of those members.
- Ordered by primary key.
- The tier is never joined into the locking read. When another transaction changes a member's
  tier while we wait for the lock, PostgreSQL re-checks the locked row only (EvalPlanQual) and a
  LEFT JOIN comes back null-extended: `tier_id` set and `tier` None. Callers that need the tier
  read it after the lock (`tiers.services.member_tier_of`). The program (never changed on a
  member) may be joined: it is not locked (`of=("self",)`).

Every function must run inside a transaction (`transaction.atomic`), which the lock lasts for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from loyalty_site.core.db import pg_array, select_columns
from loyalty_site.core.errors import NotFound

from .models import Member, Program

LOCK_CLAUSE = "FOR NO KEY UPDATE"


def members_for_update() -> QuerySet[Member]:
    """Members locked `FOR NO KEY UPDATE` (the member rows only), in primary-key order: the base
    of every locking read below."""
    return Member.objects.select_for_update(no_key=True, of=("self",)).order_by("pk")


def member_lock(member: Member | int) -> Member:
    """Lock one member (an instance or an id) and return a fresh copy with its program (joined,
    not locked). Raises Member.DoesNotExist."""
    member_id = member if isinstance(member, int) else member.pk
    return members_for_update().select_related("program").get(pk=member_id)


MEMBER_LOCK_IN_SQL = (
    f"SELECT {select_columns(Member)} FROM accounts_member WHERE id = %s AND program_id = %s {LOCK_CLAUSE}"
)


def member_lock_in(program: Program, member_id: Any) -> Member:
    """Lock member `member_id` of `program` by one plain statement (the purchase's hot path: the
    program, read by the caller in this request, is set on it, not joined). Raises NotFound
    when the program has no such member."""
    locked = next(iter(Member.objects.raw(MEMBER_LOCK_IN_SQL, [member_id, program.pk])), None)
    if locked is None:
        raise NotFound(_("Member not found."))
    locked.program = program
    return locked


def members_lock(member_ids: Iterable[int]) -> list[Member]:
    """Lock several members (a job's chunk; ids as one array parameter) and return them in
    primary-key order. Members of one program share one Program instance (read once, not joined
    and rebuilt per row)."""
    ids = pg_array(list(member_ids))
    members = list(
        members_for_update().extra(where=['"accounts_member"."id" = ANY(%s::bigint[])'], params=[ids])
    )
    programs = Program.objects.in_bulk({member.program_id for member in members})
    for member in members:
        member.program = programs[member.program_id]
    return members


def members_lock_values(member_ids: Iterable[int], *fields: str) -> list[tuple]:
    """Lock several members and return only `fields` of each (`values_list`), in primary-key
    order (a job that needs the tier id or the balance, not instances)."""
    return list(members_for_update().filter(pk__in=list(member_ids)).values_list("pk", *fields))


def members_lock_where(
    where: str, params: dict[str, Any], *, limit: int, program: Program, alias: str = "m"
) -> list[Member]:
    """Lock and return the first `limit` members (primary-key order) of `program` that the SQL
    condition `where` (on table alias `alias`, named `%(name)s` parameters in `params`) selects: a
    job's next chunk, chosen by a condition the ORM cannot say cheaply (the decay job's). Members
    already locked by another transaction are waited for. `program` is set on each member."""
    sql = (
        f"SELECT {select_columns(Member, alias)} FROM accounts_member {alias} "
        f"WHERE {alias}.program_id = %(lock_program)s AND ({where}) "
        f"ORDER BY {alias}.id LIMIT %(lock_limit)s {LOCK_CLAUSE} OF {alias}"
    )
    members = list(Member.objects.raw(sql, {**params, "lock_program": program.pk, "lock_limit": limit}))
    for member in members:
        member.program = program
    return members
