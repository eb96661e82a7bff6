"""APScheduler as an alarm clock over the timers table.

The database is the source of truth for every deadline and reminder (the ``timers`` table,
written in the same transaction as the change that implies it). APScheduler holds no job
of ours that matters: one job rings at the next due time, another every ``sweep`` seconds
in case a timer came from elsewhere (another process sharing the database, a clock moved).
A job missed while the process was down is simply gone, which is harmless here: at start
the bot runs everything due (PITFALLS.md: APScheduler's default ``misfire_grace_time``
would drop such a deadline; ours never depend on it).

Moments are given as a delay from now, so the same code works with the manual clock of
the console and the tests (whose "now" is not the wall clock's).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

_NEXT = "next-due"
_SWEEP = "sweep"


class AlarmClock:
    def __init__(self, sweep_seconds: float = 60.0) -> None:
        self.sweep_seconds = sweep_seconds
        self._rung = asyncio.Event()
        self._scheduler = AsyncIOScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )

    def start(self) -> None:
        self._scheduler.start()
        self._scheduler.add_job(self.ring, IntervalTrigger(seconds=self.sweep_seconds), id=_SWEEP)

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def ring(self) -> None:
        """Wake the deadline loop now (a commit may have added an earlier timer)."""
        self._rung.set()

    def set(self, delay: timedelta | None) -> None:
        """Ring after ``delay`` (None: no timer is pending; the sweep still rings)."""
        if delay is None:
            if self._scheduler.get_job(_NEXT) is not None:
                self._scheduler.remove_job(_NEXT)
            return
        moment = datetime.now(UTC) + max(delay, timedelta(0))
        self._scheduler.add_job(
            self.ring, DateTrigger(run_date=moment), id=_NEXT, replace_existing=True
        )

    async def wait(self) -> None:
        """Until the alarm rings."""
        await self._rung.wait()
        self._rung.clear()
