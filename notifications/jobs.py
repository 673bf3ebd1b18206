"""Scheduled jobs of the notifications app.

Birthday greetings, the 30-day inactivity reminder and the 60-day win-back are campaigns (the
campaigns app's `birthdays` and `inactivity_reminders` jobs emit `member.birthday`,
`member.inactive` and `member.winback`); this app turns those events into messages with the
templates of its seed preset.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext_lazy

from loyalty_site.core.jobs import job
from loyalty_site.core.retention import rows_purge

from .selectors import outbox_due_counts
from .services import outbox_deliver


@job(
    "deliver_notifications",
    schedule="minutely",
    description=gettext_lazy("Send due notifications and webhooks."),
    preview=outbox_due_counts,
)
def deliver_notifications(*, at: datetime) -> dict:
    """Send every outbox row due at `at` (first attempts the on-commit task missed, and retries)."""
    return outbox_deliver(at=at)


# delivered or given up: a pending row (still to be sent or retried) is never purged
DONE = "status IN ('delivered', 'failed') AND created_at <= %s"


@job(
    "outbox_purge",
    schedule="20 4 * * *",
    description=gettext_lazy(
        "Delete delivered or failed notifications older than RETENTION_NOTIFICATIONS_DAYS."
    ),
)
def outbox_purge(*, at: datetime) -> dict:
    """Delete the notifications (outbox rows) delivered or failed that were queued more than
    RETENTION_NOTIFICATIONS_DAYS before `at`; pending ones stay. A second run finds nothing."""
    cutoff = at - timedelta(days=settings.RETENTION_NOTIFICATIONS_DAYS)
    return {"deleted": rows_purge(table="notifications_notification", condition=DONE, params=[cutoff])}


@job(
    "webhook_deliveries_purge",
    schedule="25 4 * * *",
    description=gettext_lazy(
        "Delete delivered or failed webhook deliveries older than RETENTION_WEBHOOK_DELIVERIES_DAYS."
    ),
)
def webhook_deliveries_purge(*, at: datetime) -> dict:
    """Delete the webhook deliveries (the delivery log) delivered or failed that were queued more
    than RETENTION_WEBHOOK_DELIVERIES_DAYS before `at`; pending ones stay."""
    cutoff = at - timedelta(days=settings.RETENTION_WEBHOOK_DELIVERIES_DAYS)
    return {"deleted": rows_purge(table="notifications_webhookdelivery", condition=DONE, params=[cutoff])}
