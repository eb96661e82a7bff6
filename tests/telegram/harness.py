"""charterbot itself (``App`` with the Telegram adapter) running against the fake Bot API.

The bot runs ``App.run_forever`` in a background thread with its own event loop, exactly
as ``charterbot run`` does, polling the fake over real HTTP on 127.0.0.1. The test thread
plays the users through the fake (``user_message``, ``press_button``) and waits for what
they would see. Deadlines use a manual clock moved with :meth:`RunningBot.advance`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select

from adapters.telegram import TelegramAdapter
from adapters.telegram_pacing import Limits
from bot.app import App
from bot.config import Config, ConsoleConfig, DatabaseConfig, TelegramConfig
from deliberation.model import OutboxItem
from deliberation.store.db import Database
from deliberation.timers import ManualClock
from tests.app_thread import AppThread
from tests.fakes.bot_api import FakeBotApi, Json

T = TypeVar("T")

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
# Limits for tests about behaviour, not about pacing: the fake is built with FAST_FAKE.
FAST = Limits(per_chat_interval=0.0, group_per_minute=100_000, global_per_second=100_000)
FAST_FAKE: dict[str, Any] = {
    "per_chat_rate": 10_000.0,
    "per_chat_burst": 10_000,
    "group_per_minute": 100_000,
    "global_per_second": 100_000,
}


def fake_group(api: FakeBotApi, chat_id: int, creator: Json, members: list[Json]) -> None:
    api.add_chat(chat_id, "Kitchen collective", creator=creator, members=members)


class RunningBot:
    def __init__(
        self,
        api: FakeBotApi,
        db_url: str,
        *,
        limits: Limits = FAST,
        clock: ManualClock | None = None,
        **adapter_options: Any,
    ) -> None:
        self.api = api
        self.clock = clock or ManualClock(START)
        config = dataclasses.replace(
            Config(),
            database=DatabaseConfig(url=db_url),
            console=ConsoleConfig(enabled=False),
            telegram=TelegramConfig(enabled=True, token=api.token, base_url=api.base_url),
        )
        self.db = Database(db_url)
        from deliberation.store.migrate import upgrade

        upgrade(self.db.engine)
        self.app = App.build(config, self.clock, self.db)
        options = {"poll_timeout": 1, **adapter_options}
        self.telegram: TelegramAdapter = self.app.add_telegram(limits=limits, **options)
        self._runner = AppThread(self.app)
        self.loop = self._runner.loop

    def __enter__(self) -> RunningBot:
        self._runner.start()
        self.wait_for(lambda: self.telegram.ready, "the bot to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._runner.stop(15)
        self.db.engine.dispose()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine in the bot's loop and wait for it."""
        return self._runner.call(coro, timeout)

    def advance(self, delta: timedelta) -> None:
        self.call(self.app.advance(delta))

    def wait_for(self, predicate: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting for {what}")

    def recorded(self, message_id: int) -> None:
        """Wait until the bot has stored that it sent ``message_id``: a reply to it names
        what it was about only from then on (a person needs longer than that to reply)."""

        def stored() -> bool:
            with self.db.unit_of_work(write=False) as uow:
                rows = uow.session.scalars(
                    select(OutboxItem.id).where(OutboxItem.message_ref == str(message_id))
                )
                return rows.first() is not None

        self.wait_for(stored, f"message {message_id} to be recorded as sent")


def texts(api: FakeBotApi, chat_id: int) -> list[str]:
    """The current plain text of every message the bot posted in a chat, in order."""
    return [m["plain_text"] for m in api.sent_to(chat_id)]


def find(api: FakeBotApi, chat_id: int, needle: str) -> Json | None:
    """The bot's last message in the chat whose current text contains ``needle``."""
    for record in reversed(api.sent_to(chat_id)):
        if needle in record["plain_text"]:
            return record
    return None


def buttons_of(record: Json) -> list[tuple[str, str]]:
    markup = record.get("reply_markup") or {}
    return [
        (b["text"], b.get("callback_data", ""))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


def answers_to(api: FakeBotApi, user: Json) -> list[str | None]:
    """The notes the bot showed ``user`` for their button presses, in order."""
    return [a["text"] for a in api.callback_answers if a["user_id"] == user["id"]]
