# ruff: noqa: E501 - SQL reads better unwrapped
"""Build the million-member data set with set-based SQL, resumably.

    .venv/bin/python -u bench/dataset/build.py --members 1000000          # loyalty_bench_million
    .venv/bin/python -u bench/dataset/build.py --members 10000 --fresh    # drop and start over
    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/other .venv/bin/python -u bench/dataset/build.py

One program with the seed preset (4 tiers, USD 12 / EUR 14 capped 5 000 / AZN 8 / GBP 15, the 11 seed
campaigns), time zone UTC, and N members with a year of history up to AT, written as the services
write it: `member_create` (the entry tier, the registration bonus: a bonus posting, its entries and
lot, the grant, the events `tier.changed`, `points.earned`, `reward.granted`, `member.created`) then
1-8 purchases each through what `purchase_create` does (the tier's discount and earn multiplier, the
currency's rate, the second-purchase bonus and the frequent-buyer coupon with their grants, coupon
and events, the earn posting, entries, lot and `points.earned` event, the upgrade with its
`TierChange` and `tier.changed` event, the campaign's budget counter). The purchases of a member
depend on the ones before (balance, tier, the campaigns' once-only grants): one recursive query
prices a chunk's purchases in order, carrying each member's state from one purchase to the next.

Member i (1..N), its numbers drawn from a hash of i so that every run builds the same set:
- enrols at AT - 366 days + up to 306 days (the first ~N/306 members' registration lots expire at
  AT: a day of work for `expire_points`; the next two days' lots for `warn_expiring`);
- makes K = 1..8 purchases (4.5 on average), the last within the 29 days before AT, except every
  31st member, idle 30-31 days (one day's cohort for `decay_inactive` and the 30-day reminder), the
  others spread evenly between enrolment and the last one; amounts 5.00-60.99 (one in ten six
  times that) in USD (2/6), AZN (2/6), EUR, GBP; born on a day spread over 1960-2001 (~N/365 birthdays a day).

Resumable: the work is cut into steps (enrolment of a chunk of members, then the chunk's
purchases), each one transaction that records its name in `bench_build_step` when it commits; a run
skips the steps recorded, so a killed run continues where it stopped and nothing is written twice.
Member ids are fixed (`bench_build_meta.member_base + i`). Not in the history: redemptions,
refunds, logins and the periodic jobs' own output (gifts, decays, expiries before AT): the jobs
measured on this set find one day of their work at AT.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

AT = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
CHUNK = 50_000
MAX_PURCHASES = 8

# A member's numbers: h(i, salt) is a multiplicative hash of i, 0 .. 2^32 - 1.
H = "((({i})::bigint * 2654435761 + {salt}::bigint * 40503) %% 4294967296)"


def _h(i: str, salt: int) -> str:
    return H.format(i=i, salt=salt)


# The plan: one row per member (i, enrolment, birth date, number of purchases, last purchase).
PLAN_MEMBERS_SQL = f"""
SELECT i,
    %(at)s::timestamptz - interval '366 days' + ({_h("i", 1)} %% (306 * 86400)) * interval '1 second' AS enrolled_at,
    date '1960-01-01' + ({_h("i", 4)} %% 15000)::int AS birth_date,
    1 + ({_h("i", 2)} %% {MAX_PURCHASES})::int AS purchases,
    CASE WHEN i %% 31 = 0
         THEN %(at)s::timestamptz - interval '30 days' - ({_h("i", 5)} %% 86400) * interval '1 second'
         ELSE %(at)s::timestamptz - interval '1 hour' - ({_h("i", 5)} %% (29 * 86400)) * interval '1 second' END AS last_at
FROM generate_series(%(first)s::int, %(last)s::int) AS i
"""

# Purchase k of member i: evenly spaced between enrolment and the last purchase, whole seconds.
PLAN_PURCHASES_SQL = f"""
SELECT pm.i, k.k,
    date_trunc('second', pm.enrolled_at + (pm.last_at - pm.enrolled_at) * k.k / pm.purchases) AS occurred_at,
    (500 + {_h("pm.i * 8 + k.k", 3)} %% 5600) / 100.0
        * CASE WHEN {_h("pm.i * 8 + k.k", 7)} %% 10 = 0 THEN 6 ELSE 1 END AS amount,
    (ARRAY['USD', 'USD', 'AZN', 'AZN', 'EUR', 'GBP'])[1 + ({_h("pm.i * 8 + k.k", 6)} %% 6)::int] AS currency
