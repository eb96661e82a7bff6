"""Due deadlines carried out exactly once by two real OS processes on one database.

``test_store_contract.py`` races threads of one process; here two processes started with
``spawn`` (their own interpreter, engine and connection pool, as two bot instances would
be) wait at a barrier and then call ``run_due_timers`` at the same moment, on an SQLite
file (WAL, ``BEGIN IMMEDIATE``) and on PostgreSQL (``FOR UPDATE SKIP LOCKED``).

60 proposals have a deadline that fell due: 30 amendment phases (each close opens a
consent round) and 30 consent rounds (15 adopted, which appends to the charter's hash
chain, and 15 objected, which sets an expiry timer); the 30 proposals moved to consent by
``/next`` also have an amendment timer due that must do nothing. Every close must be announced once,
by one of the two processes, and the store must show each phase moved once.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from deliberation import commands as c
from deliberation import queries
from deliberation.model import ChainEntry, Clause, Proposal, Round, Timer
from deliberation.services import Deliberation
from deliberation.settings import Defaults
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from deliberation.timers import ManualClock

START = datetime(2026, 11, 24, 12, tzinfo=UTC)
LATER = START + timedelta(hours=2)  # past every deadline set up below (START + 1 h)
GROUP = "console:main"
PROPOSALS = 60
WORKERS = 2
DEFAULTS = Defaults(amendment_hours=1, consent_hours=1, quorum_min=1)
WAIT = 120  # seconds: a process that takes longer than this is stuck, not slow


def actor(name: str, admin: bool = False) -> c.Actor:
    return c.Actor(group=GROUP, person=f"console:{name}", name=name, platform_admin=admin)


def worker(url: str, barrier: Any, results: Any, at: datetime = LATER) -> None:
    """One bot instance: its own engine on the shared database, its clock at ``at``."""
    try:
        db = Database(url)
        engine = Deliberation(db, ManualClock(at), DEFAULTS)
        with db.unit_of_work(write=False) as uow:  # connect before the start, not after
            uow.session.scalar(select(func.count()).select_from(Timer))
        barrier.wait(timeout=WAIT)
        events = engine.run_due_timers()
        db.dispose()
        summary = [
            (
                type(ev).__name__,
                getattr(ev, "proposal", None) or getattr(ev, "meeting", None),
                str(getattr(ev, "verdict", "")),
            )
            for ev in events
        ]
        results.put(("ok", summary))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put(("error", traceback.format_exc()))


def set_up(url: str) -> tuple[set[int], set[int], set[int]]:
    """Proposals in amendment, in consent to be adopted, in consent to be objected."""
    db = Database(url)
    upgrade(db.engine)
    engine = Deliberation(db, ManualClock(START), DEFAULTS)
    alice, bob = actor("alice", admin=True), actor("bob")
    engine.register(bob)
    amending: set[int] = set()
    adopting: set[int] = set()
    objecting: set[int] = set()
    for index in range(PROPOSALS):
        (opened,) = engine.handle(alice, c.Propose(f"Clause {index}"))
        number = opened.proposal  # type: ignore[attr-defined]
        if index % 2 == 0:
            amending.add(number)
            continue
        engine.handle(alice, c.Next(number))  # consent round open, closing at START + 1 h
        engine.handle(alice, c.StatePosition(number, c.Stance.CONSENT))
        if index % 4 == 1:
            adopting.add(number)
        else:
            engine.handle(bob, c.StatePosition(number, c.Stance.OBJECT, "not yet"))
            objecting.add(number)
    assert engine.next_due() == START + timedelta(hours=1)
    db.dispose()
    return amending, adopting, objecting


def race(url: str, at: datetime = LATER) -> list[list[tuple[str, int, str]]]:
    """Start the workers, release them together, and collect what each carried out."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WORKERS)
    results = context.Queue()
    processes = [
        context.Process(target=worker, args=(url, barrier, results, at), daemon=True)
        for _ in range(WORKERS)
    ]
    for process in processes:
        process.start()
    outcomes = []
    try:
        for _ in processes:
            outcomes.append(results.get(timeout=WAIT))
    except queue.Empty:
        raise AssertionError(f"a worker gave no answer: {outcomes}") from None
    finally:
        for process in processes:
            process.join(timeout=WAIT)
            if process.is_alive():
                process.kill()
    errors = [detail for status, detail in outcomes if status != "ok"]
    assert errors == [], "\n".join(errors)
    assert all(process.exitcode == 0 for process in processes)
    return [summary for _, summary in outcomes]


