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
    at = _moment(cleaned, now, timezone, languages)
    if at <= now:
        raise BadTime("past", text)
    return at


def _moment(cleaned: str, now: datetime, timezone: str, languages: Sequence[str]) -> datetime:
    """What ``cleaned`` (one space between words) names, past or future."""
    relative = _RELATIVE.fullmatch(cleaned)
    if relative:
        return now.astimezone(UTC) + parse_duration(relative[1])
    return _natural(cleaned, now, ZoneInfo(timezone), languages)


# "18h", "18h30", "18 h", "18 Uhr", "10hs": hours as French, German, Spanish and Portuguese
# write them, which dateparser misreads ("1 décembre 18h" as the year 2118, "morgen um 18
# Uhr" as noon); written as 18:00 it reads them right.
_HOURS = re.compile(r"\b([01]?\d|2[0-4])\s?(?:h|hs|uhr)(?:\s?([0-5]\d))?\b", re.IGNORECASE)
# dateparser turns stray numbers into far years; nobody schedules a round this far ahead.
MAX_AHEAD = timedelta(days=5 * 366)


def _natural(text: str, now: datetime, zone: ZoneInfo, languages: Sequence[str]) -> datetime:
    codes = list(dict.fromkeys([*(code.split("_")[0].lower() for code in languages), "en"]))
    local_now = now.astimezone(zone).replace(tzinfo=None)
    original, text = text, _HOURS.sub(lambda m: f"{m[1]}:{m[2] or '00'}", text)
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
        raise BadTime("unreadable", original)
    at = local_to_utc(parsed, zone)
    if at - now > MAX_AHEAD:
        raise BadTime("unreadable", original)
    return at


def local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """A wall-clock time of ``zone`` in UTC: a skipped time moves forward by the gap, a
    repeated one is its first occurrence (``fold=0``)."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


MAX_WHEN_WORDS = 7  # the most words a time at the start of a text may take
_YEAR = re.compile(r"\d{4}")


def split_when(
    text: str,
    *,
    now: datetime,
    timezone: str,
    languages: Sequence[str] = ("en",),
    max_words: int = MAX_WHEN_WORDS,
) -> tuple[datetime, str]:
    """A time followed by free text (``/meeting tomorrow 18:00 Budget talk``): the moment
    in UTC, strictly after ``now``, and the rest of the text as written ("" when the whole
    text is a time).

    The time is the longest run of first words (at most ``max_words``) that reads as one
    and leaves some text after it. dateparser is lenient with words after a time, so:

    - a run whose reading falls back to that of a shorter run other than the one just
      before it is not taken: "tomorrow 18:00 2 boats" reads "tomorrow 18:00 2" as
      tomorrow at the current hour, dropping the 18:00;
    - words at the end of the run that do not change its reading go to the text:
      "tomorrow 18:00 at the harbour" is at 18:00 about "at the harbour" (a year, "1
      December 2026", stays with the time).

    Raises ``BadTime``: "unreadable" when no run reads, "past" when the time found is not
    after ``now`` (``text`` is then the words read as the time).
    """
    words = list(re.finditer(r"\S+", text))
    readings: list[datetime | None] = []
    for k in range(1, min(len(words), max_words) + 1):
        try:
            readings.append(_moment(" ".join(w[0] for w in words[:k]), now, timezone, languages))
        except BadTime:
            readings.append(None)
    if not words:
        raise BadTime("unreadable", text)
    if len(words) <= max_words and readings[-1] is not None:
        whole = " ".join(w[0] for w in words)
        if readings[-1] <= now:
            raise BadTime("past", whole)
        return readings[-1], ""
    best = 0  # the number of words taken as the time; 0: none read
    for k, at in enumerate(readings[: len(words) - 1], start=1):
        if at is None:
            continue
        if best and at != readings[k - 2] and at in readings[: k - 2]:
            continue  # fell back to an earlier reading: words were dropped
        best = k
    if not best:
        considered = " ".join(w[0] for w in words[: min(len(words) - 1, max_words)])
        raise BadTime("unreadable", considered or text)
    while best > 1 and readings[best - 2] == readings[best - 1]:
        if _YEAR.fullmatch(words[best - 1][0]):
            break
        best -= 1
    at = readings[best - 1]
    assert at is not None
    if at <= now:
        raise BadTime("past", " ".join(w[0] for w in words[:best]))
    return at, text[words[best - 1].end() :].strip()
