"""Calendar periods (loyalty_site.core.periods): the one home of day / ISO week / month / year
windows and keys, used by campaigns, tier gifts, the ledger's limits and the reward catalogue."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from loyalty_site.core.periods import period_key, period_previous, period_start, period_window

BERLIN = ZoneInfo("Europe/Berlin")


def test_windows_and_keys_across_a_year_end_in_iso_weeks():
    at = datetime(2027, 1, 1, 12, tzinfo=UTC)  # a Friday in ISO week 2026-W53
    assert period_window("week", at, UTC) == (
        datetime(2026, 12, 28, tzinfo=UTC),
        datetime(2027, 1, 4, tzinfo=UTC),
    )
    assert period_key("week", at, UTC) == "2026-W53"
    assert period_key("month", at, UTC) == "2027-01"
    assert period_key("year", at, UTC) == "2027"
    assert period_previous("month", at, UTC) == (
        "2026-12",
        (datetime(2026, 12, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
    )
    assert period_previous("day", at, UTC)[0] == "2026-12-31"


def test_a_day_with_a_dst_change_is_cut_at_local_midnights():
    at = datetime(2026, 3, 29, 12, tzinfo=UTC)  # Berlin springs forward at 02:00 that day
    start, end = period_window("day", at, BERLIN)
    assert (start.astimezone(UTC), end.astimezone(UTC)) == (
        datetime(2026, 3, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 29, 22, tzinfo=UTC),
    )
    # 00:30 UTC on 1 November is already November in Berlin (UTC+1)
    assert period_key("month", datetime(2026, 10, 31, 23, 30, tzinfo=UTC), BERLIN) == "2026-11"


def test_a_period_that_is_not_a_calendar_one():
    at = datetime(2026, 11, 16, tzinfo=UTC)
    assert period_window("once", at, UTC) is None
    assert period_start("ever", at, UTC) is None
    assert period_key("each", at, UTC) == "once"
    with pytest.raises(ValueError):
        period_previous("ever", at, UTC)
