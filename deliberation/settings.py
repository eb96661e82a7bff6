"""Group settings: the defaults a new group starts with, and what a mediator may set.

Each settable key has a parser that turns the typed text into the stored value or refuses
it, with the expectation shown in the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from deliberation.tally import Rule

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
)

# How long before a consent round closes the group is reminded of it (SPEC section 3,
# ``reminders_before_close``). One value for every group for now: a per-group setting needs
# a column of its own. A reminder whose moment passed before the round opened is not set.
REMINDERS_BEFORE_CLOSE: tuple[timedelta, ...] = (timedelta(hours=24), timedelta(hours=1))


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
    "timezone": (_parse_zone, "Europe/Madrid | America/Sao_Paulo | UTC | … (IANA)"),
}
