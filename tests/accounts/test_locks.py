"""The member lock module (`accounts.locks`): the only code that locks member rows, and its lock
(`FOR NO KEY UPDATE`) lets other transactions insert rows that reference the locked members."""

import ast
import re
import threading
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.db.utils import OperationalError

from accounts.locks import member_lock, member_lock_in, members_lock, members_lock_values
from accounts.models import Member
from campaigns.models import ActivityEvent
from loyalty_site.core.db import sqlstate
from loyalty_site.core.errors import NotFound
from tests.factories import MemberFactory, ProgramFactory

ROOT = Path(__file__).resolve().parents[2]
LOCK_MODULE = Path("accounts/locks.py")
# this file locks members with a plain FOR UPDATE on purpose (the counter-example below); bench/
# keeps copies of statements for paired measurements, not code the product runs
ALLOWED = {LOCK_MODULE, Path("tests/accounts/test_locks.py")}
SKIPPED_DIRS = {".venv", "bench", "node_modules", ".git", ".pgdata"}
LOCKING_SQL = re.compile(r"\bFOR\s+(NO\s+KEY\s+)?(UPDATE|SHARE)\b", re.IGNORECASE)


def _names_member(node: ast.AST) -> bool:
    """Whether the expression mentions the Member model (`Member.objects...`, `models.Member`)."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and sub.id == "Member":
            return True
        if isinstance(sub, ast.Attribute) and sub.attr == "Member":
            return True
    return False


def _string_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value for part in node.values if isinstance(part, ast.Constant))
    return None


def member_locks_in(source: str) -> list[int]:
    """Lines of `source` that lock member rows: `select_for_update` on a Member queryset, or SQL
    text that names the member table and takes a row lock."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "select_for_update"
            and _names_member(node.func.value)
        ):
            lines.append(node.lineno)
        text = _string_of(node)
        if text and "accounts_member" in text and LOCKING_SQL.search(text):
            lines.append(node.lineno)
    return sorted(set(lines))


def _project_files():
    for path in ROOT.rglob("*.py"):
        relative = path.relative_to(ROOT)
        if not SKIPPED_DIRS.intersection(relative.parts):
            yield relative


def test_the_checker_finds_member_locks():
    assert member_locks_in("Member.objects.select_for_update().get(pk=1)") == [1]
    assert member_locks_in("x = 1\nMember.objects.filter(pk=1).select_for_update(of=('self',))") == [2]
    assert member_locks_in("models.Member.objects.all().select_for_update()") == [1]
    assert member_locks_in('SQL = f"SELECT {c} FROM accounts_member m ORDER BY m.id FOR UPDATE OF m"') == [1]
    assert member_locks_in("Lot.objects.select_for_update(skip_locked=True)") == []
    assert member_locks_in('SQL = "SELECT id FROM accounts_member WHERE id = %s"') == []


def test_only_the_lock_module_locks_members():
    found = {}
    for relative in _project_files():
        if relative in ALLOWED:
            continue
        lines = member_locks_in((ROOT / relative).read_text())
        if lines:
            found[str(relative)] = lines
    assert not found, f"lock members with accounts.locks, not by hand: {found}"
    assert member_locks_in((ROOT / LOCK_MODULE).read_text())  # the module itself is seen


@pytest.mark.django_db
def test_the_locks_read_members_in_key_order_without_the_tier(now):
    program = ProgramFactory()
    members = [MemberFactory(program=program, at=now) for _ in range(3)]
    ids = [member.pk for member in members]
    with transaction.atomic():
        assert [m.pk for m in members_lock(reversed(ids))] == sorted(ids)
        assert [pk for pk, _balance in members_lock_values(reversed(ids), "balance")] == sorted(ids)
        locked = member_lock(members[0])
        assert locked.program == program and "tier" not in locked._state.fields_cache
        assert member_lock_in(program, ids[1]).pk == ids[1]
        with pytest.raises(NotFound):
            member_lock_in(ProgramFactory(), ids[1])


def _insert_events_elsewhere(member_ids, outcome):
    """In another connection (a thread has its own): insert an event referencing each member, giving
    up at once on a lock wait (lock_timeout) instead of waiting for the locker to end."""
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            for member_id in member_ids:
                ActivityEvent.objects.create(
                    member_id=member_id, type="login", occurred_at="2026-11-22T10:00Z"
                )
        outcome["inserted"] = True
    except OperationalError as error:
        outcome["error"] = sqlstate(error)
    finally:
        connection.close()


def _while_locked(lock, member_ids) -> dict:
    outcome: dict = {}
    with transaction.atomic():
        lock(member_ids)
        other = threading.Thread(target=_insert_events_elsewhere, args=(member_ids, outcome))
        other.start()
        other.join()
    return outcome


@pytest.mark.django_db(transaction=True)
def test_a_locked_chunk_does_not_block_inserts_that_reference_its_members(now):
    program = ProgramFactory()
    ids = [MemberFactory(program=program, at=now).pk for _ in range(3)]

    assert _while_locked(members_lock, ids) == {"inserted": True}
    assert ActivityEvent.objects.filter(member_id__in=ids).count() == 3

    def plain_for_update(member_ids):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM accounts_member WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [member_ids]
            )

    # the counter-example: FOR UPDATE conflicts with the insert's FOR KEY SHARE on the member
    assert _while_locked(plain_for_update, ids) == {"error": "55P03"}  # lock_not_available
    assert ActivityEvent.objects.filter(member_id__in=ids).count() == 3
    assert Member.objects.filter(pk__in=ids).count() == 3
