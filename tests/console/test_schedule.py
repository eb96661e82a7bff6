"""``/schedule`` as a group reads it through the console (times in the group's zone)."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import Console


def test_a_mediator_schedules_the_consent_round_and_status_shows_it(console: Console) -> None:
    console.say(":members main alice bob carol\nalice: /propose We meet on Mondays")
    assert console.say("alice: /schedule P1 consent 2026-11-25 18:00 for 24h") == [
        "bot: 🗓 alice scheduled the consent round of P1: it opens Nov 25, 2026, 6:00\u202fPM "
        "(in 1 day) and closes Nov 26, 2026, 6:00\u202fPM (in 2 days).",
    ]
    status = console.text("bob: /status P1")
    assert "This phase closes Nov 25, 2026, 6:00\u202fPM (in 1 day)." in status
    assert (
        "Scheduled: the consent phase opens Nov 25, 2026, 6:00\u202fPM (in 1 day) "
        "and closes Nov 26, 2026, 6:00\u202fPM (in 2 days)." in status
    )
    opened = console.text(":advance 30h")
    assert "Consent round 1 on P1 (version 1), until Nov 26, 2026, 6:00\u202fPM" in opened
    status = console.text("bob: /status P1")
    assert "Scheduled" not in status
    assert "Reminders before the close: Nov 26, 2026, 5:00\u202fPM (in 1 day)." in status


def test_refusals_say_what_works(console: Console) -> None:
    console.say(":members main alice bob\nalice: /propose We meet on Mondays")
    assert console.say("bob: /schedule P1 consent in 2h") == [
        "bot: Only a mediator of this group can use /schedule.",
    ]
    assert console.say("alice: /schedule P1 consent when the cows come home") == [
        "bot: I cannot read “when the cows come home” as a time. Write for example: "
        "2026-12-01 18:00 · tomorrow 18:00 · in 2h (time zone UTC).",
    ]
    assert console.say("alice: /schedule P1 consent 2020-01-01 10:00") == [
        "bot: “2020-01-01 10:00” is not in the future. Write for example: "
        "2026-12-01 18:00 · tomorrow 18:00 · in 2h (time zone UTC).",
    ]
    assert console.say("alice: /schedule P1 consent in 2h for ever") == [
        "bot: I cannot read “ever” as a duration: write for example 48h, 2d or 90min.",
    ]
    assert console.say("alice: /schedule P1 cancel") == ["bot: No round of P1 is scheduled."]
    assert console.say("alice: /schedule P1") == [
        "bot: Usage: /schedule P<n> amendment|consent <when> [for <duration>]  ·  "
        "/schedule P<n> cancel",
    ]


def test_cancel_and_a_round_after_objections(console: Console) -> None:
    console.say(":members main alice bob carol\nalice: /propose We meet on Mondays")
    console.say("alice: /schedule P1 consent in 3 days")
    assert console.say("alice: /schedule P1 cancel") == [
        "bot: alice cancelled the scheduled consent phase of P1.",
        "bot: The amendment phase closes Nov 26, 2026, 12:00\u202fPM (in 2 days).",
    ]
    console.say(":advance 48h\nbob: /object P1 not Mondays\ncarol: /consent P1\n:advance 72h")
    console.say("alice: /schedule P1 consent in 1 day for 48h")
    opened = console.text(":advance 1d")
    assert "A new consent round on P1 opens, as a mediator scheduled." in opened
    assert "Consent round 2 on P1 (version 1)" in opened


def test_spanish_group_in_madrid(make_console: Callable[..., Console]) -> None:
    console = make_console(
        {"CHARTERBOT_BOT_DEFAULT_LOCALE": "es", "CHARTERBOT_BOT_TIMEZONE": "Europe/Madrid"}
    )
    console.say(":members main alice bob\nalice: /propose Nos vemos los lunes")
    out = console.text("alice: /schedule P1 consent mañana a las 18:00 for 2d")
    assert "25 nov 2026, 18:00" in out and "27 nov 2026, 18:00" in out
