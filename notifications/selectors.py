"""Reads of the notifications app."""

from __future__ import annotations

from datetime import datetime

from .models import Notification, OutboxStatus, WebhookDelivery


def outbox_due_counts(*, at: datetime) -> dict[str, int]:
    """How many outbox rows a delivery run at `at` would try to send (the dry run of
    `deliver_notifications`): webhook deliveries and member notifications due by then."""
    return {
        "webhooks_due": WebhookDelivery.objects.filter(
            status=OutboxStatus.PENDING, next_attempt_at__lte=at
        ).count(),
        "notifications_due": Notification.objects.filter(
            status=OutboxStatus.PENDING, next_attempt_at__lte=at
        ).count(),
    }
