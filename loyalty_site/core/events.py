"""Domain events: one call for "this happened" (points.earned, tier.changed, member.blocked, ...).

`event_emit` runs inside the caller's transaction. The notifications app registers the
`event_emitted` hook: it stores the event, writes the outbox rows (webhooks, email, chat bot) in
the same transaction, and delivers them after commit. Event types are API.md's webhook types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loyalty_site.core.hooks import run_hooks

EVENT_TYPES = (
    "member.created",
    "points.earned",
    "points.redeemed",
    "points.expiring",
    "points.expired",
    "points.decayed",
    "tier.changed",
    "reward.granted",
    "coupon.issued",
    "member.blocked",
    "member.inactive",
    # notification-only events (no webhook type in API.md, but templates exist for them)
    "member.birthday",
    "member.winback",
)


def event_emit(
    *,
    program,
    type: str,
    at: datetime,
    data: dict[str, Any],
    member=None,
    key: str | None = None,
) -> None:
    """Record that `type` happened at `at`. `key`, when given, makes the event unique (a second emit
    with the same key is ignored), e.g. `points.expiring:<lot id>`. Raises ValueError for an
    unknown type."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}")
    run_hooks("event_emitted", program=program, type=type, at=at, data=data, member=member, key=key)


def event_emit_many(*, program, type: str, at: datetime, events: list[dict[str, Any]]) -> None:
    """`event_emit` for many events of one program, type and moment, in a few queries (jobs that
    warn or decay thousands of members). `events`: dicts with `data` and optional `member` and
    `key`. Runs hook `events_emitted`. Raises ValueError for an unknown type."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}")
    if events:
        run_hooks("events_emitted", program=program, type=type, at=at, events=events)
