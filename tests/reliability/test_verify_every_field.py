"""Altering any single field of any charter row: ``verify`` names it (issue 9).

A store with a real history (three charters, one of them an alliance's; clauses adopted,
changed to a version 2, renewed, repealed, kept and lapsed at their review) is built by the
engine. Then every column of every row of the record's tables, found by introspecting the
models, is altered alone, inside a transaction that is rolled back: ``queries.verify``
must report a problem naming the table, the row's key and the field. Each chain entry's
payload is altered key by key, and once re-serialised with the same content.

The altered value is of the column's type, preferably one another row holds (a charter
id, a clause text, another entry's link: what a forger would pick), else a changed copy.
Foreign keys are not enforced during the alteration, as for someone editing the database.

Not altered: a charter's ``name`` (it follows the group's title) and ``created_at`` (the
chain starts with the charter's first clause), and a charter no entry names yet; the chain
does not vouch for these (``charter.check_record``). Two alterations are named as "payload
or hash": the last entry's hash, and the one key of its payload no clause row repeats (no
later link tells which of the two was altered).

And no false alarm: verify run over and over while clauses are adopted finds nothing.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Table, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from deliberation import charter as chain
from deliberation import commands as c
from deliberation import queries
from deliberation.model import ChainEntry, Charter, Clause, ClauseVersion
from deliberation.services import Deliberation
from deliberation.settings import Defaults
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from deliberation.timers import ManualClock
from tests.console.test_cli import charterbot
from tests.reliability.figures import record
from tests.service.conftest import GROUP, OTHER, START, Chat
from tests.service.test_alliances import allied, in_consent, run, vote

pytestmark = pytest.mark.reliability

RECORD = (ChainEntry, Charter, Clause, ClauseVersion)  # the rows the chain vouches for
NOT_VOUCHED = {("charters", "name"), ("charters", "created_at")}  # see the module docstring
HEX = re.compile(r"[0-9a-f]{64}")
FALLBACK: dict[type, Any] = {
    int: 1000,
    str: "forged",
    datetime: START,
    date: date(2030, 1, 1),
}


def build_history(chat: Chat, other: Chat) -> None:
    """Every kind of entry: adopt, change (with a concern), renew, repeal, an alliance's
    adoption, then at the review a clause kept (``on_expiry`` keep) and three lapsed."""
    chat.adopt("We meet on the first Monday")
    chat.adopt("Dues are five euros a month")
    chat.adopt("Minutes are kept in the wiki")
    other.adopt("Boats are shared", author="erin", voters=("erin", "frank"))
    other.do("erin", c.ChangeSetting("on_expiry", "keep"))
    chat.clock.advance(timedelta(days=40))
    change = chat.do("bob", c.Propose("We meet on the first Saturday", c.ProposalKind.CHANGE, 1))
    number = change[0].proposal
    chat.next(number)
    chat.state(number, alice="consent", bob="concern:too early for some")
    chat.next(number)
    for command in (c.Renew(2), c.Repeal(3, "We keep paper minutes")):
        number = chat.do("bob", command)[0].proposal
        chat.state(number, alice="consent", bob="consent")
        chat.next(number)
    allied(chat)
    number = in_consent(chat, "We share the harbour")
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, erin="consent", frank="concern:mind the nets")
    run(chat, "erin", c.Next(number), OTHER)
    chat.advance(days=400)  # every review has come: renewal rounds open by themselves
    chat.advance(hours=80)  # and close without a quorum


@pytest.fixture
def history(file_database_url: str) -> Iterator[Database]:
    db = Database(file_database_url)
    upgrade(db.engine)
    clock = ManualClock(START)
    engine = Deliberation(db, clock, Defaults())
    build_history(Chat(engine, db, clock), Chat(engine, db, clock, group=OTHER))
    yield db
    db.dispose()


@dataclass(frozen=True, slots=True)
class Alteration:
    table: Table
    row: dict[str, Any]
    column: Column[Any]
    value: Any
    label: str  # what was altered: "clauses text", "charter_entries payload.text"

    @property
    def key(self) -> str:
        """The row's key as a Problem names it."""
        return " ".join(f"{pk.name}={self.row[pk.name]}" for pk in self.table.primary_key)


