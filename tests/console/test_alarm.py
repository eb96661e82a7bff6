"""The deadline loop: APScheduler wakes it, the timers table says what is due."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot.scheduler import AlarmClock
from deliberation.model import OutboxItem, Proposal
from tests.console.conftest import Console


def phase(con: Console) -> str:
    with con.db.unit_of_work(write=False) as uow:
        return uow.session.scalars(select(Proposal.phase)).one()


def test_a_deadline_is_carried_out_when_the_alarm_rings(
    make_console: Callable[..., Console], tmp_path: Path
) -> None:
    # A file, not the console's in-memory store: that is one connection, and this test
    # reads it while the loop works in its own thread.
    con = make_console({"CHARTERBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}"})
    con.say("alice: /propose Quiet hours after ten")  # the amendment phase ends in 48 h

    async def scenario() -> str:
        loop = asyncio.create_task(con.app._deadlines())
        await asyncio.sleep(0.05)  # the loop set its alarm for 48 h (of the manual clock)
        assert phase(con) == "amendment"
        con.clock.advance(timedelta(hours=49))  # time passes; only the alarm can notice
        con.app._committed()  # as after any commit
        for _ in range(300):
            if phase(con) == "consent":
                break
            await asyncio.sleep(0.01)
        loop.cancel()
        return phase(con)

    assert asyncio.run(scenario()) == "consent"
    with con.db.unit_of_work(write=False) as uow:  # announced (delivery is not running here)
        texts = uow.session.scalars(select(OutboxItem.text)).all()
    assert any("Consent round 1 on P1" in text for text in texts)


def test_the_alarm_rings_at_the_time_it_was_set() -> None:
    async def scenario() -> bool:
        alarm = AlarmClock(sweep_seconds=3600)
        alarm.start()
        try:
            alarm.set(timedelta(milliseconds=20))
            await asyncio.wait_for(alarm.wait(), timeout=5)
            alarm.set(None)  # nothing pending: only the hourly sweep would ring
            try:
                await asyncio.wait_for(alarm.wait(), timeout=0.2)
            except TimeoutError:
                return True
            return False
        finally:
            alarm.stop()

    assert asyncio.run(scenario())
