"""The store of the scale benchmark: 10,000 Telegram groups and 1,000,000 positions.

The rows are the bot's own. Two small histories are played through the real ``Router``
(Telegram messages and button presses, as ``charterbot run`` handles them) into scratch
databases, and their rows are then copied with new keys into the benchmark's database
with PostgreSQL ``COPY``:

- **a group's life** (10,000 times, one per group): P1 proposed, amended (A1, supported),
  moved to consent, 55 positions (consents and abstentions pressed, concerns typed with a
  reason) and adopted as a clause (its chain entry, review timers); P2 in its consent
  phase with 45 positions (three typed objections with reasons); P3 in its amendment phase
  with an amendment (A2) and its votes. 100 positions per group, 55 members seen.
- **a clause's life** (1,000 times, in the first group): a clause adopted and then changed
  twice (three proposals, each through its consent round with 51 presses): the first
  group's charter has 1,001 clauses with 3,001 versions.

Every key is moved by the same rule (a group's ids are the prototype's plus a multiple of
the prototype's span), so counters, rounds and the running counts stay as the engine wrote
them. People are shared: each of 200,000 people belongs to 5 groups. The hash chain is
computed afresh over the copied entries, in their new order. The outbox rows and cards are
marked delivered (as after the bot posted them), so the benchmark starts with nothing to
send. Inbox rows (one per update handled) are copied too.

Deadlines are far away (an amendment or consent phase lasts a year): a bot started on the
store with the system clock has nothing due.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.messages import ButtonPressed, MessageIn  # noqa: E402
from deliberation import charter as chain  # noqa: E402

START = datetime(2026, 11, 2, 9, tzinfo=UTC)  # the prototypes' history starts here
YEAR_HOURS = 24 * 365  # phases last a year: nothing falls due while the benchmark runs
GROUPS = 10_000
MEMBERS = 100  # per group, as the platform counts them
PEOPLE = 200_000  # each person belongs to GROUPS * MEMBERS / PEOPLE = 5 groups
SPREAD = 7919  # a prime: (g * MEMBERS + k) * SPREAD mod PEOPLE is a bijection
CLAUSE_LIVES = 1_000  # clauses in the first group's charter besides its own C1
CLAUSE_QUORUM = 51  # presses per version of those: the group's quorum is half its members
FIRST_USER = 1_000_000  # Telegram user id of person 0
PLATFORM = "telegram"
LAYOUT = 1  # raise when the rows loaded change: the cached store is then loaded again

# Tables copied, in an order that satisfies the foreign keys.
TABLES = (
    "groups",
    "people",
    "charters",
    "members",
    "clauses",
    "proposals",
    "amendments",
    "proposal_texts",
    "amendment_votes",
    "rounds",
    "positions",
    "position_history",
    "charter_entries",
    "clause_versions",
    "timers",
    "inbox",
    "outbox",
    "cards",
)
# Integer keys moved by a multiple of the prototype's span, and the columns that refer to
# them. The tables not listed here are keyed by groups, people or the keys below.
SERIAL_KEYS = {
    "proposals": "id",
    "amendments": "id",
    "proposal_texts": "id",
    "rounds": "id",
    "position_history": "id",
    "clauses": "id",
    "charter_entries": "seq",
    "timers": "id",
    "outbox": "id",
    "inbox": "dedupe_key",  # Telegram update ids, as text
}
REFERENCES = {  # (table, column) -> the table whose key it holds
    ("proposals", "clause_id"): "clauses",
    ("amendments", "proposal_id"): "proposals",
    ("proposal_texts", "proposal_id"): "proposals",
    ("proposal_texts", "amendment_id"): "amendments",
    ("amendment_votes", "amendment_id"): "amendments",
    ("rounds", "proposal_id"): "proposals",
    ("positions", "round_id"): "rounds",
    ("position_history", "round_id"): "rounds",
    ("clause_versions", "clause_id"): "clauses",
    ("clause_versions", "proposal_id"): "proposals",
    ("clause_versions", "entry_seq"): "charter_entries",
    ("charter_entries", "clause_id"): "clauses",
    ("timers", "proposal_id"): "proposals",
    ("timers", "clause_id"): "clauses",
    ("outbox", "proposal_id"): "proposals",
}
GROUP_COLUMNS = {"group_id", "chat", "party"}
PERSON_COLUMNS = {"person_id", "author_id", "addressee", "appointed_by"}
JSON_COLUMNS = {"outcome", "tally", "parties", "concerns", "payload"}
_SUBJECT = re.compile(r"^([PA])(\d+)$")
FINISHED = {"groups", "charters", "proposals", "clauses", "charter_entries", "outbox", "cards"}


def chat_id(group: int) -> int:
    """The Telegram id of group ``group`` (a supergroup: -100...)."""
    return -1_000_000_000_000 - group


def group_ref(group: int) -> str:
    return f"{PLATFORM}:{chat_id(group)}"


def group_title(group: int) -> str:
    return f"Collective {group}"


def person_of(group: int, k: int) -> int:
    """The person who is member ``k`` of group ``group`` (0 <= k < MEMBERS)."""
    return ((group * MEMBERS + k) * SPREAD) % PEOPLE


def user_id(person: int) -> int:
    return FIRST_USER + person


def person_ref(person: int) -> str:
    return f"{PLATFORM}:{user_id(person)}"


def person_name(person: int) -> str:
    return f"Person {person}"


# -- the prototypes, played through the router ----------------------------------------


class Script:
    """Updates of one group sent through ``Router.handle_batch``, the clock moving on."""

    def __init__(self, router: Any, clock: Any, group: int) -> None:
        self.router = router
        self.clock = clock
        self.group = group
        self.update_id = 0

    def _common(self, k: int) -> dict[str, Any]:
        self.update_id += 1
        person = person_of(self.group, k)
        return {
            "platform": PLATFORM,
            "dedupe_key": str(self.update_id),
            "chat": group_ref(self.group),
            "sender": person_ref(person),
            "sender_name": person_name(person),
            "platform_admin": k == 0,
            "member_count": MEMBERS,
            "language_hint": "en",
        }

    def say(self, k: int, text: str) -> None:
        self.batch([MessageIn(**self._common(k), text=text, chat_title=group_title(self.group))])

    def press(self, k: int, data: str) -> ButtonPressed:
        common = self._common(k)
        return ButtonPressed(**common, data=data, answer_id=f"q{common['dedupe_key']}")

    def batch(self, updates: list[Any]) -> None:
        self.router.handle_batch(updates)
        self.clock.set(self.clock.now() + timedelta(minutes=3))


def group_life(script: Script) -> None:
    """What happens in every group (see the module docstring)."""
    say, press = script.say, script.press
    say(0, "/propose Members share the kitchen duties on a weekly rota.")
    say(1, '/amend P1 replace "weekly" with "fortnightly"')
    script.batch([press(k, "a1:+") for k in range(2, 7)])
    say(0, "/next P1")
    script.batch(
        [press(k, "v1:c") for k in range(0, 45)] + [press(k, "v1:a") for k in range(51, 55)]
    )
    for k in range(45, 51):
        say(k, f"/concern P1 The rota should leave out member {k}'s exam weeks.")
    say(0, "/next P1")
    say(0, "/propose Quiet hours start at ten in the evening.")
    say(0, "/next P2")
    script.batch([press(k, "v2:c") for k in range(0, 34)])
    script.batch([press(k, "v2:a") for k in range(34, 37)])
    for k in range(37, 42):
        say(k, f"/concern P2 Weekends could start an hour later ({k}).")
    for k in range(42, 45):
        say(k, f"/object P2 Shift workers sleep in the day and need quiet then ({k}).")
    say(2, "/propose Guests may stay three nights at most.")
    say(3, "/amend P3 Guests may stay two nights at most.")
    script.batch([press(k, "a2:+") for k in (4, 5)] + [press(6, "a2:-")])


def clause_life(script: Script) -> None:
    """A clause adopted, then changed twice (see the module docstring)."""
    say, press = script.say, script.press
    say(0, "/propose Each clause of this charter is read aloud once a year.")
    for number, text in (
        (1, None),
        (2, "Each clause of this charter is read aloud twice a year."),
        (3, "Each clause of this charter is read aloud and discussed twice a year."),
    ):
        if text is not None:
            say(0, f"/propose --change C1 {text}")
        say(0, f"/next P{number}")
        script.batch([press(k, f"v{number}:c") for k in range(CLAUSE_QUORUM)])
        say(0, f"/next P{number}")


def build_prototype(url: str, life: Callable[[Script], None]) -> None:
    """Play ``life`` in group 0 of a fresh database through the bot's router."""
    from adapters.telegram import TelegramAdapter
    from bot.router import Router
    from deliberation.services import Deliberation
    from deliberation.settings import Defaults
    from deliberation.store.db import Database
    from deliberation.store.migrate import upgrade
    from deliberation.timers import ManualClock

    db = Database(url)
    upgrade(db.engine)
    clock = ManualClock(START)
    defaults = Defaults(amendment_hours=YEAR_HOURS, consent_hours=YEAR_HOURS)
    engine = Deliberation(db, clock, defaults)
    adapter = TelegramAdapter("1:bench", lambda _name: None)
    router = Router(engine, {PLATFORM: adapter})
    life(Script(router, clock, 0))
    db.dispose()


