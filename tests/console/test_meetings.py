"""``/meeting``: a live session announced by a mediator, and the reminders the group reads
through ``:advance`` (the console group is in UTC unless said otherwise)."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Console

PM = "\u202fPM"  # Babel's narrow no-break space before PM


def test_a_meeting_is_announced_and_reminded_a_day_and_an_hour_before(
    console: Console,
) -> None:
    console.say(":members main alice bob carol")
    assert console.say("alice: /meeting tomorrow 18:00 Fishing rights") == [
        f"bot: 📅 Meeting M1, Nov 25, 2026, 6:00{PM} (in 1 day), announced by alice:",
        "bot:   Fishing rights",
        f"bot: Reminders: Nov 24, 2026, 6:00{PM} and Nov 25, 2026, 5:00{PM}.",
        "bot: Mediators can call it off with /meeting cancel M1.",
    ]
    assert console.say(":advance 5h") == []
    assert console.say(":advance 1h") == [
        f"bot: ⏰ Reminder: meeting M1 begins in 1 day (Nov 25, 2026, 6:00{PM}):",
        "bot:   Fishing rights",
    ]
    assert console.say(":advance 22h") == []
    assert console.say(":advance 1h") == [
        f"bot: ⏰ Reminder: meeting M1 begins in 1 hour (Nov 25, 2026, 6:00{PM}):",
        "bot:   Fishing rights",
    ]
    assert console.say(":advance 3d") == []


def test_members_list_the_meetings_and_a_mediator_calls_one_off(console: Console) -> None:
    console.say(
        """
        :members main alice bob
        alice: /meeting tomorrow 18:00 Fishing rights
        alice: /meeting 2026-12-01 18:00 https://meet.example.org/x
        """
    )
    upcoming = [
        "bot: Upcoming meetings:",
        f"bot: M1 · Nov 25, 2026, 6:00{PM} (in 1 day) · Fishing rights",
        f"bot: M2 · Dec 1, 2026, 6:00{PM} (in 1 week) · https://meet.example.org/x",
    ]
    assert console.say("bob: /meeting") == upcoming
    assert console.say("bob: /status") == [
        "bot: No proposal is open. Start one with /propose <text>.",
        *upcoming,
    ]
    assert console.say("bob: /meeting cancel M1") == [
        "bot: Only a mediator of this group can use /meeting."
    ]
    assert console.say("alice: /meeting cancel M1") == [
        f"bot: Meeting M1 of Nov 25, 2026, 6:00{PM} was called off by alice:",
        "bot:   Fishing rights",
    ]
    assert console.say("alice: /meeting cancel M1") == ["bot: Meeting M1 was already called off."]
    assert console.say("bob: /meeting") == [upcoming[0], upcoming[2]]
    assert "Reminder" not in console.text(":advance 2d")  # M1's are gone; M2's come Nov 30
    assert console.text(":advance 6d").count("Reminder: meeting M2") == 2  # and it is over
    assert console.say("bob: /meeting") == [
        "bot: No meeting is planned. Mediators announce one with /meeting <when> <topic or link>."
    ]


def test_wrong_input_is_answered_and_changes_nothing(console: Console) -> None:
    console.say(":members main alice bob")
    examples = "Write for example: 2026-12-01 18:00 · tomorrow 18:00 · in 2h (time zone UTC)."
    assert console.say("bob: /meeting tomorrow 18:00 Fishing rights") == [
        "bot: Only a mediator of this group can use /meeting."
    ]
    assert console.say("alice: /meeting whenever suits Fishing rights") == [
        f"bot: I cannot read “whenever suits Fishing” as a time. {examples}"
    ]
    assert console.say("alice: /meeting yesterday 18:00 Fishing rights") == [
        f"bot: “yesterday 18:00” is not in the future. {examples}"
    ]
    usage = "bot: Usage: /meeting <when> <topic or link>  ·  /meeting cancel M<n>  ·  /meeting"
    assert console.say("alice: /meeting tomorrow 18:00") == [usage]
    assert console.say("alice: /meeting cancel") == [usage]
    assert console.say("alice: /meeting cancel M7") == [
        "bot: There is no meeting M7. /meeting lists those to come."
    ]
    assert console.say("bob: /meeting") == [
        "bot: No meeting is planned. Mediators announce one with /meeting <when> <topic or link>."
    ]


def test_the_time_is_read_in_the_groups_language_and_zone(
    make_console: Callable[..., Console],
) -> None:
    console = make_console(
        {"CHARTERBOT_BOT_DEFAULT_LOCALE": "es", "CHARTERBOT_BOT_TIMEZONE": "Europe/Madrid"}
    )
    console.say(":members main alice bob")
    out = console.text("alice: /meeting mañana a las 18:00 Derechos de pesca")
    assert "M1" in out and "25 nov 2026, 18:00" in out and "  Derechos de pesca" in out
    assert console.say(":advance 4h") == []
    reminder = console.text(":advance 1h")  # 17:00 UTC, a day before 18:00 in Madrid
    assert "M1" in reminder and "Derechos de pesca" in reminder
