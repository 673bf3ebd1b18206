# ruff: noqa: E501 - SQL reads better unwrapped
"""Every scheduled job on the million-member data set (bench/dataset/build.py), each against
hand-written SQL doing the same writes, same run, same data.

    .venv/bin/python -u bench/dataset/build.py --members 1000000           # once: loyalty_bench_million
    .venv/bin/python -u bench/jobs/bench_all.py                             # copies it to loyalty_bench_all
    .venv/bin/python -u bench/jobs/bench_all.py --members 10000 --jobs reevaluate_tiers,birthdays

The data set's database is the template: it is copied (CREATE DATABASE ... TEMPLATE) to
BENCH_DATABASE_URL (default loyalty_bench_all, DROPPED first) and the jobs run there, at the data
set's AT, in the order of JOBS. For each job: the SQL (when there is one) runs in a transaction that
is rolled back, then the job runs for real through `run_job`. `same_rows` compares what both
changed: the rows each added per table, the lots per state, the members' balances, tiers and
statuses, the events per type, the grace states, segment memberships (`STATE_SQL`, read before,
after the SQL inside its transaction, and after the job). A job without an SQL baseline is timed
alone (`sql_seconds` null). Then the notification backlog: `--backlog N` outbox rows (`pending`,
e-mail) delivered by `deliver_notifications` to the console e-mail backend.
Results: bench/jobs/results-all-<members>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "jobs"))
BENCH_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench_all")
TEMPLATE_URL = os.environ.get(
    "BENCH_TEMPLATE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench_million"
)
os.environ["DATABASE_URL"] = BENCH_URL
os.environ.setdefault("LOYALTY_TESTING", "1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("EMAIL_URL", "dummymail://")  # the backlog's e-mails go nowhere

from bench_jobs import DECAY_SQL, EXPIRE_SQL, WARN_SQL  # noqa: E402

# What a job changed, as numbers: compared before / after. Tables only appended to are counted;
# updated ones are summed over the columns jobs change.
STATE_SQL = """
SELECT jsonb_build_object(
    'postings', (SELECT count(*) FROM ledger_posting),
    'posting_points', (SELECT COALESCE(sum(points), 0) FROM ledger_posting),
    'entries', (SELECT count(*) FROM ledger_entry),
    'allocations', (SELECT count(*) FROM ledger_allocation),
    'lots', (SELECT jsonb_object_agg(state, n) FROM (SELECT state, count(*) || ':' || sum(remaining) AS n FROM ledger_lot GROUP BY state) s),
    'lots_warned', (SELECT count(*) FROM ledger_lot WHERE warned_at IS NOT NULL),
    'members', (SELECT count(*) || ':' || sum(balance) || ':' || sum(pending_points) || ':' || sum(tier_id) || ':' || count(*) FILTER (WHERE status = 'blocked') FROM accounts_member),
    'events', (SELECT jsonb_object_agg(type, n) FROM (SELECT type, count(*) AS n FROM notifications_event GROUP BY type) e),
    'notifications', (SELECT count(*) || ':' || count(*) FILTER (WHERE status = 'pending') FROM notifications_notification),
    'webhook_deliveries', (SELECT count(*) FROM notifications_webhookdelivery),
    'grants', (SELECT count(*) || ':' || sum(points) FROM campaigns_campaigngrant),
    'coupons', (SELECT count(*) FROM campaigns_coupon),
    'campaign_points', (SELECT sum(points_granted) FROM campaigns_campaign),
    'tier_changes', (SELECT count(*) FROM tiers_tierchange),
    'tier_states', (SELECT count(*) || ':' || count(below_since) FROM tiers_membertierstate),
    'tier_gifts', (SELECT count(*) FROM tiers_tiergift),
    'segment_rows', (SELECT count(*) FROM campaigns_segmentmembership),
    'segment_sizes', (SELECT sum(member_count) FROM campaigns_segment),
    'fraud_flags', (SELECT count(*) FROM fraud_fraudflag),
    'idempotency', (SELECT count(*) FROM api_idempotencyrecord),
    'sessions', (SELECT count(*) FROM django_session)
)
"""

# reevaluate_tiers: members whose tier is not the one their qualifying points (or a manual floor)
# give; with the program's grace of 0 days, straight to it: tier change, member, grace state, event.
REEVALUATE_SQL = """
WITH v AS (
    SELECT member_id, GREATEST(sum(points), 0) AS value FROM ledger_entry
    WHERE program_id = %(program)s AND account IN ('member', 'member_pending')
      AND kind IN ('earn', 'bonus', 'partner', 'reversal') AND created_at <= %(at)s
      AND created_at > %(at)s - interval '365 days'
    GROUP BY member_id
), f AS (
    SELECT o.member_id, max(t.rank) AS rank FROM tiers_tieroverride o JOIN tiers_tier t ON t.id = o.tier_id
    WHERE o.program_id = %(program)s AND o.starts_at <= %(at)s AND o.ends_at > %(at)s GROUP BY o.member_id
), target AS (
    SELECT m.id AS member_id, m.tier_id AS from_id, cur.code AS from_code, cur.name AS from_name, cur.rank AS from_rank,
        COALESCE(v.value, 0) AS value,
        GREATEST((SELECT max(rank) FROM tiers_tier t WHERE t.program_id = %(program)s AND t.threshold <= COALESCE(v.value, 0)),
                 COALESCE(f.rank, 0)) AS rank
    FROM accounts_member m JOIN tiers_tier cur ON cur.id = m.tier_id
    LEFT JOIN v ON v.member_id = m.id LEFT JOIN f ON f.member_id = m.id
    WHERE m.program_id = %(program)s
    ORDER BY m.id
    FOR UPDATE OF m
), chg AS (
    SELECT target.*, t.id AS to_id, t.code AS to_code, t.name AS to_name
    FROM target JOIN tiers_tier t ON t.program_id = %(program)s AND t.rank = target.rank
    WHERE target.rank <> target.from_rank
), ins AS (
    INSERT INTO tiers_tierchange (program_id, member_id, from_tier_id, to_tier_id, reason, note, qualifying_value, at)
    SELECT %(program)s, member_id, from_id, to_id, 'reevaluation', '', value, %(at)s FROM chg
    RETURNING id, member_id
), members AS (
    UPDATE accounts_member m SET tier_id = chg.to_id FROM chg WHERE m.id = chg.member_id RETURNING 1
), states AS (
    UPDATE tiers_membertierstate s SET below_since = NULL, evaluated_at = %(at)s FROM chg
    WHERE s.member_id = chg.member_id RETURNING 1
), events AS (
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, chg.member_id, 'tier.changed',
        jsonb_build_object('member', chg.member_id, 'from', from_code, 'from_name', from_name, 'to', to_code,
            'to_name', to_name, 'direction', CASE WHEN rank > from_rank THEN 'up' ELSE 'down' END,
            'reason', 'reevaluation', 'qualifying_value', value),
        %(at)s, 'tier.changed:' || ins.id, now()
    FROM chg JOIN ins ON ins.member_id = chg.member_id
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM members), (SELECT count(*) FROM events)
"""

# A campaign grant of points, the way `campaigns_apply` + `points_bonus` write it, for the members
# in `todo` (member_id, period_key): grant, bonus posting, entries, lot, balance, events.
_GRANT_POINTS = """
, locked AS (
    SELECT m.id, m.balance FROM accounts_member m JOIN todo ON todo.member_id = m.id ORDER BY m.id FOR UPDATE OF m
), grants AS (
    INSERT INTO campaigns_campaigngrant (campaign_id, member_id, period_key, points, cost, purchase_ref, created_at)
    SELECT %(campaign)s, member_id, period_key, %(points)s, %(points)s * %(point_value)s, '', %(at)s FROM todo
    ON CONFLICT DO NOTHING
    RETURNING id, member_id, period_key
), members AS (
    UPDATE accounts_member m SET balance = m.balance + %(points)s FROM grants g WHERE m.id = g.member_id
    RETURNING m.id, m.balance
), postings AS (
    INSERT INTO ledger_posting (program_id, member_id, kind, reference, fingerprint, points, pending_points,
        balance_after, campaign_id, description, data, created_at, recorded_at)
    SELECT %(program)s, g.member_id, 'bonus', 'campaign:' || %(campaign)s || ':' || g.member_id || ':' || g.period_key,
        md5(g.member_id::text), %(points)s, 0, m.balance, %(campaign)s, %(name)s, '{}', %(at)s, %(at)s
    FROM grants g JOIN members m ON m.id = g.member_id
    RETURNING id, member_id, points, balance_after, reference
), entries AS (
    INSERT INTO ledger_entry (posting_id, program_id, member_id, account, kind, points, balance_after, created_at)
    SELECT id, %(program)s, member_id, 'member', 'bonus', points, balance_after, %(at)s FROM postings
    UNION ALL
    SELECT id, %(program)s, NULL, 'issued', 'bonus', -points, NULL, %(at)s FROM postings
    RETURNING 1
), lots AS (
    INSERT INTO ledger_lot (program_id, member_id, posting_id, source, points, remaining, state, earned_at, available_at, expires_at)
    SELECT %(program)s, member_id, id, 'bonus', points, points, 'active', %(at)s, %(at)s, %(at)s + interval '365 days' FROM postings
    RETURNING 1
), campaign AS (
    UPDATE campaigns_campaign SET points_granted = points_granted + %(points)s * (SELECT count(*) FROM grants)
    WHERE id = %(campaign)s RETURNING 1
), events AS (
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, member_id, 'points.earned',
        jsonb_build_object('kind', 'bonus', 'change', points, 'points', points, 'balance', balance_after,
            'member_id', member_id, 'reference', reference, 'posting_id', id, 'purchase_id', NULL, 'pending_points', 0),
        %(at)s, 'points.earned:posting:' || id, now() FROM postings
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, member_id, 'reward.granted',
        jsonb_build_object('coupon', NULL, 'points', %(points)s, 'campaign', %(code)s, 'description', %(name)s,
            'campaign_name', %(name)s), %(at)s, 'reward.granted:' || id, now() FROM grants
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, member_id, %(notify)s,
        jsonb_build_object('message', %(message)s, 'campaign', %(code)s), %(at)s, %(notify)s || ':' || id, now()
    FROM grants WHERE %(notify)s <> ''
    RETURNING 1
)
SELECT (SELECT count(*) FROM grants), (SELECT count(*) FROM postings), (SELECT count(*) FROM entries),
       (SELECT count(*) FROM events)