def changed(value: Any, kind: type) -> Any:
    """``value`` changed, keeping its type (a None gets a value of the column's type)."""
    if value is None:
        return FALLBACK[kind]
    if isinstance(value, int):
        return value + 1000
    if isinstance(value, datetime):
        return value + timedelta(minutes=1)
    if isinstance(value, date):
        return value + timedelta(days=1)
    if isinstance(value, str) and HEX.fullmatch(value):
        return value[:-1] + ("1" if value.endswith("0") else "0")
    if isinstance(value, str):
        return value + " (forged)"
    if isinstance(value, list):
        return value[:-1] if value else [{"name": "mallory", "reason": "forged"}]
    assert isinstance(value, dict), value
    return {**value, "consent": value.get("consent", 0) + 1}


def other_value(value: Any, others: list[Any], kind: type) -> Any:
    """A value another row holds, else ``value`` changed."""
    return next((o for o in others if o is not None and o != value), changed(value, kind))


def python_type(column: Column[Any]) -> type:
    try:
        return column.type.python_type
    except NotImplementedError:  # JSON
        return dict


def alterations(conn: Connection) -> Iterator[Alteration]:
    """Every single-field alteration of every row the record vouches for."""
    vouched = set(conn.scalars(select(ChainEntry.charter_id)))
    for model in RECORD:
        table: Table = model.__table__  # type: ignore[assignment]
        rows = [dict(row) for row in conn.execute(select(table)).mappings()]
        if table.name == "charters":
            rows = [row for row in rows if row["id"] in vouched]
        for row in rows:
            for column in table.columns:
                if (table.name, column.name) in NOT_VOUCHED:
                    continue
                kind, value = python_type(column), row[column.name]
                others = (
                    [] if column.primary_key or column.unique else [r[column.name] for r in rows]
                )
                label = f"{table.name} {column.name}"
                if table.name == "charter_entries" and column.name == "payload":
                    yield from payload_alterations(table, row, column, rows)
                    continue
                yield Alteration(table, row, column, other_value(value, others, kind), label)


def payload_alterations(
    table: Table, row: dict[str, Any], column: Column[Any], rows: list[dict[str, Any]]
) -> Iterator[Alteration]:
    """The payload altered key by key (valid canonical JSON each time), and once the same
    content serialised otherwise."""
    payload = json.loads(row["payload"])
    others = [json.loads(r["payload"]) for r in rows]
    for name, value in sorted(payload.items()):
        kinds = {type(o.get(name)) for o in others} - {type(None)}
        forged = other_value(value, [o.get(name) for o in others], next(iter(kinds), str))
        altered = chain.canonical_json({**payload, name: forged})
        yield Alteration(table, row, column, altered, f"charter_entries payload.{name}")
    spaced = json.dumps(payload, sort_keys=True, ensure_ascii=False)
    yield Alteration(table, row, column, spaced, "charter_entries payload (re-serialised)")


