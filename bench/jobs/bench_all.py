# ruff: noqa: E501 - SQL reads better unwrapped
"""Every scheduled job on a data set of bench/dataset/build.py, each against hand-written SQL doing
the same writes, same run, same data.

    .venv/bin/python -u bench/dataset/build.py --members 1000000           # once: loyalty_bench_million
    .venv/bin/python -u bench/jobs/bench_all.py                             # copies it to loyalty_bench_all
    .venv/bin/python -u bench/jobs/bench_all.py --template loyalty_jobs_100k --database loyalty_jobs_100k_run \
        --members 100000 --jobs reevaluate_tiers,birthdays

The data set's database (`--template`, a name or a URL; default BENCH_TEMPLATE_URL, else
loyalty_bench_million) is the template: it is copied (CREATE DATABASE ... TEMPLATE) to `--database`
(default BENCH_DATABASE_URL, else loyalty_bench_all; DROPPED first) and the jobs run there, at the
data set's AT, in the order of JOBS. For each job: the SQL (when there is one) runs in a transaction
that is rolled back (after `SET CONSTRAINTS ALL IMMEDIATE`, inside the timing: the deferred
foreign-key checks the job pays when it commits, which a rollback would skip), then the job runs for
real through `run_job`. `same_rows` compares what both
changed: the rows each added per table, the lots per state, the members' balances, tiers and
statuses, the events per type, the grace states, segment memberships (`STATE_SQL`, read before,
after the SQL inside its transaction, and after the job). A job's SQL may run several times in its
transaction (once per campaign or gifting tier, in the job's order: a member the Bronze gift lifts
is due Silver's gift in the same run). At the end a Markdown table (job, what it did, job s, SQL s,
ratio, same rows) is printed for bench/README.md, with the load average. BENCH_PROFILE=<job> prints
where that job's time goes (cProfile; BENCH_PROFILE_SORT, BENCH_PROFILE_LINES). Then the notification
backlog: `--backlog N` outbox rows (`pending`, e-mail) delivered by `deliver_notifications`.
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
SERVER = "postgres://postgres@127.0.0.1:5432"


def _url(value: str) -> str:
    """A database name or URL -> a URL (a name on the local server)."""
    return value if "://" in value else f"{SERVER}/{value}"


_pre = argparse.ArgumentParser(add_help=False)
_pre.add_argument("--database", default=os.environ.get("BENCH_DATABASE_URL", "loyalty_bench_all"))
_pre.add_argument("--template", default=os.environ.get("BENCH_TEMPLATE_URL", "loyalty_bench_million"))
_where, _rest = _pre.parse_known_args()
BENCH_URL = _url(_where.database)
TEMPLATE_URL = _url(_where.template)
os.environ["BENCH_DATABASE_URL"] = BENCH_URL  # bench_jobs reads it
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

# The tier upgrades a credit triggers (`points_posted` -> `member_tier_evaluate`, upgrades only),
# for the members of `credited` (member_id, points) credited by the statement: their qualifying
# points over the 365-day window plus the credit, the highest tier that reaches, when above their
# own. A manual floor can only hold a member where they are, never lift them here: no floor read.
_UPGRADE = """
, q AS (
    SELECT c.member_id, GREATEST(c.points + COALESCE((
        SELECT sum(e.points) FROM ledger_entry e WHERE e.member_id = c.member_id AND e.program_id = %(program)s
          AND e.account IN ('member', 'member_pending') AND e.kind IN ('earn', 'bonus', 'partner', 'reversal')
          AND e.created_at <= %(at)s AND e.created_at > %(at)s - interval '365 days'), 0), 0) AS value
    FROM credited c
), up AS (
    SELECT q.member_id, q.value, m.tier_id AS from_id, cur.code AS from_code, cur.name AS from_name,
        t.id AS to_id, t.code AS to_code, t.name AS to_name
    FROM q JOIN accounts_member m ON m.id = q.member_id LEFT JOIN tiers_tier cur ON cur.id = m.tier_id
    JOIN LATERAL (SELECT id, rank, code, name FROM tiers_tier WHERE program_id = %(program)s AND threshold <= q.value
                  ORDER BY rank DESC LIMIT 1) t ON true
    WHERE cur.rank IS NULL OR t.rank > cur.rank
), members AS (
    UPDATE accounts_member m SET balance = m.balance + c.points, tier_id = COALESCE(up.to_id, m.tier_id)
    FROM credited c LEFT JOIN up ON up.member_id = c.member_id WHERE m.id = c.member_id
    RETURNING m.id, m.balance
), changes AS (
    INSERT INTO tiers_tierchange (program_id, member_id, from_tier_id, to_tier_id, reason, note, qualifying_value, at)
    SELECT %(program)s, member_id, from_id, to_id, 'earning', '', value, %(at)s FROM up RETURNING id, member_id
), states AS (
    UPDATE tiers_membertierstate s SET below_since = NULL, evaluated_at = %(at)s FROM up WHERE s.member_id = up.member_id
    RETURNING 1
), tier_events AS (
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, up.member_id, 'tier.changed',
        jsonb_build_object('member', up.member_id, 'from', from_code, 'from_name', from_name, 'to', to_code,
            'to_name', to_name, 'direction', 'up', 'reason', 'earning', 'qualifying_value', value),
        %(at)s, 'tier.changed:' || changes.id, now()
    FROM up JOIN changes ON changes.member_id = up.member_id
    RETURNING 1
)"""

# The bonus posting of each member of `credited` (member_id, points, reference, description,
# campaign_id) with the new balance from `members`: posting, entries, lot, points.earned event.
_BONUS = """
, postings AS (
    INSERT INTO ledger_posting (program_id, member_id, kind, reference, fingerprint, points, pending_points,
        balance_after, campaign_id, description, data, created_at, recorded_at)
    SELECT %(program)s, c.member_id, 'bonus', c.reference, md5(c.reference), c.points, 0, m.balance, c.campaign_id,
        c.description, '{}', %(at)s, %(at)s
    FROM credited c JOIN members m ON m.id = c.member_id
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
), earned AS (
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, member_id, 'points.earned',
        jsonb_build_object('kind', 'bonus', 'change', points, 'points', points, 'balance', balance_after,
            'member_id', member_id, 'reference', reference, 'posting_id', id, 'purchase_id', NULL, 'pending_points', 0),
        %(at)s, 'points.earned:posting:' || id, now() FROM postings
    RETURNING 1
)"""

# A campaign's grants, the way `campaigns_apply` writes them, for the members of `todo`
# (member_id, period_key): the members locked, a personal coupon each when the campaign gives one
# (with its coupon.issued event), the grant rows, the budget, the bonus (with its upgrades), the
# reward.granted event (points or a coupon) and the campaign's notification event.
_GRANT = (
    """
