"""Recording a position: the engine's hottest write, kept to a handful of statements.

A burst of a thousand members answering a consent round must not queue behind the ORM, so
this path runs prebuilt SQL statements on the transaction's connection: one joined read
(proposal, group, current round, the person's previous position), an upsert on the
one-position-per-person key, a history row, and an update of the round's running counts
(``UPDATE ... RETURNING``) that gives the live tally without counting every row. On
PostgreSQL read and writes are one statement (data-modifying CTEs), one round trip; the
update of the round row orders a vote against the round's close (see
``services._Work.current_round``), and a vote that finds the round closed writes nothing. The
positions table stays the record: the close of a round counts it again.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    cast,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from deliberation import actors
from deliberation import commands as c
from deliberation import events as e
from deliberation.errors import DomainError
from deliberation.model import (
    AllianceMember,
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
        Round.party,
        AllianceMember.group_id,
    )
    .select_from(Proposal)
    .outerjoin(Group, Group.id == bindparam("group"))
    .outerjoin(
        AllianceMember,
        and_(
            Proposal.charter_id == literal("alliance:") + cast(AllianceMember.alliance_id, String),
            AllianceMember.group_id == bindparam("group"),
            AllianceMember.left_at.is_(None),
        ),
    )
    .outerjoin(Person, Person.id == bindparam("person"))
    .outerjoin(Member, and_(Member.group_id == Group.id, Member.person_id == bindparam("person")))
    .outerjoin(
        Round,
        and_(
            Round.proposal_id == Proposal.id,
            Round.number == Proposal.round_no,
            Round.phase == Phase.CONSENT.value,
            Round.party.in_(("", bindparam("group"))),
            Round.closed_at.is_(None),
        ),
    )
    .outerjoin(
        Position, and_(Position.round_id == Round.id, Position.person_id == bindparam("person"))
    )
    .where(Proposal.id == bindparam("number"))
)
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


_CASE = "(CASE WHEN :stance = '{s}' THEN 1 ELSE 0 END) - (CASE WHEN ok.previous = '{s}' THEN 1 ELSE 0 END)"

# PostgreSQL: the whole vote in one statement, so one round trip. The writes hang off the
# update of the round row, which re-checks ``closed_at`` under the row lock a closing round
# holds: a vote racing the close writes nothing at all. Nothing is written either unless the
# proposal is in this group's consent phase. The voter's person and membership rows and the
# group's member counts (``actors.refresh``) are written by the same statement, only when the
# vote counts: a first vote costs no extra round trip.
_PG_VOTE = text(
    f"""
