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
# The kind of timer that reminds a group of a meeting (``/meeting``), at these lead times.
REMIND_MEETING = "remind_meeting"
MEETING_REMINDERS = (timedelta(days=1), timedelta(hours=1))
# The kind of timer that opens a round a mediator scheduled after objections (``/schedule``).
OPEN_SCHEDULED = "open_scheduled"
# The kinds of timer about a clause: its review (a renewal round opens by itself) and the
# reminders before it (``renewal_reminders``). Their payload holds the review date they
# were set for: a clause renewed early has a new date, and the old timers do nothing.
REVIEW = "review"
REMIND_RENEWAL = "remind_renewal"
# The kinds whose work reads and writes only its own proposal's rows (its rounds,
# amendments, text versions, positions, timers) and the outbox, and looks at no pending
# timer: a sweep may carry out several in a row and write them in one flush.
PROPOSAL_LOCAL = frozenset({"close_amendment", REMIND_CONSENT})


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


def review_moment(review: date, adopted: datetime, timezone: str) -> datetime:
    """When on its review date the renewal round opens: at the time of day the clause was
    adopted, on the group's clock (a year to the hour, not at midnight)."""
    zone = ZoneInfo(timezone)
    local = datetime.combine(review, adopted.astimezone(zone).time().replace(tzinfo=None))
    return local.replace(tzinfo=zone, fold=0).astimezone(UTC)


def is_late(due: datetime, now: datetime) -> bool:
    return now - due > LATE_AFTER
