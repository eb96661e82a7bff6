"""One contract for every store: in-memory SQLite, an SQLite file and PostgreSQL.

Each test runs three times through the ``database_url`` fixture (tests/conftest.py); the
PostgreSQL leg runs on a real server the tests start on loopback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session

from deliberation import charter as chain
from deliberation import commands as c
from deliberation import events as e
from deliberation import public, queries
from deliberation.errors import DomainError
from deliberation.model import (
    ChainEntry,
    Clause,
    ClauseVersion,
    Group,
    Member,
    OutboxItem,
    Person,
    Position,
    PositionChange,
    Proposal,
    Round,
    Timer,
)
from deliberation.services import STALE_RETRIES, Deliberation
from deliberation.settings import Defaults
from deliberation.store.db import Database, is_memory
from deliberation.store.migrate import is_current, upgrade
from deliberation.timers import ManualClock

START = datetime(2026, 11, 24, 12, tzinfo=UTC)
GROUP = "console:main"


def actor(name: str, admin: bool = False, group: str = GROUP) -> c.Actor:
    return c.Actor(group=group, person=f"console:{name}", name=name, platform_admin=admin)


@pytest.fixture
def db(database_url: str):
    database = Database(database_url)
    upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def engine(db: Database, clock: ManualClock) -> Deliberation:
    return Deliberation(db, clock, Defaults(amendment_hours=0, quorum_min=1))


def adopt(engine: Deliberation, text: str = "We share the boat") -> int:
    """Propose and adopt a clause; returns its proposal number."""
    (opened, _consent) = engine.handle(actor("alice", True), c.Propose(text))
    number = opened.proposal
    engine.handle(actor("bob"), c.StatePosition(number, c.Stance.CONSENT))
    engine.handle(actor("alice", True), c.Next(number))
    return number


def test_migrations_create_every_table_and_are_current(db: Database) -> None:
    names = set(inspect(db.engine).get_table_names())
    assert {"proposals", "positions", "charter_entries", "timers", "inbox", "outbox"} <= names
    assert is_current(db.engine)
    upgrade(db.engine)  # a second upgrade is a no-op
    assert is_current(db.engine)


def test_the_migrations_build_exactly_the_models(db: Database) -> None:
    """A column added to a model without a migration (or the other way round) would work
    in tests that create tables from the models and fail on a real upgrade."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from deliberation.model import Base

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_sqlite_pragmas(db: Database, database_url: str) -> None:
    if db.dialect != "sqlite":
        pytest.skip("SQLite pragmas only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        assert mode == ("memory" if is_memory(database_url) else "wal")


def test_one_position_per_person_per_round_with_history(engine: Deliberation, db: Database) -> None:
    (opened, _) = engine.handle(actor("alice", True), c.Propose("Text"))
    for stance in (c.Stance.CONSENT, c.Stance.CONCERN, c.Stance.ABSTAIN):
        engine.handle(actor("bob"), c.StatePosition(opened.proposal, stance, "why"))
    with db.unit_of_work(write=False) as uow:
        positions = uow.session.scalars(select(Position)).all()
        history = uow.session.scalars(select(PositionChange).order_by(PositionChange.id)).all()
    assert [(p.person_id, p.stance) for p in positions] == [("console:bob", "abstain")]
    assert [h.stance for h in history] == ["consent", "concern", "abstain"]


def test_a_first_vote_brings_its_person_membership_and_counts(
    engine: Deliberation, db: Database
) -> None:
    """A person whose first word is a vote becomes a member seen, under the name and with
    the member count the platform gave; a refused vote writes none of it."""
    (opened, _) = engine.handle(actor("alice", True), c.Propose("Text"))
    number = opened.proposal
    newcomer = dataclasses.replace(actor("nia"), member_count=12)
    engine.handle(newcomer, c.StatePosition(number, c.Stance.CONSENT))
    renamed = dataclasses.replace(newcomer, name="Nia R.", member_count=13)
    engine.handle(renamed, c.StatePosition(number, c.Stance.CONCERN))
    elsewhere = dataclasses.replace(actor("zed", group="console:other"), member_count=99)
    with pytest.raises(DomainError):
        engine.handle(elsewhere, c.StatePosition(number, c.Stance.CONSENT))
    with db.unit_of_work(write=False) as uow:
        person = uow.session.get(Person, "console:nia")
        group = uow.session.get(Group, GROUP)
        members = uow.session.scalars(select(Member.person_id).order_by(Member.person_id))
        assert person is not None and person.name == "Nia R."
        assert group is not None and (group.member_count, group.members_seen) == (13, 2)
        assert members.all() == ["console:alice", "console:nia"]
        assert uow.session.get(Person, "console:zed") is None


def test_numbers_are_never_reused(engine: Deliberation, db: Database) -> None:
    first = adopt(engine)
    engine.handle(actor("alice", True), c.Propose("Withdrawn soon"))
    engine.handle(actor("alice", True), c.Withdraw(first + 1))
    third = adopt(engine, "Another")
    assert third == first + 2
    with db.unit_of_work(write=False) as uow:
        assert uow.session.scalars(select(Clause.id).order_by(Clause.id)).all() == [1, 2]


def test_datetimes_come_back_aware_utc(engine: Deliberation, db: Database) -> None:
    adopt(engine)
    with db.unit_of_work(write=False) as uow:
        clause = uow.session.scalars(select(Clause)).one()
    assert clause.adopted_at == START
    assert clause.adopted_at.tzinfo is not None


def test_verify_passes_then_names_an_altered_row(engine: Deliberation, db: Database) -> None:
    adopt(engine, "First")
    adopt(engine, "Second")
    adopt(engine, "Third")
    with db.unit_of_work(write=False) as uow:
        assert queries.verify(uow.session).problem is None
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE charter_entries SET payload = replace(payload, 'Second', 'Altered') WHERE seq = 2"
            )
        )
    with db.unit_of_work(write=False) as uow:
        problem = queries.verify(uow.session).problem
    assert problem is not None and problem.seq == 2


