"""Group settings: the defaults a new group starts with, and what a mediator may set.

Each settable key has a parser that turns the typed text into the stored value or refuses
it, with the expectation shown in the refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from deliberation.tally import Rule
from deliberation.when import parse_duration

# The settings a group copies from the defaults when it is first seen.
GROUP_SETTINGS = (
    "rule",
    "quorum",
    "quorum_min",
    "amendment_hours",
    "consent_hours",
    "review_months",
    "on_expiry",
    "expire_days",
    "reminders_before_close",
    "renewal_reminders",
)

# Lead times (SPEC section 3): how long before a consent round closes the group is reminded
# of it (``reminders_before_close``), and how long before a clause's review date
# (``renewal_reminders``). Each group keeps its own, as text in the canonical form below.
MAX_LEAD_TIMES = 5
MAX_LEAD_TIME = timedelta(days=366)
NO_LEAD_TIMES = "none"
_NO_LEADS = ("none", "off")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60}
_UNIT_WORD = re.compile(r"\d+\s*([a-z])", re.IGNORECASE)


def _lead_items(value: str) -> list[tuple[timedelta, str]]:
    """Each duration of ``value`` with its canonical word (``"24 hours"`` -> ``"24h"``, in
    the largest unit the person wrote that fits it exactly: ``1d`` stays ``1d``, ``24h``
    stays ``24h``, ``1h30m`` becomes ``90m``, ``2w`` becomes ``14d``)."""
    words = value.replace(",", " ").split()
    if len(words) == 1 and words[0].lower() in _NO_LEADS:
        return []
    items: list[str] = []
    for word in words:  # "90 min": a bare number takes the unit after it
        if items and items[-1].isdigit():
            items[-1] += word
        else:
            items.append(word)
    if not items or len(items) > MAX_LEAD_TIMES:
        raise ValueError(value)
    found = []
    for item in items:
        lead = parse_duration(item)  # BadTime is a ValueError
        found.append((lead, _lead_word(item, lead)))
    leads = [lead for lead, _word in found]
    if len(set(leads)) != len(leads) or max(leads) > MAX_LEAD_TIME:
        raise ValueError(value)
    return sorted(found, reverse=True)


def _lead_word(item: str, lead: timedelta) -> str:
    seconds = int(lead.total_seconds())
    written = {unit.lower().replace("w", "d") for unit in _UNIT_WORD.findall(item)}
    for unit, size in _UNIT_SECONDS.items():
        if unit in written and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds // 60}m"


def lead_times(value: str) -> tuple[timedelta, ...]:
    """``"24h 1h"``, ``"30d, 7d, 1d"``, ``"90 min 10 min"``: durations separated by spaces or
    commas (each read by ``when.parse_duration``), longest first; ``none`` or ``off``: none.
    Refuses (``ValueError``) an unreadable duration, one longer than a year, the same one
    twice, and more than ``MAX_LEAD_TIMES``."""
    return tuple(lead for lead, _word in _lead_items(value))


def canonical_lead_times(value: str) -> str:
    """The stored form of ``value``: ``"24h 1h"``, ``"30d 7d 1d"``, ``"none"`` (refuses as
    ``lead_times`` does)."""
    return " ".join(word for _lead, word in _lead_items(value)) or NO_LEAD_TIMES


@dataclass(frozen=True, slots=True)
class Defaults:
    """Settings a new group starts with (config ``[deliberation]`` and ``[bot]``)."""

    rule: str = "consent"
    quorum: str = "0.5"
    quorum_min: int = 2
    amendment_hours: float = 48
    consent_hours: float = 72
    review_months: int = 12
    on_expiry: str = "lapse"
    expire_days: int = 14
    reminders_before_close: str = "24h 1h"
    renewal_reminders: str = "30d 7d 1d"
    locale: str = "en"
    timezone: str = "UTC"

    def group_columns(self) -> dict[str, Any]:
        """A new group's settings, by ``Group`` column (the first language is ``locale``)."""
        settings = {key: getattr(self, key) for key in GROUP_SETTINGS}
        return settings | {"languages": self.locale, "timezone": self.timezone}


def _parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("on", "true", "yes", "1"):
        return True
    if lowered in ("off", "false", "no", "0"):
        return False
    raise ValueError(value)


def _parse_quorum(value: str) -> str:
    number = Decimal(value.strip().rstrip("%")) / (100 if value.strip().endswith("%") else 1)
    if not 0 < number <= 1:
        raise ValueError(value)
    return str(number.normalize())


def _ranged(kind: type, low: float, high: float) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        number = kind(value.strip())
        if not low <= number <= high:
            raise ValueError(value)
        return number

    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if value.strip() not in options:
            raise ValueError(value)
        return value.strip()

    return parse


@cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


MAX_GROUP_LANGUAGES = 5  # every announcement carries each language: keep it readable


def _parse_languages(value: str) -> str:
    """``en ja``: one to five locale codes, no repeats. Which languages the bot speaks is
    the shell's to check (it has the catalogs); the engine keeps the form."""
    codes = value.replace(",", " ").split()
    if not 1 <= len(codes) <= MAX_GROUP_LANGUAGES or len(set(codes)) != len(codes):
        raise ValueError(value)
    if not all(code.replace("_", "").isalnum() and len(code) <= 16 for code in codes):
        raise ValueError(value)
    return " ".join(codes)


def _parse_zone(value: str) -> str:
    """An IANA time zone name, in any letter case ("europe/madrid" is Europe/Madrid)."""
    return _zones()[value.strip().lower()]  # KeyError: not a zone


# key -> (parser, the expectation shown when a value is refused)
SETTINGS: dict[str, tuple[Callable[[str], Any], str]] = {
    "rule": (_choice(*Rule), "consent | majority | supermajority"),
    "quorum": (_parse_quorum, "0 < quorum <= 1 (e.g. 0.5 or 50%)"),
    "quorum_min": (_ranged(int, 1, 100_000), "1 ... 100000"),
    "amendment_hours": (_ranged(float, 0, 8760), "0 ... 8760"),
    "consent_hours": (_ranged(float, 0.1, 8760), "0.1 ... 8760"),
    "review_months": (_ranged(int, 1, 120), "1 ... 120"),
    "on_expiry": (_choice("lapse", "keep"), "lapse | keep"),
    "expire_days": (_ranged(int, 1, 3650), "1 ... 3650"),
    "named_votes": (_parse_bool, "on | off"),
    "show_tally": (_choice("live", "after_vote", "after_close"), "live | after_vote | after_close"),
    "public": (_parse_bool, "on | off"),
    "languages": (_parse_languages, "1 to 5 language codes, e.g. en ja"),
    "timezone": (_parse_zone, "Europe/Madrid | America/Sao_Paulo | UTC | … (IANA)"),
    "reminders_before_close": (canonical_lead_times, "e.g. 24h 1h (at most 5 durations) | none"),
    "renewal_reminders": (canonical_lead_times, "e.g. 30d 7d 1d (at most 5 durations) | none"),
}
