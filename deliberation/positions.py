"""Recording a position: the engine's hottest write, kept to a handful of statements.

A burst of a thousand members answering a consent round must not queue behind the ORM, so
this path runs prebuilt SQL statements on the transaction's connection: one joined read
(proposal, group, current round, the person's previous position), an upsert on the
one-position-per-person key, a history row, and an update of the round's running counts
(``UPDATE ... RETURNING``) that gives the live tally without counting every row. On
PostgreSQL the three writes are one statement (data-modifying CTEs): one round trip. The
positions table stays the record: the close of a round counts it again.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import TextClause, and_, bindparam, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from deliberation import actors
from deliberation import commands as c
from deliberation import events as e
from deliberation.errors import DomainError
from deliberation.model import (
    Group,
    Member,
    Person,
    Position,
    PositionChange,
    Proposal,
    Round,
    UTCDateTime,
)
from deliberation.phases import Phase
from deliberation.tally import Tally

_positions = Position.__table__
_rounds = Round.__table__
COUNTERS = {stance.value: _rounds.c[f"n_{stance.value}"] for stance in c.Stance}

_READ = (
    select(
        Proposal.group_id,
        Proposal.phase,
        Round.id,
        Group.show_tally,
        Group.named_votes,
        Position.stance,
        Group.member_count,
        Person.name,
        Member.person_id,
    )
    .join(Group, Group.id == Proposal.group_id)
    .outerjoin(Person, Person.id == bindparam("person"))
    .outerjoin(Member, and_(Member.group_id == Group.id, Member.person_id == bindparam("person")))
    .outerjoin(
        Round,
        and_(
            Round.proposal_id == Proposal.id,
            Round.number == Proposal.round_no,
            Round.phase == Phase.CONSENT.value,
        ),
    )
    .outerjoin(
        Position, and_(Position.round_id == Round.id, Position.person_id == bindparam("person"))
    )
    .where(Proposal.id == bindparam("number"))
)
# Shared lock on PostgreSQL: votes run side by side, but not beside the close of the round.
_READ_PG = _READ.with_for_update(read=True, of=Proposal)
_HISTORY = insert(PositionChange.__table__)
_COUNTS = select(*COUNTERS.values()).where(_rounds.c.id == bindparam("round"))


def _upsert(dialect: str):  # noqa: ANN202 - a dialect-specific Insert
    statement = (pg_insert if dialect == "postgresql" else sqlite_insert)(_positions)
    return statement.on_conflict_do_update(
        index_elements=[_positions.c.round_id, _positions.c.person_id],
        set_={
            "stance": statement.excluded.stance,
            "reason": statement.excluded.reason,
            "at": statement.excluded.at,
        },
    )


_UPSERT = {"postgresql": _upsert("postgresql"), "sqlite": _upsert("sqlite")}


@lru_cache(maxsize=32)
def _shift(old: str | None, new: str | None):  # noqa: ANN202 - a prebuilt Update
    changes = {}
    if old is not None:
        changes[COUNTERS[old].key] = COUNTERS[old] - 1
    if new is not None:
        changes[COUNTERS[new].key] = COUNTERS[new] + 1
    return (
        update(_rounds)
        .where(_rounds.c.id == bindparam("round"))
        .values(changes)
        .returning(*COUNTERS.values())
    )


def shift_counts(s: Session, round_id: int, old: str | None, new: str | None) -> Tally:
    """Move one person's count from ``old`` to ``new`` and return the round's counts."""
    statement = _COUNTS if old == new else _shift(old, new)
    return Tally(*s.connection().execute(statement, {"round": round_id}).one())


@lru_cache(maxsize=32)
def _pg_write(old: str | None, new: str) -> TextClause:
    """PostgreSQL: upsert, history and counts in one statement, so one round trip."""
    if old == new:
        changes = [f"n_{new} = n_{new}"]
    else:
        changes = [f"n_{new} = n_{new} + 1"] + ([f"n_{old} = n_{old} - 1"] if old else [])
    return text(
        "WITH up AS ("
        " INSERT INTO positions (round_id, person_id, stance, reason, at)"
        " VALUES (:round_id, :person_id, :stance, :reason, :at)"
        " ON CONFLICT (round_id, person_id) DO UPDATE"
        " SET stance = excluded.stance, reason = excluded.reason, at = excluded.at"
        "), history AS ("
        " INSERT INTO position_history (round_id, person_id, stance, reason, at)"
        " VALUES (:round_id, :person_id, :stance, :reason, :at)"
        f") UPDATE rounds SET {', '.join(changes)} WHERE id = :round_id"
        " RETURNING n_consent, n_concern, n_object, n_abstain"
    ).bindparams(bindparam("at", type_=UTCDateTime()))


def record(
    s: Session,
    dialect: str,
    now: datetime,
    actor: c.Actor,
    number: int,
    stance: c.Stance,
    reason: str | None,
) -> e.PositionStated:
    """Store ``actor``'s position on proposal ``number`` (checked: group and phase).

    The same read refreshes the actor's person and membership rows (``actors.refresh``),
    so a vote costs one read, not two.
    """
    conn = s.connection()
    read = _READ_PG if dialect == "postgresql" else _READ
    row = conn.execute(read, {"person": actor.person, "number": number}).first()
    if row is None:
        raise DomainError("no_such_proposal", number=number)
    group_id, phase, round_id, show_tally, named, previous, count, name, member = row
    if group_id != actor.group:
        raise DomainError("not_in_group", kind="P", number=number)
    if phase != Phase.CONSENT:
        raise DomainError(
            "wrong_phase", number=number, phase=phase, expected=(Phase.CONSENT.value,)
        )
    actors.refresh(conn, actor, now, count, name, member)
    values = {
        "round_id": round_id,
        "person_id": actor.person,
        "stance": stance.value,
        "reason": reason,
        "at": now,
    }
    if dialect == "postgresql":
        tally = Tally(*conn.execute(_pg_write(previous, stance.value), values).one())
    else:
        conn.execute(_UPSERT[dialect], values)
        conn.execute(_HISTORY, values)
        tally = shift_counts(s, round_id, previous, stance.value)
    return e.PositionStated(
        group=group_id,
        proposal=number,
        person=actor.name,
        stance=stance.value,
        reason=reason,
        previous=previous,
        tally=tally if show_tally != "after_close" else None,
        named=bool(named),
    )
