"""Calendar periods in a program's time zone: the one home of "which day / ISO week / month / year
is `at` in", their keys and the period that just ended. Campaign limits and windows, the schedule
jobs, tier gifts, the ledger's daily and monthly limits and the reward catalogue's per-member limits
all cut time with these functions.

Periods are named `day`, `week` (ISO, Monday to Sunday), `month` and `year`; every window is
[start, end), aware datetimes in `tz`, so a DST change inside a window is honoured (an aware
datetime in a ZoneInfo takes its offset from its wall time).
"""

from __future__ import annotations

from datetime import datetime, timedelta

DAY, WEEK, MONTH, YEAR = "day", "week", "month", "year"
CALENDAR = (DAY, WEEK, MONTH, YEAR)


def period_window(period: str, at: datetime, tz) -> tuple[datetime, datetime] | None:
    """[start, end) of the day / ISO week / month / year containing `at` in time zone `tz`; None
    for any other period (once, each, ever)."""
    local = at.astimezone(tz)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == DAY:
        start, end = day, day + timedelta(days=1)
    elif period == WEEK:
        start = day - timedelta(days=local.isoweekday() - 1)
        end = start + timedelta(days=7)
    elif period == MONTH:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    elif period == YEAR:
        start = day.replace(month=1, day=1)
        end = start.replace(year=start.year + 1)
    else:
        return None
    # re-attach the zone so DST changes inside the window are honoured
    return start.replace(tzinfo=tz), end.replace(tzinfo=tz)


def period_start(period: str, at: datetime, tz) -> datetime | None:
    """Start of the calendar period containing `at` (None for a period that is not one)."""
    window = period_window(period, at, tz)
    return window[0] if window else None


def period_key(period: str, at: datetime, tz) -> str:
    """The period's name: `2026-11-16`, `2026-W47`, `2026-11`, `2026`; `once` for any other."""
    local = at.astimezone(tz)
    if period == DAY:
        return local.date().isoformat()
    if period == WEEK:
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if period == MONTH:
        return f"{local.year}-{local.month:02d}"
    if period == YEAR:
        return str(local.year)
    return "once"


def period_previous(period: str, at: datetime, tz) -> tuple[str, tuple[datetime, datetime]]:
    """The calendar period that ended last before `at`'s own: (its key, its [start, end)).
    Raises ValueError for a period that is not a calendar one."""
    current = period_window(period, at, tz)
    if current is None:
        raise ValueError(f"Not a calendar period: {period!r}")
    previous = period_window(period, current[0] - timedelta(seconds=1), tz)
    return period_key(period, previous[0], tz), previous
