"""What a job wrote, as comparable rows: every table a grant, a gift or a posting touches, without
the values two equal runs cannot share (new rows' ids and uuids, wall-clock columns, random coupon
codes). Rows that point at a new row name it by something stable (a posting by its reference).

`same_rows(run_a, run_b)` runs both in turn on the same data (the first rolled back) and returns
their snapshots: the bulk jobs are checked against the per-member services with it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from django.db import connection, transaction

_NUMBERED = re.compile(r"(posting|reward\.granted|member\.\w+|coupon\.issued|tier\.changed):\d+")
_VOLATILE = {"posting_id", "coupon", "code", "lot_id", "created_at"}

QUERIES = {
    "postings": """
        SELECT member_id, kind, reference, fingerprint, points, pending_points, balance_after,
               campaign_id, description, data::text, created_at FROM ledger_posting""",
    "entries": """
        SELECT p.reference, e.member_id, e.account, e.kind, e.points, e.balance_after, e.created_at
        FROM ledger_entry e JOIN ledger_posting p ON p.id = e.posting_id""",
    "lots": """
        SELECT l.member_id, p.reference, l.source, l.points, l.remaining, l.state, l.earned_at,
               l.available_at, l.expires_at, l.grace_until, l.warned_at
        FROM ledger_lot l JOIN ledger_posting p ON p.id = l.posting_id""",
    "allocations": """
        SELECT p.reference, lp.reference, a.points FROM ledger_allocation a
        JOIN ledger_posting p ON p.id = a.posting_id JOIN ledger_lot l ON l.id = a.lot_id
        JOIN ledger_posting lp ON lp.id = l.posting_id""",
    "members": "SELECT id, balance, pending_points, tier_id, status, last_activity_at FROM accounts_member",
    "tier_changes": """
        SELECT member_id, from_tier_id, to_tier_id, reason, note, qualifying_value, at
        FROM tiers_tierchange""",
    "tier_states": "SELECT member_id, below_since, evaluated_at FROM tiers_membertierstate",
    "tier_gifts": "SELECT program_id, member_id, tier_id, period, points, at, reference FROM tiers_tiergift",
    "grants": """
        SELECT campaign_id, member_id, period_key, points, cost, purchase_ref, coupon_id IS NOT NULL,
               created_at FROM campaigns_campaigngrant""",
    "coupons": """
        SELECT program_id, member_id, campaign_id, kind, value, currency, min_purchase, starts_at, ends_at,
               max_uses, max_uses_per_member FROM campaigns_coupon""",
    "campaigns": "SELECT id, points_granted FROM campaigns_campaign",
    "events": "SELECT program_id, member_id, type, key, data::text, at FROM notifications_event",
    "notifications": """
        SELECT n.member_id, e.type, n.channel, n.recipient, n.status FROM notifications_notification n
        JOIN notifications_event e ON e.id = n.event_id""",
    "webhook_deliveries": """
        SELECT e.type, e.member_id FROM notifications_webhookdelivery d
        JOIN notifications_event e ON e.id = d.event_id""",
}


def _stable(data):
    if isinstance(data, dict):
        return {key: _stable(value) for key, value in data.items() if key not in _VOLATILE}
    if isinstance(data, list):
        return [_stable(value) for value in data]
    return data


def _data(text: str) -> str:
    return json.dumps(_stable(json.loads(text)), sort_keys=True, default=str)


def _row(table: str, row: tuple) -> tuple:
    row = list(row)
    if table == "postings":
        row[9] = _data(row[9])
    elif table == "events":
        row[3] = _NUMBERED.sub(lambda m: f"{m.group(1)}:N", row[3] or "")
        row[4] = _data(row[4])
    return tuple(str(value) for value in row)


def snapshot() -> dict[str, list[tuple]]:
    """Every table's rows (see QUERIES), normalized and sorted."""
    rows = {}
    with connection.cursor() as cursor:
        for table, sql in QUERIES.items():
            cursor.execute(sql)
            rows[table] = sorted(_row(table, row) for row in cursor.fetchall())
    return rows


def same_rows(first: Callable[[], object], second: Callable[[], object]) -> tuple[dict, dict]:
    """Run `first` then roll it back, then run `second`: (rows after first, rows after second)."""
    with transaction.atomic():
        first()
        after_first = snapshot()
        transaction.set_rollback(True)
    second()
    return after_first, snapshot()


def diff(a: dict, b: dict) -> dict:
    """The tables whose rows differ, with the rows only in one side (for assertion messages)."""
    out = {}
    for table in a:
        only_a = sorted(set(a[table]) - set(b[table]))
        only_b = sorted(set(b[table]) - set(a[table]))
        if only_a or only_b or len(a[table]) != len(b[table]):
            out[table] = {"only_first": only_a[:5], "only_second": only_b[:5]}
    return out
