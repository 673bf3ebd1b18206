"""The jobs' bulk writer (`ledger.engine.Batch`): array parameters, several members and lots in one
chunk, and a duplicate reference failing the whole chunk with nothing written; the jobs' fast paths
(positional instances, lots read as plain values, the decay chunks, the paused collector)."""

import gc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.locks import members_lock
from accounts.models import Member
from ledger import jobs, services
from ledger.engine import (
    Batch,
    Plan,
    SpendableLot,
    _pg_cursor,
    gc_paused,
    lots_update,
    members_spendable_lots,
    new_instance,
    pg_array,
    spendable_lots,
)
from ledger.models import Account, Allocation, Entry, EntryKind, Lot, Posting, PostingKind
from tests.factories import MemberFactory, ProgramFactory


def test_array_literals_round_trip_awkward_values(db):
    texts = ['a"b\\c', None, "x,y {z}", "", "NULL", '{"k": "v\\"q"}', "é ü\n\t"]
    moment = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    with _pg_cursor() as cursor:
        cursor.execute(
            "SELECT %s::varchar[], %s::timestamptz[], %s::numeric[], %s::bigint[], %s::bigint[]",
            [
                pg_array(texts),
                pg_array([moment, None]),
                pg_array([Decimal("1.50"), None]),
                pg_array([1, -2, 9_000_000_000]),
                pg_array([]),
            ],
        )
        row = cursor.fetchone()
    assert row == (texts, [moment, None], [Decimal("1.50"), None], [1, -2, 9_000_000_000], [])


def _idle_members(program, now, balances_lots):
    members = []
    for lots in balances_lots:
        member = MemberFactory(program=program, at=now)
        for j, points in enumerate(lots):
            services.points_bonus(
                member=member,
                points=points,
                at=now + timedelta(minutes=j),
                reference=f"g{member.pk}-{j}",
                description="g",
            )
        Member.objects.filter(pk=member.pk).update(last_activity_at=now)
        members.append(member)
    return members


def test_decay_chunk_of_several_members_draws_across_lots(program, now, invariant):
    # 5 % per idle period, taken first-expiring lot first
    a, b, c = _idle_members(program, now, [[30, 970], [400], [10, 10]])
    at = now + timedelta(days=31)
    assert jobs.decay_inactive(at=at) == {"candidates": 3, "decayed": 3}
    assert jobs.decay_inactive(at=at) == {"candidates": 0, "decayed": 0}  # once per period

    for member, balance, remaining, drawn in [
        (a, 950, [0, 950], [30, 20]),  # 50 = 30 from the first lot, 20 from the second
        (b, 380, [380], [20]),
        (c, 19, [9, 10], [1]),  # floor(5 % of 20) = 1
    ]:
        member.refresh_from_db()
        assert member.balance == balance
        lots = Lot.objects.filter(member=member).order_by("expires_at", "id")
        assert [lot.remaining for lot in lots] == remaining
        posting = Posting.objects.get(member=member, kind=PostingKind.DECAY)
        assert posting.points == -sum(drawn) and posting.balance_after == balance
        assert posting.data["period"] == 1 and posting.created_at == at
        assert sorted(Allocation.objects.filter(posting=posting).values_list("points", flat=True)) == sorted(
            drawn
        )
        assert sorted(
            Entry.objects.filter(posting=posting).values_list("account", "points", "balance_after")
        ) == [
            (Account.DECAYED, sum(drawn), None),
            (Account.MEMBER, -sum(drawn), balance),
        ]
        invariant(member)


