"""Scheduled jobs of the ops app."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils.translation import gettext_lazy

from loyalty_site.core.jobs import job
from loyalty_site.core.retention import rows_purge


@job(
    "sessions_purge",
    schedule="35 4 * * *",
    description=gettext_lazy("Delete expired staff and cashier sessions."),
)
def sessions_purge(*, at: datetime) -> dict:
    """Delete the sessions (django.contrib.sessions' table) that expired more than
    RETENTION_SESSIONS_DAYS (default 0) before `at`: what `manage.py clearsessions` does, in chunks,
    for any moment."""
    cutoff = at - timedelta(days=settings.RETENTION_SESSIONS_DAYS)
    deleted = rows_purge(
        table="django_session", key="session_key", condition="expire_date < %s", params=[cutoff]
    )
    return {"deleted": deleted}
