"""Due deadlines carried out exactly once by two real OS processes on one database.

``test_store_contract.py`` races threads of one process; here two processes started with
``spawn`` (their own interpreter, engine and connection pool, as two bot instances would
be) wait at a barrier and then call ``run_due_timers`` at the same moment, on an SQLite
file (WAL, ``BEGIN IMMEDIATE``) and on PostgreSQL (``FOR UPDATE SKIP LOCKED``).

60 proposals have a deadline that fell due: 30 amendment phases (each close opens a
consent round) and 30 consent rounds (15 adopted, which appends to the charter's hash
chain, and 15 objected, which sets an expiry timer); the 30 proposals moved to consent by
``/next`` also have an amendment timer due that must do nothing. Every close must be
announced once, by one of the two processes, and the store must show each phase moved
once. tests/reliability/test_timer_race.py runs the same race on 1,000 deadlines with
these helpers, and tests/reliability/test_database_restart.py cuts a sweep's connection.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event as orm_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session, SessionTransaction

from deliberation import commands as c
from deliberation import queries
from deliberation.errors import DomainError
from deliberation.model import ChainEntry, Clause, Proposal, Round, Timer
from deliberation.services import Deliberation
from deliberation.settings import Defaults
from deliberation.store.db import Database, is_transient
from deliberation.store.migrate import upgrade
from deliberation.timers import ManualClock

START = datetime(2026, 11, 24, 12, tzinfo=UTC)
LATER = START + timedelta(hours=2)  # past every deadline set up below (START + 1 h)
GROUP = "console:main"
PROPOSALS = 60
WORKERS = 2
DEFAULTS = Defaults(amendment_hours=1, consent_hours=1, quorum_min=1)
WAIT = 120  # seconds: a process that takes longer than this is stuck, not slow
SETUP_BATCH = 100  # commands per transaction while setting up
SWEEP_ATTEMPTS = 20  # sweeps a worker tries while the store refuses (a loaded machine)

Event = tuple[str, int, str]  # what a worker carried out: (event type, subject, verdict)


def actor(name: str, admin: bool = False) -> c.Actor:
    return c.Actor(group=GROUP, person=f"console:{name}", name=name, platform_admin=admin)


def summarise(events: list[Any]) -> list[Event]:
    """Events as plain tuples, which a worker process can hand back through a queue."""
    return [
        (
            type(ev).__name__,
            getattr(ev, "proposal", None) or getattr(ev, "meeting", None),
            str(getattr(ev, "verdict", "")),
        )
        for ev in events
    ]


class Announcements:
    """What a process's committed sweeps announced, as the bot's router records it: the
    ``before_commit`` hook of ``run_due_timers`` sees each deadline's events inside its
    transaction, and they count only once that transaction commits."""

    def __init__(self) -> None:
        self.committed: list[Any] = []
        self._pending: list[Any] = []
        self._session: Session | None = None

    def __call__(self, session: Session, fired: list[Any]) -> None:
        if session is not self._session:  # a unit of work is one session, one transaction
            self._session, self._pending = session, []
            orm_event.listen(session, "after_commit", self._commit)
            orm_event.listen(session, "after_transaction_end", self._end)
        self._pending.extend(fired)

    def _commit(self, _session: Session) -> None:
        self.committed.extend(self._pending)
        self._pending = []

    def _end(self, _session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:  # committed (and counted) or rolled back
            self._pending = []


def sweep(engine: Deliberation, announce: Callable[[Session, list[Any]], None]) -> None:
    """Carry out what is due as the bot's deadline loop does: a failure of the store itself
    (a lock not granted in time, a lost connection) is tried again; anything else fails."""
    for _attempt in range(SWEEP_ATTEMPTS):
        try:
            engine.run_due_timers(announce)
            return
        except Exception as exc:
            if not is_transient(exc):
                raise
            time.sleep(0.1)
    raise AssertionError(f"the store kept failing for {SWEEP_ATTEMPTS} sweeps")


def worker(url: str, barrier: Any, results: Any, at: datetime = LATER) -> None:
    """One bot instance: its own engine on the shared database, its clock at ``at``."""
    try:
        db = Database(url)
        engine = Deliberation(db, ManualClock(at), DEFAULTS)
        with db.unit_of_work(write=False) as uow:  # connect before the start, not after
            uow.session.scalar(select(func.count()).select_from(Timer))
        announce = Announcements()
        barrier.wait(timeout=WAIT)
        started = time.perf_counter()
        sweep(engine, announce)
        seconds = time.perf_counter() - started
        db.dispose()
        results.put(("ok", summarise(announce.committed), seconds))
    except BaseException:  # noqa: BLE001 - reported to the parent, which fails the test
        results.put(("error", traceback.format_exc(), 0.0))


@dataclass(frozen=True)
class DueWork:
    """What ``set_up`` left due at ``LATER``: proposals by what their close must do, and
    meetings whose reminder must be sent."""

    amending: set[int]
    adopting: set[int]
    objecting: set[int]
    meetings: set[int]

    @property
    def timers(self) -> int:
        """Due timers: one per proposal in amendment; two per proposal moved to consent by
        ``/next`` (its amendment close, now without effect, and its consent close); one
        reminder per meeting."""
        return len(self.amending) + 2 * len(self.adopting | self.objecting) + len(self.meetings)


def _handled(engine: Deliberation, requests: list[tuple[c.Actor, c.Command]]) -> list[Any]:
    """Carry out commands in transactions of ``SETUP_BATCH`` (setting up 1,000 deadlines one
    command per transaction would take most of a test's time); the events, none refused."""
    events: list[Any] = []
    for start in range(0, len(requests), SETUP_BATCH):
        for outcome in engine.handle_many(requests[start : start + SETUP_BATCH]):
            assert not isinstance(outcome, DomainError), outcome
            events.extend(outcome)
    return events


def set_up(url: str, proposals: int = PROPOSALS, meetings: int = 0) -> DueWork:
    """Proposals in amendment, in consent to be adopted, in consent to be objected, and
    meetings in 3 h (their 1-hour reminder due at ``LATER``)."""
    db = Database(url)
    upgrade(db.engine)
    engine = Deliberation(db, ManualClock(START), DEFAULTS)
    alice, bob = actor("alice", admin=True), actor("bob")
    engine.register(bob)
    opened = _handled(engine, [(alice, c.Propose(f"Clause {i}")) for i in range(proposals)])
    numbers = [event.proposal for event in opened]
    amending = set(numbers[0::2])
    adopting = {n for i, n in enumerate(numbers) if i % 4 == 1}
    objecting = {n for i, n in enumerate(numbers) if i % 4 == 3}
    consenting = sorted(adopting | objecting)
    # Consent rounds open, closing at START + 1 h; alice consents, bob objects to some.
    _handled(engine, [(alice, c.Next(n)) for n in consenting])
    _handled(engine, [(alice, c.StatePosition(n, c.Stance.CONSENT)) for n in consenting])
    _handled(
        engine,
        [(bob, c.StatePosition(n, c.Stance.OBJECT, "not yet")) for n in sorted(objecting)],
    )
    announced = _handled(
        engine, [(alice, c.AnnounceMeeting(f"in 3h Talk {i}")) for i in range(meetings)]
    )
    assert engine.next_due() == START + timedelta(hours=1)
    db.dispose()
    return DueWork(amending, adopting, objecting, {event.meeting for event in announced})


def race(url: str, at: datetime = LATER) -> tuple[list[list[Event]], float]:
    """Start the workers, release them together, and collect what each carried out; the
    seconds from the release until the slower one was done."""
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
    errors = [detail for status, detail, _ in outcomes if status != "ok"]
    assert errors == [], "\n".join(errors)
    assert all(process.exitcode == 0 for process in processes)
    return [summary for _, summary, _ in outcomes], max(seconds for _, _, seconds in outcomes)


def check_each_once(url: str, work: DueWork, per_process: list[list[Event]]) -> Counter[str]:
    """Assert that every due deadline was carried out once, by one process or the other:
    each close and reminder announced once and nothing else, each phase moved once, one
    chain entry per adoption; the timers done, by kind."""
    # The announcements.
    events = [event for summary in per_process for event in summary]
    announced = Counter((kind, number) for kind, number, _ in events)
    assert all(count == 1 for count in announced.values()), announced.most_common(3)
    assert {number for kind, number in announced if kind == "ConsentOpened"} == work.amending
    assert {number for kind, number in announced if kind == "MeetingReminder"} == work.meetings
    verdicts = {number: verdict for kind, number, verdict in events if kind == "Decided"}
    assert verdicts == {n: "adopted" for n in work.adopting} | {
        n: "objected" for n in work.objecting
    }
    consenting = work.adopting | work.objecting
    assert len(events) == len(work.amending) + len(consenting) + len(work.meetings)

    # The store: each phase moved once.
    db = Database(url)
    try:
        with db.unit_of_work(write=False) as uow:
            s = uow.session
            timers = s.scalars(select(Timer).order_by(Timer.id)).all()
            due = [t for t in timers if t.due_at <= LATER]
            # Every proposal's amendment close, and the consent closes; the amendment close
            # of a proposal moved on by /next is done without effect.
            done = Counter(t.kind for t in due)
            assert done == {
                "close_amendment": len(work.amending) + len(consenting),
                "close_consent": len(consenting),
            } | ({"remind_meeting": len(work.meetings)} if work.meetings else {})
            assert all(t.done_at == LATER and t.claimed_by is None for t in due)  # none failed
            later = Counter((t.kind, t.proposal_id) for t in timers if t.due_at > LATER)
            assert later == Counter(
                [("close_consent", n) for n in work.amending]
                + [("expire", n) for n in work.objecting]
                # each adopted clause's review a year on, and the reminders before it
                + [("review", None)] * len(work.adopting)
                + [("remind_renewal", None)] * 3 * len(work.adopting)
            )
            proposals = {p.id: p for p in s.scalars(select(Proposal))}
            rounds = Counter(
                (r.proposal_id, r.phase, r.closed_at is not None) for r in s.scalars(select(Round))
            )
            for number in work.amending:
                assert proposals[number].phase == "consent"
                assert proposals[number].version == 2  # moved once: one update
                assert proposals[number].phase_closes_at == LATER + timedelta(hours=1)
                assert rounds[(number, "amendment", True)] == 1
                assert rounds[(number, "consent", False)] == 1
                assert rounds[(number, "consent", True)] == 0
            for number in consenting:
                phase = "adopted" if number in work.adopting else "objected"
                assert proposals[number].phase == phase
                assert rounds[(number, "consent", True)] == 1
                assert rounds[(number, "consent", False)] == 0
            # One clause and one chain entry per adoption, the chain unbroken.
            assert s.scalar(select(func.count()).select_from(Clause)) == len(work.adopting)
            entries = s.scalars(select(ChainEntry).order_by(ChainEntry.seq)).all()
            assert [entry.seq for entry in entries] == list(range(1, len(work.adopting) + 1))
            assert queries.verify(s).problem is None
    finally:
        db.dispose()

    # Nothing is left to do: a third sweep finds nothing due.
    db = Database(url)
    try:
        assert Deliberation(db, ManualClock(LATER), DEFAULTS).run_due_timers() == []
    finally:
        db.dispose()
    return done


def test_two_processes_carry_out_each_deadline_once(file_database_url: str) -> None:
    work = set_up(file_database_url)
    per_process, _seconds = race(file_database_url)
    check_each_once(file_database_url, work, per_process)


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

    per_process, _seconds = race(file_database_url, at=START + timedelta(hours=1, minutes=5))
    sent = Counter((kind, subject) for summary in per_process for kind, subject, _ in summary)
    assert sent == Counter(
        [("ConsentReminder", n) for n in rounds] + [("MeetingReminder", m) for m in meetings]
    )