def test_a_duplicate_reference_fails_the_whole_batch_with_nothing_written(program, now):
    first, second = _idle_members(program, now, [[100], [200]])
    services.points_bonus(member=second, points=5, at=now, reference="taken", description="g")
    before = (Posting.objects.count(), Entry.objects.count(), Allocation.objects.count())
    at = now + timedelta(hours=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        batch = Batch()
        for member, reference in zip(members_lock([first.pk, second.pk]), ["fresh", "taken"], strict=True):
            plan = Plan(member=member, at=at)
            lots = list(Lot.objects.filter(member=member).order_by("expires_at", "id"))
            plan.debit_lots(lots, 10, kind=EntryKind.DECAY, counter=Account.DECAYED)
            batch.add(plan, kind=PostingKind.DECAY, reference=reference, fingerprint="x", description="d")
        batch.flush()
    assert (Posting.objects.count(), Entry.objects.count(), Allocation.objects.count()) == before
    assert list(
        Member.objects.filter(pk__in=[first.pk, second.pk]).order_by("pk").values_list("balance", flat=True)
    ) == [
        100,
        205,
    ]
    assert sorted(
        Lot.objects.filter(member_id__in=[first.pk, second.pk]).values_list("remaining", flat=True)
    ) == [
        5,
        100,
        200,
    ]


def test_array_literals_quote_repeated_objects_once_and_equal_values_of_other_types_apart(db):
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    with _pg_cursor() as cursor:
        cursor.execute(
            "SELECT %s::timestamptz[], %s::numeric[], %s::varchar[]",
            [
                pg_array([moment, None, moment, None]),
                pg_array([Decimal("1.50"), Decimal("1.5"), 1, Decimal("1.50")]),
                pg_array(["decay", "decay", None]),
            ],
        )
        row = cursor.fetchone()
    assert row == (
        [moment, None, moment, None],
        [Decimal("1.50"), Decimal("1.5"), Decimal("1"), Decimal("1.50")],
        ["decay", "decay", None],
    )
    assert [str(value) for value in row[1]] == ["1.50", "1.5", "1", "1.50"]  # each keeps its scale


def test_new_instance_is_the_keyword_instance(member, now):
    values = {
        "program_id": member.program_id,
        "member_id": member.pk,
        "kind": PostingKind.DECAY,
        "reference": "r",
        "fingerprint": "f",
        "points": -5,
        "balance_after": 95,
        "created_at": now,
        "recorded_at": now,
        "data": {"period": 1},
    }
    built, keyword = new_instance(Posting, **values), Posting(**values)
    fields = [field.attname for field in Posting._meta.concrete_fields]
    assert [getattr(built, name) for name in fields] == [getattr(keyword, name) for name in fields]
    assert built.description == "" and built.pending_points == 0 and built.purchase_id is None
    assert built._state.adding and built.pk is None
    assert new_instance(Posting, data={}).data is not new_instance(Posting).data  # callable default
    # a relation given as an object (not an attname) takes the keyword path
    assert new_instance(Posting, member=member, **{"created_at": now}).member_id == member.pk


def test_spendable_lots_of_a_chunk_are_each_members_spendable_lots(program, now):
    a, b, c = _idle_members(program, now, [[30, 970], [400], []])
    rows = members_spendable_lots([a.pk, b.pk, c.pk])
    assert set(rows) == {a.pk, b.pk}
    for member in (a, b):
        assert [(lot.pk, lot.remaining, lot.state) for lot in rows[member.pk]] == [
            (lot.pk, lot.remaining, lot.state) for lot in spendable_lots(member)
        ]


def test_lots_update_writes_only_remaining_of_spendable_lots(program, now):
    (member,) = _idle_members(program, now, [[30, 970]])
    first, second = spendable_lots(member)
    second.remaining, second.warned_at = 900, now  # a Lot instance: every mutable field
    lots_update([SpendableLot(first.pk, 10), second])
    first_after, second_after = Lot.objects.filter(member=member).order_by("expires_at", "id")
    assert (first_after.remaining, first_after.state, first_after.expires_at) == (
        10,
        first.state,
        first.expires_at,
    )
    assert (second_after.remaining, second_after.warned_at) == (900, now)


def test_decay_walks_each_program_in_chunks(program, now, invariant, monkeypatch):
    # a second program, idle after 10 days, 10 %; the first program's members on both sides of its ids
    other = ProgramFactory(decay_percent=Decimal("10"), inactivity_days=10)
    members = _idle_members(program, now, [[100], [200], [300]])
    members += _idle_members(other, now, [[100], [200], [300], [400], [500]])
    members += _idle_members(program, now, [[400], [500]])
    monkeypatch.setattr(jobs, "DECAY_CHUNK", 2)

    assert jobs.decay_inactive(at=now + timedelta(days=11)) == {"candidates": 5, "decayed": 5}
    assert jobs.decay_inactive(at=now + timedelta(days=31)) == {"candidates": 10, "decayed": 10}
    assert jobs.decay_inactive(at=now + timedelta(days=31)) == {"candidates": 0, "decayed": 0}

    for member in members:
        member.refresh_from_db()
        start = Lot.objects.get(member=member).points
        if member.program_id == other.pk:  # 10 % at 11 days (period 1), 10 % at 31 (period 3)
            after_first = start - start // 10
            assert member.balance == after_first - after_first // 10
        else:  # 5 % at 31 days
            assert member.balance == start - start * 5 // 100
        invariant(member)


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_paused_restores_the_collectors_setting(enabled):
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        with gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(ZeroDivisionError), gc_paused():
            1 / 0  # noqa: B018 - an error inside still restores it
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()