WITH target AS (
    SELECT pr.group_id, pr.phase, r.id AS round_id, g.show_tally, g.named_votes,
           pos.stance AS previous, g.member_count, pe.name AS person_name, m.person_id AS member,
           r.party, am.group_id AS allied
    FROM proposals pr
    LEFT JOIN groups g ON g.id = :group
    LEFT JOIN alliance_members am ON am.group_id = :group AND am.left_at IS NULL
        AND pr.charter_id = 'alliance:' || CAST(am.alliance_id AS TEXT)
    LEFT JOIN rounds r ON r.proposal_id = pr.id AND r.number = pr.round_no
        AND r.phase = 'consent' AND r.closed_at IS NULL AND r.party IN ('', :group)
    LEFT JOIN people pe ON pe.id = :person
    LEFT JOIN members m ON m.group_id = g.id AND m.person_id = :person
    LEFT JOIN positions pos ON pos.round_id = r.id AND pos.person_id = :person
    WHERE pr.id = :number
), ok AS (
    SELECT * FROM target
    WHERE phase = 'consent' AND round_id IS NOT NULL
        AND ((party = '' AND group_id = :group) OR party = :group)
), counted AS (
    UPDATE rounds SET
        {", ".join(f"n_{st.value} = n_{st.value} + {_CASE.format(s=st.value)}" for st in c.Stance)}
    FROM ok WHERE rounds.id = ok.round_id AND rounds.closed_at IS NULL
    RETURNING rounds.id, n_consent, n_concern, n_object, n_abstain
), person AS (
    INSERT INTO people (id, name)
    SELECT :person, CAST(:name AS TEXT) FROM counted, ok
    WHERE ok.person_name IS DISTINCT FROM CAST(:name AS TEXT)
    ON CONFLICT (id) DO UPDATE SET name = excluded.name
), joined AS (
    INSERT INTO members (group_id, person_id, joined_at)
    SELECT :group, :person, :at FROM counted, ok WHERE ok.member IS NULL
    ON CONFLICT DO NOTHING
    RETURNING person_id
), counts AS (
    UPDATE groups SET
        members_seen = members_seen + (SELECT count(*) FROM joined),
        member_count = COALESCE(CAST(:count AS INTEGER), groups.member_count)
    FROM counted, ok
    WHERE groups.id = :group AND (ok.member IS NULL
        OR ok.member_count IS DISTINCT FROM COALESCE(CAST(:count AS INTEGER), ok.member_count))
), upserted AS (
    INSERT INTO positions (round_id, person_id, stance, reason, at)
    SELECT id, :person, :stance, CAST(:reason AS TEXT), :at FROM counted
    ON CONFLICT (round_id, person_id) DO UPDATE
    SET stance = excluded.stance, reason = excluded.reason, at = excluded.at
), history AS (
    INSERT INTO position_history (round_id, person_id, stance, reason, at)
    SELECT id, :person, :stance, CAST(:reason AS TEXT), :at FROM counted
)
SELECT t.*, k.n_consent, k.n_concern, k.n_object, k.n_abstain
FROM target t LEFT JOIN counted k ON true
"""
).bindparams(bindparam("at", type_=UTCDateTime()))


def _record_pg(
    conn: Connection,
    now: datetime,
    actor: c.Actor,
    number: int,
    stance: c.Stance,
    reason: str | None,
) -> e.PositionStated:
    params = {
        "person": actor.person,
        "number": number,
        "group": actor.group,
        "name": actor.name,
        "count": actor.member_count,
        "stance": stance.value,
        "reason": reason,
        "at": now,
    }
    row = conn.execute(_PG_VOTE, params).first()
    if row is None:
        raise DomainError("no_such_proposal", number=number)
    group_id, phase, _round, show_tally, named, previous, _count, _name, _member, party, allied = (
        row[:11]
    )
    counts = row[11:]
    _check(actor, number, group_id, phase, party, allied is not None)
    if counts[0] is None:  # the round closed while this vote was on its way
        raise DomainError("wrong_phase", number=number, phase="closed", expected=("consent",))
    return _stated(actor, number, stance, reason, previous, Tally(*counts), show_tally, named)


def _check(
    actor: c.Actor, number: int, group_id: str, phase: str, party: str | None, allied: bool
) -> None:
    """The proposal is the actor's group's, or one of an alliance the group is in
    (``allied``), and in its consent phase with a round open for the group (``party``: ""
    for the group's own, the group for an alliance's; None: no round open for it)."""
    if group_id != actor.group and not allied:
        raise DomainError("not_in_group", kind="P", number=number)
    if phase != Phase.CONSENT:
        raise DomainError(
            "wrong_phase", number=number, phase=phase, expected=(Phase.CONSENT.value,)
        )
    if party is None:  # in consent, but this group's round is closed
        raise DomainError("wrong_phase", number=number, phase="closed", expected=("consent",))


def _stated(
    actor: c.Actor,
    number: int,
    stance: c.Stance,
    reason: str | None,
    previous: str | None,
    tally: Tally,
    show_tally: str,
    named: bool,
) -> e.PositionStated:
    return e.PositionStated(
        group=actor.group,
        proposal=number,
        person=actor.name,
        stance=stance.value,
        reason=reason,
        previous=previous,
        tally=tally if show_tally != "after_close" else None,
        named=bool(named),
    )


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
    so a vote costs one read and three writes (one statement in all on PostgreSQL). Every
    refusal is raised before anything is written.
    """
    conn = s.connection()
    if dialect == "postgresql":
        return _record_pg(conn, now, actor, number, stance, reason)
    params = {"person": actor.person, "number": number, "group": actor.group}
    row = conn.execute(_READ, params).first()
    if row is None:
        raise DomainError("no_such_proposal", number=number)
    group_id, phase, round_id, show_tally, named, previous, count, name, member, party, allied = row
    _check(actor, number, group_id, phase, party, allied is not None)
    actors.refresh(conn, actor, now, count, name, member)
    values = {
        "round_id": round_id,
        "person_id": actor.person,
        "stance": stance.value,
        "reason": reason,
        "at": now,
    }
    conn.execute(_UPSERT[dialect], values)
    conn.execute(_HISTORY, values)
    tally = shift_counts(s, round_id, previous, stance.value)
    return _stated(actor, number, stance, reason, previous, tally, show_tally, named)
