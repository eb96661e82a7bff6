"""A clause's renewal as the group reads it: reminders, the round that opens by itself,
then renewed or lapsed (``:advance`` moves the console clock; nothing sleeps)."""

from __future__ import annotations

from .conftest import Console

ADOPT = """
:members main alice bob
alice: /propose We share the boat on Sundays
alice: /next P1
alice: /consent P1
bob: /concern P1 mind the tide
:advance 72h
"""


def test_reminders_then_the_renewal_round_and_its_renewal(console: Console) -> None:
    adopted = console.text(ADOPT)
    assert "P1 adopted" in adopted and "Nov 27, 2027" in adopted
    assert console.say(":advance 334d") == []  # Oct 27, 2027, 12:00 PM: 31 days before
    reminder = console.text(":advance 1d")
    assert "⏰ Reminder: C1 comes up for renewal in 1 month (Nov 27, 2027, 12:00\u202fPM):" in (
        reminder
    )
    assert "/renew C1 starts it now" in reminder
    assert "comes up for renewal in 1 week" in console.text(":advance 23d")
    assert "comes up for renewal in 1 day" in console.text(":advance 6d")
    opened = console.text(":advance 1d")
    assert "P2: C1 comes up for renewal today. Does this clause stay in force?" in opened
    assert "Concerns recorded when it was last adopted:" in opened
    assert "⚠️ bob: mind the tide" in opened
    assert "/propose --change C1 <text>" in opened
    console.say("alice: /consent P2\nbob: /consent P2")
    renewed = console.text(":advance 72h")
    assert "P2 adopted" in renewed
    clause = console.text("bob: /clause C1")
    assert "Nov 30, 2028" in clause


def test_not_renewed_the_clause_lapses(console: Console) -> None:
    console.say(ADOPT)
    console.say(":advance 365d")
    lapsed = console.text(":advance 72h")  # nobody answered: the quorum is missed
    assert "C1 was not renewed and has lapsed: it is no longer in force." in lapsed
    assert "lapsed" in console.text("bob: /clause C1")
    assert console.say("alice: /renew C1") == ["bot: C1 is not in force (lapsed)."]