"""

BIRTHDAYS_SQL = (
    """
WITH todo AS (
    SELECT m.id AS member_id, extract(year FROM %(at)s AT TIME ZONE 'UTC')::text AS period_key
    FROM accounts_member m
    WHERE m.program_id = %(program)s AND m.status = 'active'
      AND extract(month FROM m.birth_date) = extract(month FROM %(at)s AT TIME ZONE 'UTC')
      AND extract(day FROM m.birth_date) = extract(day FROM %(at)s AT TIME ZONE 'UTC')
)"""
    + _GRANT_POINTS
)

# inactivity_reminders: members idle at least the campaign's days, not reached in this idle
# stretch: a grant (no points) and the campaign's notification event.
INACTIVITY_SQL = """
WITH todo AS (
    SELECT m.id AS member_id, 'idle:' || to_char(m.last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00' AS period_key
    FROM accounts_member m
    WHERE m.program_id = %(program)s AND m.status = 'active' AND m.last_activity_at <= %(at)s - %(days)s * interval '1 day'
      AND NOT EXISTS (SELECT 1 FROM campaigns_campaigngrant g WHERE g.campaign_id = %(campaign)s AND g.member_id = m.id
                      AND g.created_at >= m.last_activity_at)
    ORDER BY m.id
), locked AS (
    SELECT m.id FROM accounts_member m JOIN todo ON todo.member_id = m.id ORDER BY m.id FOR UPDATE OF m
), grants AS (
    INSERT INTO campaigns_campaigngrant (campaign_id, member_id, period_key, points, cost, purchase_ref, created_at)
    SELECT %(campaign)s, member_id, period_key, 0, 0, '', %(at)s FROM todo
    ON CONFLICT DO NOTHING RETURNING id, member_id
), events AS (
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, member_id, 'reward.granted',
        jsonb_build_object('coupon', NULL, 'points', 0, 'campaign', %(code)s, 'description', %(name)s,
            'campaign_name', %(name)s), %(at)s, 'reward.granted:' || id, now() FROM grants
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, member_id, %(notify)s,
        jsonb_build_object('message', %(message)s, 'campaign', %(code)s), %(at)s, %(notify)s || ':' || id, now()
    FROM grants
    RETURNING 1
)
SELECT (SELECT count(*) FROM grants), (SELECT count(*) FROM events)
"""

# tier_gifts (require activity): each gifting tier's members active in its last completed period
# get the gift: TierGift row and a bonus posting, entries, lot, balance, points.earned event.
TIER_GIFTS_SQL = """
WITH periods AS (
    SELECT * FROM unnest(%(tier_ids)s::bigint[], %(keys)s::text[], %(starts)s::timestamptz[], %(ends)s::timestamptz[],
                         %(gifts)s::bigint[], %(names)s::text[]) AS p(tier_id, key, start_at, end_at, points, name)
), todo AS (
    SELECT m.id AS member_id, p.* FROM accounts_member m JOIN periods p ON p.tier_id = m.tier_id
    WHERE m.program_id = %(program)s AND m.status = 'active' AND m.created_at < p.end_at
      AND NOT EXISTS (SELECT 1 FROM tiers_tiergift g WHERE g.member_id = m.id AND g.period = p.key)
      AND (EXISTS (SELECT 1 FROM ledger_purchase x WHERE x.member_id = m.id AND x.occurred_at >= p.start_at AND x.occurred_at < p.end_at)
           OR EXISTS (SELECT 1 FROM ledger_posting x WHERE x.member_id = m.id AND x.kind IN ('earn', 'redeem', 'partner', 'cashout')
                      AND x.created_at >= p.start_at AND x.created_at < p.end_at)
           OR (m.last_activity_at >= p.start_at AND m.last_activity_at < p.end_at))
    ORDER BY m.id
    FOR UPDATE OF m
), gifts AS (
    INSERT INTO tiers_tiergift (program_id, member_id, tier_id, period, points, at, reference)
    SELECT %(program)s, member_id, tier_id, key, points, %(at)s, 'tier_gift:' || member_id || ':' || key FROM todo
    ON CONFLICT DO NOTHING RETURNING member_id, period, points
), members AS (
    UPDATE accounts_member m SET balance = m.balance + g.points FROM gifts g WHERE m.id = g.member_id
    RETURNING m.id, m.balance
), postings AS (
    INSERT INTO ledger_posting (program_id, member_id, kind, reference, fingerprint, points, pending_points,
        balance_after, description, data, created_at, recorded_at)
    SELECT %(program)s, g.member_id, 'bonus', 'tier_gift:' || g.member_id || ':' || g.period, md5(g.member_id::text),
        g.points, 0, m.balance, t.name || ' gift for ' || split_part(g.period, ':', 2), '{}', %(at)s, %(at)s
    FROM gifts g JOIN members m ON m.id = g.member_id JOIN todo t ON t.member_id = g.member_id
    RETURNING id, member_id, points, balance_after, reference
), entries AS (
    INSERT INTO ledger_entry (posting_id, program_id, member_id, account, kind, points, balance_after, created_at)
    SELECT id, %(program)s, member_id, 'member', 'bonus', points, balance_after, %(at)s FROM postings
    UNION ALL
    SELECT id, %(program)s, NULL, 'issued', 'bonus', -points, NULL, %(at)s FROM postings
    RETURNING 1
), lots AS (
    INSERT INTO ledger_lot (program_id, member_id, posting_id, source, points, remaining, state, earned_at, available_at, expires_at)
    SELECT %(program)s, member_id, id, 'bonus', points, points, 'active', %(at)s, %(at)s, %(at)s + interval '365 days' FROM postings
    RETURNING 1
), events AS (
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, member_id, 'points.earned',
        jsonb_build_object('kind', 'bonus', 'change', points, 'points', points, 'balance', balance_after,
            'member_id', member_id, 'reference', reference, 'posting_id', id, 'purchase_id', NULL, 'pending_points', 0),
        %(at)s, 'points.earned:posting:' || id, now() FROM postings
    RETURNING 1
)
SELECT (SELECT count(*) FROM gifts), (SELECT count(*) FROM postings), (SELECT count(*) FROM entries), (SELECT count(*) FROM events)
"""

# reconcile: the same invariant over every member and posting, one statement each (reads only)
RECONCILE_SQL = """
SELECT (SELECT count(*) FROM accounts_member m
        LEFT JOIN (SELECT member_id, sum(points) FILTER (WHERE account = 'member') AS e,
                          sum(points) FILTER (WHERE account = 'member_pending') AS p
                   FROM ledger_entry WHERE member_id IS NOT NULL GROUP BY member_id) e ON e.member_id = m.id
        LEFT JOIN (SELECT member_id, sum(remaining) FILTER (WHERE state = 'active') AS l,
                          sum(remaining) FILTER (WHERE state = 'pending') AS p
                   FROM ledger_lot GROUP BY member_id) l ON l.member_id = m.id
        WHERE m.balance <> COALESCE(e.e, 0) OR m.balance <> COALESCE(l.l, 0)
           OR m.pending_points <> COALESCE(e.p, 0) OR m.pending_points <> COALESCE(l.p, 0)),
       (SELECT count(*) FROM (SELECT posting_id FROM ledger_entry GROUP BY posting_id HAVING sum(points) <> 0) u)
"""

# the jobs with nothing to write on this data set: the read each has to do to find that out
FRAUD_SQL = """
SELECT count(*) FROM (
    SELECT p.member_id FROM ledger_posting p JOIN accounts_member m ON m.id = p.member_id AND m.status = 'active'
    JOIN fraud_fraudrule r ON r.program_id = p.program_id AND r.is_active
    WHERE p.recorded_at > %(at)s - r.window_minutes * interval '1 minute' AND p.recorded_at <= %(at)s
    GROUP BY r.id, p.member_id, r.max_count HAVING count(*) > COALESCE(r.max_count, 2147483647)) b
"""
ACTIVATE_SQL = "SELECT count(*) FROM ledger_lot WHERE state = 'pending' AND available_at <= %(at)s"
WEEKLY_SQL = """
SELECT count(DISTINCT a.member_id) FROM campaigns_activityevent a JOIN accounts_member m ON m.id = a.member_id
WHERE m.program_id = %(program)s AND a.type = 'login' AND a.occurred_at >= %(week_start)s AND a.occurred_at < %(week_end)s
"""
SCHEDULED_SQL = "SELECT count(*) FROM campaigns_campaign WHERE trigger = 'schedule' AND schedule IN ('daily', 'monthly') AND is_active"
IDEMPOTENCY_SQL = "WITH d AS (DELETE FROM api_idempotencyrecord WHERE created_at <= %(at)s - interval '24 hours' RETURNING 1) SELECT count(*) FROM d"
OUTBOX_PURGE_SQL = "WITH d AS (DELETE FROM notifications_notification WHERE status IN ('delivered', 'failed') AND created_at <= %(at)s - interval '90 days' RETURNING 1) SELECT count(*) FROM d"
WEBHOOK_PURGE_SQL = "WITH d AS (DELETE FROM notifications_webhookdelivery WHERE status IN ('delivered', 'failed') AND created_at <= %(at)s - interval '30 days' RETURNING 1) SELECT count(*) FROM d"
SESSIONS_PURGE_SQL = (
    "WITH d AS (DELETE FROM django_session WHERE expire_date < %(at)s RETURNING 1) SELECT count(*) FROM d"
)

# job, its SQL (None: timed alone), the name of the extra parameters it needs (see `job_params`)
JOBS = [
    ("reconcile", RECONCILE_SQL, None),
    ("reevaluate_tiers", REEVALUATE_SQL, None),
    ("expire_points", EXPIRE_SQL, None),
    ("warn_expiring", WARN_SQL, None),
    ("decay_inactive", DECAY_SQL, None),
    ("activate_pending", ACTIVATE_SQL, None),
    ("birthdays", BIRTHDAYS_SQL, "birthday_gift"),
    ("inactivity_reminders", INACTIVITY_SQL, "inactivity_reminder"),
    ("tier_gifts", TIER_GIFTS_SQL, "tier_gifts"),
    ("weekly_bonus", WEEKLY_SQL, "week"),
    ("scheduled_campaigns", SCHEDULED_SQL, None),
    ("fraud_monitor", FRAUD_SQL, None),
    ("refresh_segments", None, None),
    ("idempotency_purge", IDEMPOTENCY_SQL, None),
    ("outbox_purge", OUTBOX_PURGE_SQL, None),
    ("webhook_deliveries_purge", WEBHOOK_PURGE_SQL, None),
    ("sessions_purge", SESSIONS_PURGE_SQL, None),
]


def database_from_template(members: int) -> None:
    import psycopg

    base, name = BENCH_URL.rsplit("/", 1)
    template = TEMPLATE_URL.rsplit("/", 1)[1]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def job_params(kind: str | None, *, program, at) -> dict:
    from campaigns.engine import _describe
    from campaigns.jobs import previous_window
    from campaigns.models import Campaign
    from tiers.models import Tier
    from tiers.services import gift_period_bounds

    params: dict = {"program": program.pk, "at": at, "point_value": program.point_value}
    if kind in ("birthday_gift", "inactivity_reminder"):
        campaign = Campaign.objects.get(program=program, code=kind)
        rewards = list(campaign.rewards.all())
        points = sum(r.points for r in rewards if r.kind == "points")
        notify = next((r for r in rewards if r.kind == "notification"), None)
        params.update(
            campaign=campaign.pk,
            code=campaign.code,
            name=_describe(campaign, rewards, points),
            points=points,
            days=campaign.trigger_days or 0,
            notify=notify.notify_event if notify else "",
            message=notify.message if notify else "",
        )
    elif kind == "tier_gifts":
        tiers = list(
            Tier.objects.filter(program=program, gift_points__gt=0).exclude(gift_period="").order_by("rank")
        )
        bounds = [gift_period_bounds(period=t.gift_period, at=at, tz=program.tz) for t in tiers]
        params.update(
            tier_ids=[t.pk for t in tiers],
            keys=[b[0] for b in bounds],
            starts=[b[1] for b in bounds],
            ends=[b[2] for b in bounds],
            gifts=[t.gift_points for t in tiers],
            names=[t.name for t in tiers],
        )
    elif kind == "week":
        _key, (params["week_start"], params["week_end"]) = previous_window("weekly", at, program.tz)
    return params


def state(cursor) -> dict:
    cursor.execute(STATE_SQL)
    value = cursor.fetchone()[0]
    return json.loads(value) if isinstance(value, str) else value


def delta(before: dict, after: dict) -> dict:
    return {key: (before.get(key), after.get(key)) for key in after if before.get(key) != after.get(key)}


def backlog_bench(*, program, at, rows: int) -> dict:
    """`rows` pending e-mail notifications (one event each) delivered by `deliver_notifications`."""
    from django.db import connection

    from loyalty_site.core.jobs import run_job

    with connection.cursor() as cursor:
        started = time.monotonic()
        cursor.execute(
            """
            WITH m AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM accounts_member
                       WHERE program_id = %(program)s ORDER BY id LIMIT %(rows)s),
            e AS (INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
                  SELECT gen_random_uuid(), %(program)s, id, 'member.inactive', '{}', %(at)s, 'bench-backlog:' || id, %(at)s
                  FROM m RETURNING id, member_id)
            INSERT INTO notifications_notification (program_id, member_id, event_id, channel, recipient, subject, body,
                status, attempts, next_attempt_at, last_error, created_at)
            SELECT %(program)s, member_id, id, 'email', 'member' || member_id || '@example.com', 'We miss you',
                'We have not seen you for a month: your points are waiting.', 'pending', 0, %(at)s, '', %(at)s FROM e
            """,
            {"program": program.pk, "rows": rows, "at": at},
        )
        queued = time.monotonic() - started
        cursor.execute("VACUUM ANALYZE notifications_notification")
    started = time.monotonic()
    summary = run_job("deliver_notifications", at=at)
    seconds = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("SELECT status, count(*) FROM notifications_notification GROUP BY status")
        statuses = dict(cursor.fetchall())
    return {
        "rows": rows,
        "queue_seconds": round(queued, 2),
        "deliver_seconds": round(seconds, 2),
        "per_second": round(rows / seconds) if seconds else None,
        "summary": summary,
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--members", type=int, default=1_000_000, help="The data set's size (for the results name)."
    )
    parser.add_argument("--jobs", default="", help="Comma-separated job names (default: all).")
    parser.add_argument("--keep", action="store_true", help="Do not copy the template again.")
    parser.add_argument("--backlog", type=int, default=0, help="Notifications to deliver after the jobs.")
    args = parser.parse_args()
    if not args.keep:
        started = time.monotonic()
        database_from_template(args.members)
        print(f"copied the data set in {time.monotonic() - started:.1f} s", flush=True)
    import django
    import psycopg

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)  # the data set may predate the code's last migrations

    from accounts.models import Program
    from bench.dataset.build import AT
    from loyalty_site.core.jobs import run_job

    program = Program.objects.get(name="Bench")
    wanted = set(filter(None, args.jobs.split(",")))
    results: dict = {"members": args.members, "at": AT.isoformat(), "jobs": {}}
    out = Path(__file__).with_name(f"results-all-{args.members}.json")
    connection.set_autocommit(True)
    for name, sql, kind in JOBS:
        if wanted and name not in wanted:
            continue
        with connection.cursor() as cursor:
            before = state(cursor)
            sql_seconds = sql_delta = None
            if sql is not None:
                params = job_params(kind, program=program, at=AT)
                cursor.execute("BEGIN")
                started = time.monotonic()
                # client-side binding: the parameters' types come from the SQL around them
                with psycopg.ClientCursor(connection.connection) as client:
                    client.execute(sql, params)
                    sql_counts = client.fetchone()
                sql_seconds = time.monotonic() - started
                sql_delta = delta(before, state(cursor))
                cursor.execute("ROLLBACK")
                for table in ("accounts_member", "ledger_lot", "ledger_posting", "notifications_event"):
                    cursor.execute(f"VACUUM ANALYZE {table}")
        started = time.monotonic()
        summary = run_job(name, at=AT)
        job_seconds = time.monotonic() - started
        with connection.cursor() as cursor:
            job_delta = delta(before, state(cursor))
        row = {
            "job_seconds": round(job_seconds, 2),
            "sql_seconds": round(sql_seconds, 2) if sql_seconds is not None else None,
            "ratio": round(job_seconds / sql_seconds, 2) if sql_seconds else None,
            "job_summary": {k: v for k, v in summary.items() if not isinstance(v, list)},
            "job_changed": job_delta,
            "meets_60s": job_seconds <= 60,
        }
        if sql is not None:
            row.update(
                sql_counts=[int(c) if isinstance(c, int) else c for c in sql_counts],
                sql_changed=sql_delta,
                same_rows=sql_delta == job_delta,
                meets_2x=job_seconds <= 2 * sql_seconds or job_seconds < 0.5,
            )
        results["jobs"][name] = row
        print(name, json.dumps(row, default=str), flush=True)
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.backlog:
        results["backlog"] = backlog_bench(program=program, at=AT, rows=args.backlog)
        print("backlog", json.dumps(results["backlog"], default=str), flush=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
