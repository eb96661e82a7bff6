"""Service tests: the engine on an in-memory store with a manual clock (nothing sleeps).

``chat`` drives one group: ``chat.do("bob", Amend(...))`` runs a command as bob and returns
the events; ``chat.refused("bob", cmd, "code")`` checks that a request is refused with that
code *and* that the store is exactly as it was. alice is the group's platform admin (a
mediator); everyone else is a plain member unless said otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, text

from deliberation import charter as chain
from deliberation import commands as c
from deliberation import events as e
from deliberation.errors import DomainError
from deliberation.model import Base, ChainEntry
from deliberation.services import Deliberation
from deliberation.settings import Defaults
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from deliberation.timers import ManualClock

START = datetime(2026, 11, 24, 12, tzinfo=UTC)
GROUP = "console:main"
OTHER = "console:other"
ADMINS = frozenset({"alice", "erin"})  # platform admins: alice in main, erin in other

EventT = TypeVar("EventT", bound=e.Event)


@pytest.fixture
def db() -> Iterator[Database]:
    database = Database("sqlite+pysqlite:///:memory:")
    upgrade(database.engine)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def defaults() -> Defaults:
    """Override in a test module (or parametrize indirectly) for other group defaults."""
    return Defaults()


@pytest.fixture
def engine(db: Database, clock: ManualClock, defaults: Defaults) -> Deliberation:
    return Deliberation(db, clock, defaults)


def make_actor(name: str, group: str = GROUP, *, admin: bool | None = None, **kw: Any) -> c.Actor:
    """An actor in ``group``: person ``console:<name>``, admin when ``name`` is in ADMINS."""
    return c.Actor(
        group=group,
        person=f"console:{name}",
        name=name,
        platform_admin=name in ADMINS if admin is None else admin,
        **kw,
    )


@pytest.fixture
def actor() -> Callable[..., c.Actor]:
    return make_actor


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (and the AUTOINCREMENT counters), in a stable order."""
    with db.unit_of_work(write=False) as uow:
        tables = {
            table.name: sorted((tuple(row) for row in uow.session.execute(select(table))), key=repr)
            for table in Base.metadata.sorted_tables
        }
        tables["sqlite_sequence"] = sorted(
            tuple(row) for row in uow.session.execute(text("SELECT name, seq FROM sqlite_sequence"))
        )
    return tables


def chain_rows(db: Database) -> list[chain.StoredEntry]:
    import json

    with db.unit_of_work(write=False) as uow:
        rows = uow.session.scalars(select(ChainEntry).order_by(ChainEntry.seq)).all()
        return [chain.StoredEntry(r.seq, r.prev_hash, r.hash, json.loads(r.payload)) for r in rows]


@dataclass
class Chat:
    """One group's conversation with the engine."""

    engine: Deliberation
    db: Database
    clock: ManualClock
    group: str = GROUP
    log: list[e.Event] = field(default_factory=list)

    def actor(self, name: str, **kw: Any) -> c.Actor:
        return make_actor(name, kw.pop("group", self.group), **kw)

    def do(self, name: str, command: c.Command, **kw: Any) -> list[e.Event]:
        events = self.engine.handle(self.actor(name, **kw), command)
        self.log.extend(events)
        return events

    def one(self, name: str, command: c.Command, kind: type[EventT], **kw: Any) -> EventT:
        """Run a command that answers with exactly one event, of type ``kind``."""
        events = self.do(name, command, **kw)
        assert len(events) == 1, events
        assert isinstance(events[0], kind), events
        return events[0]

    def refused(self, name: str, command: c.Command, code: str, **kw: Any) -> DomainError:
        """The request is refused with ``code`` and the store is left exactly as it was."""
        before = dump(self.db)
        with pytest.raises(DomainError) as caught:
            self.engine.handle(self.actor(name, **kw), command)
        assert caught.value.code == code, caught.value
        assert dump(self.db) == before, f"refused {command!r} changed the store"
        return caught.value

    def advance(self, **delta: float) -> list[e.Event]:
        """Move the clock on and carry out whatever fell due."""
        self.clock.advance(timedelta(**delta))
        events = self.engine.run_due_timers()
        self.log.extend(events)
        return events

    # -- shortcuts ---------------------------------------------------------------------

    def propose(self, name: str, text: str, **kw: Any) -> int:
        opened = self.do(name, c.Propose(text), **kw)[0]
        assert isinstance(opened, e.ProposalOpened)
        return opened.proposal

    def amend(self, name: str, proposal: int, **kw: Any) -> int:
        return self.one(name, c.Amend(proposal, **kw), e.AmendmentProposed).amendment

    def support(self, amendment: int, *names: str, support: bool = True) -> None:
        for name in names:
            self.one(name, c.VoteAmendment(amendment, support), e.AmendmentVoted)

    def next(self, proposal: int, by: str = "alice") -> e.Event:
        events = self.do(by, c.Next(proposal))
        assert len(events) == 1, events
        return events[0]

    def state(self, proposal: int, **stances: str) -> None:
        """``chat.state(1, bob="consent", carol="object:too early")``."""
        for name, spec in stances.items():
            stance, _, reason = spec.partition(":")
            self.one(
                name,
                c.StatePosition(proposal, c.Stance(stance), reason or None),
                e.PositionStated,
            )

    def consent_open(self, name: str, text: str) -> int:
        """A proposal moved on to its consent round at once by a mediator."""
        number = self.propose(name, text)
        assert isinstance(self.next(number), e.ConsentOpened)
        return number

    def adopt(self, text: str, author: str = "alice", voters: tuple[str, ...] = ()) -> e.Decided:
        """A proposal taken through both phases and adopted; returns its Decided event."""
        number = self.consent_open(author, text)
        self.state(number, **dict.fromkeys(voters or ("alice", "bob"), "consent"))
        decided = self.next(number)
        assert isinstance(decided, e.Decided) and decided.verdict == "adopted", decided
        return decided

    def get(self, model: type, key: Any) -> Any:
        with self.db.unit_of_work(write=False) as uow:
            return uow.session.get(model, key)

    def rows(self, model: type, *where: Any, order_by: Any = None) -> list[Any]:
        with self.db.unit_of_work(write=False) as uow:
            query = select(model).where(*where)
            if order_by is not None:
                query = query.order_by(order_by)
            return list(uow.session.scalars(query).all())


@pytest.fixture
def chat(engine: Deliberation, db: Database, clock: ManualClock) -> Chat:
    return Chat(engine, db, clock)


@pytest.fixture
def other(engine: Deliberation, db: Database, clock: ManualClock) -> Chat:
    """A second group on the same store (erin is its admin)."""
    return Chat(engine, db, clock, group=OTHER)
