# ruff: noqa: E501 - SQL reads better unwrapped
"""Benchmark of the ledger's decay, expire and warn jobs on 1 000 000 members and 1 000 000 lots,
each against a hand-written set-based SQL statement doing the same writes.

    .venv/bin/python bench/jobs/bench_jobs.py                      # 1 000 000 members, loyalty_bench_jobs
    .venv/bin/python bench/jobs/bench_jobs.py --members 100000     # a quicker run
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/other .venv/bin/python bench/jobs/bench_jobs.py

The database named by BENCH_DATABASE_URL (default loyalty_bench_jobs on the local server) is DROPPED and
re-created. The data is generated with set-based SQL: one program with the seed preset, N members,
one earn posting (two entries) and one lot per member. Member i:

- its lot expires at AT - 1 day + (i - 1) * 365 days / N (expiries spread evenly over a year, one
  day of them already due): the hourly jobs find one day's worth of work, as after a day without
  runs: ~N/365 lots to expire, ~2N/365 lots entering the 48 h warning window;
- if i % 31 == 0 it has been idle between 30 and 31 days (one idle period: ~N/31 members to decay,
  one day's cohort of a base where everybody is idle), otherwise active within the last 29 days.
  Its lot is kept out of the expiry and warning windows so the three jobs touch disjoint rows.

For each job: the SQL statement runs in a transaction that is rolled back (then VACUUM ANALYZE),
then the job runs for real through `loyalty_site.core.jobs.run_job`. Both write the same rows
(postings, entries, allocations, lots, balances, events); the counts are checked equal. The SQL
does not run the hooks (tiers, campaigns, notification outbox) the job runs: that is part of the
job's cost. Results are printed and written to bench/jobs/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench_jobs")
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("LOYALTY_TESTING", "1")  # development secret key; no broker publishing
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def recreate_database() -> None:
    import psycopg

    base, name = BENCH_URL.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


GENERATE_SQL = [
    # members: balance 100..999 (Bronze), idle cohort i % 31 = 0
    """
    INSERT INTO accounts_member (id, program_id, first_name, last_name, card_number, card_token,
        referral_code, status, blocked_reason, balance, pending_points, last_activity_at, created_at, tier_id,
        language)
    SELECT i, %(program)s, '', 'Bench', '9' || lpad(i::text, 12, '0'), 'bench-' || md5(i::text),
        'B' || i, 'active', '', 100 + i %% 900, 0,
        CASE WHEN i %% 31 = 0
             THEN %(at)s - interval '30 days' - (i %% 86400) * interval '1 second'
             ELSE %(at)s - (i %% 29) * interval '1 day' - (i %% 86400) * interval '1 second' END,
        %(at)s - interval '400 days', %(tier)s, ''
    FROM generate_series(1, %(n)s) AS i
    """,
    """
    CREATE TEMP TABLE bench_lot AS
    SELECT i, 100 + i %% 900 AS points,
        CASE WHEN i %% 31 = 0 AND e < %(at)s + interval '3 days' THEN e + interval '180 days' ELSE e END AS expires_at
    FROM (SELECT i, %(at)s - interval '1 day' + (i - 1) * (interval '365 days' / %(n)s) AS e
          FROM generate_series(1, %(n)s) AS i) s
    """,
    """
    INSERT INTO ledger_posting (id, program_id, member_id, kind, reference, fingerprint, points,
        pending_points, balance_after, description, data, created_at)
    SELECT i, %(program)s, i, 'earn', 'bench:' || i, md5(i::text), points, 0, points, 'Earned', '{}',
        expires_at - interval '365 days'
    FROM bench_lot
    """,
    """
    INSERT INTO ledger_entry (posting_id, program_id, member_id, account, kind, points, balance_after, created_at)
    SELECT i, %(program)s, i, 'member', 'earn', points, points, expires_at - interval '365 days' FROM bench_lot
    UNION ALL
    SELECT i, %(program)s, NULL, 'issued', 'earn', -points, NULL, expires_at - interval '365 days' FROM bench_lot
    """,
    """
    INSERT INTO ledger_lot (id, program_id, member_id, posting_id, source, points, remaining, state,
        earned_at, available_at, expires_at)
    SELECT i, %(program)s, i, i, 'earn', points, points, 'active', expires_at - interval '365 days',
        expires_at - interval '365 days', expires_at
    FROM bench_lot
    """,
    "SELECT setval(pg_get_serial_sequence('accounts_member', 'id'), (SELECT max(id) FROM accounts_member))",
    "SELECT setval(pg_get_serial_sequence('ledger_posting', 'id'), (SELECT max(id) FROM ledger_posting))",
    "SELECT setval(pg_get_serial_sequence('ledger_lot', 'id'), (SELECT max(id) FROM ledger_lot))",
]

EVENT_COLUMNS = "(uid, program_id, member_id, type, data, at, key, created_at)"

EXPIRE_SQL = f"""
WITH due AS (
    SELECT l.id, l.member_id, l.program_id, l.remaining, l.expires_at,
           l.expires_at + make_interval(hours => p.renewal_window_hours) AS grace_until
    FROM ledger_lot l JOIN accounts_program p ON p.id = l.program_id
    WHERE l.state = 'active' AND l.expires_at <= %(at)s AND l.remaining > 0
    ORDER BY l.member_id, l.expires_at, l.id
    FOR UPDATE OF l
), per_lot AS (
    SELECT d.*, m.balance - SUM(d.remaining) OVER (PARTITION BY d.member_id ORDER BY d.expires_at, d.id)
           AS balance_after
    FROM due d JOIN accounts_member m ON m.id = d.member_id
), lots AS (
    UPDATE ledger_lot l
    SET state = CASE WHEN %(at)s < d.grace_until THEN 'grace' ELSE 'expired' END, grace_until = d.grace_until
    FROM due d WHERE l.id = d.id RETURNING l.id
), members AS (
    UPDATE accounts_member m SET balance = m.balance - s.total
    FROM (SELECT member_id, SUM(remaining) AS total FROM due GROUP BY member_id) s
    WHERE m.id = s.member_id RETURNING m.id
), postings AS (
    INSERT INTO ledger_posting (program_id, member_id, kind, reference, fingerprint, points, pending_points,
        balance_after, description, data, created_at)
    SELECT program_id, member_id, 'expire', 'expire:' || id || ':' || extract(epoch FROM expires_at)::bigint,
        md5('expire' || id), -remaining, 0, balance_after, 'Points expired',
        jsonb_build_object('lot', id, 'renew_until', grace_until), %(at)s
    FROM per_lot
    RETURNING id, program_id, member_id, points, balance_after
), entries AS (
    INSERT INTO ledger_entry (posting_id, program_id, member_id, account, kind, points, balance_after, created_at)
    SELECT id, program_id, member_id, 'member', 'expire', points, balance_after, %(at)s FROM postings
    UNION ALL
    SELECT id, program_id, NULL, 'expired', 'expire', -points, NULL, %(at)s FROM postings
    RETURNING 1
), events AS (
    INSERT INTO notifications_event {EVENT_COLUMNS}
    SELECT gen_random_uuid(), program_id, member_id, 'points.expired',
        jsonb_build_object('member_id', member_id, 'posting_id', id, 'points', points, 'balance', balance_after),
        %(at)s, 'points.expired:posting:' || id, now()
    FROM postings
    RETURNING 1
)
SELECT (SELECT count(*) FROM lots), (SELECT count(*) FROM members), (SELECT count(*) FROM postings),
       (SELECT count(*) FROM entries), (SELECT count(*) FROM events)