# -- copying ---------------------------------------------------------------------------


@dataclass
class Prototype:
    """A prototype's rows per table (column names, rows) and each serial key's span."""

    columns: dict[str, list[str]] = field(default_factory=dict)
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    span: dict[str, int] = field(default_factory=dict)

    @classmethod
    def read(cls, conninfo: str) -> Prototype:
        proto = cls()
        with psycopg.connect(conninfo) as conn:
            for table in TABLES:
                cur = conn.execute(f"SELECT * FROM {table}")  # noqa: S608 - our table names
                proto.columns[table] = [d.name for d in cur.description or ()]
                proto.rows[table] = list(cur.fetchall())
                key = SERIAL_KEYS.get(table)
                if key is not None:
                    index = proto.columns[table].index(key)
                    proto.span[table] = max((int(r[index]) for r in proto.rows[table]), default=0)
        return proto


@dataclass
class Copy:
    """How one copy of a prototype maps its keys: ``offset`` per serial table, and the
    group it lands in (its people are that group's members)."""

    group: int
    offset: dict[str, int]

    def key(self, table: str, value: int | None) -> int | None:
        return None if value is None else int(value) + self.offset[table]


class Mapper:
    """Turns prototype rows (of group 0) into the rows of one copy."""

    def __init__(self, proto: Prototype) -> None:
        self.proto = proto
        # Prototype people ids and names -> the member index k they were
        self.k_of_ref = {person_ref(person_of(0, k)): k for k in range(MEMBERS)}
        self.k_of_name = {person_name(person_of(0, k)): k for k in range(MEMBERS)}

    def name(self, copy: Copy, name: str | None) -> str | None:
        k = self.k_of_name.get(name or "")
        return name if k is None else person_name(person_of(copy.group, k))

    def subject(self, copy: Copy, subject: str | None) -> str | None:
        match = _SUBJECT.match(subject or "")
        if match is None:
            return subject
        table = "proposals" if match.group(1) == "P" else "amendments"
        return f"{match.group(1)}{copy.key(table, int(match.group(2)))}"

    def json_value(self, copy: Copy, table: str, column: str, value: Any) -> Any:
        if value is None:
            return None
        if column == "parties":
            return [group_ref(copy.group) for _ in value]
        if column == "concerns":
            return [{**item, "name": self.name(copy, item.get("name"))} for item in value]
        if column == "outcome" and "clause" in value:
            return {**value, "clause": copy.key("clauses", value["clause"])}
        return value

    def _steps(self, table: str) -> list[tuple[int, str, str]]:
        """What to do with each column of ``table`` that changes from copy to copy."""
        steps = []
        own_key = SERIAL_KEYS.get(table)
        for i, column in enumerate(self.proto.columns[table]):
            if column == own_key:
                steps.append((i, "key", table))
            elif (table, column) in REFERENCES:
                steps.append((i, "key", REFERENCES[(table, column)]))
            elif column in GROUP_COLUMNS:
                steps.append((i, "group", ""))
            elif column in PERSON_COLUMNS:
                steps.append((i, "person", ""))
            elif column == "subject":
                steps.append((i, "subject", ""))
            elif column in JSON_COLUMNS:
                steps.append((i, "json", column))
        return steps

    def rows(self, table: str, copy: Copy) -> Iterator[list[Any]]:
        columns = self.proto.columns[table]
        steps = self._steps(table)
        if not self.proto.rows[table]:
            return
        group = group_ref(copy.group)
        people = (
            {ref: person_ref(person_of(copy.group, k)) for ref, k in self.k_of_ref.items()}
            if any(kind == "person" for _i, kind, _arg in steps)
            else {}
        )
        as_text = table == "inbox"  # Telegram update ids are stored as text
        touched = table in FINISHED
        for row in self.proto.rows[table]:
            out = list(row)
            for i, kind, arg in steps:
                value = row[i]
                if value is None:
                    continue
                if kind == "key":
                    moved = int(value) + copy.offset[arg]
                    out[i] = str(moved) if as_text and arg == table else moved
                elif kind == "group":
                    out[i] = group if value else value
                elif kind == "person":
                    out[i] = people[value]
                elif kind == "subject":
                    out[i] = self.subject(copy, value)
                else:
                    out[i] = self.json_value(copy, table, arg, value)
            yield self.finish(table, dict(zip(columns, out, strict=True)), copy) if touched else out

    def finish(self, table: str, row: dict[str, Any], copy: Copy) -> list[Any]:
        """Per-table touches: titles, charter ids, delivered outbox rows and cards."""
        if table == "groups":
            row["id"], row["title"] = group_ref(copy.group), group_title(copy.group)
        elif table == "charters":
            row["id"], row["name"] = f"group:{group_ref(copy.group)}", group_title(copy.group)
        elif table == "proposals" or table == "clauses" or table == "charter_entries":
            row["charter_id"] = f"group:{group_ref(copy.group)}"
        if table == "charter_entries":  # its hash is made afresh in the new order
            body = json.loads(row["payload"])
            body.update(
                seq=row["seq"],
                charter=row["charter_id"],
                clause=row["clause_id"],
                proposal=copy.key("proposals", body.get("proposal")),
                parties=self.json_value(copy, table, "parties", body.get("parties")),
                concerns=self.json_value(copy, table, "concerns", body.get("concerns")),
            )
            row["payload"] = chain.canonical_json(body)
        if table == "outbox":  # as delivered: the message ids are the prototype's
            row["state"], row["sent_at"], row["attempts"] = "sent", row["created_at"], 1
        if table == "cards":
            row["shown_version"] = row["version"]
        return list(row.values())


