"""Time math: months with clamping, review dates on the group's calendar, clocks, lateness."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfoNotFoundError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deliberation.timers import (
    LATE_AFTER,
    ManualClock,
    SystemClock,
    add_months,
    closes_at,
    is_late,
    review_date,
)

# -- add_months ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2026, 1, 15), 1, date(2026, 2, 15)),
        (date(2027, 1, 31), 1, date(2027, 2, 28)),  # clamped to the month's end
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 8, 31), 1, date(2026, 9, 30)),
        (date(2026, 11, 24), 12, date(2027, 11, 24)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # across the year
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),  # a leap day a year on
        (date(2028, 2, 29), 48, date(2032, 2, 29)),  # ... and four years on
        (date(2026, 5, 31), 120, date(2036, 5, 31)),
        (date(2026, 5, 31), 0, date(2026, 5, 31)),
        (date(2026, 3, 31), -1, date(2026, 2, 28)),  # backwards too
        (date(2026, 1, 10), -1, date(2025, 12, 10)),
        (date(2026, 1, 10), -13, date(2024, 12, 10)),
    ],
)
def test_add_months(day: date, months: int, expected: date) -> None:
    assert add_months(day, months) == expected


days = st.dates(min_value=date(1900, 1, 1), max_value=date(2900, 12, 31))


@given(days, st.integers(min_value=-1000, max_value=1000))
def test_add_months_lands_in_the_right_month(day: date, months: int) -> None:
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day <= day.day
    if result.day < day.day:  # clamped: the last day of a shorter month
        assert (result + timedelta(days=1)).day == 1


@given(days, st.integers(min_value=0, max_value=500), st.integers(min_value=0, max_value=500))
def test_add_months_is_monotonic(day: date, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert add_months(day, low) <= add_months(day, high)


@given(days.filter(lambda d: d.day <= 28), st.integers(-500, 500), st.integers(-500, 500))
def test_add_months_composes_when_no_clamping(day: date, a: int, b: int) -> None:
    assert add_months(add_months(day, a), b) == add_months(day, a + b)


# -- review_date -----------------------------------------------------------------------


def test_review_date_in_utc() -> None:
    assert review_date(datetime(2026, 11, 24, 12, tzinfo=UTC), 12, "UTC") == date(2027, 11, 24)


def test_review_date_counts_on_the_groups_calendar() -> None:
    late_evening_utc = datetime(2026, 11, 24, 23, 30, tzinfo=UTC)
    # Already 25 November in Auckland (UTC+13 in summer) ...
    assert review_date(late_evening_utc, 12, "Pacific/Auckland") == date(2027, 11, 25)
    assert review_date(late_evening_utc, 12, "UTC") == date(2027, 11, 24)
    # ... still 24 November in Los Angeles when it is the 25th in UTC.
    early_utc = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert review_date(early_utc, 12, "America/Los_Angeles") == date(2027, 11, 24)
    assert review_date(early_utc, 12, "UTC") == date(2027, 11, 25)


def test_review_date_clamps_in_the_zone() -> None:
    # 31 January in Tokyo (UTC+9) while it is still 30 January in UTC.
    adopted = datetime(2027, 1, 30, 20, 0, tzinfo=UTC)
    assert review_date(adopted, 1, "Asia/Tokyo") == date(2027, 2, 28)
    assert review_date(adopted, 1, "UTC") == date(2027, 2, 28)
    assert review_date(adopted, 13, "UTC") == date(2028, 2, 29)


def test_review_date_reads_any_aware_datetime() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert review_date(datetime(2026, 11, 25, 1, 0, tzinfo=plus_two), 6, "UTC") == date(2027, 5, 24)


def test_review_date_refuses_an_unknown_zone() -> None:
    with pytest.raises(ZoneInfoNotFoundError):
        review_date(datetime(2026, 11, 24, tzinfo=UTC), 12, "Mars/Olympus_Mons")


# -- clocks and deadlines --------------------------------------------------------------


def test_manual_clock_moves_only_when_told() -> None:
    start = datetime(2026, 11, 24, 12, tzinfo=UTC)
    clock = ManualClock(start)
    assert clock.now() == start
    assert clock.now() == start
    clock.advance(timedelta(hours=48))
    assert clock.now() == datetime(2026, 11, 26, 12, tzinfo=UTC)
    clock.set(start)
    assert clock.now() == start


def test_manual_clock_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError):
        ManualClock(datetime(2026, 11, 24, 12))


def test_system_clock_is_aware_and_whole_seconds() -> None:
    now = SystemClock().now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert now.microsecond == 0


def test_closes_at() -> None:
    opened = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert closes_at(opened, 48) == datetime(2026, 11, 26, 12, tzinfo=UTC)
    assert closes_at(opened, 0.5) == opened + timedelta(minutes=30)
    assert closes_at(opened, 0) == opened


def test_is_late() -> None:
    due = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert not is_late(due, due)
    assert not is_late(due, due - timedelta(hours=1))
    assert not is_late(due, due + LATE_AFTER)
    assert is_late(due, due + LATE_AFTER + timedelta(seconds=1))
    assert is_late(due, due + timedelta(days=3))