def test_verify_catches_an_altered_clause_version(engine: Deliberation, db: Database) -> None:
    adopt(engine, "First")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE clause_versions SET text = 'Forged' WHERE clause_id = 1"))
    with db.unit_of_work(write=False) as uow:
        problem = queries.verify(uow.session).problem
    assert problem == chain.Problem(
        1, "differs", "clause_versions", "clause_id=1 version=1", ("text",)
    )


def test_concurrent_positions_are_all_kept(
    engine: Deliberation, db: Database, database_url: str
) -> None:
    """Many writers at once lose nothing (BEGIN IMMEDIATE on SQLite, row locks on PostgreSQL)."""
    if is_memory(database_url):
        pytest.skip("one shared connection: no concurrency to test")
    (opened, _) = engine.handle(actor("alice", True), c.Propose("Text"))
    errors: list[BaseException] = []

    def vote(index: int) -> None:
        try:
            engine.handle(actor(f"p{index}"), c.StatePosition(opened.proposal, c.Stance.CONSENT))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with db.unit_of_work(write=False) as uow:
        assert uow.session.scalar(select(text("count(*)")).select_from(Position)) == 16


def test_due_timers_run_exactly_once_across_workers(
    db: Database, clock: ManualClock, database_url: str
) -> None:
    if is_memory(database_url):
        pytest.skip("one shared connection: no concurrency to test")
    engine = Deliberation(db, clock, Defaults(amendment_hours=1, quorum_min=1))
    for index in range(12):
        engine.handle(actor("alice", True), c.Propose(f"Text {index}"))
    clock.advance(timedelta(hours=2))
    results: list[int] = []

    def worker() -> None:
        results.append(len(engine.run_due_timers()))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 12  # every amendment phase closed once
    with db.unit_of_work(write=False) as uow:
        timers = uow.session.scalars(select(Timer).where(Timer.kind == "close_amendment")).all()
        assert all(t.done_at is not None for t in timers)