def without_foreign_keys(conn: Connection) -> None:
    """Let the current transaction break foreign keys, as a hand editing the file can."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    else:
        conn.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # checked at a commit never made


def problem_after(conn: Connection, alteration: Alteration) -> chain.Problem | None:
    """What verify says of the store with ``alteration`` made; the store left as it was."""
    trans = conn.begin()
    try:
        without_foreign_keys(conn)
        table = alteration.table
        match = [pk == alteration.row[pk.name] for pk in table.primary_key]
        conn.execute(update(table).where(*match).values({alteration.column.name: alteration.value}))
        with Session(bind=conn) as session:
            return queries.verify(session).problem
    finally:
        trans.rollback()


def test_altering_any_field_of_any_charter_row_is_named(history: Database) -> None:
    """Every alteration named; then ``charterbot verify`` on one, as an operator runs it."""
    started = time.perf_counter()
    with history.engine.connect() as conn:
        with Session(bind=conn) as session:
            intact = queries.verify(session)
        conn.rollback()
        assert intact.problem is None and intact.entries == 12
        actions = list(conn.scalars(select(ChainEntry.action).order_by(ChainEntry.seq)))
        conn.rollback()
        assert set(actions) == set(chain.STATUS_AFTER)  # every kind of entry is in the record
        last = f"seq={intact.entries}"
        done = list(alterations(conn))
        conn.rollback()
        named, unnamed, doubtful, rows = 0, [], [], set()
        for alteration in done:
            rows.add((alteration.table.name, alteration.key))
            problem = problem_after(conn, alteration)
            field = alteration.column.name
            holds = (
                problem is not None
                and (problem.table, problem.key) == (alteration.table.name, alteration.key)
                and field in problem.fields
            )
            if not holds:
                unnamed.append((alteration.label, alteration.key, alteration.value, problem))
                continue
            assert problem is not None
            named += 1
            if problem.fields != (field,):  # only the last entry's payload or hash may be
                assert (problem.key, problem.fields) == (last, ("payload", "hash")), problem
                doubtful.append(alteration.label)
        with Session(bind=conn) as session:
            assert queries.verify(session).problem is None  # every alteration rolled back
    elapsed = time.perf_counter() - started
    leg = history.dialect
    record(
        f"altered charter fields ({leg})",
        "rows / single-field alterations / named by verify (table, key, field)",
        f"{len(rows)} / {len(done)} / {named}",
    )
    record(
        f"altered charter fields ({leg})",
        "named as the one field / as 'payload or hash' of the last entry",
        f"{named - len(doubtful)} / {len(doubtful)} ({elapsed:.1f} s)",
    )
    assert not unnamed, unnamed
    # The last entry (a lapse): its hash, and the one payload key no clause row repeats.
    assert sorted(doubtful) == ["charter_entries hash", "charter_entries payload.proposal"]
    if history.dialect != "sqlite":
        return  # the command reads the record as above: one leg shows what it prints
    # The operator's view of one of them: exit non-zero, naming the entry, row and field.
    with history.engine.begin() as conn:
        conn.execute(update(Clause.__table__).where(Clause.id == 4).values(text="Boats are ours"))
    broken = charterbot("verify", db=Path(str(make_url(history.url).database)))
    assert broken.returncode != 0
    assert broken.stderr.strip() == (
        "charterbot: charter record broken at entry 9:"
        " clauses id=4 field text: differs from what entry 9 records"
    ), broken.stderr


def test_verify_while_clauses_are_adopted_finds_nothing(file_database_url: str) -> None:
    """No false alarm while the record grows: a clause row and its entry commit together,
    and verify reads them apart (PostgreSQL's READ COMMITTED sees each read's own moment)."""
    db = Database(file_database_url)
    upgrade(db.engine)
    clock = ManualClock(START)
    chat = Chat(Deliberation(db, clock, Defaults()), db, clock)
    chat.adopt("Clause 0")
    done = threading.Event()
    failures: list[BaseException] = []

    def adopt_and_change() -> None:
        try:
            for n in range(1, 13):
                chat.adopt(f"Clause {n}")
                number = chat.do("bob", c.Propose(f"Clause {n}, v2", c.ProposalKind.CHANGE, n))
                chat.next(number[0].proposal)
                chat.state(number[0].proposal, alice="consent", bob="consent")
                chat.next(number[0].proposal)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)
        finally:
            done.set()

    writer = threading.Thread(target=adopt_and_change)
    writer.start()
    checks, problems = 0, []
    while not done.is_set():
        with db.unit_of_work(write=False) as uow:
            result = queries.verify(uow.session)
        checks += 1
        if result.problem is not None:
            problems.append(result.problem)
    writer.join()
    with db.unit_of_work(write=False) as uow:
        final = queries.verify(uow.session)
    db.dispose()
    record(
        f"verify while the record grows ({db.dialect})",
        "verifications during 24 adoptions / false alarms",
        f"{checks} / {len(problems)}",
    )
    assert not failures, failures
    assert final.problem is None and final.entries == 25
    assert problems == []
