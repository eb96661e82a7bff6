"""The composition root: builds the store, engine, adapters, router and outbox from a
``Config``. Nothing is built at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import signal
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TextIO

from aiohttp import web
from sqlalchemy import select

from adapters.console import ConsoleAdapter
from adapters.matrix import MatrixAdapter
from adapters.telegram import TelegramAdapter
from adapters.telegram_pacing import Limits
from bot.config import Config
from bot.logging import get_logger
from bot.messages import Adapter
from bot.metrics import Metrics, add_routes
from bot.outbox import Outbox
from bot.router import Router
from bot.scheduler import AlarmClock
from bot.web import Site, make_app
from deliberation.model import StreamCursor
from deliberation.services import Deliberation
from deliberation.settings import NO_LEAD_TIMES, Defaults, canonical_lead_times
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from deliberation.timers import Clock, ManualClock, SystemClock

log = get_logger(__name__)

SWEEP = 60.0  # seconds between sweeps for deadlines even when none is known
DELIVERY_SWEEP = 1.0  # seconds between sweeps for messages whose back-off ended
STORE_RETRY = 1.0  # seconds before the deadline sweep tries a failing store again
SHUTDOWN_GRACE = 10.0  # seconds a graceful stop spends delivering what is due


def defaults_from(config: Config) -> Defaults:
    """``[deliberation]`` (same key names) plus the bot's default language and time zone."""
    settings = dataclasses.asdict(config.deliberation)
    settings["quorum"] = str(settings["quorum"])  # stored as a decimal string, read as a Fraction
    for key in ("reminders_before_close", "renewal_reminders"):  # stored as "24h 1h"
        settings[key] = canonical_lead_times(" ".join(settings[key]) or NO_LEAD_TIMES)
    return Defaults(**settings, locale=config.bot.default_locale, timezone=config.bot.timezone)


def open_database(config: Config) -> Database:
    """The configured database, brought up to date (``run`` and ``demo`` need no extra step)."""
    db = Database(config.database.url)
    upgrade(db.engine)
    return db


