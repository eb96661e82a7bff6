"""The intents that come into the engine, each with the actor who asked.

Adapters and the command grammar build these; ``services.handle`` carries them out. They
hold only what the user said: whether the actor may do it is decided by the engine from
its own state, never from the request (button data can be forged).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stance(StrEnum):
    """A position in a consent round."""

    CONSENT = "consent"
    CONCERN = "concern"
    OBJECT = "object"
    ABSTAIN = "abstain"


class ProposalKind(StrEnum):
    NEW = "new"  # a new clause
    CHANGE = "change"  # a new version of an existing clause
    RENEWAL = "renewal"  # keep a clause in force past its review date
    REPEAL = "repeal"  # remove a clause


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks, where, and what the platform says about them.

    ``platform_admin`` is the platform's own word (Telegram administrator, Matrix power
    level); appointed mediators are looked up in the store. ``member_count`` is the
    platform's latest count of human members of the group, when the adapter knows it.
    """

    group: str
    person: str
    name: str
    platform_admin: bool = False
    member: bool = True
    member_count: int | None = None
    language_hint: str | None = None
    private: bool = False  # a one-to-one chat with the bot: ``group`` is not a group
    group_title: str | None = None  # the chat's name on its platform, when the adapter knows it


@dataclass(frozen=True, slots=True)
class Register:
    """Only record that the actor is here (before answering a query in a new group)."""


@dataclass(frozen=True, slots=True)
class Propose:
    text: str
    kind: ProposalKind = ProposalKind.NEW
    clause: int | None = None  # the target of a change
    # ``/propose --alliance``: an alliance proposal, in the group's only alliance or in
    # alliance ``alliance`` (``--alliance=L2``).
    allied: bool = False
    alliance: int | None = None


@dataclass(frozen=True, slots=True)
class Amend:
    proposal: int | None
    text: str | None = None  # a whole new text
    passage: str | None = None  # or: replace this passage ...
    replacement: str | None = None  # ... with this one


@dataclass(frozen=True, slots=True)
class VoteAmendment:
    amendment: int
    support: bool


@dataclass(frozen=True, slots=True)
class AcceptAmendment:
    amendment: int


@dataclass(frozen=True, slots=True)
class StatePosition:
    proposal: int | None
    stance: Stance
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RetractPosition:
    """Take back one's position in the current consent round (no position at all then)."""

    proposal: int


@dataclass(frozen=True, slots=True)
class Withdraw:
    """The author withdraws the proposal, or an objector withdraws the objection."""

    proposal: int | None


@dataclass(frozen=True, slots=True)
class Resolve:
    proposal: int | None


@dataclass(frozen=True, slots=True)
class Next:
    proposal: int | None


@dataclass(frozen=True, slots=True)
class Close:
    proposal: int | None


@dataclass(frozen=True, slots=True)
class Schedule:
    """``/schedule P4 consent tomorrow 18:00 for 48h``; ``phase`` None cancels. The time and
    duration are read by the engine, in the group's time zone and languages."""

    proposal: int | None
    phase: str | None  # "amendment" | "consent"
    when: str = ""
    duration: str | None = None


@dataclass(frozen=True, slots=True)
class Renew:
    clause: int


@dataclass(frozen=True, slots=True)
class Repeal:
    clause: int
    reason: str


@dataclass(frozen=True, slots=True)
class ChangeSetting:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class AddMediator:
    person: str  # a PersonRef string
    name: str


@dataclass(frozen=True, slots=True)
class RemoveMediator:
    person: str
    name: str


@dataclass(frozen=True, slots=True)
class SetLanguage:
    code: str


@dataclass(frozen=True, slots=True)
class AnnounceMeeting:
    """``/meeting <when> <topic or link>``: the engine splits the time from the topic (it
    needs the group's time zone and languages)."""

    text: str


@dataclass(frozen=True, slots=True)
class CancelMeeting:
    meeting: int


@dataclass(frozen=True, slots=True)
class SetReminders:
    """``/remind on|off``, in a private chat only: reminders of rounds one has not
    responded to, sent to that chat."""

    on: bool


@dataclass(frozen=True, slots=True)
class Translate:
    """``/translate P3 ja <text>``: a member's translation of the current text of a proposal
    (``kind`` "P") or a clause ("C"); ``lang`` is a locale code the shell has checked."""

    kind: str  # "P" | "C"
    number: int
    lang: str
    text: str


@dataclass(frozen=True, slots=True)
class CreateAlliance:
    """``/alliance create <name>``: a new alliance with this group in it, and an invite."""

    name: str


@dataclass(frozen=True, slots=True)
class InviteToAlliance:
    """``/alliance invite [L<n>] [<duration>]``: a new single-use invite code."""

    alliance: int | None = None
    valid_for: str | None = None  # a duration ("2d"); the default is INVITE_DAYS


@dataclass(frozen=True, slots=True)
class RevokeInvites:
    """``/alliance revoke [L<n>]``: every invite of the alliance not yet used ends."""

    alliance: int | None = None


@dataclass(frozen=True, slots=True)
class JoinAlliance:
    """``/alliance join <code>``."""

    code: str


@dataclass(frozen=True, slots=True)
class LeaveAlliance:
    """``/alliance leave [L<n>]``."""

    alliance: int | None = None


@dataclass(frozen=True, slots=True)
class AllianceSetting:
    """``/alliance settings [L<n>] <key> <value>``: ``min_parties``, ``rule``."""

    key: str
    value: str
    alliance: int | None = None


Command = (
    Propose
    | Amend
    | VoteAmendment
    | AcceptAmendment
    | StatePosition
    | RetractPosition
    | Withdraw
    | Resolve
    | Next
    | Close
    | Schedule
    | Renew
    | Repeal
    | ChangeSetting
    | AddMediator
    | RemoveMediator
    | SetLanguage
    | AnnounceMeeting
    | CancelMeeting
    | SetReminders
    | Translate
    | CreateAlliance
    | InviteToAlliance
    | RevokeInvites
    | JoinAlliance
    | LeaveAlliance
    | AllianceSetting
    | Register
)

MEDIATOR_ONLY = (
    Resolve,
    Next,
    Close,
    Schedule,
    ChangeSetting,
    AddMediator,
    RemoveMediator,
    AnnounceMeeting,
    CancelMeeting,
    CreateAlliance,
    InviteToAlliance,
    RevokeInvites,
    JoinAlliance,
    LeaveAlliance,
    AllianceSetting,
)
