"""Reading the times people write (``/schedule P4 consent tomorrow 18:00 for 48h``).

A time is read in the group's time zone and languages and returned in UTC:

- ``in 2h``, ``in 90 min``, ``in 3 days``: elapsed time from now, so a daylight-saving
  change in between does not move it (read here, not by dateparser, which adds to the
  local wall clock);
- anything else, an ISO date-time (``2026-12-01 18:00``), ``tomorrow 18:00`` or a natural
  date in one of the group's languages (``mañana a las 18:00``, ``demain à 18h``): read by
  dateparser (a well-kept parser for some 200 languages), preferring the future, on the
  group's calendar.

Local times that a daylight-saving change skips (02:30 on the night clocks go forward) are
moved forward by the gap, as calendars do; a time that happens twice (the night clocks go
back) is the first of the two. A time that cannot be read, or that is not in the future,
is refused: the caller answers with an example of what works.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import dateparser

_UNITS = {
    "m": 60,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "d": 86400,
    "day": 86400,
    "days": 86400,
    "w": 604800,
    "week": 604800,
    "weeks": 604800,
}
_PART = r"(\d{1,5})\s*(" + "|".join(sorted(_UNITS, key=len, reverse=True)) + r")"
_DURATION = re.compile(rf"(?:{_PART}\s*)+", re.IGNORECASE)
_RELATIVE = re.compile(rf"in\s+((?:{_PART}\s*)+)", re.IGNORECASE)


class BadTime(ValueError):
    """``reason``: "unreadable" or "past"."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(f"{reason}: {text!r}")
        self.reason = reason
        self.text = text


def parse_duration(text: str) -> timedelta:
    """``48h``, ``2d``, ``90 min``, ``1h30m``; at least a minute."""
    cleaned = text.strip()
    if not _DURATION.fullmatch(cleaned):
        raise BadTime("unreadable", text)
    seconds = sum(
        int(amount) * _UNITS[unit.lower()] for amount, unit in re.findall(_PART, cleaned, re.I)
    )
    if seconds < 60:
        raise BadTime("unreadable", text)
    return timedelta(seconds=seconds)


def parse_when(
    text: str, *, now: datetime, timezone: str, languages: Sequence[str] = ("en",)
) -> datetime:
    """The moment ``text`` names, in UTC; strictly after ``now``."""
    cleaned = " ".join(text.split())
    if not cleaned:
        raise BadTime("unreadable", text)
    relative = _RELATIVE.fullmatch(cleaned)
    if relative:
        at = now.astimezone(UTC) + parse_duration(relative[1])
    else:
        at = _natural(cleaned, now, ZoneInfo(timezone), languages)
    if at <= now:
        raise BadTime("past", text)
    return at


def _natural(text: str, now: datetime, zone: ZoneInfo, languages: Sequence[str]) -> datetime:
    codes = list(dict.fromkeys([*(code.split("_")[0].lower() for code in languages), "en"]))
    local_now = now.astimezone(zone).replace(tzinfo=None)
    try:
        parsed = dateparser.parse(
            text,
            languages=codes,
            settings={
                "PREFER_DATES_FROM": "future",
                "RELATIVE_BASE": local_now,
                "RETURN_AS_TIMEZONE_AWARE": False,
                "PREFER_DAY_OF_MONTH": "first",
            },
        )
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None:
        raise BadTime("unreadable", text)
    return local_to_utc(parsed, zone)


def local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time of ``zone`` in UTC: a skipped time moves forward by the gap, a
    repeated one is its first occurrence (``fold=0``)."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