def test_export_shape(engine: Deliberation, db: Database) -> None:
    adopt(engine, "We share the boat")
    with db.unit_of_work(write=False) as uow:
        data = public.export_json(uow.session)
        entries = uow.session.scalars(select(ChainEntry)).all()
        versions = uow.session.scalars(select(ClauseVersion)).all()
    (charter,) = data["charters"]
    (clause,) = charter["clauses"]
    assert charter["parties"] == [GROUP]
    assert clause["number"] == 1 and clause["status"] == "active" and clause["version"] == 1
    assert clause["adopted_at"] == "2026-11-24T12:00:00Z"
    assert clause["next_review"] == "2027-11-24"
    assert clause["versions"][0]["tally"] == {"consent": 1, "concern": 0, "object": 0, "abstain": 0}
    assert clause["versions"][0]["hash"] == entries[0].hash == data["chain_head"]
    assert versions[0].entry_seq == entries[0].seq


def test_running_counts_match_the_positions(engine: Deliberation, db: Database) -> None:
    """The live tally kept on the round always equals a count of the positions table."""
    (opened, _) = engine.handle(actor("alice", True), c.Propose("Text"))
    number = opened.proposal
    script = [
        ("bob", c.Stance.CONSENT),
        ("carol", c.Stance.OBJECT),
        ("bob", c.Stance.CONCERN),
        ("dave", c.Stance.ABSTAIN),
        ("bob", c.Stance.CONCERN),
        ("erin", c.Stance.OBJECT),
        ("dave", c.Stance.CONSENT),
    ]
    for name, stance in script:
        engine.handle(actor(name), c.StatePosition(number, stance, "why"))
    engine.handle(actor("alice", True), c.Next(number))  # objected
    engine.handle(actor("carol"), c.Withdraw(number))  # carol stands aside
    with db.unit_of_work(write=False) as uow:
        view = queries.proposal(uow.session, GROUP, number, None)
        counted = dict(
            uow.session.execute(
                select(Position.stance, text("count(*)")).group_by(Position.stance)
            ).all()
        )
    assert view.tally is not None
    assert view.tally.as_dict() == {s.value: counted.get(s.value, 0) for s in c.Stance}
    assert view.tally.as_dict() == {"consent": 1, "concern": 1, "object": 1, "abstain": 1}


def test_retracting_keeps_the_running_counts_equal_to_the_positions(
    engine: Deliberation, db: Database
) -> None:
    """A retracted position leaves the positions table and the round's running counts."""
    (opened, _) = engine.handle(actor("alice", True), c.Propose("Text"))
    number = opened.proposal
    script = [
        ("bob", c.Stance.CONSENT),
        ("carol", c.Stance.OBJECT),
        ("bob", None),
        ("dave", c.Stance.ABSTAIN),
        ("bob", c.Stance.CONCERN),
        ("carol", None),
        ("erin", c.Stance.OBJECT),
        ("dave", None),
    ]
    for name, stance in script:
        if stance is None:
            engine.handle(actor(name), c.RetractPosition(number))
        else:
            engine.handle(actor(name), c.StatePosition(number, stance, "why"))
    with pytest.raises(DomainError) as refusal:
        engine.handle(actor("carol"), c.RetractPosition(number))
    assert refusal.value.code == "no_position"
    with db.unit_of_work(write=False) as uow:
        view = queries.proposal(uow.session, GROUP, number, None)
        counted = dict(
            uow.session.execute(
                select(Position.stance, text("count(*)")).group_by(Position.stance)
            ).all()
        )
        history = uow.session.scalars(select(PositionChange.stance).order_by(PositionChange.id))
        assert history.all().count("retract") == 3
    assert view.tally is not None
    assert view.tally.as_dict() == {s.value: counted.get(s.value, 0) for s in c.Stance}
    assert view.tally.as_dict() == {"consent": 0, "concern": 1, "object": 1, "abstain": 0}
    engine.handle(actor("alice", True), c.Next(number))  # closed: nothing left to retract
    with pytest.raises(DomainError) as refusal:
        engine.handle(actor("bob"), c.RetractPosition(number))
    assert refusal.value.code == "wrong_phase"