def deliver_prototype(proto: Prototype) -> None:
    """Give the prototype's outbox rows and cards the message ids Telegram would have."""
    columns = proto.columns["outbox"]
    ids = columns.index("id")
    ref = columns.index("message_ref")
    subject = columns.index("subject")
    purpose = columns.index("purpose")
    card_refs: dict[str, str] = {}
    rows = []
    for number, row in enumerate(sorted(proto.rows["outbox"], key=lambda r: r[ids]), start=1):
        out = list(row)
        out[ref] = str(number)
        if row[purpose] == "card":
            card_refs[row[subject]] = str(number)
        rows.append(tuple(out))
    proto.rows["outbox"] = rows
    columns = proto.columns["cards"]
    ref, subject = columns.index("message_ref"), columns.index("subject")
    proto.rows["cards"] = [
        tuple(card_refs.get(r[subject], r[ref]) if i == ref else v for i, v in enumerate(r))
        for r in proto.rows["cards"]
    ]


@dataclass
class Plan:
    """Every copy to make: the group lives (all tables) and the clause lives (their own
    rows only: the group, its people and members exist)."""

    group: Prototype
    clause: Prototype
    groups: int = GROUPS
    clause_lives: int = CLAUSE_LIVES

    def group_copies(self) -> Iterator[Copy]:
        for g in range(self.groups):
            yield Copy(g, {t: g * span for t, span in self.group.span.items()})

    def clause_copies(self) -> Iterator[Copy]:
        base = {t: self.groups * span for t, span in self.group.span.items()}
        for u in range(self.clause_lives):
            yield Copy(0, {t: base[t] + u * self.clause.span[t] for t in base})


