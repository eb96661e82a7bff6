"""A time, then free text (``/meeting <when> <topic or link>``), read in the group's time
zone and languages: ``deliberation.when.split_when``."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from deliberation.when import BadTime, split_when

MADRID = "Europe/Madrid"
NOW = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 12:00 in Madrid (CET, +1)


def split(text: str, *languages: str, **kw: int) -> tuple[str, str]:
    """The local time read (Madrid) and the text left."""
    at, rest = split_when(text, now=NOW, timezone=MADRID, languages=languages or ("en",), **kw)
    return at.astimezone(ZoneInfo(MADRID)).strftime("%Y-%m-%d %H:%M"), rest


@pytest.mark.parametrize(
    ("text", "languages", "topic"),
    [
        ("tomorrow 18:00 Budget talk", ("en",), "Budget talk"),
        ("mañana a las 18:00 Derechos de pesca", ("es",), "Derechos de pesca"),
        ("demain à 18h Droits de pêche", ("fr",), "Droits de pêche"),
        ("morgen um 18:00 Fischereirechte im Norden", ("de",), "Fischereirechte im Norden"),
        ("amanhã às 18:00 Direitos de pesca", ("pt_BR",), "Direitos de pesca"),
        ("domani alle 18:00 Diritti di pesca", ("it",), "Diritti di pesca"),
        ("завтра в 18:00 Права на рыбалку", ("ru",), "Права на рыбалку"),
        ("tomorrow 18:00 Presupuesto", ("es",), "Presupuesto"),  # English in any group
    ],
)
def test_tomorrow_at_six_then_the_topic_in_many_languages(
    text: str, languages: tuple[str, ...], topic: str
) -> None:
    assert split(text, *languages) == ("2026-11-25 18:00", topic)


def test_an_iso_time_then_a_link() -> None:
    assert split("2026-12-01 18:00 https://meet.example.org/x") == (
        "2026-12-01 18:00",
        "https://meet.example.org/x",
    )


@pytest.mark.parametrize(
    ("text", "languages"),
    [
        ("in 2h Fishing rights", ("en",)),
        ("dentro de 2 horas Fishing rights", ("es",)),
        ("dans 2 heures Fishing rights", ("fr",)),
        ("in 2 Stunden Fishing rights", ("de",)),
    ],
)
def test_in_two_hours_then_the_topic(text: str, languages: tuple[str, ...]) -> None:
    assert split(text, *languages) == ("2026-11-24 14:00", "Fishing rights")


def test_the_topic_is_kept_as_written() -> None:
    assert split("tomorrow 18:00   Budget talk\nAgenda: 1. fish ") == (
        "2026-11-25 18:00",
        "Budget talk\nAgenda: 1. fish",
    )


@pytest.mark.parametrize(
    ("text", "languages", "when", "topic"),
    [
        # dateparser skips "at the": those words are not part of the time
        ("tomorrow 18:00 at the harbour", ("en",), "2026-11-25 18:00", "at the harbour"),
        ("tomorrow 18:00 in Lisbon", ("en",), "2026-11-25 18:00", "in Lisbon"),
        # it reads "tomorrow 18:00 2" as tomorrow at the current hour: not taken
        ("tomorrow 18:00 2 boats", ("en",), "2026-11-25 18:00", "2 boats"),
        ("tomorrow 18:00 2027 budget", ("en",), "2026-11-25 18:00", "2027 budget"),
        ("demain à 18h 2 bateaux", ("fr",), "2026-11-25 18:00", "2 bateaux"),
        # words that name times, in the topic, do not move the time
        ("tomorrow 18:00 Monday review", ("en",), "2026-11-25 18:00", "Monday review"),
        ("tomorrow 18:00 May Day", ("en",), "2026-11-25 18:00", "May Day"),
        ("mañana a las 18:00 Lunes de pesca", ("es",), "2026-11-25 18:00", "Lunes de pesca"),
        # a year restating the date stays with the time
        ("1 December 2026 Fishing", ("en",), "2026-12-01 00:00", "Fishing"),
        ("next monday 9am Budget", ("en",), "2026-11-30 09:00", "Budget"),
    ],
)
def test_words_after_the_time_that_dateparser_would_swallow(
    text: str, languages: tuple[str, ...], when: str, topic: str
) -> None:
    assert split(text, *languages) == (when, topic)


def test_a_text_that_is_only_a_time_leaves_no_topic() -> None:
    assert split("tomorrow 18:00") == ("2026-11-25 18:00", "")
    assert split("mañana a las 18:00", "es") == ("2026-11-25 18:00", "")


def test_the_time_is_at_most_max_words_long() -> None:
    assert split("tomorrow 18:00 Budget", max_words=1) == ("2026-11-25 12:00", "18:00 Budget")


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("Budget talk tomorrow 18:00", "Budget talk tomorrow"),
        ("whenever we can", "whenever we"),
        ("P4 consent", "P4"),
    ],
)
def test_no_time_at_the_start_is_unreadable(text: str, read: str) -> None:
    with pytest.raises(BadTime) as refused:
        split(text)
    assert (refused.value.reason, refused.value.text) == ("unreadable", read)


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("yesterday 18:00 Budget", "yesterday 18:00"),
        ("2025-01-01 10:00 Budget", "2025-01-01 10:00"),
        ("today 11:00 Budget", "today 11:00"),
        ("ayer a las 18:00 Presupuesto", "ayer a las 18:00"),
    ],
)
def test_a_time_not_in_the_future_is_refused_with_the_words_read(text: str, read: str) -> None:
    with pytest.raises(BadTime) as refused:
        split(text, "es")
    assert (refused.value.reason, refused.value.text) == ("past", read)


def test_nothing_at_all_is_unreadable() -> None:
    with pytest.raises(BadTime) as refused:
        split("   ")
    assert refused.value.reason == "unreadable"