def test_a_failing_deadline_is_set_aside_and_the_others_still_run(
    db: Database, clock: ManualClock
) -> None:
    engine = Deliberation(db, clock, Defaults(amendment_hours=1, quorum_min=1))
    for index in range(3):
        engine.handle(actor("alice", True), c.Propose(f"Text {index}"))
    clock.advance(timedelta(hours=2))

    def broken_for_the_first(_session, events) -> None:  # noqa: ANN001 - the before_commit hook
        if any(getattr(ev, "proposal", None) == 1 for ev in events):
            raise RuntimeError("delivery table unavailable")

    events = engine.run_due_timers(broken_for_the_first)
    assert [ev.proposal for ev in events] == [2, 3]  # the first was set aside, the others ran
    with db.unit_of_work(write=False) as uow:
        failed = uow.session.scalars(select(Timer).where(Timer.claimed_by == "failed")).all()
    assert len(failed) == 1
    assert engine.run_due_timers() == []  # nothing left blocking


def test_a_deadline_whose_write_fails_is_set_aside_too(db: Database, clock: ManualClock) -> None:
    """A failure inside a flush (here a row in the way of the consent round the close would
    open) expires the session's objects: the sweep must still set the deadline aside."""
    engine = Deliberation(db, clock, Defaults(amendment_hours=1, quorum_min=1))
    first = engine.handle(actor("alice", True), c.Propose("one"))[0].proposal
    clock.advance(timedelta(minutes=1))
    second = engine.handle(actor("alice", True), c.Propose("two"))[0].proposal
    with db.unit_of_work() as uow:
        uow.session.add(Round(proposal_id=first, number=1, phase="consent", opened_at=clock.now()))
        uow.commit()
    clock.advance(timedelta(hours=2))
    events = engine.run_due_timers()
    assert [ev.proposal for ev in events if isinstance(ev, e.ConsentOpened)] == [second]
    with db.unit_of_work(write=False) as uow:
        failed = uow.session.scalars(select(Timer.proposal_id).where(Timer.claimed_by == "failed"))
        assert failed.all() == [first]
    assert engine.run_due_timers() == []


def record_announcements(session: Session, events: list[e.Event]) -> None:
    """A ``before_commit`` hook like the router's: an outbox row per event, written in the
    sweep's transaction (so it must stand or go with the work it reports)."""
    for ev in events:
        proposal = getattr(ev, "proposal", None)
        session.add(
            OutboxItem(
                platform="console",
                chat=ev.group,
                text=type(ev).__name__,
                proposal_id=proposal,
                created_at=START,
            )
        )


@contextlib.contextmanager
def another_writer(db: Database, number: int, times: int) -> Iterator[list[str]]:
    """Another writer changes proposal ``number`` just as the sweep is about to write it
    (the session's ``before_flush`` with the proposal among the changes), the first
    ``times`` times. On PostgreSQL it commits through a connection of its own, as a command
    in another process would, so the sweep's versioned ``UPDATE`` finds a newer row. On
    SQLite the sweep's ``BEGIN IMMEDIATE`` shuts every other connection out, so it writes
    through the sweep's own connection: the sweep still meets a newer row, and the change
    goes when the sweep's transaction rolls back."""
    changes: list[str] = []
    change = text("UPDATE proposals SET text = :text, version = version + 1 WHERE id = :id")

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        if len(changes) >= times:
            return
        if not any(isinstance(obj, Proposal) and obj.id == number for obj in session.dirty):
            return
        changes.append(f"Changed meanwhile {len(changes) + 1}")
        params = {"text": changes[-1], "id": number}
        if db.dialect == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(change, params)
        else:
            session.connection().execute(change, params)

    event.listen(Session, "before_flush", before_flush)
    try:
        yield changes
    finally:
        event.remove(Session, "before_flush", before_flush)


def three_due_deadlines(db: Database, clock: ManualClock) -> tuple[Deliberation, list[int]]:
    """Three proposals whose amendment phases (one hour) closed a minute apart, all due."""
    engine = Deliberation(db, clock, Defaults(amendment_hours=1, quorum_min=1))
    numbers = []
    for index in range(3):
        (opened,) = engine.handle(actor("alice", True), c.Propose(f"Text {index}"))
        numbers.append(opened.proposal)  # type: ignore[attr-defined]
        clock.advance(timedelta(minutes=1))
    clock.advance(timedelta(hours=2))
    return engine, numbers


