"""Celery tasks of the notifications app: thin wrappers, ids as arguments."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone


@shared_task(
    name="notifications.events_deliver",
    acks_late=True,
    autoretry_for=(Exception,),
    max_retries=3,
    retry_backoff=10,
    retry_backoff_max=300,
)
def events_deliver_task(event_ids: list[int]) -> dict:
    """First delivery attempt of these events' outbox, queued on commit of the transaction that
    stored them. Failed sends are retried by the `deliver_notifications` job, not by Celery."""
    from .services import outbox_deliver

    return outbox_deliver(at=timezone.now(), event_ids=event_ids)