CLAUSE_OWN = tuple(t for t in TABLES if t not in ("groups", "people", "charters", "members"))


def people_rows(proto: Prototype, groups: int) -> Iterator[list[Any]]:
    """Everyone who acted in some group, once (the row as the prototype wrote it)."""
    columns = proto.columns["people"]
    ids = columns.index("id")
    name = columns.index("name")
    mapper = Mapper(proto)
    shapes = {mapper.k_of_ref[row[ids]]: row for row in proto.rows["people"]}
    seen: set[int] = set()
    for g in range(groups):
        for k, shape in shapes.items():
            person = person_of(g, k)
            if person in seen:
                continue
            seen.add(person)
            out = list(shape)
            out[ids], out[name] = person_ref(person), person_name(person)
            yield out


def copy_rows(conninfo: str, plan: Plan, log: Callable[[str], None]) -> dict[str, int]:
    """COPY every table's rows into the (migrated, empty) database; the counts copied."""
    deliver_prototype(plan.group)
    deliver_prototype(plan.clause)
    group_mapper, clause_mapper = Mapper(plan.group), Mapper(plan.clause)
    counts: dict[str, int] = {}
    with psycopg.connect(conninfo) as conn:
        conn.execute("SET session_replication_role = replica")  # FKs hold by construction
        for table in TABLES:
            started = time.perf_counter()
            columns = plan.group.columns[table]
            if table == "people":
                rows: Iterable[list[Any]] = people_rows(plan.group, plan.groups)
            else:
                rows = _chain_if(
                    table,
                    columns,
                    _all_copies(table, plan, group_mapper, clause_mapper),
                    plan,
                )
            n = _copy(conn, table, columns, rows)
            counts[table] = n
            log(f"  {table}: {n:,} rows in {time.perf_counter() - started:.1f} s")
        for table, key in SERIAL_KEYS.items():
            if table == "inbox":
                continue
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'),"  # noqa: S608
                f" (SELECT max({key}) FROM {table}))"
            )
        conn.commit()
    return counts