, locked AS (
    SELECT m.id FROM accounts_member m JOIN todo ON todo.member_id = m.id ORDER BY m.id FOR UPDATE OF m
), coupons AS (
    INSERT INTO campaigns_coupon (program_id, code, kind, value, currency, min_purchase, starts_at, ends_at, max_uses,
        max_uses_per_member, first_order_only, is_active, uses_count, created_at, campaign_id, member_id)
    SELECT %(program)s, upper(substr(md5(random()::text), 1, 10)), %(coupon_kind)s, %(coupon_value)s, '',
        %(coupon_min)s, %(at)s, %(at)s + %(coupon_days)s * interval '1 day', 1, 1, false, true, 0, %(at)s, %(campaign)s, member_id
    FROM todo WHERE %(coupon_kind)s <> ''
    RETURNING id, member_id, code, ends_at
), grants AS (
    INSERT INTO campaigns_campaigngrant (campaign_id, member_id, period_key, points, cost, purchase_ref, coupon_id, created_at)
    SELECT %(campaign)s, todo.member_id, period_key, %(points)s, %(points)s * %(point_value)s, '', coupons.id, %(at)s
    FROM todo LEFT JOIN coupons ON coupons.member_id = todo.member_id
    ON CONFLICT DO NOTHING
    RETURNING id, member_id, period_key, coupon_id
), credited AS (
    SELECT member_id, %(points)s AS points, 'campaign:' || %(campaign)s || ':' || member_id || ':' || period_key AS reference,
        %(campaign_name)s AS description, %(campaign)s::bigint AS campaign_id
    FROM grants WHERE %(points)s > 0
)"""
    + _UPGRADE
    + _BONUS
    + """
