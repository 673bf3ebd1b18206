"""Domain events: one call for "this happened" (points.earned, tier.changed, member.blocked, ...).

`event_emit` runs inside the caller's transaction. The notifications app registers the
`event_emitted` hook: it stores the event, writes the outbox rows (webhooks, email, chat bot) in
the same transaction, and delivers them after commit. Event types are API.md's webhook types.

`events_batched()` stores a block's events with one statement instead of one per emit (a purchase
emits `reward.granted`, `tier.changed` and `points.earned`). Inside the block `event_emit` and
`event_emit_many` check the type at once but only buffer the event; when the outermost block ends
normally, every buffered event (any programs, types and moments, in emission order) goes to the
hook `events_emitted_mixed` in one call. The contract:
- The events are stored at the end of the block, in the transaction open then: put the block
  inside the `transaction.atomic()` whose rollback should drop them, never around it.
- Until then they are not in the database (nothing in the block may read them back), their data
  is encoded at the end (do not change a `data` dict once emitted) and their notifications are
  rendered then (with the member's attributes as they are then); a `key` repeated in the block
  keeps the first event, as separate emits do.
- An exception out of a block drops the events emitted inside it; out of a nested block (which
  joins the outer one), only its own. Wrap a savepoint that the block catches errors of in a nested
  block, so its events go with its rollback.
- The `event_emitted` / `events_emitted` hooks do not see buffered events.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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
    "reward.redeemed",
    "reward.fulfilled",
    "reward.cancelled",
    # to the merchant (webhooks only): a currency rate is due for its periodic review
    "rate.review_due",
    # notification-only events (no webhook type in API.md, but templates exist for them)
    "member.birthday",
    "member.winback",
)

# The events of the open `events_batched()` block, or None outside one.
_batch: ContextVar[list[dict[str, Any]] | None] = ContextVar("events_batch", default=None)


@contextmanager
def events_batched() -> Iterator[None]:
    """Buffer the events emitted inside the block and store them with one `events_emitted_mixed`
    hook call when the outermost block ends normally (see the module docstring). Re-entrant: a
    nested block joins the outer one. On an exception the block's events are dropped."""
    buffer = _batch.get()
    if buffer is not None:
        start = len(buffer)
        try:
            yield
        except BaseException:
            del buffer[start:]
            raise
        return
    buffer = []
    token = _batch.set(buffer)
    try:
        yield
    finally:
        _batch.reset(token)
    if buffer:
        run_hooks("events_emitted_mixed", events=buffer)


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
    with the same key is ignored), e.g. `points.expiring:<lot id>`. Inside `events_batched()` the
    event is stored at the end of the block. Raises ValueError for an unknown type."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}")
    buffer = _batch.get()
    if buffer is not None:
        event = {"program": program, "type": type, "at": at, "data": data, "member": member, "key": key}
        buffer.append(event)
        return
    run_hooks("event_emitted", program=program, type=type, at=at, data=data, member=member, key=key)


def event_emit_many(*, program, type: str, at: datetime, events: list[dict[str, Any]]) -> None:
    """`event_emit` for many events of one program, type and moment, in a few queries (jobs that
    warn or decay thousands of members). `events`: dicts with `data` and optional `member` and
    `key`. Runs hook `events_emitted` (inside `events_batched()`, buffers them). Raises ValueError
    for an unknown type."""
    if type not in EVENT_TYPES:
        raise ValueError(f"Unknown event type {type!r}")
    if not events:
        return
    buffer = _batch.get()
    if buffer is not None:
        buffer.extend(
            {
                "program": program,
                "type": type,
                "at": at,
                "data": item.get("data"),
                "member": item.get("member"),
                "key": item.get("key"),
            }
            for item in events
        )
        return
    run_hooks("events_emitted", program=program, type=type, at=at, events=events)