def test_two_processes_carry_out_each_deadline_once(file_database_url: str) -> None:
    amending, adopting, objecting = set_up(file_database_url)

    per_process = race(file_database_url)

    # The announcements: every close once, by one process or the other, and nothing else.
    events = [event for summary in per_process for event in summary]
    closes = Counter((kind, number) for kind, number, _ in events)
    assert all(count == 1 for count in closes.values()), closes.most_common(3)
    assert {number for kind, number in closes if kind == "ConsentOpened"} == amending
    verdicts = {number: verdict for kind, number, verdict in events if kind == "Decided"}
    assert verdicts == {n: "adopted" for n in adopting} | {n: "objected" for n in objecting}
    assert len(events) == PROPOSALS

    # The store: each phase moved once.
    db = Database(file_database_url)
    try:
        with db.unit_of_work(write=False) as uow:
            s = uow.session
            timers = s.scalars(select(Timer).order_by(Timer.id)).all()
            due = [t for t in timers if t.due_at <= LATER]
            # Every proposal's amendment close, and the consent closes; the amendment close
            # of a proposal moved on by /next is done without effect.
            assert Counter(t.kind for t in due) == {
                "close_amendment": PROPOSALS,
                "close_consent": len(adopting | objecting),
            }
            assert all(t.done_at == LATER and t.claimed_by is None for t in due)  # none failed
            later = Counter((t.kind, t.proposal_id) for t in timers if t.due_at > LATER)
            assert later == Counter(
                [("close_consent", n) for n in amending]
                + [("expire", n) for n in objecting]
                # each adopted clause's review a year on, and the reminders before it
                + [("review", None)] * len(adopting)
                + [("remind_renewal", None)] * 3 * len(adopting)
            )
            proposals = {p.id: p for p in s.scalars(select(Proposal))}
            rounds = Counter(
                (r.proposal_id, r.phase, r.closed_at is not None) for r in s.scalars(select(Round))
            )
            for number in amending:
                assert proposals[number].phase == "consent"
                assert proposals[number].version == 2  # moved once: one update
                assert proposals[number].phase_closes_at == LATER + timedelta(hours=1)
                assert rounds[(number, "amendment", True)] == 1
                assert rounds[(number, "consent", False)] == 1
                assert rounds[(number, "consent", True)] == 0
            for number in adopting | objecting:
                phase = "adopted" if number in adopting else "objected"
                assert proposals[number].phase == phase
                assert rounds[(number, "consent", True)] == 1
                assert rounds[(number, "consent", False)] == 0
            # One clause and one chain entry per adoption, the chain unbroken.
            assert s.scalar(select(func.count()).select_from(Clause)) == len(adopting)
            entries = s.scalars(select(ChainEntry).order_by(ChainEntry.seq)).all()
            assert [entry.seq for entry in entries] == list(range(1, len(adopting) + 1))
            assert queries.verify(s).problem is None
    finally:
        db.dispose()

    # Nothing is left to do: a third sweep finds nothing due.
    db = Database(file_database_url)
    try:
        assert Deliberation(db, ManualClock(LATER), DEFAULTS).run_due_timers() == []
    finally:
        db.dispose()


def test_two_processes_send_each_reminder_once(file_database_url: str) -> None:
    """30 consent rounds and 30 meetings, each with a reminder due an hour before: both
    processes wake together and every reminder is sent once, by one of them."""
    db = Database(file_database_url)
    upgrade(db.engine)
    engine = Deliberation(db, ManualClock(START), Defaults(consent_hours=2, quorum_min=1))
    alice = actor("alice", admin=True)
    engine.register(actor("bob"))
    rounds, meetings = set(), set()
    for index in range(30):
        opened = engine.handle(alice, c.Propose(f"Clause {index}"))[0]
        engine.handle(alice, c.Next(opened.proposal))  # type: ignore[attr-defined]
        rounds.add(opened.proposal)  # type: ignore[attr-defined]
        (announced,) = engine.handle(alice, c.AnnounceMeeting(f"in 2h Talk {index}"))
        meetings.add(announced.meeting)  # type: ignore[attr-defined]
    db.dispose()

    per_process = race(file_database_url, at=START + timedelta(hours=1, minutes=5))
    sent = Counter((kind, subject) for summary in per_process for kind, subject, _ in summary)
    assert sent == Counter(
        [("ConsentReminder", n) for n in rounds] + [("MeetingReminder", m) for m in meetings]
    )