, campaign AS (
    UPDATE campaigns_campaign SET points_granted = points_granted + %(points)s * (SELECT count(*) FROM grants)
    WHERE id = %(campaign)s AND %(points)s > 0 RETURNING 1
), events AS (
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, member_id, 'coupon.issued',
        jsonb_build_object('code', code, 'coupon', code, 'valid_until', ends_at, 'kind', %(coupon_kind)s,
            'value', %(coupon_value)s, 'ends_at', ends_at, 'campaign', %(code)s),
        %(at)s, 'coupon.issued:' || id, now() FROM coupons
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, g.member_id, 'reward.granted',
        jsonb_build_object('coupon', c.code, 'points', %(points)s, 'campaign', %(code)s, 'description', %(name)s,
            'campaign_name', %(campaign_name)s), %(at)s, 'reward.granted:' || g.id, now()
    FROM grants g LEFT JOIN coupons c ON c.id = g.coupon_id WHERE %(points)s > 0 OR g.coupon_id IS NOT NULL
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, g.member_id, %(notify)s,
        jsonb_build_object('message', %(message)s, 'campaign', %(code)s, 'campaign_name', %(campaign_name)s,
            'coupon', c.code, 'idle_days', extract(day FROM %(at)s - m.last_activity_at)::int),
        %(at)s, %(notify)s || ':' || g.id, now()
    FROM grants g JOIN accounts_member m ON m.id = g.member_id LEFT JOIN coupons c ON c.id = g.coupon_id
    WHERE %(notify)s <> ''
    RETURNING 1
)
SELECT (SELECT count(*) FROM grants), (SELECT count(*) FROM postings), (SELECT count(*) FROM changes),
       (SELECT count(*) FROM events)
"""
)

BIRTHDAYS_SQL = (
    """
WITH todo AS (
    SELECT m.id AS member_id, extract(year FROM %(at)s AT TIME ZONE 'UTC')::text AS period_key
    FROM accounts_member m
    WHERE m.program_id = %(program)s AND m.status = 'active'
      AND extract(month FROM m.birth_date) = extract(month FROM %(at)s AT TIME ZONE 'UTC')
      AND extract(day FROM m.birth_date) = extract(day FROM %(at)s AT TIME ZONE 'UTC')
      AND NOT EXISTS (SELECT 1 FROM campaigns_campaigngrant g WHERE g.campaign_id = %(campaign)s AND g.member_id = m.id
                      AND g.period_key = extract(year FROM %(at)s AT TIME ZONE 'UTC')::text)
)"""
    + _GRANT
)

# inactivity_reminders, once per campaign (the 30-day reminder, the 60-day win-back with its
# coupon): members idle at least the campaign's days, not reached in this idle stretch
INACTIVITY_SQL = (
    """
WITH todo AS (
    SELECT m.id AS member_id, 'idle:' || to_char(m.last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00' AS period_key
    FROM accounts_member m
    WHERE m.program_id = %(program)s AND m.status = 'active' AND m.last_activity_at <= %(at)s - %(days)s * interval '1 day'
      AND NOT EXISTS (SELECT 1 FROM campaigns_campaigngrant g WHERE g.campaign_id = %(campaign)s AND g.member_id = m.id
                      AND g.created_at >= m.last_activity_at)
)"""
    + _GRANT
)

# tier_gifts (require activity), once per gifting tier in rank order (a member the Bronze gift
# lifts to Silver is then due Silver's gift, as in the job): the tier's members active in its
# last completed period get the gift: TierGift row, the bonus (with its upgrades).
TIER_GIFTS_SQL = (
    """
WITH todo AS (
    SELECT m.id AS member_id FROM accounts_member m
    WHERE m.program_id = %(program)s AND m.tier_id = %(tier)s AND m.status = 'active' AND m.created_at < %(end)s
      AND NOT EXISTS (SELECT 1 FROM tiers_tiergift g WHERE g.member_id = m.id AND g.period = %(key)s)
      AND (EXISTS (SELECT 1 FROM ledger_purchase x WHERE x.member_id = m.id AND x.occurred_at >= %(start)s AND x.occurred_at < %(end)s)
           OR EXISTS (SELECT 1 FROM ledger_posting x WHERE x.member_id = m.id AND x.kind IN ('earn', 'redeem', 'partner', 'cashout')
                      AND x.created_at >= %(start)s AND x.created_at < %(end)s)
           OR (m.last_activity_at >= %(start)s AND m.last_activity_at < %(end)s))
    ORDER BY m.id
    FOR UPDATE OF m
), gifts AS (
    INSERT INTO tiers_tiergift (program_id, member_id, tier_id, period, points, at, reference)
    SELECT %(program)s, member_id, %(tier)s, %(key)s, %(gift)s, %(at)s, 'tier_gift:' || member_id || ':' || %(key)s FROM todo
    ON CONFLICT DO NOTHING RETURNING member_id, reference
), credited AS (
    SELECT member_id, %(gift)s::bigint AS points, reference, %(description)s AS description, NULL::bigint AS campaign_id
    FROM gifts
)"""
    + _UPGRADE
    + _BONUS
    + """
SELECT (SELECT count(*) FROM gifts), (SELECT count(*) FROM postings), (SELECT count(*) FROM changes)
"""
)

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


def SEGMENTS_SQL(*, program, at) -> list[tuple[str, list]]:
    """refresh_segments: per active segment, its rules' query (the job's own `segment_members`,
    compiled to SQL) used in the database: the memberships it no longer gives deleted, the new
    ones inserted, the size and moment written; nothing goes through Python."""
    from campaigns.models import Segment
    from campaigns.segments import segment_members

    runs = []
    for segment in Segment.objects.filter(is_active=True).select_related("program").order_by("pk"):
        query, params = segment_members(segment=segment, at=at).values("pk").query.sql_with_params()
        runs.append(
            (
                f"""
