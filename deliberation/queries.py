"""Read models: what ``/status``, ``/charter``, ``/clause``, ``/settings``, the exports and
``verify`` show. Read-only; visibility rules (named votes, when counts are shown) are
applied here so that no caller can leak what a group chose to hide.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    String,
    bindparam,
    case,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from deliberation import actors
from deliberation import charter as chain
from deliberation.alliances import allied_charters, in_alliance, joining_order
from deliberation.errors import DomainError
from deliberation.model import (
    Alliance,
    AllianceInvite,
    AllianceMember,
    Amendment,
    AmendmentVote,
    ChainEntry,
    Charter,
    Clause,
    ClauseVersion,
    Group,
    Meeting,
    Member,
    Person,
    Position,
    Proposal,
    Round,
    Timer,
    Translation,
)
from deliberation.phases import OPEN, Phase
from deliberation.settings import SETTINGS
from deliberation.tally import Tally
from deliberation.timers import REMIND_CONSENT

MAX_LISTED = 50  # objections and concerns listed by /status; the web page lists all


@dataclass(frozen=True, slots=True)
class AmendmentView:
    number: int
    author: str
    status: str
    passage: str | None
    replacement: str | None
    text: str | None
    support: int
    oppose: int
    origin: str = ""  # an alliance's amendment from another group: that group's title


@dataclass(frozen=True, slots=True)
class TranslationView:
    """A member's translation of one text version; ``outdated``: the text has a later
    version since (the translation is of an earlier one)."""

    lang: str
    text: str
    translator: str
    version: int
    outdated: bool


@dataclass(frozen=True, slots=True)
class PositionView:
    name: str | None  # None when the group does not show names
    stance: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class ProposalView:
    number: int
    group: str
    kind: str
    author: str
    text: str
    version: int
    phase: str
    round: int
    closes_at: datetime | None
    clause: int | None
    reason: str | None
    amendments: tuple[AmendmentView, ...]
    tally: Tally | None  # None while the group hides counts from this reader
    stated: int
    eligible: int
    positions: tuple[PositionView, ...]  # objections and concerns always; all when named
    named: bool
    outcome: dict[str, Any] | None
    reminders: tuple[datetime, ...] = ()  # the group's reminders still to come this round
    scheduled: ScheduledRound | None = None  # the next round, as a mediator scheduled it
    earlier_concerns: tuple[PositionView, ...] = ()  # a renewal: at the clause's last adoption
    expires_at: datetime | None = None  # an objected proposal not resolved by then expires
    translations: tuple[TranslationView, ...] = ()  # of its texts, newest version first
    alliance: str = ""  # an alliance proposal: the alliance's name
    alliance_id: int | None = None  # ... and its number (L<n>)
    origin: str = ""  # an alliance proposal of another group: that group's title
    # An alliance proposal: every group's round as the reader's group may see it (counts;
    # objections named only where that group names votes). The tally above is this group's.
    parties: tuple[PartyView, ...] = ()


@dataclass(frozen=True, slots=True)
class PartyView:
    group: str  # the group's title
    stated: int
    tally: Tally | None  # None while that group hides counts
    verdict: str | None  # once its round closed


@dataclass(frozen=True, slots=True)
class ScheduledRound:
    phase: str
    opens_at: datetime
    closes_at: datetime


@dataclass(frozen=True, slots=True)
class ProposalLine:
    number: int
    kind: str
    phase: str
    closes_at: datetime | None
    text: str
    stated: int


@dataclass(frozen=True, slots=True)
class VersionView:
    version: int
    text: str
    proposal: int
    tally: dict[str, int]
    parties: tuple[str, ...]
    concerns: tuple[dict[str, Any], ...]
    adopted_at: datetime
    next_review: date | None
    hash: str
    translations: tuple[TranslationView, ...] = ()  # of this version's text


@dataclass(frozen=True, slots=True)
class ClauseView:
    number: int
    charter: str
    status: str
    text: str
    version: int
    parties: tuple[str, ...]
    adopted_at: datetime
    next_review: date | None
    versions: tuple[VersionView, ...]
    translations: tuple[TranslationView, ...] = ()  # of its texts, newest version first
    party_names: tuple[str, ...] = ()  # ``parties`` as their groups' titles, for people


@dataclass(frozen=True, slots=True)
class CharterView:
    id: str
    name: str
    parties: tuple[str, ...]
    clauses: tuple[ClauseView, ...]


def _open_lines() -> Any:
    """``open_proposals``'s statement: the group's own open proposals and (a union) those
    of the charters of the alliances it is in now. Each open consent round's count of
    positions comes from the round's counters (kept with every position), not from a
    count of position rows."""
    group = bindparam("group")
    stated = (
        select(func.sum(Round.n_consent + Round.n_concern + Round.n_object + Round.n_abstain))
        .where(
            Round.proposal_id == Proposal.id,
            Round.number == Proposal.round_no,
            Round.phase == "consent",
            or_(Round.party == "", Round.party == group),
        )
        .scalar_subquery()
    )
    line = select(
        Proposal.id,
        Proposal.kind,
        Proposal.phase,
        Proposal.phase_closes_at,
        Proposal.text,
        case((Proposal.phase == Phase.CONSENT, stated), else_=0).label("stated"),
    ).where(Proposal.phase.in_(OPEN))
    alliance_charter = literal("alliance:") + cast(AllianceMember.alliance_id, String)
    lines = union(
        line.where(Proposal.group_id == group),
        line.join(AllianceMember, Proposal.charter_id == alliance_charter).where(
            AllianceMember.group_id == group, AllianceMember.left_at.is_(None)
        ),
    ).subquery()
    return select(lines).order_by(lines.c.id)


# ``/status`` is the most frequent read: one statement, built once (see _PROPOSAL).
_OPEN_LINES = _open_lines()


def open_proposals(s: Session, group_id: str) -> list[ProposalLine]:
    """The group's open proposals, its alliances' included."""
    return [
        ProposalLine(number, kind, phase, closes_at, text, int(count or 0))
        for number, kind, phase, closes_at, text, count in s.execute(
            _OPEN_LINES, {"group": group_id}
        )
    ]


@dataclass(frozen=True, slots=True)
class MeetingLine:
    number: int
    at: datetime
    topic: str


def upcoming_meetings(s: Session, group_id: str, now: datetime) -> list[MeetingLine]:
    """The group's meetings not cancelled and not begun, soonest first."""
    rows = s.execute(_UPCOMING_MEETINGS, {"group": group_id, "now": now})
    return [MeetingLine(number, at, topic) for number, at, topic in rows]


