"""The fraud monitor job (every 10 minutes)."""

from __future__ import annotations

from datetime import datetime

from django.utils.translation import gettext_lazy as _

from loyalty_site.core.jobs import job

from .services import fraud_monitor_run


@job("fraud_monitor", schedule="every_10_minutes", description=_("Block members over a fraud rule's limits."))
def fraud_monitor(*, at: datetime) -> dict:
    """Check every member's transactions in each rule's window ending at `at`; block breaches."""
    return fraud_monitor_run(at=at)
