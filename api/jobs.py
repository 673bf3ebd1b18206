"""Scheduled jobs of the API app."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext_lazy

from loyalty_site.core.jobs import job
from loyalty_site.core.retention import rows_purge

from .idempotency import RETENTION


@job(
    "idempotency_purge",
    schedule="daily",
    description=gettext_lazy("Delete idempotency keys older than 24 hours."),
)
def idempotency_purge(*, at: datetime) -> dict:
    """Delete claims older than the replay window, in chunks (`rows_purge`). Idempotent: a second
    run finds nothing."""
    deleted = rows_purge(table="api_idempotencyrecord", condition="created_at <= %s", params=[at - RETENTION])
    return {"deleted": deleted}
