"""Delivering the outbox: webhook deliveries and member notifications, each exactly once per
(event, subscription) and (event, channel) while workers stay alive.

Every sender (the task queued after commit and the minute job, on any number of workers) takes rows
through one claim, `_claim_next`: a single statement picks the next sendable row with
`SELECT ... FOR UPDATE SKIP LOCKED`, stamps it with a fresh claim token and `claimed_until` (now +
`LEASE`, on the database's clock) and counts the attempt (`attempts + 1` in SQL). A row is sendable
while it is pending and not under a live claim, so two senders never hold the same row. The row is
sent outside any transaction and its outcome recorded only under the same token; a worker killed
mid-send leaves the row to be claimed again when the lease ends (then it is resent with the same
`Webhook-Id`, which receivers use to de-duplicate, per Standard Webhooks).

Rows are claimed one at a time, and every request is bounded (`outgoing.post`), so a slow endpoint
holds only its own row: other workers go on with the rest, and within one run a subscription that
timed out is not tried again until the next run.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from . import outgoing, signing
from .channels import channel_get
from .models import ChannelSettings, Event, Notification, OutboxStatus, WebhookDelivery, WebhookSubscription

logger = logging.getLogger("loyalty.notifications")

#: Seconds to wait after the n-th failed attempt (1-based); after the last one the row is given up.
#: 1 m, 5 m, 30 m, 2 h, 5 h, 10 h, 10 h: eight attempts spread over 27 h 36 m (>= 24 h).
BACKOFF_SECONDS = (60, 300, 1800, 7200, 18000, 36000, 36000)
MAX_ATTEMPTS = len(BACKOFF_SECONDS) + 1
#: How long a claimed row stays with its sender; far longer than one bounded send.
LEASE = timedelta(minutes=2)

SENT, FAILED, UNREACHABLE = "sent", "failed", "unreachable"

# The next sendable row, claimed: pending, not under a live claim, and either due at `at` (the job)
# or a first attempt of one of the given events (after commit: sent even if the event's moment is
# ahead of `at`). Subscriptions that timed out earlier in the run are skipped.
_CLAIM_SQL = """
WITH picked AS (
    SELECT id FROM {table}
    WHERE status = 'pending'
      AND (claimed_until IS NULL OR claimed_until < clock_timestamp())
      AND {which}
      {skip}
    ORDER BY next_attempt_at, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE {table} AS t
SET claim_token = %(token)s, claimed_until = clock_timestamp() + %(lease)s,
    attempts = t.attempts + 1, last_attempt_at = %(at)s
FROM picked WHERE t.id = picked.id
RETURNING t.id
"""


def _claim_next(
    model, *, at: datetime, event_ids: list[int] | None = None, skip_subscriptions: set[int] = frozenset()
) -> tuple[int, uuid.UUID] | None:
    """Claim the next sendable row of `model` (see the module's docstring): (id, claim token), or
    None when there is none. Runs in autocommit, one statement."""
    params: dict[str, Any] = {"token": uuid.uuid4(), "lease": LEASE, "at": at}
    if event_ids is None:
        which = "next_attempt_at <= %(at)s"
    else:
        which = "event_id = ANY(%(event_ids)s) AND attempts = 0"
        params["event_ids"] = list(event_ids)
    skip = ""
    if skip_subscriptions and model is WebhookDelivery:
        skip = "AND NOT (subscription_id = ANY(%(skip)s))"
        params["skip"] = sorted(skip_subscriptions)
    sql = _CLAIM_SQL.format(table=model._meta.db_table, which=which, skip=skip)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    return (found[0], params["token"]) if found else None


def _record(row, *, token: uuid.UUID, at: datetime, ok: bool, error: str = "", **fields: Any) -> bool:
    """Record the outcome of the claimed `row`'s attempt (its `attempts` already counts it) and end
    the claim. Nothing is written, and False returned, when the claim was lost (its lease ended and
    another sender took the row)."""
    values: dict[str, Any] = {"claim_token": None, "claimed_until": None, **fields}
    if ok:
        values.update(status=OutboxStatus.DELIVERED, delivered_at=at, next_attempt_at=None, last_error="")
    else:
        values["last_error"] = error[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            values.update(status=OutboxStatus.FAILED, next_attempt_at=None)
        else:
            values["next_attempt_at"] = at + timedelta(seconds=BACKOFF_SECONDS[row.attempts - 1])
    updated = type(row).objects.filter(pk=row.pk, claim_token=token).update(**values)
    if not updated:
        logger.warning("%s %s: claim lost before its outcome was recorded", type(row).__name__, row.pk)
        return False
    for name, value in values.items():
        setattr(row, name, value)
    return True


def webhook_body(event: Event) -> bytes:
    payload = {
        "id": event.public_id,
        "type": event.type,
        "created_at": event.at.isoformat(),
        "data": event.data,
    }
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def webhook_signing_secrets(subscription: WebhookSubscription, *, at: datetime) -> list[str]:
    secrets_ = [subscription.secret]
    if (
        subscription.previous_secret
        and subscription.previous_secret_expires_at
        and subscription.previous_secret_expires_at > at
    ):
        secrets_.append(subscription.previous_secret)
    return secrets_


def webhook_delivery_send(*, delivery: WebhookDelivery, token: uuid.UUID, at: datetime) -> str:
    """POST one claimed delivery through the safe client and record the outcome. Returns SENT (a
    2xx answer), FAILED (any other answer, or the URL refused) or UNREACHABLE (no answer in time)."""
    event, subscription = delivery.event, delivery.subscription
    body = webhook_body(event)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "loyalty-webhooks/1.0",
        # The signed timestamp is the real clock: receivers reject stale ones.
        **signing.headers(
            secrets_=webhook_signing_secrets(subscription, at=at),
            msg_id=event.public_id,
            timestamp=int(time.time()),
            body=body,
        ),
    }
    try:
        answer = outgoing.post(subscription.url, data=body, headers=headers)
    except outgoing.UnsafeURL as error:
        _record(delivery, token=token, at=at, ok=False, error=f"Refused: {error}", last_status_code=None)
        return FAILED
    except outgoing.OutgoingError as error:
        _record(delivery, token=token, at=at, ok=False, error=str(error), last_status_code=None)
        return UNREACHABLE
    _record(
        delivery,
        token=token,
        at=at,
        ok=answer.ok,
        error="" if answer.ok else f"HTTP {answer.status}",
        last_status_code=answer.status,
        last_response=answer.excerpt,
    )
    return SENT if answer.ok else FAILED


def _channel_settings(program) -> ChannelSettings:
    settings = ChannelSettings.objects.filter(program=program).first()
    return settings or ChannelSettings(program=program)


def notification_send(
    *, notification: Notification, token: uuid.UUID, at: datetime, settings_by_program: dict | None = None
) -> str:
    """Send one claimed notification on its channel and record the outcome: SENT or FAILED.
    `settings_by_program`: the channel settings read so far in this run (one read per program)."""
    channel = channel_get(notification.channel)
    if settings_by_program is None:
        settings = _channel_settings(notification.program)
    else:
        settings = settings_by_program.get(notification.program_id)
        if settings is None:
            settings = settings_by_program[notification.program_id] = _channel_settings(notification.program)
    if channel is None:
        error = f"no channel {notification.channel!r} registered"
        _record(notification, token=token, at=at, ok=False, error=error)
        return FAILED
    try:
        channel.send(notification=notification, settings=settings)
    except Exception as error:  # noqa: BLE001 - every failure is retried with backoff
        _record(notification, token=token, at=at, ok=False, error=f"{type(error).__name__}: {error}")
        return FAILED
    _record(notification, token=token, at=at, ok=True)
    return SENT


def outbox_deliver(
    *, at: datetime, event_ids: list[int] | None = None, limit: int | None = None
) -> dict[str, int]:
    """Send every sendable outbox row: those due at `at`, or, when `event_ids` is given, the first
    attempts of these events' rows (even if the events' moment is ahead of `at`). At most `limit`
    rows of each kind when given. Returns counts."""
    counts = {"webhooks_sent": 0, "webhooks_failed": 0, "notifications_sent": 0, "notifications_failed": 0}
    skip: set[int] = set()  # subscriptions that did not answer in time: left for the next run
    settings_by_program: dict = {}  # each program's channel settings, read once per run
    for model, name in ((WebhookDelivery, "webhooks"), (Notification, "notifications")):
        related = ["event", "subscription"] if model is WebhookDelivery else ["event", "program"]
        done = 0
        while limit is None or done < limit:
            claimed = _claim_next(model, at=at, event_ids=event_ids, skip_subscriptions=skip)
            if claimed is None:
                break
            row_id, token = claimed
            row = model.objects.select_related(*related).get(pk=row_id)
            if model is WebhookDelivery:
                outcome = webhook_delivery_send(delivery=row, token=token, at=at)
                if outcome == UNREACHABLE:
                    skip.add(row.subscription_id)
            else:
                outcome = notification_send(
                    notification=row, token=token, at=at, settings_by_program=settings_by_program
                )
            counts[f"{name}_{'sent' if outcome == SENT else 'failed'}"] += 1
            done += 1
            if done % 200 == 0:
                logger.info("deliver_notifications: %s so far", counts)
    return counts


def outbox_retry_now(*, queryset, at: datetime) -> int:
    """Admin action: make failed or waiting rows due now, with a fresh attempt budget."""
    return queryset.exclude(status=OutboxStatus.DELIVERED).update(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=at
    )