"""

WARN_SQL = f"""
WITH warned AS (
    UPDATE ledger_lot l SET warned_at = %(at)s
    FROM accounts_program p
    WHERE p.id = l.program_id AND l.state = 'active' AND l.remaining > 0 AND l.warned_at IS NULL
      AND l.expires_at > %(at)s AND l.expires_at <= %(at)s + make_interval(hours => p.expiry_warning_hours)
    RETURNING l.id, l.program_id, l.member_id, l.remaining, l.expires_at
), events AS (
    INSERT INTO notifications_event {EVENT_COLUMNS}
    SELECT gen_random_uuid(), program_id, member_id, 'points.expiring',
        jsonb_build_object('member_id', member_id, 'lot_id', id, 'points', remaining, 'expires_at', expires_at),
        %(at)s, 'points.expiring:' || id || ':' || extract(epoch FROM expires_at)::bigint, now()
    FROM warned
    ON CONFLICT (program_id, key) WHERE key IS NOT NULL DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM warned), (SELECT count(*) FROM events)
"""

DECAY_SQL = f"""
WITH candidates AS (
    SELECT m.id, m.program_id, m.balance, COALESCE(m.last_activity_at, m.created_at) AS idle_since,
           floor(extract(epoch FROM %(at)s - COALESCE(m.last_activity_at, m.created_at)) / 86400
                 / p.inactivity_days)::int AS periods,
           floor(m.balance * p.decay_percent / 100)::bigint AS points, p.decay_percent
    FROM accounts_member m JOIN accounts_program p ON p.id = m.program_id
    WHERE m.balance > 0 AND p.decay_percent > 0
      AND COALESCE(m.last_activity_at, m.created_at) <= %(at)s - make_interval(days => p.inactivity_days)
    ORDER BY m.id
    FOR UPDATE OF m
), todo AS (
    SELECT c.*, 'decay:' || c.id || ':' || extract(epoch FROM c.idle_since)::bigint || ':' || c.periods AS reference
    FROM candidates c
    WHERE c.points > 0 AND NOT EXISTS (
        SELECT 1 FROM ledger_posting x WHERE x.program_id = c.program_id
          AND x.reference = 'decay:' || c.id || ':' || extract(epoch FROM c.idle_since)::bigint || ':' || c.periods)
), draws AS (
    SELECT l.id AS lot_id, t.id AS member_id,
           LEAST(l.remaining, GREATEST(t.points - (SUM(l.remaining) OVER w - l.remaining), 0)) AS part
    FROM todo t JOIN ledger_lot l ON l.member_id = t.id AND l.state = 'active' AND l.remaining > 0
    WINDOW w AS (PARTITION BY t.id ORDER BY l.expires_at, l.id)
), lots AS (
    UPDATE ledger_lot l SET remaining = l.remaining - d.part
    FROM draws d WHERE l.id = d.lot_id AND d.part > 0 RETURNING l.id
), members AS (
    UPDATE accounts_member m SET balance = m.balance - t.points FROM todo t WHERE m.id = t.id
    RETURNING m.id, m.balance
), postings AS (
    INSERT INTO ledger_posting (program_id, member_id, kind, reference, fingerprint, points, pending_points,
        balance_after, description, data, created_at)
    SELECT t.program_id, t.id, 'decay', t.reference, md5(t.reference), -t.points, 0, m.balance,
        'Inactivity: ' || t.decay_percent || ' %% of the balance',
        jsonb_build_object('idle_since', t.idle_since, 'period', t.periods), %(at)s
    FROM todo t JOIN members m ON m.id = t.id
    RETURNING id, program_id, member_id, points, balance_after
), entries AS (
    INSERT INTO ledger_entry (posting_id, program_id, member_id, account, kind, points, balance_after, created_at)
    SELECT id, program_id, member_id, 'member', 'decay', points, balance_after, %(at)s FROM postings
    UNION ALL
    SELECT id, program_id, NULL, 'decayed', 'decay', -points, NULL, %(at)s FROM postings
    RETURNING 1
), allocations AS (
    INSERT INTO ledger_allocation (posting_id, lot_id, points, returned)
    SELECT p.id, d.lot_id, d.part, 0 FROM draws d JOIN postings p ON p.member_id = d.member_id WHERE d.part > 0
    RETURNING 1
), events AS (
    INSERT INTO notifications_event {EVENT_COLUMNS}
    SELECT gen_random_uuid(), program_id, member_id, 'points.decayed',
        jsonb_build_object('member_id', member_id, 'posting_id', id, 'points', points, 'balance', balance_after),
        %(at)s, 'points.decayed:posting:' || id, now()
    FROM postings
    RETURNING 1
)
SELECT (SELECT count(*) FROM postings), (SELECT count(*) FROM entries), (SELECT count(*) FROM allocations),
       (SELECT count(*) FROM lots), (SELECT count(*) FROM events)