def test_a_deadline_meeting_a_concurrent_change_is_carried_out_once_on_the_fresh_row(
    db: Database, clock: ManualClock
) -> None:
    engine, numbers = three_due_deadlines(db, clock)
    first, middle, last = numbers
    with another_writer(db, middle, times=1) as changes:
        events = engine.run_due_timers(record_announcements)
    assert changes == ["Changed meanwhile 1"]  # the sweep met a newer row of the middle one

    opened = [ev for ev in events if isinstance(ev, e.ConsentOpened)]
    assert [ev.proposal for ev in opened] == numbers and len(events) == 3  # once each, in order
    committed = db.dialect == "postgresql"  # the other writer's change stood
    assert opened[1].text == ("Changed meanwhile 1" if committed else "Text 1")
    with db.unit_of_work(write=False) as uow:
        s = uow.session
        proposals = {p.id: p for p in s.scalars(select(Proposal))}
        assert {p.phase for p in proposals.values()} == {"consent"}
        assert proposals[middle].text == opened[1].text  # carried out on the row as stored
        # One write by the sweep each, on top of the other writer's.
        assert [proposals[n].version for n in numbers] == [2, 3 if committed else 2, 2]
        closes = s.scalars(select(Timer).where(Timer.kind == "close_amendment")).all()
        assert [(t.proposal_id, t.claimed_by) for t in closes] == [(n, None) for n in numbers]
        assert all(t.done_at == clock.now() for t in closes)
        consent = s.scalars(select(Round.proposal_id).where(Round.phase == "consent"))
        assert sorted(consent.all()) == numbers
        # What the hook wrote went with the try that was rolled back, and came again once.
        announced = s.scalars(select(OutboxItem.proposal_id).order_by(OutboxItem.id))
        assert announced.all() == [first, middle, last]
    assert engine.run_due_timers() == []


def test_a_deadline_that_keeps_meeting_changes_is_set_aside(
    db: Database, clock: ManualClock
) -> None:
    engine, numbers = three_due_deadlines(db, clock)
    first, middle, last = numbers
    with another_writer(db, middle, times=STALE_RETRIES + 3) as changes:
        events = engine.run_due_timers(record_announcements)
    # Met once in the batch's one write, then one per transaction: tried, tried again
    # STALE_RETRIES times, no more.
    assert len(changes) == 1 + STALE_RETRIES + 1

    assert [ev.proposal for ev in events if isinstance(ev, e.ConsentOpened)] == [first, last]
    with db.unit_of_work(write=False) as uow:
        s = uow.session
        closes = s.scalars(select(Timer).where(Timer.kind == "close_amendment")).all()
        assert [(t.proposal_id, t.claimed_by) for t in closes] == [
            (first, None),
            (middle, "failed"),
            (last, None),
        ]
        set_aside = s.get(Proposal, middle)
        assert set_aside is not None and set_aside.phase == "amendment"
        announced = s.scalars(select(OutboxItem.proposal_id).order_by(OutboxItem.id))
        assert announced.all() == [first, last]
    assert engine.run_due_timers() == []


def test_a_failing_deadline_in_a_due_batch_is_set_aside_and_the_others_stand(
    db: Database, clock: ManualClock
) -> None:
    """Three deadlines fall due together. The middle one's close cannot be written (a round
    is in the way of the consent round it would open): it is set aside, its proposal left as
    it was, and the deadlines before and after it are carried out, each once, with what the
    ``before_commit`` hook wrote for them."""
    engine, numbers = three_due_deadlines(db, clock)
    first, middle, last = numbers
    with db.unit_of_work() as uow:
        uow.session.add(Round(proposal_id=middle, number=1, phase="consent", opened_at=START))
        uow.commit()

    events = engine.run_due_timers(record_announcements)

    assert [ev.proposal for ev in events if isinstance(ev, e.ConsentOpened)] == [first, last]
    assert len(events) == 2
    with db.unit_of_work(write=False) as uow:
        s = uow.session
        closes = s.scalars(select(Timer).where(Timer.kind == "close_amendment")).all()
        assert [(t.proposal_id, t.claimed_by) for t in closes] == [
            (first, None),
            (middle, "failed"),
            (last, None),
        ]
        assert all(t.done_at == clock.now() for t in closes)
        proposals = {p.id: p for p in s.scalars(select(Proposal))}
        assert [(proposals[n].phase, proposals[n].version) for n in numbers] == [
            ("consent", 2),
            ("amendment", 1),
            ("consent", 2),
        ]
        amendment_round = s.scalars(
            select(Round).where(Round.proposal_id == middle, Round.phase == "amendment")
        ).one()
        assert amendment_round.closed_at is None
        announced = s.scalars(select(OutboxItem.proposal_id).order_by(OutboxItem.id))
        assert announced.all() == [first, last]
    assert engine.run_due_timers() == []  # nothing left blocking