@dataclass
class App:
    config: Config
    clock: Clock
    db: Database
    engine: Deliberation
    adapters: dict[str, Adapter] = field(default_factory=dict)
    router: Router = field(init=False)
    outbox: Outbox = field(init=False)

    def __post_init__(self) -> None:
        self.site: Site | None = None
        self._wake = asyncio.Event()
        self._stop_requested = asyncio.Event()
        self._timers_lock = asyncio.Lock()  # held while deadlines are carried out
        self.alarm = AlarmClock(SWEEP)
        self.metrics = Metrics(self.db, self.clock)
        self.router = Router(
            self.engine,
            self.adapters,
            self.config.bot.default_locale,
            self._committed,
            metrics=self.metrics,
        )
        self.outbox = Outbox(
            self.db, self.clock, self.adapters, self.router.word_card, metrics=self.metrics
        )

    @classmethod
    def build(cls, config: Config, clock: Clock | None = None, db: Database | None = None) -> App:
        clock = clock or SystemClock()
        db = db or open_database(config)
        return cls(config, clock, db, Deliberation(db, clock, defaults_from(config)))

    def add_web(self) -> Site:
        """Serve the charter pages (``[web]``) while the bot runs; /charter links to them."""
        self.site = Site(self.db, self.config.bot.default_locale, self.config.bot.timezone)
        self.router.web_url = self.config.web.url
        return self.site

    async def _serve_web(self) -> web.AppRunner | None:
        if self.site is None:
            return None
        server = make_app(self.site)
        add_routes(server, self.metrics, self.health)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, self.config.web.host, self.config.web.port).start()
        log.info("web.serving", url=self.config.web.url)
        return runner

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Whether this process is up: taking updates on every platform and reaching its
        store (``/healthz``)."""
        stopping = self._stop_requested.is_set()
        adapters = {name: bool(getattr(a, "ready", True)) for name, a in self.adapters.items()}
        try:
            with self.db.unit_of_work(write=False) as uow:
                uow.session.execute(select(1))
            database = True
        except Exception:  # noqa: BLE001 - unreachable, locked: reported, not raised
            database = False
        ok = database and not stopping and all(adapters.values())
        status = "stopping" if stopping else "ok" if ok else "unavailable"
        return ok, {"status": status, "database": database, "adapters": adapters}

    def add_console(self, out: TextIO | None = None) -> ConsoleAdapter:
        console = ConsoleAdapter(self.config.console.mediators, self.advance, self.settle, out)
        self.adapters[console.platform] = console
        return console

    def add_telegram(self, limits: Limits | None = None, **overrides: object) -> TelegramAdapter:
        """The ``[telegram]`` bot; ``overrides`` replace adapter options (tests)."""
        tg = self.config.telegram
        options: dict[str, object] = {
            "base_url": tg.base_url,
            "mode": tg.mode,
            "webhook_url": tg.webhook_url,
            "webhook_listen": tg.webhook_listen,
            "webhook_port": tg.webhook_port,
            "webhook_secret": tg.webhook_secret,
            "limits": limits,
            "default_locale": self.config.bot.default_locale,
        }
        options.update(overrides)
        adapter = TelegramAdapter(tg.token, self.load_cursor, **options)  # type: ignore[arg-type]
        self.adapters[adapter.platform] = adapter
        return adapter

    def add_matrix(self, **overrides: object) -> MatrixAdapter:
        """The ``[matrix]`` account; ``overrides`` replace adapter options (tests)."""
        options: dict[str, object] = {"default_locale": self.config.bot.default_locale}
        options.update(overrides)
        adapter = MatrixAdapter(self.config.matrix, self.load_cursor, **options)  # type: ignore[arg-type]
        self.adapters[adapter.platform] = adapter
        return adapter

    def load_cursor(self, name: str) -> str | None:
        """A platform's stored stream position (read by the adapter when it starts)."""
        with self.db.unit_of_work(write=False) as uow:
            cursor = uow.session.get(StreamCursor, name)
            return cursor.value if cursor else None

    async def settle(self) -> None:
        """Deliver everything the last step queued."""
        await self.outbox.settle()

    async def advance(self, delta: timedelta) -> None:
        """Move a manual clock, carrying out each deadline at its own moment on the way."""
        if not isinstance(self.clock, ManualClock):
            raise RuntimeError("only a manual clock can be advanced")
        target = self.clock.now() + delta
        while (due := await asyncio.to_thread(self.engine.next_due)) is not None and due <= target:
            self.clock.set(max(due, self.clock.now()))
            await self.router.run_timers()
            await self.outbox.settle()
        self.clock.set(target)

    async def catch_up(self) -> None:
        """Deadlines that fell due while the bot was down, and messages left undelivered."""
        await self.router.run_timers()
        await self.outbox.settle()

    async def run_demo(self, stream: TextIO) -> None:
        console = self.adapters["console"]
        assert isinstance(console, ConsoleAdapter)
        await console.start(self.router.on_batch)
        await self.catch_up()
        await console.read_stream(stream)

    def request_stop(self) -> None:
        """Begin a graceful stop (SIGTERM, SIGINT): see ``run_forever``."""
        log.info("app.stopping")
        self._stop_requested.set()

    async def run_forever(self, stream: TextIO | None = None, signals: bool = False) -> None:
        """Adapters, deadlines and delivery until cancelled or asked to stop.

        Asked to stop (``request_stop``; with ``signals``, on SIGTERM or SIGINT) it stops
        gracefully: no more updates are taken, the batch in hand and the deadlines being
        carried out are finished and committed, and for up to ``SHUTDOWN_GRACE`` seconds
        what is due is delivered; what is left stays in the outbox for the next start.
        Cancelled, it stops at once; nothing committed is lost either way."""
        if signals:
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.request_stop)
        for adapter in self.adapters.values():
            await adapter.start(self.router.on_batch)
        runner = await self._serve_web()
        tasks = [asyncio.create_task(self._deadlines()), asyncio.create_task(self._deliveries())]
        console = self.adapters.get("console")
        reader = None  # the console's lines; the bot runs on when they end
        if stream is not None and isinstance(console, ConsoleAdapter):
            reader = asyncio.create_task(console.read_stream(stream))
        stop = asyncio.create_task(self._stop_requested.wait())
        try:
            await asyncio.wait([*tasks, stop], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done():
                    task.result()  # a failure of the bot's own loops: raised here
            if reader is not None:
                reader.cancel()
            await self._stop_gracefully(tasks)
        finally:
            stop.cancel()
            for task in [*tasks, *([reader] if reader else [])]:
                task.cancel()
            await self.outbox.stop()  # first: sends in flight finish through the adapters
            for adapter in self.adapters.values():
                await adapter.stop()
            if runner is not None:
                await runner.cleanup()
            if signals:
                for signum in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(signum)
            log.info("app.stopped")

    async def _stop_gracefully(self, tasks: list[asyncio.Task[None]]) -> None:
        for adapter in self.adapters.values():
            await adapter.stop_receiving()
        async with self._timers_lock:  # deadlines being carried out are finished first
            for task in tasks:
                task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            await asyncio.wait_for(self.outbox.settle(), SHUTDOWN_GRACE)
        except TimeoutError:
            log.warning("app.undelivered_at_stop", hint="left for the next start")

    def _committed(self) -> None:
        """A batch or a deadline was committed: deliver its messages, and look again at
        when the next deadline falls due (the batch may have set an earlier one)."""
        self._wake.set()
        self.alarm.ring()

    async def _deadlines(self) -> None:
        """Carry out what is due, then sleep until the alarm rings: at the next due time,
        after a commit, or at the periodic sweep."""
        self.alarm.start()
        try:
            while True:
                try:
                    due = await asyncio.to_thread(self.engine.next_due)
                    if due is not None and due <= self.clock.now():
                        async with self._timers_lock:
                            await self.router.run_timers()
                        due = await asyncio.to_thread(self.engine.next_due)
                        if due is not None and due <= self.clock.now():
                            await asyncio.sleep(STORE_RETRY)  # set aside or locked: not a spin
                            continue
                except Exception:  # noqa: BLE001 - the store locked or unreachable: try again
                    log.exception("deadlines.failed")
                    await asyncio.sleep(STORE_RETRY)
                    continue
                self.alarm.set(None if due is None else due - self.clock.now())
                await self.alarm.wait()
        finally:
            self.alarm.stop()

    async def _deliveries(self) -> None:
        while True:
            try:
                await self.outbox.flush()
            except Exception:  # noqa: BLE001 - the store locked or unreachable: next sweep
                log.exception("deliveries.failed")
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=DELIVERY_SWEEP)
            except TimeoutError:
                pass
            self._wake.clear()
