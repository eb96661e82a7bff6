"""Reminders before a consent round closes, as the group reads them through ``:advance``."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Console

OPEN = """
:members main alice bob carol dave
alice: /propose We meet on Mondays
alice: /next P1
bob: /consent P1
"""

HINT = (
    "State your position: ✅ /consent P1 · ⚠️ /concern P1 [reason] · "
    "✋ /object P1 <reason> · ➖ /abstain P1"
)


def test_reminders_a_day_and_an_hour_before_the_close(console: Console) -> None:
    console.say(OPEN)  # the consent round closes on Nov 27, 12:00 PM (UTC)
    assert console.say(":advance 47h") == []
    assert console.say(":advance 1h") == [
        "bot: ⏰ Reminder: the consent round on P1 closes in 1 day (Nov 27, 2026, 12:00\u202fPM).",
        "bot: 3 of 4 members have not stated a position yet.",
        f"bot: {HINT}",
    ]
    console.say("carol: /concern P1 Mondays are long\ndave: /abstain P1")
    assert console.say(":advance 23h") == [
        "bot: ⏰ Reminder: the consent round on P1 closes in 1 hour (Nov 27, 2026, 12:00\u202fPM).",
        "bot: 1 of 4 members has not stated a position yet.",
        f"bot: {HINT}",
    ]
    out = console.text(":advance 1h")
    assert "P1 adopted" in out and "Reminder" not in out


def test_no_reminder_once_a_mediator_closed_the_round(console: Console) -> None:
    console.say(OPEN)
    console.say("carol: /consent P1\nalice: /next P1")
    out = console.text(":advance 3d")
    assert "Reminder" not in out


def test_reminder_in_the_groups_language_and_time_zone(
    make_console: Callable[..., Console],
) -> None:
    console = make_console(
        {"CHARTERBOT_BOT_DEFAULT_LOCALE": "es", "CHARTERBOT_BOT_TIMEZONE": "Europe/Madrid"}
    )
    console.say(OPEN)
    out = console.say(":advance 71h")
    assert out[-3:] == [
        "bot: ⏰ Recordatorio: la ronda de consentimiento sobre P1 se cierra dentro de 1 hora "
        "(27 nov 2026, 13:00).",
        "bot: 3 de 4 miembros aún no han expresado su posición.",
        "bot: Indica tu posición: ✅ /consent P1 · ⚠️ /concern P1 [motivo] · "
        "✋ /object P1 <motivo> · ➖ /abstain P1",
    ]


def test_status_shows_the_reminders_still_to_come(console: Console) -> None:
    console.say(OPEN)
    out = console.text("carol: /status P1")
    assert "This phase closes Nov 27, 2026, 12:00\u202fPM (in 3 days)." in out
    assert "Reminders before the close: Nov 26, 2026, 12:00\u202fPM (in 2 days)" in out
    assert "Nov 27, 2026, 11:00\u202fAM (in 3 days)." in out
    console.say(":advance 48h")  # the first has been given
    later = console.text("carol: /status P1")
    assert "Reminders before the close: Nov 27, 2026, 11:00\u202fAM (in 1 day)." in later


def test_a_mediator_sets_when_the_group_is_reminded(console: Console) -> None:
    assert console.say("alice: /settings reminders_before_close 2h") == [
        "bot: Setting reminders_before_close is now 2h."
    ]
    console.say(OPEN)
    assert "Reminder" not in console.text(":advance 69h")  # no reminder a day before
    assert console.say(":advance 1h")[0] == (
        "bot: ⏰ Reminder: the consent round on P1 closes in 2 hours (Nov 27, 2026, 12:00\u202fPM)."
    )
    out = console.text(":advance 2h")  # to the close: no 1-hour reminder on the way
    assert "Reminder" not in out and "P1 is not adopted" in out


def test_several_lead_times_and_settings_shows_them(console: Console) -> None:
    console.say(":members main alice bob carol dave")
    assert console.say("alice: /settings reminders_before_close 48h, 30 min") == [
        "bot: Setting reminders_before_close is now 48h 30m."
    ]
    out = console.text("bob: /settings")
    assert "reminders_before_close = 48h 30m" in out
    assert "renewal_reminders = 30d 7d 1d" in out
    console.say("alice: /propose We meet on Mondays\nalice: /next P1")
    status = console.text("carol: /status P1")
    assert "Reminders before the close: Nov 25, 2026, 12:00\u202fPM (in 1 day)" in status
    assert "Nov 27, 2026, 11:30\u202fAM (in 3 days)." in status
    refused = console.say("alice: /settings reminders_before_close 1h 1h")
    assert refused == [
        "bot: That value does not fit reminders_before_close: expected e.g. 24h 1h "
        "(at most 5 durations) | none."
    ]


def test_private_reminders_are_asked_for_in_a_private_chat(console: Console) -> None:
    console.say(":members main alice bob")
    assert console.say("bob: /remind on") == [
        "bot: /remind works in a private chat with me: write to me there."
    ]
    assert console.say("bob: /remind soon") == ["bot: Usage: /remind on|off"]
