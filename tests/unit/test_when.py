"""Times as people write them, read in the group's time zone and languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from deliberation.when import BadTime, parse_duration, parse_when

MADRID = "Europe/Madrid"
NOW = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)  # 12:00 in Madrid (CET, +1)


def local(text: str, languages: tuple[str, ...] = ("en",), now: datetime = NOW) -> str:
    at = parse_when(text, now=now, timezone=MADRID, languages=languages)
    return at.astimezone(ZoneInfo(MADRID)).strftime("%Y-%m-%d %H:%M %z")


@pytest.mark.parametrize(
    ("text", "languages"),
    [
        ("tomorrow 18:00", ("en",)),
        ("mañana a las 18:00", ("es",)),
        ("demain à 18h", ("fr",)),
        ("morgen um 18:00", ("de",)),
        ("amanhã às 18:00", ("pt_BR",)),
        ("завтра в 18:00", ("ru",)),
        ("2026-11-25 18:00", ("es",)),
    ],
)
def test_tomorrow_at_six_in_many_languages(text: str, languages: tuple[str, ...]) -> None:
    assert local(text, languages) == "2026-11-25 18:00 +0100"


def test_english_is_understood_in_any_group() -> None:
    assert local("tomorrow 18:00", ("es",)) == "2026-11-25 18:00 +0100"


def test_relative_times_are_elapsed_time() -> None:
    assert local("in 2h") == "2026-11-24 14:00 +0100"
    assert local("in 1h30m") == "2026-11-24 13:30 +0100"
    assert local("dentro de 2 horas", ("es",)) == "2026-11-24 14:00 +0100"


def test_in_two_hours_across_the_change_to_summer_time_is_two_real_hours() -> None:
    night = datetime(2027, 3, 28, 0, 30, tzinfo=UTC)  # 01:30 CET; at 02:00 clocks go to 03:00
    at = parse_when("in 2h", now=night, timezone=MADRID)
    assert at - night == timedelta(hours=2)
    assert at.astimezone(ZoneInfo(MADRID)).strftime("%H:%M %z") == "04:30 +0200"


def test_a_time_the_clocks_skip_moves_forward_and_a_repeated_one_is_the_first() -> None:
    skipped = parse_when("2027-03-28 02:30", now=NOW, timezone=MADRID)
    assert skipped.astimezone(ZoneInfo(MADRID)).strftime("%H:%M %z") == "03:30 +0200"
    repeated = parse_when("2027-10-31 02:30", now=NOW, timezone=MADRID)
    assert repeated.astimezone(ZoneInfo(MADRID)).strftime("%H:%M %z") == "02:30 +0200"


def test_the_group_time_zone_decides_the_wall_clock() -> None:
    at = parse_when("2026-12-01 18:00", now=NOW, timezone="America/Sao_Paulo")
    assert at == datetime(2026, 12, 1, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["", "whenever", "P4", "in 0h", "in lots"])
def test_unreadable_times_are_refused(text: str) -> None:
    with pytest.raises(BadTime) as refused:
        parse_when(text, now=NOW, timezone=MADRID)
    assert refused.value.reason == "unreadable"


@pytest.mark.parametrize("text", ["2026-11-24 11:00", "2025-01-01 10:00", "yesterday 18:00"])
def test_times_in_the_past_are_refused(text: str) -> None:
    with pytest.raises(BadTime) as refused:
        parse_when(text, now=NOW, timezone=MADRID)
    assert refused.value.reason == "past"


def test_durations() -> None:
    assert parse_duration("48h") == timedelta(hours=48)
    assert parse_duration("2d") == timedelta(days=2)
    assert parse_duration("1h 30min") == timedelta(minutes=90)
    for bad in ("", "soon", "30s", "0h"):
        with pytest.raises(BadTime):
            parse_duration(bad)


@pytest.mark.parametrize(
    ("text", "languages", "expected"),
    [
        ("1 décembre 18h", ("fr",), "2026-12-01 18:00 +0100"),  # dateparser alone: year 2118
        ("demain à 18h30", ("fr",), "2026-11-25 18:30 +0100"),
        ("morgen um 18 Uhr", ("de",), "2026-11-25 18:00 +0100"),  # dateparser alone: noon
        ("mañana a las 18 h", ("es",), "2026-11-25 18:00 +0100"),
        ("sexta-feira às 10h", ("pt_BR",), "2026-11-27 10:00 +0100"),
    ],
)
def test_hours_written_with_h_or_uhr(text: str, languages: tuple[str, ...], expected: str) -> None:
    assert local(text, languages) == expected


def test_a_time_years_ahead_is_a_misreading_and_refused() -> None:
    with pytest.raises(BadTime) as caught:
        parse_when("1 December 2035 18:00", now=NOW, timezone=MADRID)
    assert caught.value.reason == "unreadable"
