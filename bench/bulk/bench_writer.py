"""Paired benchmark of the one bulk writer (`loyalty_site.core.bulk`) against Django's
`bulk_create` and against the hand-written statements it replaced (commit 8608c3e's
`POSTINGS_INSERT_SQL` / `ENTRIES_INSERT_SQL` in ledger/engine.py): a job's chunk of N postings
with two entries each, written in a transaction that is rolled back, the three ways alternating
on the same rows, `--rounds` times. Prints one JSON line with each way's median seconds.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/loyalty_bench SECRET_KEY=bench-only
    .venv/bin/python manage.py migrate
    .venv/bin/python bench/bulk/bench_writer.py --postings 5000 --rounds 7
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret")

import django  # noqa: E402

django.setup()

from django.core.serializers.json import DjangoJSONEncoder  # noqa: E402
from django.db import transaction  # noqa: E402

from accounts.models import Member, Merchant, Program  # noqa: E402
from ledger.engine import _pg_cursor  # noqa: E402
from ledger.models import Entry, Posting  # noqa: E402
from loyalty_site.core.bulk import instances_insert, rows_insert  # noqa: E402
from loyalty_site.core.db import pg_array  # noqa: E402

# the statements of commit 8608c3e, column lists written by hand
HAND_POSTINGS = """
INSERT INTO ledger_posting (program_id, member_id, kind, reference, fingerprint, points, pending_points,
    balance_after, purchase_id, campaign_id, amount, fee, description, user_id, data, created_at, recorded_at)
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::varchar[], %s::varchar[], %s::varchar[], %s::bigint[],
                     %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::numeric[], %s::numeric[],
                     %s::varchar[], %s::bigint[], %s::jsonb[], %s::timestamptz[], %s::timestamptz[])
RETURNING id, program_id, reference
"""
HAND_ENTRIES = (
    "INSERT INTO ledger_entry (posting_id, program_id, member_id, account, kind, points, balance_after, "
    "created_at) SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::varchar[], "
    "%s::varchar[], %s::bigint[], %s::bigint[], %s::timestamptz[])"
)
AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def _postings(program, member, n, tag):
    return [
        Posting(
            program_id=program.pk,
            member_id=member.pk,
            kind="expire",
            reference=f"bench:{tag}:{i}",
            fingerprint="f" * 64,
            points=-10,
            balance_after=100,
            description="Points expired",
            data={"lots": [i]},
            created_at=AT,
            recorded_at=AT,
        )
        for i in range(n)
    ]


def _entry_rows(program, member, postings):
    rows = []
    for p in postings:
        rows.append((p.pk, program.pk, member.pk, "member", "expire", -10, 100, AT))
        rows.append((p.pk, program.pk, None, "expired", "expire", 10, None, AT))
    return rows


def way_bulk_create(program, member, n, tag):
    postings = Posting.objects.bulk_create(_postings(program, member, n, tag))
    Entry.objects.bulk_create(
        [
            Entry(
                posting_id=r[0],
                program_id=r[1],
                member_id=r[2],
                account=r[3],
                kind=r[4],
                points=r[5],
                balance_after=r[6],
                created_at=r[7],
            )
            for r in _entry_rows(program, member, postings)
        ]
    )


def way_writer(program, member, n, tag):
    postings = _postings(program, member, n, tag)
    instances_insert(postings)
    columns = list(zip(*_entry_rows(program, member, postings), strict=True))
    names = (
        "posting_id",
        "program_id",
        "member_id",
        "account",
        "kind",
        "points",
        "balance_after",
        "created_at",
    )
    rows_insert(Entry, dict(zip(names, map(list, columns), strict=True)))


def way_hand(program, member, n, tag):
    postings = _postings(program, member, n, tag)
    dumps = DjangoJSONEncoder().encode
    with _pg_cursor() as cursor:
        cursor.execute(
            HAND_POSTINGS,
            [
                pg_array(column)
                for column in (
                    [p.program_id for p in postings],
                    [p.member_id for p in postings],
                    [p.kind for p in postings],
                    [p.reference for p in postings],
                    [p.fingerprint for p in postings],
                    [p.points for p in postings],
                    [p.pending_points for p in postings],
                    [p.balance_after for p in postings],
                    [p.purchase_id for p in postings],
                    [p.campaign_id for p in postings],
                    [p.amount for p in postings],
                    [p.fee for p in postings],
                    [p.description for p in postings],
                    [p.user_id for p in postings],
                    [dumps(p.data) for p in postings],
                    [p.created_at for p in postings],
                    [p.recorded_at for p in postings],
                )
            ],
        )
        ids = {(program_id, reference): pk for pk, program_id, reference in cursor.fetchall()}
        for p in postings:
            p.pk = ids[(p.program_id, p.reference)]
        columns = list(zip(*_entry_rows(program, member, postings), strict=True))
        cursor.execute(HAND_ENTRIES, [pg_array(list(column)) for column in columns])


WAYS = {"bulk_create": way_bulk_create, "writer": way_writer, "hand_written": way_hand}


class Rollback(Exception):
    pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postings", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    merchant, _ = Merchant.objects.get_or_create(name="bench-bulk")
    program = Program.objects.filter(merchant=merchant).first() or Program.objects.create(
        merchant=merchant, name="bench-bulk", base_currency="AZN"
    )
    member = Member.objects.filter(program=program).first() or Member.objects.create(
        program=program,
        external_id="bench-bulk",
        card_number="999000111",
        card_token="bench-bulk-token",
        referral_code="BENCHBLK",
    )
    times: dict[str, list[float]] = {name: [] for name in WAYS}
    for round_ in range(args.rounds + 1):  # the first round warms up and is not counted
        order = list(WAYS) if round_ % 2 == 0 else list(reversed(WAYS))
        for name in order:
            try:
                with transaction.atomic():
                    start = time.perf_counter()
                    WAYS[name](program, member, args.postings, f"{name}{round_}")
                    elapsed = time.perf_counter() - start
                    raise Rollback
            except Rollback:
                pass
            if round_:
                times[name].append(elapsed)
    print(
        json.dumps(
            {
                "postings": args.postings,
                "entries": 2 * args.postings,
                "rounds": args.rounds,
                "median_s": {name: round(statistics.median(ts), 4) for name, ts in times.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