WITH wanted(id) AS ({query}),
gone AS (DELETE FROM campaigns_segmentmembership s WHERE s.segment_id = %s
         AND NOT EXISTS (SELECT 1 FROM wanted w WHERE w.id = s.member_id) RETURNING 1),
added AS (INSERT INTO campaigns_segmentmembership (segment_id, member_id, since)
          SELECT %s, w.id, %s FROM wanted w ON CONFLICT DO NOTHING RETURNING 1),
size AS (UPDATE campaigns_segment SET member_count = (SELECT count(*) FROM wanted), refreshed_at = %s
         WHERE id = %s RETURNING member_count)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM added), (SELECT member_count FROM size)""",
                [*params, segment.pk, segment.pk, at, at, segment.pk],
            )
        )
    return runs


# job, its SQL (None: timed alone), the name of the extra parameters it needs (see `job_params`)
JOBS = [
    ("reconcile", RECONCILE_SQL, None),
    ("reevaluate_tiers", REEVALUATE_SQL, None),
    ("expire_points", EXPIRE_SQL, None),
    ("warn_expiring", WARN_SQL, None),
    ("decay_inactive", DECAY_SQL, None),
    ("activate_pending", ACTIVATE_SQL, None),
    ("birthdays", BIRTHDAYS_SQL, "birthday"),
    ("inactivity_reminders", INACTIVITY_SQL, "inactivity"),
    ("tier_gifts", TIER_GIFTS_SQL, "tier_gifts"),
    ("weekly_bonus", WEEKLY_SQL, "week"),
    ("scheduled_campaigns", SCHEDULED_SQL, None),
    ("fraud_monitor", FRAUD_SQL, None),
    ("refresh_segments", SEGMENTS_SQL, None),
    ("idempotency_purge", IDEMPOTENCY_SQL, None),
    ("outbox_purge", OUTBOX_PURGE_SQL, None),
    ("webhook_deliveries_purge", WEBHOOK_PURGE_SQL, None),
    ("sessions_purge", SESSIONS_PURGE_SQL, None),
]


def database_from_template() -> None:
    import psycopg

    base, name = BENCH_URL.rsplit("/", 1)
    template = TEMPLATE_URL.rsplit("/", 1)[1]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


def _campaign_params(campaign, base: dict) -> dict:
    from campaigns.engine import _describe

    rewards = [r for r in campaign.rewards.all() if r.recipient == "member"]
    points = sum(r.points for r in rewards if r.kind == "points")
    notify = next((r for r in rewards if r.kind == "notification"), None)
    coupon = next((r for r in rewards if r.kind == "coupon"), None)
    return {
        **base,
        "campaign": campaign.pk,
        "code": campaign.code,
        "campaign_name": campaign.name,
        "name": _describe(campaign, rewards, points),
        "points": points,
        "days": campaign.trigger_days or 0,
        "notify": notify.notify_event if notify else "",
        "message": notify.message if notify else "",
        "coupon_kind": coupon.coupon_kind if coupon else "",
        "coupon_value": coupon.value if coupon else 0,
        "coupon_min": coupon.coupon_min_purchase if coupon else 0,
        "coupon_days": coupon.days if coupon else 0,
    }


def job_params(kind: str | None, *, program, at) -> list[dict]:
    """The parameters of a job's SQL: one dict per run of it (in the job's order), all in one
    transaction."""
    from campaigns.jobs import previous_window
    from campaigns.selectors import campaigns_running
    from tiers.models import Tier
    from tiers.services import gift_period_bounds

    base: dict = {"program": program.pk, "at": at, "point_value": program.point_value}
    if kind in ("birthday", "inactivity"):
        return [
            _campaign_params(campaign, base)
            for campaign in campaigns_running(program=program, trigger=kind, at=at)
        ]
    if kind == "tier_gifts":
        params = []
        for tier in (
            Tier.objects.filter(program=program, gift_points__gt=0).exclude(gift_period="").order_by("rank")
        ):
            key, start, end = gift_period_bounds(period=tier.gift_period, at=at, tz=program.tz)
            description = f"{tier.name} gift for {key.split(':', 1)[1]}"
            params.append(
                {
                    **base,
                    "tier": tier.pk,
                    "key": key,
                    "start": start,
                    "end": end,
                    "gift": tier.gift_points,
                    "description": description,
                }
            )
        return params
    if kind == "week":
        _key, (base["week_start"], base["week_end"]) = previous_window("weekly", at, program.tz)
    return [base]


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


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _found(row: dict) -> str:
    """What the job did, from its summary: its non-zero counts."""
    summary = row.get("job_summary") or {}
    parts = [f"{key} {value}" for key, value in summary.items() if isinstance(value, int) and value]
    return ", ".join(parts) or "nothing to do"


def markdown_table(results: dict) -> str:
    """The results as bench/README.md's table."""
    lines = [
        f"| job ({results['members']:,} members) | what it did | job | SQL | ratio | same rows | load |".replace(
            ",", " "
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in results["jobs"].items():
        sql = row.get("sql_seconds")
        same = row.get("same_rows")
        sql_text = f"{sql:.2f} s" if sql is not None else "–"
        ratio = f"{row['ratio']:.1f}×" if row.get("ratio") else "–"
        same_text = "–" if same is None else "yes" if same else "no"
        lines.append(
            f"| `{name}` | {_found(row)} | {row['job_seconds']:.2f} s | {sql_text} | {ratio} | {same_text} "
            f"| {row.get('load_average', '')} |"
        )
    backlog = results.get("backlog")
    if backlog:
        lines.append(
            f"| `deliver_notifications` | {backlog['rows']:,} pending e-mails | {backlog['deliver_seconds']:.2f} s "
            f"| – | – | – | |".replace(",", " ")
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--members", type=int, default=1_000_000, help="The data set's size (for the results name)."
    )
    parser.add_argument("--jobs", default="", help="Comma-separated job names (default: all).")
    parser.add_argument("--keep", action="store_true", help="Do not copy the template again.")
    parser.add_argument("--backlog", type=int, default=0, help="Notifications to deliver after the jobs.")
    parser.add_argument(
        "--database", help="Where the jobs run (a name or URL): dropped, copied from the template."
    )
    parser.add_argument("--template", help="The data set's database (a name or URL).")
    args = parser.parse_args()
    print(f"data set {TEMPLATE_URL} -> {BENCH_URL}; load average {load_average()}", flush=True)
    if not args.keep:
        started = time.monotonic()
        database_from_template()
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
    at = AT
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
                if callable(sql):  # statements built from the job's own query (see SEGMENTS_SQL)
                    runs = sql(program=program, at=at)
                else:
                    runs = [(sql, params) for params in job_params(kind, program=program, at=at)]
                cursor.execute("BEGIN")
                started = time.monotonic()
                # client-side binding: the parameters' types come from the SQL around them
                sql_counts = []
                with psycopg.ClientCursor(connection.connection) as client:
                    for text, params in runs:
                        client.execute(text, params)
                        sql_counts.append(list(client.fetchone() or []) if client.description else [])
                    # the deferred foreign-key checks the job pays at its commits, paid here too
                    # (the transaction is rolled back, which would skip them)
                    client.execute("SET CONSTRAINTS ALL IMMEDIATE")
                sql_seconds = time.monotonic() - started
                sql_delta = delta(before, state(cursor))
                cursor.execute("ROLLBACK")
                for table in ("accounts_member", "ledger_lot", "ledger_posting", "notifications_event"):
                    cursor.execute(f"VACUUM ANALYZE {table}")
        profiler = None
        if os.environ.get("BENCH_PROFILE") == name:  # where the job's time goes (cProfile)
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started = time.monotonic()
        summary = run_job(name, at=at)
        job_seconds = time.monotonic() - started
        if profiler is not None:
            import pstats

            profiler.disable()
            pstats.Stats(profiler).sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(
                int(os.environ.get("BENCH_PROFILE_LINES", "45"))
            )
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
                sql_counts=sql_counts,
                sql_changed=sql_delta,
                same_rows=sql_delta == job_delta,
                meets_2x=job_seconds <= 2 * sql_seconds or job_seconds < 0.5,
            )
        row["load_average"] = load_average()
        results["jobs"][name] = row
        print(name, json.dumps(row, default=str), flush=True)
        out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    if args.backlog:
        results["backlog"] = backlog_bench(program=program, at=AT, rows=args.backlog)
        print("backlog", json.dumps(results["backlog"], default=str), flush=True)
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"written {out}")
    print(markdown_table(results))


if __name__ == "__main__":
    main()