"""

JOBS = [
    # job name, SQL, names of the SQL's counts, the job summary key that must equal the SQL's postings
    ("expire_points", EXPIRE_SQL, ("lots", "members", "postings", "entries", "events"), "postings"),
    ("warn_expiring", WARN_SQL, ("lots", "events"), "warned"),
    ("decay_inactive", DECAY_SQL, ("postings", "entries", "allocations", "lots", "events"), "decayed"),
]


def vacuum(cursor) -> None:
    for table in (
        "accounts_member",
        "ledger_lot",
        "ledger_posting",
        "ledger_entry",
        "ledger_allocation",
        "notifications_event",
    ):
        cursor.execute(f"VACUUM ANALYZE {table}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="Reuse the data of a previous run.")
    args = parser.parse_args()
    n = args.members

    if not args.keep:
        recreate_database()
    profile = os.environ.get("BENCH_PROFILE")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from accounts.services import merchant_create, program_create
    from loyalty_site.core.jobs import all_jobs, run_job
    from loyalty_site.core.presets import preset_apply
    from tiers.models import Tier

    all_jobs()  # import every app's jobs now: fail before the long data generation
    results: dict = {"members": n, "at": AT.isoformat(), "jobs": {}}
    if not args.keep:
        started = time.monotonic()
        call_command("migrate", verbosity=0)
        program = program_create(merchant=merchant_create(name="Bench"), name="Bench", time_zone="UTC")
        preset_apply(program=program, preset="seed", at=AT.replace(year=2025))
        tier = Tier.objects.filter(program=program).order_by("rank").first()  # the entry tier
        params = {"program": program.pk, "tier": tier.pk if tier else None, "at": AT, "n": n}
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in GENERATE_SQL:
                cursor.execute(statement, params)
        connection.set_autocommit(True)
        with connection.cursor() as cursor:
            vacuum(cursor)
            for table in ("accounts_member", "ledger_lot"):
                cursor.execute(f"SELECT count(*) FROM {table}")
                print(table, cursor.fetchone()[0])
        results["generate_seconds"] = round(time.monotonic() - started, 1)
        print(f"generated in {results['generate_seconds']} s")

    for name, sql, labels, summary_key in JOBS:
        with connection.cursor() as cursor:
            started = time.monotonic()
            cursor.execute("BEGIN")
            cursor.execute(sql, {"at": AT})
            counts = dict(zip(labels, cursor.fetchone(), strict=True))
            sql_seconds = time.monotonic() - started
            cursor.execute("ROLLBACK")
            vacuum(cursor)
        started = time.monotonic()
        if profile and name in profile.split(","):
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            summary = profiler.runcall(run_job, name, at=AT)
            if os.environ.get("BENCH_PROFILE_OUT"):  # for pstats / snakeviz: <out>.<job>
                profiler.dump_stats(f"{os.environ['BENCH_PROFILE_OUT']}.{name}")
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(
                int(os.environ.get("BENCH_PROFILE_LINES", "45"))
            )
        else:
            summary = run_job(name, at=AT)
        job_seconds = time.monotonic() - started
        expected = counts["postings"] if "postings" in counts else counts["lots"]
        got = summary.get(summary_key)
        results["jobs"][name] = {
            "sql_seconds": round(sql_seconds, 2),
            "job_seconds": round(job_seconds, 2),
            "ratio": round(job_seconds / sql_seconds, 2) if sql_seconds else None,
            "sql_counts": counts,
            "job_summary": {k: v for k, v in summary.items() if not isinstance(v, list)},
            "same_rows": got == expected,
            "meets_50s": job_seconds <= 50,
            "meets_2x": job_seconds <= 2 * sql_seconds,
        }
        print(name, json.dumps(results["jobs"][name], default=str))
        with connection.cursor() as cursor:
            vacuum(cursor)

    out = Path(__file__).with_name(f"results-{n}.json")
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
