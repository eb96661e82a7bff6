"""charterbot's ``App.run_forever`` in a background thread with its own event loop, as
``charterbot run`` runs it; the test thread plays the people and waits for what they see.
Shared by the Telegram and Matrix harnesses."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from bot.app import App

T = TypeVar("T")


class AppThread:
    def __init__(self, app: App) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self._task = asyncio.current_task()  # type: ignore[assignment]
            self._started.set()
            await self.app.run_forever()

        try:
            self.loop.run_until_complete(main())
        except asyncio.CancelledError:
            pass
        finally:
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    def start(self) -> None:
        self._thread.start()
        self._started.wait(5)

    def stop(self, timeout: float = 20) -> None:
        """Cancel ``run_forever`` (it stops its adapters and lets sends finish) and wait."""
        if self._thread.is_alive():
            assert self._task is not None
            with contextlib.suppress(RuntimeError):  # closed: the app stopped by itself
                self.loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(timeout)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run a coroutine in the bot's loop and wait for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)