def _all_copies(table: str, plan: Plan, group: Mapper, clause: Mapper) -> Iterator[list[Any]]:
    for copy in plan.group_copies():
        yield from group.rows(table, copy)
    if table in CLAUSE_OWN:
        for copy in plan.clause_copies():
            yield from clause.rows(table, copy)


def _chain_if(
    table: str, columns: list[str], rows: Iterator[list[Any]], plan: Plan
) -> Iterable[list[Any]]:
    if table != "charter_entries":
        return rows
    return _rehashed(list(rows), columns)


def _rehashed(rows: list[list[Any]], columns: list[str]) -> Iterator[list[Any]]:
    seq, payload = columns.index("seq"), columns.index("payload")
    prev_i, hash_i = columns.index("prev_hash"), columns.index("hash")
    prev = chain.GENESIS
    for expected, row in enumerate(sorted(rows, key=lambda r: r[seq]), start=1):
        if row[seq] != expected:
            raise AssertionError(f"chain entry {row[seq]} where {expected} was expected")
        row[prev_i], row[hash_i] = prev, chain.entry_hash(prev, json.loads(row[payload]))
        prev = row[hash_i]
        yield row


def _copy(conn: psycopg.Connection, table: str, columns: list[str], rows: Iterable[Any]) -> int:
    n = 0
    names = ", ".join(columns)
    with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # noqa: S608
        for row in rows:
            copy.write_row([json.dumps(v) if isinstance(v, dict | list) else v for v in row])
            n += 1
    return n


