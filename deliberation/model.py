"""What the engine keeps: typed SQLAlchemy 2 models.

The rows are the domain model (a pragmatic choice written down in docs/decisions.md):
the rules that decide anything live in the pure modules (``phases``, ``tally``,
``amendments``, ``charter``) and in ``services``; these classes only hold state. Numbers
shown to users (P, A, C) are the primary keys, created with SQLite AUTOINCREMENT or
PostgreSQL identity so they are never reused.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


ID = String(255)  # platform-qualified refs: "telegram:-100123", "matrix:@bob:server"


class Group(Base):
    """A chat the bot deliberates in, with its settings (defaults come from the config)."""

    __tablename__ = "groups"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(255), default="")
    rule: Mapped[str] = mapped_column(String(16))
    quorum: Mapped[str] = mapped_column(String(16))  # a decimal string, read as a Fraction
    quorum_min: Mapped[int]
    amendment_hours: Mapped[float] = mapped_column(Float)
    consent_hours: Mapped[float] = mapped_column(Float)
    review_months: Mapped[int]
    on_expiry: Mapped[str] = mapped_column(String(8))
    expire_days: Mapped[int]
    named_votes: Mapped[bool] = mapped_column(Boolean, default=True)
    show_tally: Mapped[str] = mapped_column(String(16), default="live")
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    languages: Mapped[str] = mapped_column(String(255))  # space-separated locale codes
    timezone: Mapped[str] = mapped_column(String(64))
    member_count: Mapped[int] = mapped_column(Integer, default=0)  # the platform's count
    members_seen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Lead times, space-separated durations ("24h 1h", "30d 7d 1d"; ``deliberation.when``).
    reminders_before_close: Mapped[str] = mapped_column(
        String(64), default="24h 1h", server_default="24h 1h"
    )
    renewal_reminders: Mapped[str] = mapped_column(
        String(64), default="30d 7d 1d", server_default="30d 7d 1d"
    )
    created_at: Mapped[datetime]


class Person(Base):
    __tablename__ = "people"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    # The private chat where the person asked for reminders (``/remind on``); None: off.
    remind_chat: Mapped[str | None] = mapped_column(ID)
    # The language the platform says the person uses (Telegram ``language_code``): the
    # default when they have not chosen one with /lang (migration 0006).
    language_hint: Mapped[str | None] = mapped_column(String(16))


class Member(Base):
    """Someone the platform told us belongs to a group (seen speaking, or listed)."""

    __tablename__ = "members"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    joined_at: Mapped[datetime]


class Mediator(Base):
    """A mediator appointed by another mediator (platform admins are mediators anyway)."""

    __tablename__ = "mediators"

    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    appointed_by: Mapped[str] = mapped_column(ID)
    appointed_at: Mapped[datetime]


class Charter(Base):
    __tablename__ = "charters"

    id: Mapped[str] = mapped_column(ID, primary_key=True)  # "group:<group id>"
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # "group" | "alliance"
    group_id: Mapped[str | None] = mapped_column(ForeignKey("groups.id"))
    created_at: Mapped[datetime]


class Alliance(Base):
    """Groups that deliberate and hold a charter together; ``id`` is its number L<n>.

    Its charter is ``alliance:<id>``. ``min_parties`` None: every group must adopt an
    alliance proposal; n: n groups adopting are enough. ``rule`` "own": each group decides
    by its own rule; otherwise the rule every group's round of an alliance proposal uses.
    """

    __tablename__ = "alliances"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    min_parties: Mapped[int | None]
    rule: Mapped[str] = mapped_column(String(16), default="own")
    created_by: Mapped[str] = mapped_column(ForeignKey("groups.id"))
    created_at: Mapped[datetime]


class AllianceMember(Base):
    """A group in an alliance; ``left_at`` set when it left (it may join again)."""

    __tablename__ = "alliance_members"
    __table_args__ = (Index("ix_alliance_members_group", "group_id"),)

    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"), primary_key=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"), primary_key=True)
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]


class AllianceInvite(Base):
    """A single-use invite code to an alliance. Only its SHA-256 is kept: the code is
    shown once, in the group whose mediator asked for it."""

    __tablename__ = "alliance_invites"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    alliance_id: Mapped[int] = mapped_column(ForeignKey("alliances.id"))
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"))  # where it was made
    created_by: Mapped[str] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(ID)  # the group that joined with it
    revoked_at: Mapped[datetime | None]


class Proposal(Base):
    """A proposed clause on its way through the phases; ``id`` is its number P<n>."""

    __tablename__ = "proposals"
    __table_args__ = (
        Index("ix_proposals_group_phase", "group_id", "phase"),
        Index("ix_proposals_charter_phase", "charter_id", "phase"),  # alliances' /status
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"))
    charter_id: Mapped[str] = mapped_column(ForeignKey("charters.id"))
    kind: Mapped[str] = mapped_column(String(16))
    clause_id: Mapped[int | None] = mapped_column(ForeignKey("clauses.id"))
    author_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    text: Mapped[str] = mapped_column(Text)
    text_version: Mapped[int] = mapped_column(Integer, default=1)
    reason: Mapped[str | None] = mapped_column(Text)
    phase: Mapped[str] = mapped_column(String(16))
    round_no: Mapped[int] = mapped_column(Integer, default=1)
    phase_opened_at: Mapped[datetime]
    phase_closes_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime]
    # A round a mediator scheduled (``/schedule``): the phase that opens at ``scheduled_at``
    # and for how long. Cleared when it opens or is cancelled.
    scheduled_phase: Mapped[str | None] = mapped_column(String(16))
    scheduled_at: Mapped[datetime | None]
    scheduled_hours: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}


class TextVersion(Base):
    """Every text a proposal had, crediting who wrote it."""

    __tablename__ = "proposal_texts"
    __table_args__ = (UniqueConstraint("proposal_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    author_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    amendment_id: Mapped[int | None] = mapped_column(ForeignKey("amendments.id"))
    created_at: Mapped[datetime]


class Amendment(Base):
    """A proposed change to a proposal's text; ``id`` is its number A<n>."""

    __tablename__ = "amendments"
    __table_args__ = (
        Index("ix_amendments_proposal", "proposal_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    round_no: Mapped[int]
    author_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    passage: Mapped[str | None] = mapped_column(Text)
    replacement: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    base_version: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="open")
    applied_version: Mapped[int | None]
    created_at: Mapped[datetime]


class AmendmentVote(Base):
    __tablename__ = "amendment_votes"

    amendment_id: Mapped[int] = mapped_column(ForeignKey("amendments.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    support: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime]


class Round(Base):
    """One phase window of a proposal; a closed consent round keeps its tally and eligible."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("proposal_id", "number", "phase", "party"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    number: Mapped[int]
    phase: Mapped[str] = mapped_column(String(16))
    # "": the round of the whole proposal. An alliance proposal's consent rounds are one per
    # group of the alliance, each holding that group's id (migration 0007).
    party: Mapped[str] = mapped_column(ID, default="", server_default="")
    opened_at: Mapped[datetime]
    closes_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    eligible: Mapped[int | None]
    tally: Mapped[dict[str, Any] | None]
    verdict: Mapped[str | None] = mapped_column(String(16))
    # Running counts of current positions, for the live tally (``positions.shift_counts``);
    # the close of a round counts the positions table itself.
    n_consent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    n_concern: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    n_object: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    n_abstain: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class Position(Base):
    """A person's current position in a consent round: one per person per round."""

    __tablename__ = "positions"
    __table_args__ = (Index("ix_positions_round_stance", "round_id", "stance", "at"),)

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"), primary_key=True)
    stance: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class PositionChange(Base):
    """Every position ever stated, in order: the history behind ``positions``."""

    __tablename__ = "position_history"
    __table_args__ = (Index("ix_position_history_round", "round_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    person_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    stance: Mapped[str] = mapped_column(String(24))  # a Stance, or "objection_withdrawn"
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]


class Clause(Base):
    """An agreement in a charter; ``id`` is its number C<n>."""

    __tablename__ = "clauses"
    __table_args__ = (Index("ix_clauses_charter", "charter_id"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charter_id: Mapped[str] = mapped_column(ForeignKey("charters.id"))
    status: Mapped[str] = mapped_column(String(16))  # active | repealed | lapsed
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    parties: Mapped[list[Any]]
    adopted_at: Mapped[datetime]
    next_review: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime]


class ClauseVersion(Base):
    __tablename__ = "clause_versions"

    clause_id: Mapped[int] = mapped_column(ForeignKey("clauses.id"), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    proposal_id: Mapped[int] = mapped_column(ForeignKey("proposals.id"))
    tally: Mapped[dict[str, Any]]
    parties: Mapped[list[Any]]
    concerns: Mapped[list[Any]]
    adopted_at: Mapped[datetime]
    next_review: Mapped[date | None] = mapped_column(Date)
    entry_seq: Mapped[int]


class ChainEntry(Base):
    """One link of the charter hash chain (see ``deliberation.charter``)."""

    __tablename__ = "charter_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    charter_id: Mapped[str] = mapped_column(ForeignKey("charters.id"))
    action: Mapped[str] = mapped_column(String(16))
    clause_id: Mapped[int] = mapped_column(ForeignKey("clauses.id"))
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON of the entry
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]


class Timer(Base):
    """A deadline the engine must carry out; claimed atomically by one worker."""

    __tablename__ = "timers"
    __table_args__ = (
        UniqueConstraint("kind", "proposal_id", "round_no", "due_at"),
        Index("ix_timers_due", "done_at", "due_at"),
        # The sweep's two questions, read from the first entry (migration 0004).
        Index(
            "ix_timers_pending",
            "due_at",
            "id",
            sqlite_where=text("done_at IS NULL"),
            postgresql_where=text("done_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    proposal_id: Mapped[int | None] = mapped_column(ForeignKey("proposals.id"))
    round_no: Mapped[int | None]
    # What a timer not about a proposal is about (migration 0005): a clause's review, a
    # meeting. ``payload`` holds what firing must check still stands (the review date).
    clause_id: Mapped[int | None] = mapped_column(Integer)
    meeting_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any] | None]
    due_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]


class Translation(Base):
    """A member's translation of one text version of a proposal ("P12") or a clause
    ("C3"): shown to readers of ``lang`` marked as a translation, credited to its
    translator. A later version of the text leaves it outdated (``version`` is behind)."""

    __tablename__ = "translations"
    __table_args__ = (UniqueConstraint("subject", "version", "lang"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject: Mapped[str] = mapped_column(String(16))
    version: Mapped[int]
    lang: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    translator_id: Mapped[str] = mapped_column(ForeignKey("people.id"))
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"))
    created_at: Mapped[datetime]


class Meeting(Base):
    """A live negotiation session announced with ``/meeting``; ``id`` is its number M<n>."""

    __tablename__ = "meetings"
    __table_args__ = (
        Index("ix_meetings_group_at", "group_id", "at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.id"))
    at: Mapped[datetime]
    topic: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class InboxItem(Base):
    """A platform update seen once: the unique key makes reprocessing impossible."""

    __tablename__ = "inbox"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    received_at: Mapped[datetime]


class OutboxItem(Base):
    """A message to deliver, written in the same transaction as the change it reports."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_pending", "platform", "state"),
        Index("ix_outbox_message", "platform", "chat", "message_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat: Mapped[str] = mapped_column(ID)
    text: Mapped[str] = mapped_column(Text)
    proposal_id: Mapped[int | None]
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    # "text": ``text`` as it is; "card": the live card of ``subject`` ("P12", "A5"), worded
    # when it is sent; "prompt": asks ``addressee`` to reply (the reason of an objection).
    purpose: Mapped[str] = mapped_column(String(16), default="text", server_default="text")
    subject: Mapped[str | None] = mapped_column(String(16))
    addressee: Mapped[str | None] = mapped_column(ID)
    message_ref: Mapped[str | None] = mapped_column(String(64))  # the platform's message id
    buttons: Mapped[str | None] = mapped_column(Text)  # JSON rows of [label, data]
    parts_sent: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    not_before: Mapped[datetime | None]  # back-off after a failed attempt


class OutboxLease(Base):
    """Which bot process delivers a lane (a chat, or a platform's one lane) until when.

    Several processes may run the same platform (two Telegram webhook workers on one
    database). Each sends only the lanes it holds, so a message is sent by one of them and a
    chat's messages keep their order and its flood limit; a process that dies leaves its
    lanes to the others when ``until`` passes."""

    __tablename__ = "outbox_leases"

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    lane: Mapped[str] = mapped_column(ID, primary_key=True)
    holder: Mapped[str] = mapped_column(String(96))
    until: Mapped[datetime]


class Card(Base):
    """A live message (a proposal's or an amendment's card) that is edited as things change.

    ``version`` grows with every change the card should show; ``shown_version`` is the
    version the posted message shows. Edits are coalesced: the card is worded afresh from
    the store whenever it is behind, however many changes came in meanwhile.
    """

    __tablename__ = "cards"
    __table_args__ = (
        Index("ix_cards_behind", "platform", "shown_version", "version"),
        Index("ix_cards_message", "platform", "chat", "message_ref"),
    )

    platform: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat: Mapped[str] = mapped_column(ID, primary_key=True)
    subject: Mapped[str] = mapped_column(String(16), primary_key=True)
    message_ref: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    shown_version: Mapped[int] = mapped_column(Integer, default=0)
    edited_at: Mapped[datetime | None]


class StreamCursor(Base):
    """Where a platform's update stream stands (Telegram's next offset, Matrix next_batch),
    written in the same transaction as the effects of the updates before it."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class ReactionRecord(Base):
    """A reaction the bot counted as an answer on a card (Matrix). Taking a reaction back
    arrives only as the redaction of its event, so the event is remembered here; ``id``
    orders a person's reactions (several can come in one batch, at one clock reading)."""

    __tablename__ = "reactions"
    __table_args__ = (
        UniqueConstraint("platform", "ref"),
        Index("ix_reactions_person", "platform", "chat", "subject", "person"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(255))  # the reaction's event id
    chat: Mapped[str] = mapped_column(ID)
    person: Mapped[str] = mapped_column(ID)
    subject: Mapped[str] = mapped_column(String(16))  # the card: "P12", "A5"
    data: Mapped[str] = mapped_column(String(64))  # the button it stands for: "v12:c"
    at: Mapped[datetime]
