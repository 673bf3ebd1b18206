"""Hook functions of the tiers app (registered in TiersConfig.ready)."""

from __future__ import annotations

from datetime import datetime

from .models import TierChange
from .services import member_tier_evaluate


def on_member_created(*, member, at: datetime, **_: object) -> None:
    """The entry tier on enrolment (the lowest tier, or higher if a floor says so)."""
    member_tier_evaluate(member=member, at=at, reason=TierChange.Reason.ENROLMENT)


def on_points_posted(*, member, posting, at: datetime, **_: object) -> None:
    """Upgrade at once when points are credited, in the posting's transaction. Debits cannot raise
    qualifying points, so they skip the evaluation (downgrades wait for re-evaluation)."""
    if getattr(posting, "points", 0) <= 0 and getattr(posting, "pending_points", 0) <= 0:
        return
    member_tier_evaluate(member=member, at=at, reason=TierChange.Reason.EARNING)
