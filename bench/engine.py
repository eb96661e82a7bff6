"""Engine benchmark: positions committed per second, and /status latency.

    .venv/bin/python bench/engine.py            # SQLite file and PostgreSQL (if installed)
    .venv/bin/python bench/engine.py --quick    # smaller counts, for a smoke run

For each database and each group size (1, 100 and 10,000 members per proposal) every member
states a position through the engine: once with one committed transaction per vote
(``Deliberation.handle``), once as the bot handles a platform's batch of updates, 100 votes
per commit (``Deliberation.handle_many``, each vote in its own savepoint). Every vote is
committed before it would be acknowledged in both. The baseline is a raw SQLAlchemy Core loop inserting
rows of the same shape, one committed transaction each, into the same database with the same
connection settings. Members are registered beforehand (they have spoken in the group before),
so the figure is the cost of the vote itself.

/status latency is measured on a proposal holding 100,000 stored positions: the read model
and its rendering to text, as the router answers ``/status P<n>``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, select, update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot import render  # noqa: E402
from bot.i18n import get_translator  # noqa: E402
from deliberation import commands as c  # noqa: E402
from deliberation import queries  # noqa: E402
from deliberation.model import Group, Member, Person, Position, Round  # noqa: E402
from deliberation.services import Deliberation  # noqa: E402
from deliberation.settings import Defaults  # noqa: E402
from deliberation.store.db import Database  # noqa: E402
from deliberation.store.migrate import upgrade  # noqa: E402
from deliberation.timers import ManualClock  # noqa: E402

START = datetime(2026, 11, 24, 12, tzinfo=UTC)
GROUP = "bench:group"
BATCH = 100  # updates per commit when a platform delivers a batch (Telegram getUpdates: 100)


def person(index: int) -> str:
    return f"bench:p{index}"


@contextmanager
def sqlite_url() -> Iterator[Callable[[str], str]]:
    with tempfile.TemporaryDirectory() as folder:
        yield lambda name: f"sqlite:///{folder}/{name}.db"


@contextmanager
def postgres_url() -> Iterator[Callable[[str], str] | None]:
    try:
        from tests.fakes.postgres import PostgresServer, find_pg_bindir
    except ImportError:
        yield None
        return
    if find_pg_bindir() is None:
        yield None
        return
    server = PostgresServer()
    server.start()
    try:
        yield server.create_database
    finally:
        server.stop()


def fresh(url: str, members: int) -> tuple[Database, Deliberation]:
    db = Database(url)
    upgrade(db.engine)
    engine = Deliberation(db, ManualClock(START), Defaults(amendment_hours=0, quorum_min=1))
    engine.register(
        c.Actor(group=GROUP, person="bench:mediator", name="mediator", platform_admin=True)
    )
    with db.engine.begin() as conn:
        conn.execute(
            insert(Person.__table__), [{"id": person(i), "name": f"p{i}"} for i in range(members)]
        )
        conn.execute(
            insert(Member.__table__),
            [
                {"group_id": GROUP, "person_id": person(i), "joined_at": START}
                for i in range(members)
            ],
        )
        conn.execute(
            update(Group.__table__).where(Group.id == GROUP).values(members_seen=members + 1)
        )
    return db, engine


def open_proposal(engine: Deliberation) -> int:
    events = engine.handle(
        c.Actor(group=GROUP, person="bench:mediator", name="mediator", platform_admin=True),
        c.Propose("Benchmark clause"),
    )
    return events[0].proposal  # type: ignore[attr-defined]


def engine_rate(url: str, members: int, total: int, batch: int = 1) -> float:
    """Positions per second through the engine, ``batch`` commands per commit."""
    db, engine = fresh(url, members)
    proposals = [open_proposal(engine) for _ in range(max(1, total // members))]
    stances = [c.Stance.CONSENT, c.Stance.CONCERN, c.Stance.ABSTAIN]  # no objection: no reason
    requests = [
        (
            c.Actor(group=GROUP, person=person(index), name=f"p{index}"),
            c.StatePosition(number, stances[index % 3]),
        )
        for number in proposals
        for index in range(members)
    ]
    started = time.perf_counter()
    for start in range(0, len(requests), batch):
        chunk = requests[start : start + batch]
        if batch == 1:
            engine.handle(*chunk[0])
        else:
            outcomes = engine.handle_many(chunk)
            assert all(isinstance(o, list) for o in outcomes)
    elapsed = time.perf_counter() - started
    db.dispose()
    return len(requests) / elapsed


def baseline_rate(url: str, total: int) -> float:
    """One committed Core INSERT per row, same database, same transaction discipline."""
    db = Database(url)
    table = Table(
        "baseline_positions",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("round_id", Integer),
        Column("person_id", String(255)),
        Column("stance", String(8)),
        Column("reason", Text),
    )
    table.create(db.engine)
    writer = db.engine.execution_options(charterbot_write=True)
    statement = insert(table)
    started = time.perf_counter()
    for index in range(total):
        with writer.begin() as conn:
            conn.execute(
                statement,
                {"round_id": 1, "person_id": person(index), "stance": "consent", "reason": None},
            )
    elapsed = time.perf_counter() - started
    db.dispose()
    return total / elapsed


def status_latency(url: str, positions: int, runs: int) -> tuple[float, float]:
    """Median and 95th percentile milliseconds of ``/status P<n>`` with ``positions`` stored."""
    db, engine = fresh(url, positions)
    number = open_proposal(engine)
    with db.unit_of_work(write=False) as uow:
        round_id = uow.session.scalar(
            select(Round.id).where(Round.proposal_id == number, Round.phase == "consent")
        )
    stances = ["consent", "concern", "abstain", "consent"]
    with db.engine.begin() as conn:
        for chunk in range(0, positions, 10_000):
            conn.execute(
                insert(Position.__table__),
                [
                    {
                        "round_id": round_id,
                        "person_id": person(i),
                        "stance": stances[i % 4],
                        "reason": "a reason" if i % 4 == 1 else None,
                        "at": START,
                    }
                    for i in range(chunk, min(positions, chunk + 10_000))
                ],
            )
        # Stored the way the engine stores them: with the round's running counts.
        counts = {
            f"n_{stance}": sum(1 for i in range(positions) if stances[i % 4] == stance)
            for stance in set(stances)
        }
        conn.execute(update(Round.__table__).where(Round.id == round_id).values(**counts))
    reader = render.Reader(tr=get_translator("en"), timezone="UTC", now=START)
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        with db.unit_of_work(write=False) as uow:
            view = queries.proposal(uow.session, GROUP, number, person(0))
        text = render.status(reader, view)
        timings.append((time.perf_counter() - started) * 1000)
    assert f"{positions:,}" in text or str(positions) in text
    db.dispose()
    timings.sort()
    return statistics.median(timings), timings[int(len(timings) * 0.95) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller counts (a smoke run)")
    args = parser.parse_args()
    sizes = (1, 100, 1000) if args.quick else (1, 100, 10_000)
    total = 300 if args.quick else 2000
    stored = 10_000 if args.quick else 100_000
    runs = 10 if args.quick else 50

    rows = []
    status_rows = []
    with sqlite_url() as sqlite, postgres_url() as postgres:
        backends = [("SQLite (WAL, file)", sqlite)]
        if postgres is None:
            print("PostgreSQL server binaries not found: PostgreSQL leg skipped", file=sys.stderr)
        else:
            backends.append(("PostgreSQL", postgres))
        for name, make_url in backends:
            for members in sizes:
                positions = max(total, members)
                rate = engine_rate(make_url(f"e{members}"), members, positions)
                batched = engine_rate(make_url(f"g{members}"), members, positions, BATCH)
                base = baseline_rate(make_url(f"b{members}"), positions)
                rows.append((name, members, positions, rate, batched, base))
                print(f"  {name}: {members} members done", file=sys.stderr)
            median, p95 = status_latency(make_url("status"), stored, runs)
            status_rows.append((name, stored, median, p95))

    print(
        "| database | members per proposal | positions | engine, 1 per commit | "
        f"engine, {BATCH} per commit | baseline inserts/s | ratio 1 | ratio {BATCH} |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, members, positions, rate, batched, base in rows:
        print(
            f"| {name} | {members:,} | {positions:,} | {rate:,.0f} | {batched:,.0f} | {base:,.0f} "
            f"| {rate / base:.2f} | {batched / base:.2f} |"
        )
    print()
    print("| database | stored positions | /status median ms | /status p95 ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, stored_count, median, p95 in status_rows:
        print(f"| {name} | {stored_count:,} | {median:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
