"""Applying amendments to a proposal's text.

An amendment is either a whole new text (written against one text version) or a passage
replacement. At the close of an amendment phase the supported ones are applied in order
of net support; one that no longer fits the text is reported as conflicting, never
dropped in silence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from deliberation.errors import DomainError


class Fit(StrEnum):
    OK = "ok"
    PASSAGE_MISSING = "passage_missing"
    PASSAGE_AMBIGUOUS = "passage_ambiguous"
    TEXT_CHANGED = "text_changed"  # a whole-text amendment written against an older version
    # Fix: amendments each within the limit when made could together push the text past it.
    TOO_LONG = "too_long"  # the text after the change would exceed the limit


@dataclass(frozen=True, slots=True)
class Change:
    """What an amendment asks for, independent of its storage."""

    passage: str | None
    replacement: str | None
    text: str | None
    base_version: int


def occurrences(text: str, passage: str) -> int:
    """How many places of ``text`` the passage starts at, overlapping ones included.

    Fix: ``str.count`` skips overlapping matches ("the the" occurs twice in "the the the"
    but ``count`` says once), so an ambiguous passage was taken as matching exactly once.
    """
    if not passage:
        return len(text) + 1
    count, start = 0, text.find(passage)
    while start != -1:
        count += 1
        start = text.find(passage, start + 1)
    return count


def check_passage(text: str, passage: str, replacement: str) -> None:
    """Refuse a passage amendment that cannot apply to the current text (at /amend time)."""
    if passage == replacement:
        raise DomainError("passage_same")
    count = occurrences(text, passage)  # fix: was text.count(passage), blind to overlaps
    if count == 0:
        raise DomainError("passage_not_found", passage=passage)
    if count > 1:
        raise DomainError("passage_ambiguous", passage=passage, count=count)


def apply(text: str, version: int, change: Change, limit: int | None = None) -> tuple[Fit, str]:
    """The text after ``change``, or why it does not fit (then the text is unchanged).

    With ``limit``, a result longer than ``limit`` characters does not fit (``TOO_LONG``).
    """
    if change.passage is None:
        if change.base_version != version:
            return Fit.TEXT_CHANGED, text
        result = change.text or ""
    else:
        count = occurrences(text, change.passage)  # fix: was text.count(), blind to overlaps
        if count == 0:
            return Fit.PASSAGE_MISSING, text
        if count > 1:
            return Fit.PASSAGE_AMBIGUOUS, text
        result = text.replace(change.passage, change.replacement or "", 1)
    if limit is not None and len(result) > limit:  # fix: see Fit.TOO_LONG
        return Fit.TOO_LONG, text
    return Fit.OK, result


def order_by_support(items: list[tuple[int, int, int]]) -> list[int]:
    """Amendment numbers with more support than opposition, by net support.

    ``items`` holds ``(number, support, oppose)``; ties keep the order in which the
    amendments were made (lower number first).
    """
    passing = [(s - o, n) for n, s, o in items if s > o]
    passing.sort(key=lambda pair: (-pair[0], pair[1]))
    return [n for _, n in passing]
