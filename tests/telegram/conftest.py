"""Fixtures for the Telegram tests: a fake Bot API server on loopback (tests/fakes/bot_api.py).

Why a background thread: the tests are plain sync functions (no pytest-asyncio) that run the
real python-telegram-bot client under ``asyncio.run(...)``. Each ``asyncio.run`` makes a new
event loop and closes it at the end, so a server started inside one test's loop could not
outlive it, and the fixture has no loop of its own to start it in. ``FakeBotApi.in_thread()``
therefore runs the aiohttp server in a daemon thread with its own event loop for the whole
test; PTB talks to it over real HTTP on 127.0.0.1, exactly as it would talk to Telegram.
The fake's helpers (``user_message``, ``press_button``, ``fail_next`` ...) hand their work
to the server's loop, so tests may call them from the test thread or from inside their own
coroutines. Code already running in an event loop can use ``async with FakeBotApi() as api``
instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.bot_api import DEFAULT_TOKEN, FakeBotApi


@pytest.fixture
def bot_token() -> str:
    return DEFAULT_TOKEN


@pytest.fixture
def bot_api_factory() -> Iterator[Callable[..., FakeBotApi]]:
    """Start servers with custom settings (``clock=ManualClock()``, flood limits ...)."""
    with_servers: list[Any] = []

    def make(**kwargs: Any) -> FakeBotApi:
        manager = FakeBotApi.in_thread(**kwargs)
        api = manager.__enter__()
        with_servers.append(manager)
        return api

    yield make
    for manager in reversed(with_servers):
        manager.__exit__(None, None, None)


@pytest.fixture
def bot_api(bot_token: str) -> Iterator[FakeBotApi]:
    """A fake Bot API with Telegram's default limits and the real monotonic clock."""
    with FakeBotApi.in_thread(token=bot_token) as api:
        yield api
