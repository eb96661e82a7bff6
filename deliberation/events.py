"""What the engine answers with: facts that happened, for the shell to word and deliver.

Events carry display names rather than only refs, so that rendering needs no lookups,
and the group's visibility settings as they were when the event happened (``named``), so
that a later change of settings cannot reveal names retroactively in queued messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from deliberation.tally import Tally, Verdict


@dataclass(frozen=True, slots=True)
class Event:
    group: str


@dataclass(frozen=True, slots=True)
class ProposalOpened(Event):
    proposal: int
    kind: str
    author: str
    text: str
    phase: str
    closes_at: datetime | None
    clause: int | None = None
    reason: str | None = None
    # A renewal that opened by itself on the clause's review date, with the concerns
    # recorded when the clause was last adopted.
    automatic: bool = False
    concerns: tuple[Statement, ...] = ()
    late: bool = False
    alliance: str = ""  # an alliance proposal: the alliance's name
    alliance_id: int | None = None  # ... and its number (L<n>)
    parties: tuple[str, ...] = ()  # an alliance proposal: the titles of the groups taking part
    origin: str = ""  # relayed to another group of an alliance: the group it came from


@dataclass(frozen=True, slots=True)
class AmendmentProposed(Event):
    amendment: int
    proposal: int
    author: str
    passage: str | None
    replacement: str | None
    text: str | None
    origin: str = ""  # relayed to another group of an alliance: the group it came from


@dataclass(frozen=True, slots=True)
class AmendmentVoted(Event):
    amendment: int
    proposal: int
    voter: str
    support: bool
    supporters: int
    opposers: int


@dataclass(frozen=True, slots=True)
class AmendmentAccepted(Event):
    amendment: int
    proposal: int
    author: str
    version: int
    text: str


@dataclass(frozen=True, slots=True)
class AppliedAmendment:
    amendment: int
    author: str
    version: int


@dataclass(frozen=True, slots=True)
class ConflictingAmendment:
    amendment: int
    author: str
    why: str  # amendments.Fit value


@dataclass(frozen=True, slots=True)
class ConsentOpened(Event):
    """An amendment phase closed (amendments applied) and the consent round opened."""

    proposal: int
    round: int
    kind: str
    text: str
    version: int
    closes_at: datetime | None
    applied: tuple[AppliedAmendment, ...] = ()
    conflicts: tuple[ConflictingAmendment, ...] = ()
    not_passed: tuple[int, ...] = ()
    clause: int | None = None
    late: bool = False
    skipped: bool = False  # the group has no amendment phase (amendment_hours = 0)
    reopened: bool = False  # a new consent round after objections, as a mediator scheduled
    alliance: str = ""  # an alliance proposal: the alliance's name; each group holds a round
    alliance_id: int | None = None  # ... and its number (L<n>)


@dataclass(frozen=True, slots=True)
class ConsentReminder(Event):
    """A consent round closes soon (the group's ``reminders_before_close``) and some eligible
    members have not stated a position yet. Counted as the close counts them."""

    proposal: int
    closes_at: datetime
    responded: int  # members who hold a position in the round now
    eligible: int  # the close's count: max(the group's members, those who responded)
    not_responded: int  # eligible - responded, > 0
    title: str = ""  # the group's name, for the private reminders
    text: str = ""  # the proposal's text, for the private reminders
    # (person, private chat) of members who asked for private reminders (``/remind on``)
    # and have not responded: each is reminded there too.
    remind: tuple[tuple[str, str], ...] = ()
    late: bool = False  # sent after the bot was down past its moment


@dataclass(frozen=True, slots=True)
class PositionStated(Event):
    proposal: int
    person: str
    stance: str
    reason: str | None
    previous: str | None
    tally: Tally | None  # None when the group shows counts only after the close
    named: bool = True  # False: the group shows no names, so neither may this message


@dataclass(frozen=True, slots=True)
class PositionRetracted(Event):
    """A person took back their position: they have none in the round any more."""

    proposal: int
    person: str
    previous: str  # the stance taken back
    tally: Tally | None  # None when the group shows counts only after the close
    named: bool = True  # False: the group shows no names, so neither may this message


@dataclass(frozen=True, slots=True)
class Statement:
    """An objection or concern as shown to others: the name only when votes are named."""

    name: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class Decided(Event):
    proposal: int
    kind: str
    verdict: Verdict
    tally: Tally
    eligible: int
    rule: str
    objections: tuple[Statement, ...] = ()
    concerns: tuple[Statement, ...] = ()
    clause: int | None = None
    clause_version: int | None = None
    next_review: date | None = None
    chain_head: str | None = None
    late: bool = False
    quorum: str = ""  # the group's quorum then (a decimal fraction) and its minimum
    quorum_min: int = 0
    alliance: AllianceOutcome | None = None  # an alliance proposal: every group's outcome


@dataclass(frozen=True, slots=True)
class Resolved(Event):
    proposal: int
    round: int
    objectors: tuple[str, ...]
    closes_at: datetime | None
    by: str | None  # None: opened at the time a mediator scheduled
    late: bool = False


@dataclass(frozen=True, slots=True)
class RoundScheduled(Event):
    """A mediator scheduled when the next round of a proposal opens (or moved it)."""

    proposal: int
    phase: str  # "amendment" | "consent"
    opens_at: datetime
    closes_at: datetime
    by: str


@dataclass(frozen=True, slots=True)
class ScheduleCancelled(Event):
    """The scheduled round will not open; ``closes_at``: when the current phase now closes
    (an amendment phase goes back to its own length), None for an objected proposal."""

    proposal: int
    phase: str
    by: str
    closes_at: datetime | None


@dataclass(frozen=True, slots=True)
class RenewalReminder(Event):
    """A clause comes up for renewal at ``review_at``; a renewal round opens then."""

    clause: int
    review_at: datetime
    text: str
    late: bool = False


@dataclass(frozen=True, slots=True)
class NotRenewed(Event):
    """A renewal ended without adoption on or after the review date: the clause lapsed
    (``on_expiry = "lapse"``) or stays in force until ``next_review`` (``"keep"``)."""

    clause: int
    proposal: int
    lapsed: bool
    next_review: date | None
    chain_head: str


@dataclass(frozen=True, slots=True)
class ObjectionWithdrawn(Event):
    proposal: int
    person: str
    remaining: int


@dataclass(frozen=True, slots=True)
class ProposalEnded(Event):
    """Withdrawn by its author, closed by a mediator, expired while objected, or
    superseded (its clause was repealed)."""

    proposal: int
    how: str  # "withdrawn" | "closed" | "expired" | "superseded"
    by: str | None = None
    late: bool = False
    clause: int | None = None


@dataclass(frozen=True, slots=True)
class SettingChanged(Event):
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class MediatorChanged(Event):
    person: str
    added: bool
    by: str


@dataclass(frozen=True, slots=True)
class LanguageSet(Event):
    person: str
    code: str


@dataclass(frozen=True, slots=True)
class TimezoneSet(Event):
    """A person chose their own time zone (``/timezone`` in a private chat)."""

    person: str
    zone: str


@dataclass(frozen=True, slots=True)
class MeetingAnnounced(Event):
    """A mediator announced a live meeting (``/meeting``); reminders follow."""

    meeting: int
    at: datetime
    topic: str
    by: str
    reminders: tuple[datetime, ...] = ()  # when the group will be reminded


@dataclass(frozen=True, slots=True)
class MeetingReminder(Event):
    """A meeting begins soon (``timers.MEETING_REMINDERS`` before it)."""

    meeting: int
    at: datetime
    topic: str
    late: bool = False


@dataclass(frozen=True, slots=True)
class MeetingCancelled(Event):
    meeting: int
    by: str
    at: datetime  # when it would have been, and what about: so readers know which
    topic: str


@dataclass(frozen=True, slots=True)
class TranslationAdded(Event):
    """A member contributed a translation of one text version of a proposal or clause.
    ``proposal`` is set for a proposal's text (its card shows the translation)."""

    subject: str  # "P3" | "C2"
    version: int
    lang: str
    translator: str
    replaced: bool = False  # it took the place of an earlier translation of that version
    proposal: int | None = None


@dataclass(frozen=True, slots=True)
class RemindersSet(Event):
    """``/remind on|off`` in a private chat (``group`` is that chat)."""

    person: str
    on: bool


# -- alliances -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartyOutcome:
    """One group's consent round of an alliance proposal, as every party may see it:
    counts, and objections with names only where that group names votes."""

    group: str  # the group's title
    verdict: str  # a Verdict value, or "left" (the group left the alliance meanwhile)
    tally: Tally
    objections: tuple[Statement, ...] = ()
    id: str = ""  # the group's id: the group reading the outcome finds its own line


@dataclass(frozen=True, slots=True)
class AllianceOutcome:
    """What an alliance proposal came to, from its groups' outcomes."""

    alliance: int
    name: str
    verdict: str  # a Verdict value for the whole alliance
    needed: int  # groups that had to adopt (all of them, or ``min_parties``)
    groups: tuple[PartyOutcome, ...]
    parties: tuple[str, ...] = ()  # adopted: the titles of the groups that are parties


@dataclass(frozen=True, slots=True)
class AllianceCreated(Event):
    alliance: int
    name: str
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class InviteCreated(Event):
    alliance: int
    name: str
    code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class InvitesRevoked(Event):
    alliance: int
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class AllianceJoined(Event):
    """Told to every group of the alliance, the one that joined included."""

    alliance: int
    name: str
    joined: str  # the title of the group that joined
    platform: str
    groups: tuple[str, ...]  # the titles of all its groups now


@dataclass(frozen=True, slots=True)
class AllianceLeft(Event):
    """Told to the group that left and to every group still in the alliance."""

    alliance: int
    name: str
    left: str  # the title of the group that left
    groups: tuple[str, ...]  # those still in it
    proposals: tuple[int, ...] = ()  # open alliance proposals it was a party to


@dataclass(frozen=True, slots=True)
class AllianceSettingChanged(Event):
    alliance: int
    name: str
    key: str
    value: str
    by: str  # the title of the group whose mediator changed it
