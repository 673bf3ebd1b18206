"""The posting writers: the one-statement `_posting_write` (PostgreSQL, a credit with at most one new
lot) writes exactly what `_posting_write_each` writes statement by statement, and with
`skip_conflict` a reference already used writes nothing at all."""

from datetime import timedelta

import pytest
from django.forms.models import model_to_dict

from accounts.models import Member
from ledger import engine
from ledger.engine import Plan, fingerprint
from ledger.models import Account, Entry, EntryKind, Lot, Posting
from tests.factories import MemberFactory
from tests.ledger.conftest import assert_invariant


def _plan(member, now, *, points, pending_days=0, activity=True) -> Plan:
    plan = Plan(member=member, at=now)
    plan.credit(
        points,
        kind=EntryKind.EARN,
        counter=[(Account.ISSUED, points)],
        expires_at=now + timedelta(days=365),
        available_at=now + timedelta(days=pending_days) if pending_days else None,
    )
    if activity:
        plan.activity_at = now
    return plan


def _posting(plan, reference):
    return plan.build_posting(
        kind="earn", reference=reference, fingerprint=fingerprint(kind="earn", ref=reference), description="t"
    )


def _rows(member) -> dict:
    """What a member's postings wrote, without ids and the member's own id."""
    strip = {"id", "member", "posting", "reference", "fingerprint"}
    member = Member.objects.get(pk=member.pk)
    return {
        "member": (member.balance, member.pending_points, member.last_activity_at),
        "postings": [
            {k: v for k, v in model_to_dict(p).items() if k not in strip}
            for p in Posting.objects.filter(member=member)
        ],
        "entries": sorted(
            (e.account, e.kind, e.points, e.balance_after, e.member_id == member.pk, e.created_at)
            for e in Entry.objects.filter(posting__member=member)
        ),
        "lots": [
            {k: v for k, v in model_to_dict(lot).items() if k not in strip}
            for lot in Lot.objects.filter(member=member)
        ],
    }


@pytest.mark.parametrize("pending_days", [0, 14])
def test_one_statement_writes_what_the_statements_one_by_one_write(program, now, pending_days):
    one, each = MemberFactory(program=program), MemberFactory(program=program)
    for member, write in ((one, engine._posting_write), (each, engine._posting_write_each)):
        plan = _plan(member, now, points=250, pending_days=pending_days)
        posting = _posting(plan, f"test:{member.pk}")
        assert write(plan, posting, skip_conflict=True, member=True) is True
        assert posting.pk and plan.new_lots[0].pk and plan.new_lots[0].posting_id == posting.pk
        assert Lot.objects.get(pk=plan.new_lots[0].pk).posting_id == posting.pk
        member.balance, member.pending_points = plan.balance, plan.pending
        assert_invariant(member)
    assert _rows(one) == _rows(each)
    assert _rows(one)["member"] == ((0, 250, now) if pending_days else (250, 0, now))


def test_no_member_change_leaves_the_member_row_alone(program, now):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    member = MemberFactory(program=program)
    before = Member.objects.get(pk=member.pk).last_activity_at
    plan = Plan(member=member, at=now)  # a posting with no legs on the member (as a system move)
    plan._system_leg(Account.ISSUED, EntryKind.ADJUST, 5)
    plan._system_leg(Account.EXPIRED, EntryKind.ADJUST, -5)
    plan.activity_at = now + timedelta(days=1)  # would show if the member row were written
    posting = _posting(plan, "system:1")
    with CaptureQueriesContext(connection) as queries:
        assert engine._posting_write(plan, posting, skip_conflict=False, member=False) is True
    assert "accounts_member" not in queries[0]["sql"] and len(queries) == 1
    assert Entry.objects.filter(posting=posting).count() == 2
    assert Member.objects.get(pk=member.pk).last_activity_at == before


def test_a_used_reference_writes_nothing_and_the_commit_returns_the_original(program, now):
    member = MemberFactory(program=program)
    first = _plan(member, now, points=100)
    original = first.commit(kind="earn", reference="dup:1", fingerprint=fingerprint(kind="earn", ref="dup"))
    stored = _rows(member)

    # a second plan for the same reference (as a concurrent transaction that planned before the
    # first committed): the insert skips it, nothing else is written, the original comes back
    again = _plan(Member.objects.get(pk=member.pk), now + timedelta(minutes=1), points=100)
    with pytest.raises(engine.AlreadyPosted) as raised:
        again.commit(kind="earn", reference="dup:1", fingerprint=fingerprint(kind="earn", ref="dup"))
    assert raised.value.posting.pk == original.pk
    assert _rows(member) == stored
    assert again.new_lots[0].pk is None
