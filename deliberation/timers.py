"""Pure time math: clocks, phase deadlines, review dates.

The engine never reads the wall clock; it is handed a ``Clock``. Tests and the console use
``ManualClock`` so that deadlines pass without sleeping.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

# A deadline carried out more than this long after it fell due is announced as late.
LATE_AFTER = timedelta(minutes=5)
# The kind of timer that reminds a group before its consent round closes.
REMIND_CONSENT = "remind_consent"


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)


class ManualClock:
    """A clock that moves only when told (console ``:advance``, tests)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def closes_at(opened: datetime, hours: float) -> datetime:
    return opened + timedelta(hours=hours)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def review_date(adopted: datetime, months: int, timezone: str) -> date:
    """The review date, counted on the group's calendar (not UTC's)."""
    return add_months(adopted.astimezone(ZoneInfo(timezone)).date(), months)


def is_late(due: datetime, now: datetime) -> bool:
    return now - due > LATE_AFTER
