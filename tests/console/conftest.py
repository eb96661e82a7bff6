"""Transcript tests: lines typed into the console group, the bot's lines read back.

``console`` runs a script through the real App (router, engine, outbox, console adapter)
on an in-memory store with a manual clock, and returns only the bot's output lines.
"""

from __future__ import annotations

import asyncio
import io
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bot.app import App
from bot.config import load_config
from deliberation.timers import ManualClock

START = datetime(2026, 11, 24, 12, tzinfo=UTC)


class Console:
    """A console group session that keeps its store between ``say`` calls."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        config = load_config(
            None, env={"CHARTERBOT_DATABASE_URL": "sqlite+pysqlite:///:memory:", **(env or {})}
        )
        self.out = io.StringIO()
        self.clock = ManualClock(START)
        self.app = App.build(config, self.clock)
        self.console = self.app.add_console(self.out)
        asyncio.run(self.console.start(self.app.router.on_batch))

    def say(self, script: str) -> list[str]:
        """Feed the lines; return the lines the bot printed for them."""
        start = self.out.tell()
        asyncio.run(self.console.feed(textwrap.dedent(script).strip("\n").splitlines()))
        self.out.seek(start)
        printed = self.out.read().splitlines()
        return printed

    def text(self, script: str) -> str:
        return "\n".join(self.say(script))

    def stop(self) -> None:
        """End this bot process's run as a graceful stop does: the lanes it delivered are
        left to the next process on the same store at once (not after their lease)."""
        asyncio.run(self.app.outbox.stop())

    @property
    def db(self):  # noqa: ANN201 - the app's Database
        return self.app.db


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def make_console() -> Callable[..., Console]:
    return Console
