"""The bot was down: at the next start, deadlines and reminders that fell due meanwhile are
carried out in order and announced as late; a reminder whose moment is long past is
dropped (SPEC section 3). Two App instances on one database file play the two runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from .conftest import START, Console

OPEN = """
:members main alice bob carol
alice: /propose We meet on Mondays
alice: /next P1
bob: /consent P1
"""  # the consent round closes at START + 72 h; reminders at + 48 h and + 71 h


def ran_and_stopped(make_console: Callable[..., Console], url: str) -> None:
    """The first run: the round opened, then the bot stopped."""
    first = make_console({"CHARTERBOT_DATABASE_URL": url})
    first.say(OPEN)
    first.stop()


def restarted(make_console: Callable[..., Console], url: str, down_until: timedelta) -> Console:
    """A new bot process on the same database, started ``down_until`` after START."""
    console = make_console({"CHARTERBOT_DATABASE_URL": url})
    console.clock.set(START + down_until)
    return console


def test_a_reminder_long_past_is_dropped_and_the_next_one_comes(
    make_console: Callable[..., Console], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    ran_and_stopped(make_console, url)
    later = restarted(make_console, url, timedelta(hours=70, minutes=30))
    assert later.say(":advance 1m") == []  # the 24 h reminder, 1.5 h before the close: dropped
    out = later.text(":advance 29m")  # START + 71 h: the 1 h reminder, on time
    assert "⏰ Reminder: the consent round on P1 closes in 1 hour" in out
    assert "Late" not in out


def test_a_reminder_a_little_late_is_sent_and_says_so(
    make_console: Callable[..., Console], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    ran_and_stopped(make_console, url)
    later = restarted(make_console, url, timedelta(hours=50))
    out = later.text(":advance 1m")
    assert (
        "⏰ (Late: this fell due while the bot was offline.) "
        "Reminder: the consent round on P1 closes in 1 day (Nov 27"
    ) in out


def test_a_close_missed_is_carried_out_late_and_its_reminders_dropped(
    make_console: Callable[..., Console], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    ran_and_stopped(make_console, url)
    later = restarted(make_console, url, timedelta(days=5))
    out = later.text(":advance 1m")
    assert "(Late: this fell due while the bot was offline.)" in out
    assert "P1" in out and "Reminder" not in out
    assert later.say(":advance 10d") == []
