"""Scheduled jobs of the API app."""

from __future__ import annotations

from datetime import datetime

from loyalty_site.core.jobs import job

from .idempotency import RETENTION
from .models import IdempotencyRecord


@job("idempotency_purge", schedule="daily", description="Delete idempotency keys older than 24 hours.")
def idempotency_purge(*, at: datetime) -> dict:
    """Delete claims older than the replay window. Idempotent: a second run finds nothing."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lte=at - RETENTION).delete()
    return {"deleted": deleted}