def test_a_batch_commits_together_and_refuses_one_by_one(
    engine: Deliberation, db: Database
) -> None:
    """Group commit: good commands of a batch stand, a refused one changes nothing."""
    (opened, _) = engine.handle(actor("alice", True), c.Propose("Text"))
    number = opened.proposal
    outcomes = engine.handle_many(
        [
            (actor("bob"), c.StatePosition(number, c.Stance.CONSENT)),
            (actor("carol"), c.StatePosition(number, c.Stance.OBJECT)),  # no reason: refused
            (actor("dave"), c.StatePosition(number + 7, c.Stance.CONSENT)),  # no such proposal
            (actor("erin"), c.Propose("Another text")),
            (actor("frank"), c.Next(number)),  # not a mediator: refused
            (actor("gina"), c.StatePosition(number, c.Stance.CONCERN, "late")),
        ]
    )
    refused = [o.code for o in outcomes if isinstance(o, DomainError)]
    assert refused == ["reason_required", "no_such_proposal", "not_mediator"]
    with db.unit_of_work(write=False) as uow:
        view = queries.proposal(uow.session, GROUP, number, None)
        assert view.phase == "consent"
        people = set(uow.session.scalars(select(Position.person_id)).all())
        assert len(queries.open_proposals(uow.session, GROUP)) == 2
    assert people == {"console:bob", "console:gina"}
    assert view.tally is not None and (view.tally.consent, view.tally.concern) == (1, 1)


def test_an_alliance_proposal_takes_votes_from_each_of_its_groups_only(
    db: Database, clock: ManualClock
) -> None:
    """The vote's one statement (PostgreSQL) or read (SQLite) finds the voter's group's
    round of an alliance proposal, and refuses a group that is not, or no longer, in it."""
    engine = Deliberation(db, clock, Defaults(amendment_hours=0, quorum_min=1))
    other, third = "console:other", "console:third"
    (created,) = engine.handle(actor("alice", True), c.CreateAlliance("Coast"))
    engine.handle(actor("erin", True, other), c.JoinAlliance(created.code))
    engine.handle(actor("tess", True, third), c.Register())
    opened = engine.handle(actor("alice", True), c.Propose("Share the boats", allied=True))
    number = opened[0].proposal
    (stated,) = engine.handle(
        actor("frank", group=other), c.StatePosition(number, c.Stance.OBJECT, "no")
    )
    assert stated.group == other and stated.tally.object == 1
    (mine,) = engine.handle(actor("bob"), c.StatePosition(number, c.Stance.CONSENT))
    assert mine.tally.object == 0 and mine.tally.consent == 1  # each group's own round
    for who, group, code in (("ulla", third, "not_in_group"),):
        with pytest.raises(DomainError) as refused:
            engine.handle(actor(who, group=group), c.StatePosition(number, c.Stance.CONSENT))
        assert refused.value.code == code
    engine.handle(actor("erin", True, other), c.LeaveAlliance())
    with pytest.raises(DomainError) as refused:
        engine.handle(actor("frank", group=other), c.StatePosition(number, c.Stance.CONSENT))
    assert refused.value.code == "not_in_group"
    with db.unit_of_work(write=False) as uow:
        left = uow.session.scalars(select(Round).where(Round.party == other)).one()
        assert left.verdict == "left" and left.closed_at is not None