def load(server: Any, name: str, plan_size: tuple[int, int], log: Callable[[str], None]) -> str:
    """Build the prototypes, copy them into a new database ``name``; its URL."""
    groups, lives = plan_size
    from deliberation.store.db import Database
    from deliberation.store.migrate import upgrade

    started = time.perf_counter()
    protos = []
    for proto_name, life in ((f"{name}_pg", group_life), (f"{name}_pc", clause_life)):
        server.drop_database(proto_name)
        build_prototype(server.create_database(proto_name), life)
        protos.append(Prototype.read(server.admin_conninfo(proto_name)))
        server.drop_database(proto_name)
    log(f"  prototypes played through the router in {time.perf_counter() - started:.1f} s")
    server.drop_database(name)
    url = server.create_database(name)
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    plan = Plan(protos[0], protos[1], groups, lives)
    counts = copy_rows(server.admin_conninfo(name), plan, log)
    with psycopg.connect(server.admin_conninfo(name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # as autovacuum would have by then
    log(f"  loaded in {time.perf_counter() - started:.1f} s: {counts['positions']:,} positions")
    return url


@dataclass(frozen=True)
class Sample:
    """What a sample of groups shows through the engine's own read models."""

    groups: int
    positions: int
    clauses_in_first: int
    chain_entries: int


def check(url: str, groups: int, lives: int, sample: int = 50) -> Sample:
    """The copied rows read back through ``deliberation.queries`` as the engine wrote them:
    each sampled group's open proposals, P2's running counts against its positions, the
    first group's charter, and the whole hash chain."""
    import random

    from sqlalchemy import func, select

    from deliberation import queries
    from deliberation.model import Position, Proposal, Round
    from deliberation.store.db import Database

    db = Database(url)
    rng = random.Random(7)
    with db.unit_of_work(write=False) as uow:
        s = uow.session
        total = s.scalar(select(func.count()).select_from(Position)) or 0
        for g in rng.sample(range(groups), min(sample, groups)):
            lines = queries.open_proposals(s, group_ref(g))
            assert [line.phase for line in lines] == ["consent", "amendment"], lines
            assert lines[0].stated == 45, lines
            view = queries.proposal(s, group_ref(g), lines[0].number, None)
            stored = dict(
                s.execute(
                    select(Position.stance, func.count())
                    .join(Round, Round.id == Position.round_id)
                    .where(Round.proposal_id == view.number, Round.phase == "consent")
                    .group_by(Position.stance)
                ).all()
            )
            assert view.tally is not None and view.tally.as_dict() == {
                st: stored.get(st, 0) for st in ("consent", "concern", "object", "abstain")
            }, (view.tally, stored)
            assert view.tally.as_dict() == {"consent": 34, "concern": 5, "object": 3, "abstain": 3}
            assert len(view.amendments) == 0 and view.eligible == MEMBERS
            adopted = s.scalars(
                select(Proposal).where(
                    Proposal.group_id == group_ref(g), Proposal.phase == "adopted"
                )
            ).all()
            clause = queries.clause(s, adopted[0].outcome["clause"])
            assert clause.text.endswith("fortnightly rota.") and clause.versions[0].hash
        (first,) = queries.charters(s, f"group:{group_ref(0)}")
        assert len(first.clauses) == 1 + lives
        assert all(len(c.versions) == 3 for c in first.clauses[1:])
        result = queries.verify(s)
        assert result.problem is None, result.problem
    db.dispose()
    return Sample(min(sample, groups), total, len(first.clauses), result.entries)