FROM ({PLAN_MEMBERS_SQL}) pm
JOIN generate_series(1, {MAX_PURCHASES}) AS k(k) ON k.k <= pm.purchases
"""

SETUP_SQL = [
    """CREATE TABLE IF NOT EXISTS bench_build_step (name text PRIMARY KEY, seconds float, done_at timestamptz DEFAULT now())""",
    """CREATE TABLE IF NOT EXISTS bench_build_meta (key text PRIMARY KEY, value jsonb)""",
]

# ISO 8601 as Python's datetime.isoformat() writes a UTC time with whole seconds
ISO = """(to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '+00:00')"""


def _iso(expression: str) -> str:
    return ISO.format(expression)


def _sha256_json(*pairs: tuple[str, str]) -> str:
    """SQL for ledger.engine.fingerprint(**data): sha256 of the JSON with sorted keys, no spaces.
    `pairs` are (key, SQL of an already JSON-encoded value), given in sorted key order."""
    parts = " || ',' || ".join(f"'\"{key}\":' || {value}" for key, value in pairs)
    return f"encode(sha256(convert_to('{{' || {parts} || '}}', 'UTF8')), 'hex')"


WELCOME_FINGERPRINT = _sha256_json(
    ("campaign", "%(welcome)s::text"),
    ("kind", "'\"bonus\"'"),
    ("member", "member_id::text"),
    ("points", "%(welcome_points)s::text"),
)
PURCHASE_FINGERPRINT = _sha256_json(
    ("amount", "'\"' || to_char(amount, 'FM999999990.00') || '\"'"),
    ("coupon", "'\"\"'"),
    ("currency", "'\"' || currency || '\"'"),
    ("kind", "'\"purchase\"'"),
    ("member", "member_id::text"),
    ("occurred_at", "'null'"),
    ("redeem", "'0'"),
)
EARN_FINGERPRINT = _sha256_json(
    ("kind", "'\"earn\"'"),
    ("member", "member_id::text"),
    ("points", "total::text"),
    ("purchase", "purchase_id::text"),
)

LUHN_SQL = """
CREATE OR REPLACE FUNCTION pg_temp.bench_luhn(body text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT ((10 - sum(CASE WHEN (length(body) - pos) % 2 = 0
                          THEN (substr(body, pos, 1)::int * 2) / 10 + (substr(body, pos, 1)::int * 2) % 10
                          ELSE substr(body, pos, 1)::int END) % 10) % 10)::text
    FROM generate_series(1, length(body)) AS pos
$$
"""

# Enrolment of members first..last, as member_create does it with the seed preset.
ENROL_SQL = [
    "DROP TABLE IF EXISTS bench_enrol",  # inside a caller's transaction (a test) ON COMMIT comes late
    f"""
    CREATE TEMP TABLE bench_enrol ON COMMIT DROP AS
    SELECT pm.i, %(base)s::bigint + pm.i AS member_id, pm.enrolled_at AS at, pm.birth_date,
        '709' || lpad(pm.i::text, 9, '0') AS card_body,
        nextval(pg_get_serial_sequence('tiers_tierchange', 'id')) AS change_id,
        nextval(pg_get_serial_sequence('ledger_posting', 'id')) AS posting_id,
        nextval(pg_get_serial_sequence('ledger_lot', 'id')) AS lot_id,
        nextval(pg_get_serial_sequence('campaigns_campaigngrant', 'id')) AS grant_id
    FROM ({PLAN_MEMBERS_SQL}) pm
    """,
    """
    INSERT INTO accounts_member (id, program_id, external_id, phone, email, first_name, last_name, birth_date,
        card_number, card_token, referral_code, status, blocked_reason, balance, pending_points,
        last_activity_at, created_at, referred_by_id, tier_id, language)
    SELECT member_id, %(program)s, NULL, '+99455' || lpad(i::text, 7, '0'), NULL, 'Member', i::text, birth_date,
        card_body || pg_temp.bench_luhn(card_body), md5('bench-card-' || i), 'BN' || i, 'active', '',
        %(welcome_points)s, 0, at, at, NULL, %(entry_tier)s, ''
    FROM bench_enrol
    """,
    """
    INSERT INTO tiers_tierchange (id, program_id, member_id, from_tier_id, to_tier_id, reason, note,
        qualifying_value, at, created_by_id)
    SELECT change_id, %(program)s, member_id, NULL, %(entry_tier)s, 'enrolment', '', 0, at, NULL FROM bench_enrol
    """,
    f"""
    INSERT INTO ledger_posting (id, program_id, member_id, kind, reference, fingerprint, points, pending_points,
        balance_after, purchase_id, campaign_id, amount, fee, description, user_id, data, created_at, recorded_at)
    SELECT posting_id, %(program)s, member_id, 'bonus', 'campaign:' || %(welcome)s || ':' || member_id || ':once',
        {WELCOME_FINGERPRINT},
        %(welcome_points)s, 0, %(welcome_points)s, NULL, %(welcome)s, NULL, NULL, %(welcome_name)s, NULL, '{{}}', at, at
    FROM bench_enrol
    """,
    """
    INSERT INTO ledger_entry (posting_id, program_id, member_id, account, kind, points, balance_after, created_at)
    SELECT posting_id, %(program)s, member_id, 'member', 'bonus', %(welcome_points)s, %(welcome_points)s, at FROM bench_enrol
    UNION ALL
    SELECT posting_id, %(program)s, NULL, 'issued', 'bonus', -%(welcome_points)s, NULL, at FROM bench_enrol
    """,
    """
    INSERT INTO ledger_lot (id, program_id, member_id, posting_id, source, points, remaining, state, earned_at,
        available_at, expires_at, grace_until, warned_at)
    SELECT lot_id, %(program)s, member_id, posting_id, 'bonus', %(welcome_points)s, %(welcome_points)s, 'active',
        at, at, at + %(lifetime)s * interval '1 day', NULL, NULL
    FROM bench_enrol
    """,
    """
    INSERT INTO campaigns_campaigngrant (id, campaign_id, member_id, period_key, points, cost, coupon_id,
        purchase_ref, created_at)
    SELECT grant_id, %(welcome)s, member_id, 'once', %(welcome_points)s, %(welcome_cost)s, NULL, '', at FROM bench_enrol
    """,
    f"""
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, member_id, 'tier.changed',
        jsonb_build_object('member', member_id, 'from', NULL, 'from_name', NULL, 'to', %(entry_code)s,
            'to_name', %(entry_name)s, 'direction', 'up', 'reason', 'enrolment', 'qualifying_value', 0),
        at, 'tier.changed:' || change_id, at
    FROM bench_enrol
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, member_id, 'points.earned',
        jsonb_build_object('kind', 'bonus', 'change', %(welcome_points)s, 'points', %(welcome_points)s,
            'balance', %(welcome_points)s, 'member_id', member_id,
            'reference', 'campaign:' || %(welcome)s || ':' || member_id || ':once',
            'created_at', {_iso("at")}, 'posting_id', posting_id, 'purchase_id', NULL, 'pending_points', 0),
        at, 'points.earned:posting:' || posting_id, at
    FROM bench_enrol
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, member_id, 'reward.granted',
        jsonb_build_object('coupon', NULL, 'points', %(welcome_points)s, 'campaign', 'registration_bonus',
            'description', %(welcome_description)s, 'campaign_name', %(welcome_name)s),
        at, 'reward.granted:' || grant_id, at
    FROM bench_enrol
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, member_id, 'member.created',
        jsonb_build_object('last_name', i::text, 'member_id', member_id, 'first_name', 'Member',
            'card_number', card_body || pg_temp.bench_luhn(card_body), 'external_id', NULL),
        at, 'member.created:' || member_id, at
    FROM bench_enrol
    """,
    """
    UPDATE campaigns_campaign SET points_granted = points_granted + %(welcome_points)s * (SELECT count(*) FROM bench_enrol)
    WHERE id = %(welcome)s
    """,
    # the ids were given: the sequence moves past them for the members the services create
    "SELECT setval(pg_get_serial_sequence('accounts_member', 'id'), (SELECT max(id) FROM accounts_member))",
]

# Purchase ordinal k of members first..last, as purchase_create prices and posts it.
PURCHASE_SQL = [
    "DROP TABLE IF EXISTS bench_buy",
    "DROP TABLE IF EXISTS bench_up",
    # Every purchase of the chunk's members, priced in order: row k carries the member's state after
    # purchase k (balance, tier rank, coupon given, the times of the last two purchases), from which
    # purchase k + 1 is priced. Row 0 is the state after enrolment.
    f"""
    CREATE TEMP TABLE bench_buy ON COMMIT DROP AS
    WITH RECURSIVE plan AS MATERIALIZED (
        SELECT pp.i, pp.k, pp.occurred_at, pp.amount, pp.currency, %(base)s::bigint + pp.i AS member_id,
            r.points_per_unit AS rate, r.cap
        FROM ({PLAN_PURCHASES_SQL}) pp
        JOIN LATERAL (SELECT points_per_unit, cap FROM ledger_currencyrate c WHERE c.program_id = %(program)s
            AND c.currency = pp.currency AND c.valid_from <= pp.occurred_at
            AND (c.valid_to IS NULL OR c.valid_to > pp.occurred_at) ORDER BY c.valid_from DESC LIMIT 1) r ON true
    ), tiers AS MATERIALIZED (
        SELECT rank, name, threshold, discount_percent, earn_multiplier FROM tiers_tier WHERE program_id = %(program)s
    ), r AS (
        SELECT m.id - %(base)s::bigint AS i, 0 AS k, m.id AS member_id, m.created_at AS enrolled_at,
            NULL::timestamptz AS occurred_at, NULL::numeric AS amount, NULL::text AS currency, NULL::numeric AS rate,
            NULL::bigint AS cap, NULL::int AS rank, NULL::text AS tier_name, NULL::numeric AS discount_percent,
            NULL::numeric AS earn_multiplier, NULL::numeric AS discount, NULL::numeric AS due,
            NULL::bigint AS earned, NULL::boolean AS capped, NULL::bigint AS bonus, NULL::boolean AS coupon,
            m.balance AS balance_after, NULL::bigint AS qualifying, t.rank AS rank_after,
            false AS coupon_after, NULL::timestamptz AS prev1, NULL::timestamptz AS prev2
        FROM accounts_member m JOIN tiers_tier t ON t.id = m.tier_id
        WHERE m.id BETWEEN %(base)s::bigint + %(first)s AND %(base)s::bigint + %(last)s
        UNION ALL
        SELECT p.i, p.k, r.member_id, r.enrolled_at, p.occurred_at, p.amount, p.currency, p.rate, p.cap,
            r.rank_after, t.name, t.discount_percent, t.earn_multiplier, d.discount, e.due, x.earned, e.raw > e.base,
            x.bonus, x.coupon, r.balance_after + x.earned + x.bonus, q.qualifying,
            GREATEST(r.rank_after, (SELECT max(rank) FROM tiers WHERE threshold <= q.qualifying)),
            r.coupon_after OR x.coupon, p.occurred_at, r.prev1
        FROM r JOIN plan p ON p.i = r.i AND p.k = r.k + 1
        JOIN tiers t ON t.rank = r.rank_after
        CROSS JOIN LATERAL (SELECT round(p.amount * t.discount_percent / 100, 2) AS discount) d
        CROSS JOIN LATERAL (SELECT p.amount - d.discount AS due, floor((p.amount - d.discount) * p.rate) AS raw,
            LEAST(floor((p.amount - d.discount) * p.rate), COALESCE(p.cap, 'Infinity'::numeric)) AS base) e
        CROSS JOIN LATERAL (SELECT floor(e.base * t.earn_multiplier)::bigint AS earned,
            CASE WHEN p.k = %(second_count)s THEN %(second_points)s ELSE 0 END::bigint AS bonus,
            -- frequent buyer: this purchase and the two before it within the window, no coupon yet
            (NOT r.coupon_after AND r.prev2 IS NOT NULL
             AND r.prev2 >= p.occurred_at - %(frequent_days)s * interval '1 day') AS coupon) x
        -- the qualifying points: every credit in the window up to the purchase (only the
        -- registration bonus can be older)
        CROSS JOIN LATERAL (SELECT r.balance_after + x.earned + x.bonus
            - CASE WHEN r.enrolled_at <= p.occurred_at - %(window)s * interval '1 day' THEN %(welcome_points)s ELSE 0 END
            AS qualifying) q
    )
    SELECT r.*, r.earned + r.bonus AS total, 'h-' || r.i || '-' || r.k AS external_id,
        nextval(pg_get_serial_sequence('ledger_purchase', 'id')) AS purchase_id,
        nextval(pg_get_serial_sequence('ledger_posting', 'id')) AS posting_id,
        nextval(pg_get_serial_sequence('ledger_lot', 'id')) AS lot_id,
        CASE WHEN r.bonus > 0 THEN nextval(pg_get_serial_sequence('campaigns_campaigngrant', 'id')) END AS bonus_grant_id,
        CASE WHEN r.coupon THEN nextval(pg_get_serial_sequence('campaigns_coupon', 'id')) END AS coupon_id,
        CASE WHEN r.coupon THEN nextval(pg_get_serial_sequence('campaigns_campaigngrant', 'id')) END AS coupon_grant_id
    FROM r WHERE r.k > 0
    ORDER BY r.member_id, r.k
    """,
    # upgrades: straight to the tier the points reach
    """
    CREATE TEMP TABLE bench_up ON COMMIT DROP AS
    SELECT b.member_id, b.occurred_at, b.qualifying, b.rank AS from_rank, t.id AS to_tier_id, t.rank AS to_rank,
        t.code AS to_code, t.name AS to_name,
        nextval(pg_get_serial_sequence('tiers_tierchange', 'id')) AS change_id
    FROM bench_buy b JOIN tiers_tier t ON t.program_id = %(program)s AND t.rank = b.rank_after
    WHERE b.rank_after > b.rank
    ORDER BY b.member_id, b.k
    """,
    f"""
    INSERT INTO ledger_purchase (id, program_id, member_id, external_id, kind, amount, currency, discount_amount,
        amount_due, points_earned, points_redeemed, refunded_amount, points_reversed, points_returned, occurred_at,
        applied, coupon_code, request_fingerprint, created_at)
    SELECT purchase_id, %(program)s, member_id, external_id, 'purchase', amount, currency, discount, due, total, 0, 0,
        0, 0, occurred_at,
        jsonb_build_array(
            jsonb_build_object('source', 'tier', 'discount', to_char(discount, 'FM999999990.00'),
                'description', tier_name || ' ' || trim_scale(discount_percent)::text || '%%'),
            jsonb_build_object('source', 'earn', 'points', earned, 'description',
                to_char(due, 'FM999999990.00') || ' ' || currency || ' x ' || trim_scale(rate)::text
                || CASE WHEN capped THEN ', capped at ' || cap ELSE '' END
                || CASE WHEN earn_multiplier <> 1 THEN ' x ' || trim_scale(earn_multiplier)::text || ' (' || tier_name || ')' ELSE '' END))
        || CASE WHEN bonus > 0 THEN jsonb_build_array(jsonb_build_object('source', 'campaign', 'points', bonus,
                'description', %(second_description)s)) ELSE '[]'::jsonb END
        || CASE WHEN coupon THEN jsonb_build_array(jsonb_build_object('source', 'campaign', 'points', 0,
                'description', %(frequent_description)s)) ELSE '[]'::jsonb END,
        '',
        {PURCHASE_FINGERPRINT},
        occurred_at
    FROM bench_buy
    """,
    f"""
    INSERT INTO ledger_posting (id, program_id, member_id, kind, reference, fingerprint, points, pending_points,
        balance_after, purchase_id, campaign_id, amount, fee, description, user_id, data, created_at, recorded_at)
    SELECT posting_id, %(program)s, member_id, 'earn', 'purchase:' || purchase_id || ':earn',
        {EARN_FINGERPRINT},
        total, 0, balance_after, purchase_id, NULL, NULL, NULL,
        'Purchase of ' || to_char(occurred_at AT TIME ZONE 'UTC', 'FMDD Mon YYYY') || ': ' || to_char(due, 'FM999999990.00') || ' ' || currency,
        NULL, '{{}}', occurred_at, occurred_at
    FROM bench_buy
    """,
    """
    INSERT INTO ledger_entry (posting_id, program_id, member_id, account, kind, points, balance_after, created_at)
    SELECT posting_id, %(program)s, member_id, 'member', 'earn', total, balance_after, occurred_at FROM bench_buy
    UNION ALL
    SELECT posting_id, %(program)s, NULL, 'issued', 'earn', -total, NULL, occurred_at FROM bench_buy
    """,
    """
    INSERT INTO ledger_lot (id, program_id, member_id, posting_id, source, points, remaining, state, earned_at,
        available_at, expires_at, grace_until, warned_at)
    SELECT lot_id, %(program)s, member_id, posting_id, 'earn', total, total, 'active', occurred_at, occurred_at,
        occurred_at + %(lifetime)s * interval '1 day', NULL, NULL
    FROM bench_buy
    """,
    """
    INSERT INTO campaigns_coupon (id, program_id, campaign_id, member_id, batch_id, code, kind, value, currency,
        min_purchase, starts_at, ends_at, max_uses, max_uses_per_member, first_order_only, is_active, uses_count,
        created_at)
    SELECT coupon_id, %(program)s, %(frequent)s, member_id, NULL, 'BF' || lpad(i::text, 8, '0'), %(coupon_kind)s,
        %(coupon_value)s, '', 0, occurred_at, occurred_at + %(coupon_days)s * interval '1 day', 1, 1, false, true, 0,
        occurred_at
    FROM bench_buy WHERE coupon
    """,
    """
    INSERT INTO campaigns_campaigngrant (id, campaign_id, member_id, period_key, points, cost, coupon_id,
        purchase_ref, created_at)
    SELECT bonus_grant_id, %(second)s, member_id, 'once', bonus, bonus * %(point_value)s, NULL, external_id, occurred_at
    FROM bench_buy WHERE bonus > 0
    UNION ALL
    SELECT coupon_grant_id, %(frequent)s, member_id, 'once', 0, 0, coupon_id, external_id, occurred_at
    FROM bench_buy WHERE coupon
    """,
    f"""
    INSERT INTO notifications_event (uid, program_id, member_id, type, data, at, key, created_at)
    SELECT gen_random_uuid(), %(program)s, member_id, 'points.earned',
        jsonb_build_object('kind', 'earn', 'change', total, 'points', total, 'balance', balance_after,
            'member_id', member_id, 'reference', 'purchase:' || purchase_id || ':earn',
            'created_at', {_iso("occurred_at")}, 'posting_id', posting_id, 'purchase_id', purchase_id,
            'pending_points', 0),
        occurred_at, 'points.earned:posting:' || posting_id, occurred_at
    FROM bench_buy
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, member_id, 'reward.granted',
        jsonb_build_object('coupon', NULL, 'points', bonus, 'campaign', %(second_code)s,
            'description', %(second_description)s, 'campaign_name', %(second_name)s),
        occurred_at, 'reward.granted:' || bonus_grant_id, occurred_at
    FROM bench_buy WHERE bonus > 0
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, member_id, 'reward.granted',
        jsonb_build_object('coupon', 'BF' || lpad(i::text, 8, '0'), 'points', 0, 'campaign', %(frequent_code)s,
            'description', %(frequent_description)s, 'campaign_name', %(frequent_name)s),
        occurred_at, 'reward.granted:' || coupon_grant_id, occurred_at
    FROM bench_buy WHERE coupon
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, member_id, 'coupon.issued',
        jsonb_build_object('code', 'BF' || lpad(i::text, 8, '0'), 'kind', %(coupon_kind)s,
            'value', to_char(%(coupon_value)s::numeric, 'FM999999990.00'), 'coupon', 'BF' || lpad(i::text, 8, '0'),
            'ends_at', {_iso("(occurred_at + %(coupon_days)s * interval '1 day')")}, 'campaign', %(frequent_code)s,
            'valid_until', {_iso("(occurred_at + %(coupon_days)s * interval '1 day')")}),
        occurred_at, 'coupon.issued:' || coupon_id, occurred_at
    FROM bench_buy WHERE coupon
    UNION ALL
    SELECT gen_random_uuid(), %(program)s, u.member_id, 'tier.changed',
        jsonb_build_object('member', u.member_id, 'from', f.code, 'from_name', f.name, 'to', u.to_code,
            'to_name', u.to_name, 'direction', 'up', 'reason', 'earning', 'qualifying_value', u.qualifying),
        u.occurred_at, 'tier.changed:' || u.change_id, u.occurred_at
    FROM bench_up u JOIN tiers_tier f ON f.program_id = %(program)s AND f.rank = u.from_rank
    """,
    """
    INSERT INTO tiers_tierchange (id, program_id, member_id, from_tier_id, to_tier_id, reason, note,
        qualifying_value, at, created_by_id)
    SELECT u.change_id, %(program)s, u.member_id, f.id, u.to_tier_id, 'earning', '', u.qualifying, u.occurred_at, NULL
    FROM bench_up u JOIN tiers_tier f ON f.program_id = %(program)s AND f.rank = u.from_rank
    """,
    """
    UPDATE accounts_member m SET balance = b.balance_after, last_activity_at = b.occurred_at, tier_id = t.id
    FROM (SELECT DISTINCT ON (member_id) member_id, balance_after, occurred_at, rank_after FROM bench_buy
          ORDER BY member_id, k DESC) b
    JOIN tiers_tier t ON t.program_id = %(program)s AND t.rank = b.rank_after
    WHERE m.id = b.member_id
    """,
    """
    UPDATE campaigns_campaign SET points_granted = points_granted + (SELECT COALESCE(sum(bonus), 0) FROM bench_buy)
    WHERE id = %(second)s
    """,
]

TABLES = [
    "accounts_member",
    "ledger_purchase",
    "ledger_posting",
    "ledger_entry",
    "ledger_lot",
    "campaigns_campaigngrant",
    "campaigns_coupon",
    "tiers_tierchange",
    "notifications_event",
]


def database_recreate(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_ensure(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def _meta_get(cursor, key: str):
    cursor.execute("SELECT value FROM bench_build_meta WHERE key = %s", [key])
    row = cursor.fetchone()
    return None if row is None else (json.loads(row[0]) if isinstance(row[0], str) else row[0])


def _meta_set(cursor, key: str, value) -> None:
    cursor.execute(
        "INSERT INTO bench_build_meta (key, value) VALUES (%s, %s::jsonb) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        [key, json.dumps(value)],
    )


def program_setup(*, at: datetime, members: int) -> dict:
    """The bench program (created once: its id is kept in `bench_build_meta`) and the parameters of
    the SQL: the seed preset's tiers and campaigns as the merchant would have them."""
    from django.db import connection, transaction

    from accounts.models import Program
    from accounts.services import merchant_create, program_create
    from campaigns.models import Campaign
    from loyalty_site.core.presets import preset_apply
    from tiers.models import Tier

    with connection.cursor() as cursor:
        for statement in SETUP_SQL:
            cursor.execute(statement)
        program_id = _meta_get(cursor, "program")
        base = _meta_get(cursor, "member_base")
        planned = _meta_get(cursor, "members")
    if program_id is None:
        with transaction.atomic(), connection.cursor() as cursor:
            started = at - timedelta(days=400)
            program = program_create(merchant=merchant_create(name="Bench"), name="Bench", time_zone="UTC")
            preset_apply(program=program, preset="seed", at=started)
            cursor.execute("SELECT COALESCE(max(id), 0) FROM accounts_member")
            base = cursor.fetchone()[0]
            _meta_set(cursor, "program", program.pk)
            _meta_set(cursor, "member_base", base)
            _meta_set(cursor, "members", members)
            _meta_set(cursor, "at", at.isoformat())
            program_id, planned = program.pk, members
    if planned != members:
        raise SystemExit(f"this database holds a build of {planned} members: use --fresh to start over")
    program = Program.objects.get(pk=program_id)
    entry = Tier.objects.filter(program=program).order_by("rank").first()
    campaigns = {
        c.code: c for c in Campaign.objects.filter(program=program).prefetch_related("conditions", "rewards")
    }
    welcome, second, frequent = (
        campaigns["registration_bonus"],
        campaigns["second_purchase_bonus"],
        campaigns["frequent_buyer_coupon"],
    )
    welcome_points = welcome.rewards.get().points
    coupon = frequent.rewards.get()
    frequent_condition = frequent.conditions.get()
    if frequent_condition.count != 3:  # the SQL looks two purchases back (`prev2`)
        raise SystemExit("the builder expects the seed's frequent-buyer rule: 3 purchases in the window")
    from campaigns.engine import _describe  # a grant's description, as the engine words it

    return {
        "program": program.pk,
        "base": base,
        "at": at,
        "entry_tier": entry.pk,
        "entry_code": entry.code,
        "entry_name": entry.name,
        "lifetime": program.points_lifetime_days,
        "window": program.tier_window_days,
        "point_value": program.point_value,
        "welcome": welcome.pk,
        "welcome_name": welcome.name,
        "welcome_points": welcome_points,
        "welcome_cost": welcome_points * program.point_value,
        "welcome_description": _describe(welcome, list(welcome.rewards.all()), welcome_points),
        "second": second.pk,
        "second_code": second.code,
        "second_name": second.name,
        "second_points": second.rewards.get().points,
        "second_description": _describe(second, list(second.rewards.all()), second.rewards.get().points),
        "second_count": second.conditions.get().count,
        "frequent": frequent.pk,
        "frequent_code": frequent.code,
        "frequent_name": frequent.name,
        "frequent_description": _describe(frequent, [coupon], 0),
        "frequent_count": frequent_condition.count,
        "frequent_days": frequent_condition.days,
        "coupon_kind": coupon.coupon_kind,
        "coupon_value": coupon.value,
        "coupon_days": coupon.days,
    }


def _steps(members: int, chunk: int, shard: tuple[int, int] = (0, 1)):
    for number, first in enumerate(range(1, members + 1, chunk)):
        if number % shard[1] != shard[0]:
            continue
        last = min(members, first + chunk - 1)
        yield f"enrol:{first}-{last}", ENROL_SQL, {"first": first, "last": last}
        yield f"purchases:{first}-{last}", PURCHASE_SQL, {"first": first, "last": last}


def build(
    *, members: int, at: datetime = AT, chunk: int = CHUNK, log=print, shard: tuple[int, int] = (0, 1)
) -> dict:
    """Build (or continue building) the data set in the current database (migrated). Returns the
    parameters and the seconds this call spent. `shard` (i, n): this process builds every n-th chunk
    from the i-th (several processes build one set at once; the last to finish analyses it)."""
    import psycopg
    from django.db import connection, transaction

    params = program_setup(at=at, members=members)
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM bench_build_step")
        done = {row[0] for row in cursor.fetchall()}
    started = time.monotonic()
    for name, statements, step in _steps(members, chunk, shard):
        if name in done:
            continue
        first_chunk = step["first"] == 1
        step_started = time.monotonic()
        # client-side binding: PostgreSQL infers no parameter types in CREATE TABLE AS
        with transaction.atomic(), psycopg.ClientCursor(connection.connection) as cursor:
            cursor.execute(LUHN_SQL)
            # the step's name first: a concurrent second build of the same database stops here
            cursor.execute("INSERT INTO bench_build_step (name) VALUES (%s)", [name])
            if first_chunk and statements is PURCHASE_SQL:
                cursor.execute("ANALYZE accounts_member")  # autovacuum may be off (our machines)
            for statement in statements:
                try:
                    statement_started = time.monotonic()
                    cursor.execute(statement, {**params, **step})
                    if os.environ.get("BENCH_VERBOSE"):
                        log(
                            f"  {time.monotonic() - statement_started:.2f} s {' '.join(statement.split())[:80]}"
                        )
                except Exception:
                    log(f"failed in {name}: {statement[:300]}")
                    raise
            seconds = time.monotonic() - step_started
            cursor.execute("UPDATE bench_build_step SET seconds = %s WHERE name = %s", [seconds, name])
        log(f"{name}: {seconds:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM bench_build_step")
        done = {row[0] for row in cursor.fetchall()}
    complete = all(name in done for name, _statements, _step in _steps(members, chunk))
    if complete and "analyze" not in done and not connection.in_atomic_block:
        connection.set_autocommit(True)
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("INSERT INTO bench_build_step (name) VALUES ('analyze')")
    return {**params, "seconds": round(time.monotonic() - started, 1)}


def dataset_stats() -> dict:
    """Rows and bytes on disk (table, indexes, TOAST) of the data set's tables, and the database."""
    from django.db import connection

    stats: dict = {"tables": {}}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"SELECT count(*), pg_total_relation_size('{table}'), pg_relation_size('{table}'), "
                f"pg_indexes_size('{table}') FROM {table}"
            )
            rows, total, heap, indexes = cursor.fetchone()
            stats["tables"][table] = {
                "rows": rows,
                "total_bytes": total,
                "heap_bytes": heap,
                "index_bytes": indexes,
            }
        cursor.execute("SELECT pg_database_size(current_database())")
        stats["database_bytes"] = cursor.fetchone()[0]
        cursor.execute("SELECT sum(seconds) FROM bench_build_step")
        stats["build_seconds"] = round(cursor.fetchone()[0] or 0, 1)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=CHUNK)
    parser.add_argument("--fresh", action="store_true", help="Drop the database and start over.")
    parser.add_argument("--no-reconcile", action="store_true")
    parser.add_argument(
        "--shard", default="0/1", help="i/n: build every n-th chunk from the i-th (parallel runs)"
    )
    args = parser.parse_args()
    url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/loyalty_bench_million")
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("LOYALTY_TESTING", "1")  # development secret key; no broker publishing
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "loyalty_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if args.fresh:
        database_recreate(url)
    else:
        database_ensure(url)
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    shard = tuple(int(part) for part in args.shard.split("/"))
    result = build(
        members=args.members, chunk=args.chunk, log=lambda text: print(text, flush=True), shard=shard
    )
    if shard != (0, 1):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM bench_build_step WHERE name = 'analyze'")
            if not cursor.fetchone()[0]:
                print("other shards are still building")
                return
    stats = dataset_stats()
    print(json.dumps(stats, indent=2))
    if not args.no_reconcile:
        from loyalty_site.core.jobs import run_job

        started = time.monotonic()
        summary = run_job("reconcile", at=result["at"])
        stats["reconcile"] = {"seconds": round(time.monotonic() - started, 1), **summary}
        print("reconcile", json.dumps(stats["reconcile"], default=str))
    out = Path(__file__).with_name(f"stats-{args.members}.json")
    out.write_text(json.dumps(stats, indent=2, default=str) + "\n")
    print(f"written {out}")


if __name__ == "__main__":
    main()