_UPCOMING_MEETINGS = (  # read by every ``/status``: built once (see _PROPOSAL)
    select(Meeting.id, Meeting.at, Meeting.topic)
    .where(
        Meeting.group_id == bindparam("group"),
        Meeting.cancelled_at.is_(None),
        Meeting.at > bindparam("now"),
    )
    .order_by(Meeting.at, Meeting.id)
)


@dataclass(frozen=True, slots=True)
class RoundLine:
    """An open consent round of one of a person's groups."""

    number: int
    group: str
    closes_at: datetime | None
    text: str
    responded: bool


def open_rounds_of(s: Session, person: str) -> list[RoundLine]:
    """The consent rounds open now in the groups ``person`` belongs to (private /status)."""
    rows = s.execute(
        select(Proposal, Round.id)
        .join(Member, Member.group_id == Proposal.group_id)
        .join(
            Round,
            (Round.proposal_id == Proposal.id)
            & (Round.number == Proposal.round_no)
            & (Round.phase == "consent"),
        )
        .where(Member.person_id == person, Proposal.phase == Phase.CONSENT)
        .order_by(Proposal.phase_closes_at, Proposal.id)
        .limit(MAX_LISTED)
    ).all()
    lines = []
    for p, round_id in rows:
        responded = s.get(Position, (round_id, person)) is not None
        lines.append(RoundLine(p.id, p.group_id, p.phase_closes_at, p.text, responded))
    return lines


def group_of_member(s: Session, number: int, person: str) -> str:
    """The group of proposal ``number`` if ``person`` belongs to it; to anyone else the
    proposal does not exist (a private chat shows nothing of other groups)."""
    p = s.get(Proposal, number)
    if p is None or s.get(Member, (p.group_id, person)) is None:
        raise DomainError("no_such_proposal", number=number)
    return p.group_id


