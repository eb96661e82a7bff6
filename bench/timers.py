"""Deadline benchmark: the cost of one scheduler sweep with 100,000 pending timers.

    .venv/bin/python bench/timers.py            # SQLite file and PostgreSQL (if installed)
    .venv/bin/python bench/timers.py --quick    # 10,000 pending, 100 due: a smoke run
    .venv/bin/python bench/timers.py --explain  # also print the query plans (stderr)
    .venv/bin/python bench/timers.py --repeat 3 # each leg 3 times: median and range

A sweep is what the bot's deadline loop (``bot/app.py`` ``App._deadlines``) does each time
it wakes: ``Router.run_timers`` (``Deliberation.run_due_timers`` with the router's
announcements written to the outbox in the same transaction) and then
``Deliberation.next_due`` to know when to wake next; both in a worker thread, as the bot
runs them.

The store holds 100,000 pending timers that are not due: real proposals in their amendment
phase (proposal, first text version, amendment round, ``close_amendment`` timer), bulk
inserted as the engine would have written them, their deadlines spread over the 30 days
after the first month. 1,000 more proposals are opened through the engine with a one-hour
amendment phase, so that when the clock passes that hour 1,000 timers fall due at once, and
each is real work: the amendment phase closes and a consent round opens (round, timer,
announcement).

Measured on each database: a sweep with nothing due (the median of 50 sweeps, the clock
before the 1,000 deadlines), then one sweep with the clock past them, which carries them
all out (``TIMER_BATCH`` deadlines claimed per transaction). ``--explain`` prints the plans
of the sweep's two queries. ``--repeat N`` builds each leg's store afresh N times and
reports the median and the range.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, insert, select, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.console import ConsoleAdapter  # noqa: E402
from bench.engine import postgres_url, sqlite_url  # noqa: E402
from bot.router import Router  # noqa: E402
from deliberation import commands as c  # noqa: E402
from deliberation.model import OutboxItem, Proposal, Round, TextVersion, Timer  # noqa: E402
from deliberation.services import TIMER_BATCH, Deliberation  # noqa: E402
from deliberation.settings import Defaults  # noqa: E402
from deliberation.store.db import Database  # noqa: E402
from deliberation.store.migrate import upgrade  # noqa: E402
from deliberation.timers import ManualClock  # noqa: E402

START = datetime(2026, 11, 24, 12, tzinfo=UTC)
GROUP = "console:bench"
MEDIATOR = c.Actor(group=GROUP, person="console:mediator", name="mediator", platform_admin=True)
DEFAULTS = Defaults(amendment_hours=1, consent_hours=72, quorum_min=1)
CHUNK = 10_000  # rows per bulk insert statement batch


def add_pending(db: Database, count: int) -> None:
    """``count`` proposals in their amendment phase, with deadlines 30 to 60 days away."""
    with db.engine.begin() as conn:
        first = (conn.scalar(select(func.max(Proposal.id))) or 0) + 1
    for start in range(0, count, CHUNK):
        rows = range(start, min(count, start + CHUNK))
        closes = [
            START + timedelta(days=30, seconds=index * 30 * 86_400 // count) for index in rows
        ]
        with db.engine.begin() as conn:
            conn.execute(
                insert(Proposal.__table__),
                [
                    {
                        "group_id": GROUP,
                        "charter_id": f"group:{GROUP}",
                        "kind": "new",
                        "author_id": MEDIATOR.person,
                        "text": f"Pending clause {index}",
                        "text_version": 1,
                        "phase": "amendment",
                        "round_no": 1,
                        "phase_opened_at": START,
                        "phase_closes_at": due,
                        "created_at": START,
                        "version": 1,
                    }
                    for index, due in zip(rows, closes, strict=True)
                ],
            )
            numbers = conn.scalars(
                select(Proposal.id).where(Proposal.id >= first + start).order_by(Proposal.id)
            ).all()
            assert len(numbers) == len(rows)
            conn.execute(
                insert(TextVersion.__table__),
                [
                    {
                        "proposal_id": number,
                        "version": 1,
                        "text": f"Pending clause {index}",
                        "author_id": MEDIATOR.person,
                        "created_at": START,
                    }
                    for index, number in zip(rows, numbers, strict=True)
                ],
            )
            conn.execute(
                insert(Round.__table__),
                [
                    {
                        "proposal_id": number,
                        "number": 1,
                        "phase": "amendment",
                        "opened_at": START,
                        "closes_at": due,
                    }
                    for number, due in zip(numbers, closes, strict=True)
                ],
            )
            conn.execute(
                insert(Timer.__table__),
                [
                    {
                        "kind": "close_amendment",
                        "proposal_id": number,
                        "round_no": 1,
                        "due_at": due,
                    }
                    for number, due in zip(numbers, closes, strict=True)
                ],
            )


def fresh(url: str, pending: int, due: int) -> tuple[Database, Deliberation, Router]:
    db = Database(url)
    upgrade(db.engine)
    clock = ManualClock(START)
    engine = Deliberation(db, clock, DEFAULTS)
    engine.register(MEDIATOR)
    for start in range(0, due, 100):  # opened as the bot opens them, 100 per commit
        batch = [
            (MEDIATOR, c.Propose(f"Due clause {i}")) for i in range(start, min(due, start + 100))
        ]
        assert all(isinstance(outcome, list) for outcome in engine.handle_many(batch))
    add_pending(db, pending)
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would have by then
    else:
        with db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    adapter = ConsoleAdapter(mediators=(), advance=_never, after_line=_never)
    router = Router(engine, {"console": adapter})
    return db, engine, router


async def _never(*_args: Any) -> None:
    raise AssertionError("not used by the bench")


async def sweep(router: Router, engine: Deliberation) -> tuple[int, datetime | None]:
    """What ``App._deadlines`` does each time it wakes (without its sleep)."""
    carried_out = await router.run_timers()
    due = await asyncio.to_thread(engine.next_due)
    return carried_out, due


async def measure(
    router: Router, engine: Deliberation, clock: ManualClock, due: int, runs: int
) -> tuple[float, float]:
    """Median ms of a sweep with nothing due, then seconds to carry out ``due`` at once."""
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        carried_out, next_due = await sweep(router, engine)
        timings.append((time.perf_counter() - started) * 1000)
        assert carried_out == 0 and next_due == START + timedelta(hours=1), (carried_out, next_due)
    clock.set(START + timedelta(hours=2))
    started = time.perf_counter()
    carried_out, next_due = await sweep(router, engine)
    elapsed = time.perf_counter() - started
    assert carried_out == due, carried_out
    # The consent rounds just opened close in 72 hours (their reminders, if any, sooner).
    later = START + timedelta(hours=2)
    assert next_due and later < next_due <= later + timedelta(hours=DEFAULTS.consent_hours)
    return statistics.median(timings), elapsed


def check(db: Database, pending: int, due: int) -> None:
    """Every due deadline done once, announced once; the pending ones untouched."""
    with db.unit_of_work(write=False) as uow:
        s = uow.session
        rows = s.execute(
            select(Timer.kind, Timer.done_at.is_not(None), func.count()).group_by(
                Timer.kind, Timer.done_at.is_not(None)
            )
        ).all()
        counts = {(kind, bool(done)): n for kind, done, n in rows}
        assert counts.pop(("close_amendment", True)) == due, counts
        assert counts.pop(("close_amendment", False)) == pending, counts
        assert counts.pop(("close_consent", False)) == due, counts
        # What else the new consent rounds set (reminders before they close) is pending.
        assert not any(done for _kind, done in counts), counts
        assert s.scalar(select(func.count()).select_from(OutboxItem)) == due
        in_consent = s.scalar(
            select(func.count()).select_from(Proposal).where(Proposal.phase == "consent")
        )
        assert in_consent == due


def explain(db: Database, now: datetime) -> None:
    """The plans of the claim (the query ``run_due_timers`` issues) and of ``next_due``."""
    postgres = db.dialect == "postgresql"
    claim = (
        "SELECT * FROM timers WHERE done_at IS NULL AND due_at <= :now"
        f" ORDER BY due_at, id LIMIT {TIMER_BATCH}"
        + (" FOR UPDATE SKIP LOCKED" if postgres else "")
    )
    upcoming = "SELECT min(due_at) FROM timers WHERE done_at IS NULL"
    prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if postgres else "EXPLAIN QUERY PLAN "
    with db.engine.connect() as conn:
        for name, sql in (("claim", claim), ("next_due", upcoming)):
            query = text(prefix + sql)
            if ":now" in sql:
                query = query.bindparams(bindparam("now", now, type_=Timer.due_at.type))
            lines = [" ".join(str(col) for col in row) for row in conn.execute(query)]
            print(f"  [{db.dialect}] {name} at {now:%H:%M}:", *lines, sep="\n    ", file=sys.stderr)
        conn.rollback()


def run(url: str, pending: int, due: int, runs: int, show_plan: bool) -> tuple[float, float]:
    db, engine, router = fresh(url, pending, due)
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    if show_plan:
        explain(db, START)
        explain(db, START + timedelta(hours=2))
    median_ms, elapsed = asyncio.run(measure(router, engine, clock, due, runs))
    check(db, pending, due)
    db.dispose()
    return median_ms, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    parser.add_argument("--explain", action="store_true", help="print the query plans")
    parser.add_argument(
        "--repeat", type=int, default=1, metavar="N", help="run each leg N times (interleaved)"
    )
    args = parser.parse_args()
    pending = 10_000 if args.quick else 100_000
    due = 100 if args.quick else 1000
    runs = 20 if args.quick else 50

    results: dict[str, list[tuple[float, float]]] = {}
    with sqlite_url() as sqlite, postgres_url() as postgres:
        backends = [("SQLite (WAL, file)", sqlite)]
        if postgres is None:
            print("PostgreSQL server binaries not found: PostgreSQL leg skipped", file=sys.stderr)
        else:
            backends.append(("PostgreSQL", postgres))
        for attempt in range(args.repeat):  # the legs interleaved: a passing load hits both
            for name, make_url in backends:
                median_ms, elapsed = run(
                    make_url(f"timers{attempt}"), pending, due, runs, args.explain
                )
                results.setdefault(name, []).append((median_ms, elapsed))
                print(
                    f"  {name} run {attempt + 1}: {median_ms:.2f} ms, {elapsed:.2f} s",
                    file=sys.stderr,
                )

    def cell(values: list[float], digits: int) -> str:
        middle = f"{statistics.median(values):.{digits}f}"
        if len(values) == 1:
            return middle
        return f"{middle} ({min(values):.{digits}f}-{max(values):.{digits}f})"

    spread = f", median (range) of {args.repeat} runs" if args.repeat > 1 else ""
    print(
        f"| database | pending | due | sweep with nothing due, ms (median of {runs}{spread}) "
        f"| {due:,} due carried out, s{spread} | timers/s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, measured in results.items():
        idle = [median_ms for median_ms, _elapsed in measured]
        busy = [elapsed for _median_ms, elapsed in measured]
        print(
            f"| {name} | {pending:,} | {due:,} | {cell(idle, 2)} | {cell(busy, 2)} "
            f"| {due / statistics.median(busy):,.0f} |"
        )
    print()
    flags = (" --quick" if args.quick else "") + (
        f" --repeat {args.repeat}" if args.repeat > 1 else ""
    )
    print(f"`.venv/bin/python bench/timers.py{flags}`")


if __name__ == "__main__":
    main()
