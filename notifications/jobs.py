"""Scheduled jobs of the notifications app.

Birthday greetings, the 30-day inactivity reminder and the 60-day win-back are campaigns (the
campaigns app's `birthdays` and `inactivity_reminders` jobs emit `member.birthday`,
`member.inactive` and `member.winback`); this app turns those events into messages with the
templates of its seed preset.
"""

from __future__ import annotations

from datetime import datetime

from loyalty_site.core.jobs import job

from .selectors import outbox_due_counts
from .services import outbox_deliver


@job(
    "deliver_notifications",
    schedule="minutely",
    description="Send due notifications and webhooks.",
    preview=outbox_due_counts,
)
def deliver_notifications(*, at: datetime) -> dict:
    """Send every outbox row due at `at` (first attempts the on-commit task missed, and retries)."""
    return outbox_deliver(at=at)