def amendment_counts(s: Session, amendment_id: int) -> tuple[int, int]:
    """How many members support and oppose an amendment."""
    rows = s.execute(
        select(AmendmentVote.support, func.count())
        .where(AmendmentVote.amendment_id == amendment_id)
        .group_by(AmendmentVote.support)
    ).all()
    counts = {bool(support): n for support, n in rows}
    return counts.get(True, 0), counts.get(False, 0)


def _amendment_votes(support: bool) -> Any:
    """How many members support (or oppose) the amendment of the row (a column)."""
    return (
        select(func.count())
        .where(AmendmentVote.amendment_id == Amendment.id, AmendmentVote.support.is_(support))
        .scalar_subquery()
    )


# ``/status P<n>`` is among the most frequent reads. Its statements are built once, with
# bound parameters (building one and computing its cache key is much of SQLAlchemy's work
# per statement), and each related row comes with the row it belongs to (the author's
# name, the reader's position, the amendments' counts), not in a statement of its own.
def _proposal_statement() -> Any:
    """The proposal with its author's name; the latest consent round of the reader's
    group (an alliance proposal has one per group; else the one of all) with the
    reader's stance in it; and whether it has amendments, translations and timers of its
    round (most have none: their reads are left out)."""
    other = aliased(Round)
    latest_round = (
        select(other.id)
        .where(
            other.proposal_id == Proposal.id,
            other.phase == "consent",
            or_(other.party == "", other.party == bindparam("group")),
        )
        .order_by(other.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    readers_stance = (
        select(Position.stance)
        .where(Position.round_id == Round.id, Position.person_id == bindparam("reader"))
        .scalar_subquery()
    )
    return (
        select(
            Proposal,
            Person.name,
            Round,
            readers_stance,
            exists().where(Amendment.proposal_id == Proposal.id),
            exists().where(Translation.subject == literal("P") + cast(Proposal.id, String)),
            exists().where(
                Timer.proposal_id == Proposal.id,
                Timer.round_no == Proposal.round_no,
                Timer.kind.in_((REMIND_CONSENT, "expire")),
                Timer.done_at.is_(None),
            ),
        )
        .outerjoin(Person, Person.id == Proposal.author_id)
        .outerjoin(Round, Round.id == latest_round)
        .where(Proposal.id == bindparam("number"))
    )


_PROPOSAL = _proposal_statement()
_AMENDMENTS = (
    select(Amendment, Person.name, _amendment_votes(True), _amendment_votes(False))
    .outerjoin(Person, Person.id == Amendment.author_id)
    .where(Amendment.proposal_id == bindparam("proposal"))
    .order_by(Amendment.id)
)
_LISTED = (
    select(Person.name, Position.stance, Position.reason)
    .join(Person, Person.id == Position.person_id)
    .where(Position.round_id == bindparam("round"))
)
_EVERYONE = _LISTED.order_by(Position.at)


def _objections_first() -> Any:
    """The first MAX_LISTED objections, then concerns: each an ordered scan of one index
    range, in one statement."""
    firsts = [
        _LISTED.add_columns(Position.at)
        .where(Position.stance == stance)
        .order_by(Position.at)
        .limit(MAX_LISTED)
        .subquery()
        for stance in ("object", "concern")
    ]
    both = union_all(*(select(*first.c) for first in firsts)).subquery()
    return (
        select(both.c.name, both.c.stance, both.c.reason)
        .order_by(both.c.stance.desc(), both.c.at)  # "object" before "concern"
        .limit(MAX_LISTED)
    )


_OBJECTIONS_FIRST = _objections_first()
_ROUND_TIMERS = (  # the reminders and, of an objected proposal, its expiry
    select(Timer.kind, Timer.due_at)
    .where(
        Timer.proposal_id == bindparam("proposal"),
        Timer.round_no == bindparam("round_no"),
        Timer.kind.in_((REMIND_CONSENT, "expire")),
        Timer.done_at.is_(None),
    )
    .order_by(Timer.due_at)
)


def proposal(s: Session, group_id: str, number: int, reader: str | None) -> ProposalView:
    """One proposal as ``reader`` may see it (counts per show_tally, names per named_votes)."""
    found = s.execute(_PROPOSAL, {"number": number, "group": group_id, "reader": reader})
    row = found.first()
    if row is None:
        raise DomainError("no_such_proposal", number=number)
    p, author_name, round_, readers_stance, has_amendments, has_translations, has_timers = row
    alliance = _alliance_of(s, p)
    if p.group_id != group_id and not (alliance and in_alliance(s, alliance.id, group_id)):
        raise DomainError("not_in_group", kind="P", number=number)
    group = s.get(Group, group_id)  # the reader's: an alliance proposal has a round in each
    assert group is not None
    amendments = [
        AmendmentView(
            a.id,
            name or a.author_id,
            a.status,
            a.passage,
            a.replacement,
            a.text,
            support,
            oppose,
            _origin(s, alliance.id, a.author_id, group_id) if alliance else "",
        )
        for a, name, support, oppose in (
            s.execute(_AMENDMENTS, {"proposal": p.id}) if has_amendments else ()
        )
    ]
    positions: list[PositionView] = []
    tally = Tally()
    reader_stated = readers_stance is not None
    if round_ is not None:
        # The round's running counts (kept with every position), not a count of its rows.
        tally = Tally(round_.n_consent, round_.n_concern, round_.n_object, round_.n_abstain)
        # Objections and concerns carry reasons and are always listed (names only when the
        # group names votes). Named groups see everyone's position while that fits one
        # message; beyond MAX_LISTED people consents and abstentions are counted only.
        everyone = group.named_votes and tally.stated <= MAX_LISTED
        listed = tally.stated if everyone else tally.object + tally.concern
        statement = _EVERYONE if everyone else _OBJECTIONS_FIRST
        rows = s.execute(statement, {"round": round_.id}).all() if listed else []
        positions = [
            PositionView(name if group.named_votes else None, stance, reason)
            for name, stance, reason in rows
        ]
    closed = round_ is not None and round_.closed_at is not None
    shown = (
        group.show_tally == "live" or closed or (group.show_tally == "after_vote" and reader_stated)
    )
    timers = (
        s.execute(_ROUND_TIMERS, {"proposal": p.id, "round_no": p.round_no}).all()
        if has_timers
        else []
    )
    expiries = [due for kind, due in timers if kind == "expire"]
    return ProposalView(
        number=p.id,
        group=p.group_id,
        kind=p.kind,
        author=author_name or p.author_id,
        text=p.text,
        version=p.text_version,
        phase=p.phase,
        round=p.round_no,
        closes_at=p.phase_closes_at,
        clause=p.clause_id,
        reason=p.reason,
        amendments=tuple(amendments),
        tally=tally if shown else None,
        stated=tally.stated,
        eligible=(round_.eligible if closed and round_.eligible else actors.eligible(group)),
        positions=tuple(positions),
        named=group.named_votes,
        outcome=p.outcome,
        reminders=tuple(due for kind, due in timers if kind == REMIND_CONSENT),
        scheduled=(
            ScheduledRound(
                p.scheduled_phase,
                p.scheduled_at,
                p.scheduled_at + timedelta(hours=p.scheduled_hours or 0),
            )
            if p.scheduled_phase and p.scheduled_at
            else None
        ),
        earlier_concerns=(
            tuple(
                PositionView(item.get("name"), "concern", item.get("reason"))
                for item in last_adoption_concerns(s, p.clause_id)
            )
            if p.kind == "renewal" and p.clause_id is not None
            else ()
        ),
        expires_at=(
            expiries[0] if expiries and p.phase == "objected" and not p.scheduled_phase else None
        ),
        translations=translations(s, f"P{p.id}", p.text_version) if has_translations else (),
        alliance=alliance.name if alliance else "",
        alliance_id=alliance.id if alliance else None,
        origin=_title(s, p.group_id) if p.group_id != group_id else "",
        parties=_party_views(s, p) if alliance else (),
    )


def translations(s: Session, subject: str, current: int) -> tuple[TranslationView, ...]:
    """The translations of a proposal's or clause's texts ("P3", "C2"), newest version
    first, then by language; those of a version before ``current`` are outdated."""
    return translations_of(s, {subject: current}).get(subject, ())


_TRANSLATIONS = (  # read by every ``/status P<n>``: built once (see _PROPOSAL)
    select(Translation, Person.name)
    .join(Person, Person.id == Translation.translator_id, isouter=True)
    .where(Translation.subject.in_(bindparam("subjects", expanding=True)))
    .order_by(Translation.subject, Translation.version.desc(), Translation.lang)
)


def translations_of(s: Session, current: dict[str, int]) -> dict[str, tuple[TranslationView, ...]]:
    """``translations`` of several subjects (subject -> its current version) in one read."""
    if not current:
        return {}
    rows = s.execute(_TRANSLATIONS, {"subjects": list(current)}).all()
    found: dict[str, list[TranslationView]] = {}
    for t, name in rows:
        found.setdefault(t.subject, []).append(
            TranslationView(
                lang=t.lang,
                text=t.text,
                translator=name or t.translator_id.partition(":")[2],
                version=t.version,
                outdated=t.version < current[t.subject],
            )
        )
    return {subject: tuple(views) for subject, views in found.items()}


def last_adoption_concerns(s: Session, clause_id: int) -> list[dict[str, Any]]:
    """The concerns recorded when the clause was last adopted or renewed, from its chain
    entry (names are there only where votes were named)."""
    payload = s.scalar(
        select(ChainEntry.payload)
        .where(
            ChainEntry.clause_id == clause_id,
            ChainEntry.action.in_(("adopt", "change", "renew")),
        )
        .order_by(ChainEntry.seq.desc())
        .limit(1)
    )
    return list(json.loads(payload).get("concerns") or []) if payload else []


def settings(s: Session, group_id: str) -> dict[str, str]:
    group = s.get(Group, group_id)
    if group is None:
        return {}
    shown = {}
    for key in SETTINGS:
        value = getattr(group, key)
        shown[key] = (
            ("on" if value else "off")
            if isinstance(value, bool)
            else f"{value:g}"
            if isinstance(value, float)
            else str(value)
        )
    return shown


def _hashes(s: Session, seqs: Sequence[int]) -> dict[int, str]:
    """The hashes of the chain entries ``seqs``: those of the versions shown, not the
    whole chain (which holds every charter's entries)."""
    wanted = sorted(set(seqs))
    if not wanted:
        return {}
    return dict(
        s.execute(select(ChainEntry.seq, ChainEntry.hash).where(ChainEntry.seq.in_(wanted))).all()
    )


def _clause_view(
    c: Clause,
    versions: list[ClauseVersion],
    hashes: dict[int, str],
    translated: tuple[TranslationView, ...] = (),
    titles: dict[str, str] | None = None,
) -> ClauseView:
    return ClauseView(
        party_names=tuple((titles or {}).get(p, p) for p in c.parties),
        number=c.id,
        charter=c.charter_id,
        status=c.status,
        text=c.text,
        version=c.version,
        parties=tuple(c.parties),
        adopted_at=c.adopted_at,
        next_review=c.next_review,
        versions=tuple(
            VersionView(
                version=v.version,
                text=v.text,
                proposal=v.proposal_id,
                tally=dict(v.tally),
                parties=tuple(v.parties),
                concerns=tuple(v.concerns),
                adopted_at=v.adopted_at,
                next_review=v.next_review,
                hash=hashes.get(v.entry_seq, ""),
                translations=tuple(t for t in translated if t.version == v.version),
            )
            for v in versions
        ),
        translations=translated,
    )


def clause(s: Session, number: int) -> ClauseView:
    c = s.get(Clause, number)
    if c is None:
        raise DomainError("no_such_clause", number=number)
    versions = list(
        s.scalars(
            select(ClauseVersion)
            .where(ClauseVersion.clause_id == c.id)
            .order_by(ClauseVersion.version)
        )
    )
    return _clause_view(
        c,
        versions,
        _hashes(s, [v.entry_seq for v in versions]),
        translations(s, f"C{c.id}", c.version),
        group_titles(s, c.parties),
    )


def charters(s: Session, charter_id: str | Sequence[str] | None = None) -> list[CharterView]:
    """Every charter (the people's charter), or those named, with all their clauses,
    repealed and lapsed ones included. An alliance's parties are its groups now and every
    group that is a party to one of its clauses."""
    query = select(Charter).order_by(Charter.created_at, Charter.id)
    if isinstance(charter_id, str):
        query = query.where(Charter.id == charter_id)
    elif charter_id is not None:
        query = query.where(Charter.id.in_(charter_id))
    views = []
    for ch in s.scalars(query):
        clauses = list(
            s.scalars(select(Clause).where(Clause.charter_id == ch.id).order_by(Clause.id))
        )
        all_versions = s.scalars(
            select(ClauseVersion)
            .where(ClauseVersion.clause_id.in_([c.id for c in clauses]))
            .order_by(ClauseVersion.clause_id, ClauseVersion.version)
        ).all()
        hashes = _hashes(s, [v.entry_seq for v in all_versions])
        translated = translations_of(s, {f"C{c.id}": c.version for c in clauses})
        by_clause: dict[int, list[ClauseVersion]] = {}
        for v in all_versions:
            by_clause.setdefault(v.clause_id, []).append(v)
        members: list[str] = []
        if ch.kind == "alliance":  # its groups now, as they joined
            number = int(ch.id.partition(":")[2])
            members = list(
                s.scalars(
                    select(Group.id)
                    .join(AllianceMember, AllianceMember.group_id == Group.id)
                    .where(AllianceMember.alliance_id == number, AllianceMember.left_at.is_(None))
                    .order_by(*joining_order(number))
                )
            )
        others = sorted({p for c in clauses for p in c.parties} - set(members))
        parties = tuple(members + others) or ((ch.group_id,) if ch.group_id else ())
        titles = group_titles(s, [p for c in clauses for p in c.parties])
        views.append(
            CharterView(
                ch.id,
                ch.name,
                parties,
                tuple(
                    _clause_view(
                        c,
                        by_clause.get(c.id, []),
                        hashes,
                        translated.get(f"C{c.id}", ()),
                        titles,
                    )
                    for c in clauses
                ),
            )
        )
    return views


def chain_head(s: Session) -> str:
    head = s.scalars(select(ChainEntry.hash).order_by(ChainEntry.seq.desc()).limit(1)).first()
    return head or chain.GENESIS


@dataclass(frozen=True, slots=True)
class VerifyResult:
    entries: int
    head: str
    problem: chain.Problem | None  # names the entry, and the table, row and field altered


def verify(s: Session) -> VerifyResult:
    """Check the charter record: the hash chain, and that every row it vouches for
    (``charters``, ``clauses``, ``clause_versions``) agrees with it field by field
    (``charter.check_record`` says what is checked and what is not).

    Other tables are not the record: proposals, rounds and positions are the deliberation
    that led to an entry, which copies what it decided (text, tally, concerns, parties,
    reason); timers are working state rebuilt from a clause's review date; translations
    are members' renderings, never adopted; groups and alliances change members over time,
    and each entry keeps the parties that adopted it. Four reads, one pass each.

    Under READ COMMITTED (PostgreSQL) each read sees what was committed when it began: a
    clause changed with its new entry between the entries' read and the clause's would look
    altered. So a problem found while the chain grew is checked again in one snapshot."""
    result = _verify_reads(s)
    engine = s.get_bind().engine
    postgresql = engine.dialect.name == "postgresql"
    if result.problem is not None and postgresql and chain_head(s) != result.head:
        snapshot = engine.connect().execution_options(isolation_level="REPEATABLE READ")
        with snapshot, Session(bind=snapshot) as again:
            result = _verify_reads(again)
    return result


def _verify_reads(s: Session) -> VerifyResult:
    entries = s.execute(select(ChainEntry.__table__).order_by(ChainEntry.seq)).mappings().all()
    problem = chain.check_record(
        entries,
        s.execute(select(Charter.__table__)).mappings(),
        s.execute(select(Clause.__table__)).mappings(),
        s.execute(select(ClauseVersion.__table__)).mappings(),
    )
    return VerifyResult(len(entries), entries[-1]["hash"] if entries else chain.GENESIS, problem)


# -- alliances -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AllianceGroupView:
    title: str
    platform: str
    languages: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AllianceView:
    number: int
    name: str
    min_parties: int | None  # None: every group must adopt
    rule: str  # "own" or a decision rule every group uses for alliance proposals
    groups: tuple[AllianceGroupView, ...]
    open_invites: int  # invites of this alliance not used, expired or revoked
    open_proposals: tuple[int, ...]


def alliances(s: Session, group_id: str, now: datetime) -> list[AllianceView]:
    """The alliances ``group_id`` belongs to, each with its groups (``/alliance``)."""
    numbers = s.scalars(
        select(AllianceMember.alliance_id)
        .where(AllianceMember.group_id == group_id, AllianceMember.left_at.is_(None))
        .order_by(AllianceMember.alliance_id)
    ).all()
    views = []
    for number in numbers:
        alliance = s.get(Alliance, number)
        assert alliance is not None
        groups = s.scalars(
            select(Group)
            .join(AllianceMember, AllianceMember.group_id == Group.id)
            .where(AllianceMember.alliance_id == number, AllianceMember.left_at.is_(None))
            .order_by(*joining_order(number))
        ).all()
        invites = s.scalar(
            select(func.count())
            .select_from(AllianceInvite)
            .where(
                AllianceInvite.alliance_id == number,
                AllianceInvite.used_at.is_(None),
                AllianceInvite.revoked_at.is_(None),
                AllianceInvite.expires_at > now,
            )
        )
        proposals = s.scalars(
            select(Proposal.id)
            .where(Proposal.charter_id == f"alliance:{number}", Proposal.phase.in_(OPEN))
            .order_by(Proposal.id)
        ).all()
        views.append(
            AllianceView(
                number=number,
                name=alliance.name,
                min_parties=alliance.min_parties,
                rule=alliance.rule,
                groups=tuple(
                    AllianceGroupView(g.title, g.platform, tuple(g.languages.split()))
                    for g in groups
                ),
                open_invites=invites or 0,
                open_proposals=tuple(proposals),
            )
        )
    return views


def _alliance_of(s: Session, p: Proposal) -> Alliance | None:
    kind, _, number = p.charter_id.partition(":")
    return s.get(Alliance, int(number)) if kind == "alliance" else None


def _party_views(s: Session, p: Proposal) -> tuple[PartyView, ...]:
    """Every group's consent round of an alliance proposal's latest round, as anyone in
    the alliance may see it: counts as that group shows them, and its verdict."""
    number = s.scalar(
        select(func.max(Round.number)).where(Round.proposal_id == p.id, Round.phase == "consent")
    )
    if number is None:
        return ()
    views = []
    for r in s.scalars(
        select(Round)
        .where(Round.proposal_id == p.id, Round.phase == "consent", Round.number == number)
        .order_by(Round.id)
    ):
        group = s.get(Group, r.party)
        if group is None:
            continue
        tally = Tally(r.n_consent, r.n_concern, r.n_object, r.n_abstain)
        shown = group.show_tally == "live" or r.closed_at is not None
        views.append(PartyView(group.title, tally.stated, tally if shown else None, r.verdict))
    return tuple(views)


def group_titles(s: Session, ids: Sequence[str]) -> dict[str, str]:
    """Group id -> the group's title, for the ids given that are groups."""
    wanted = set(ids)
    if not wanted:
        return {}
    return dict(s.execute(select(Group.id, Group.title).where(Group.id.in_(wanted))).all())


def group_charters(s: Session, group_id: str) -> list[str]:
    """What ``/charter`` shows in a group: its own charter and its alliances'."""
    return [f"group:{group_id}", *allied_charters(s, group_id)]


def alliance_groups_of(s: Session, number: int) -> list[str]:
    """The groups of the alliance of proposal ``number`` now; [] for a group's proposal."""
    p = s.get(Proposal, number)
    alliance = _alliance_of(s, p) if p is not None else None
    if alliance is None:
        return []
    return list(
        s.scalars(
            select(AllianceMember.group_id).where(
                AllianceMember.alliance_id == alliance.id, AllianceMember.left_at.is_(None)
            )
        )
    )


def _title(s: Session, group_id: str) -> str:
    group = s.get(Group, group_id)
    return group.title if group else group_id


def _origin(s: Session, alliance: int, person: str, reader_group: str) -> str:
    """The group of the alliance an author wrote from, if it is not the reader's: the
    first of its groups the person belongs to."""
    if s.get(Member, (reader_group, person)) is not None:
        return ""
    title = s.scalar(
        select(Group.title)
        .join(AllianceMember, AllianceMember.group_id == Group.id)
        .join(Member, (Member.group_id == Group.id) & (Member.person_id == person))
        .where(AllianceMember.alliance_id == alliance)
        .order_by(*joining_order(alliance))
        .limit(1)
    )
    return title or ""
