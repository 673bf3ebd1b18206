"""The jobs' bulk writer (`ledger.engine.Batch`): array parameters, several members and lots in one
chunk, and a duplicate reference failing the whole chunk with nothing written."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Member
from ledger import jobs, services
from ledger.engine import Batch, Plan, _pg_cursor, members_lock, pg_array
from ledger.models import Account, Allocation, Entry, EntryKind, Lot, Posting, PostingKind
from tests.factories import MemberFactory


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
    for i, lots in enumerate(balances_lots):
        member = MemberFactory(program=program, at=now)
        for j, points in enumerate(lots):
            services.points_bonus(
                member=member,
                points=points,
                at=now + timedelta(minutes=j),
                reference=f"g{i}-{j}",
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
