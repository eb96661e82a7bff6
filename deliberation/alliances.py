"""Alliances: groups on any platform deliberating one charter together (SPEC section 5).

An alliance proposal is one proposal (one text, one set of amendments, one amendment
round) whose consent phase is a round in every group of the alliance, each decided by that
group's rule (or the alliance's, ``Alliance.rule``) and quorum. The alliance's verdict is
derived from theirs (``alliance_verdict``): adopted when every group adopted, or at least
``min_parties``, with the adopting groups as the clause's parties.

``AllianceWork`` is mixed into the engine's unit of work (``services._Work``): the
lifecycle commands (``do_CreateAlliance`` ...) and what the engine asks about alliances
while it works on proposals. Everything an alliance proposal announces goes to every
group of the alliance (``fan_out``), each in its own languages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from sqlalchemy import case, select, update

from deliberation import actors
from deliberation import commands as c
from deliberation import events as e
from deliberation.errors import DomainError
from deliberation.model import (
    Alliance,
    AllianceInvite,
    AllianceMember,
    Charter,
    Group,
    Proposal,
    Round,
)
from deliberation.phases import OPEN_PHASES, Phase
from deliberation.tally import Rule, Tally, Verdict, decide

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

INVITE_DAYS = 7  # an invite code is valid this long unless the mediator says otherwise
MAX_NAME = 100  # characters of an alliance's name
MAX_PARTIES = 100  # the largest ``min_parties`` accepted
# Invite codes: no 0/O, 1/I/L, so that a code read out or copied by hand still works.
_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
# Events about an alliance proposal that every group of the alliance is told. The others
# are per group: a position (the voter's group), a reminder and an outcome (built per group).
# Those with an ``origin`` say, in the other groups, which group they came from.
FANNED = (
    e.ProposalOpened,
    e.AmendmentProposed,
    e.AmendmentAccepted,
    e.ConsentOpened,
    e.Resolved,
    e.RoundScheduled,
    e.ScheduleCancelled,
    e.ProposalEnded,
    e.ObjectionWithdrawn,
    e.NotRenewed,
    e.TranslationAdded,
)


def joining_order(number: int) -> tuple[Any, ...]:
    """The order of an alliance's groups: as they joined, the founding group first among
    those that joined at the same moment."""
    founder = select(Alliance.created_by).where(Alliance.id == number).scalar_subquery()
    return (AllianceMember.joined_at, case((Group.id == founder, 0), else_=1), Group.id)


def new_code() -> str:
    """A random invite code, ``XXXXX-XXXXX`` (about 49 bits)."""
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def code_hash(code: str) -> str:
    """What is stored of a code: typed in any case, with or without its dash or spaces."""
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()


def charter_of(number: int) -> str:
    return f"alliance:{number}"


def alliance_number_of_charter(charter_id: str) -> int | None:
    """The alliance whose charter this is, or None (a group's charter)."""
    kind, _, number = charter_id.partition(":")
    return int(number) if kind == "alliance" else None


def alliance_number(proposal: Proposal) -> int | None:
    """The alliance of an alliance proposal (its charter is the alliance's), else None."""
    return alliance_number_of_charter(proposal.charter_id)


def alliance_verdict(verdicts: Sequence[str], needed: int) -> Verdict:
    """The alliance's verdict from its groups' (``Verdict`` values, or "left").

    Adopted when at least ``needed`` groups adopted. Otherwise an objection anywhere makes
    it objected (a mediator may resolve it by amendment, in every group); else not adopted,
    for a missed quorum if one group missed its quorum.
    """
    adopted = sum(v == Verdict.ADOPTED.value for v in verdicts)
    if adopted >= needed and adopted > 0:
        return Verdict.ADOPTED
    if any(v == Verdict.OBJECTED.value for v in verdicts):
        return Verdict.OBJECTED
    if any(v == Verdict.NO_QUORUM.value for v in verdicts):
        return Verdict.NO_QUORUM
    return Verdict.RULE_NOT_MET


def in_alliance(s: Session, number: int, group_id: str) -> bool:
    """Is ``group_id`` in alliance ``number`` now."""
    member = s.get(AllianceMember, (number, group_id))
    return member is not None and member.left_at is None


def party_groups(s: Session, number: int) -> list[Group]:
    """The groups in alliance ``number`` now, in the order they joined."""
    return list(
        s.scalars(
            select(Group)
            .join(AllianceMember, AllianceMember.group_id == Group.id)
            .where(AllianceMember.alliance_id == number, AllianceMember.left_at.is_(None))
            .order_by(*joining_order(number))
        )
    )


def allied_charters(s: Session, group_id: str) -> list[str]:
    """The charters of the alliances ``group_id`` is in, by number."""
    numbers = s.scalars(
        select(AllianceMember.alliance_id)
        .where(AllianceMember.group_id == group_id, AllianceMember.left_at.is_(None))
        .order_by(AllianceMember.alliance_id)
    ).all()
    return [charter_of(n) for n in numbers]


class AllianceWork:
    """The alliance part of the engine's unit of work (mixed into ``services._Work``)."""

    s: Session
    now: datetime

    # -- provided by services._Work ------------------------------------------------------

    if TYPE_CHECKING:

        def _text(self, text: str | None, command: str, limit: int = ...) -> str: ...
        @staticmethod
        def _hours(text: str) -> float: ...
        def name_of(self, person_id: str) -> str: ...
        def tally(self, round_id: int) -> Tally: ...
        def statements(
            self, group: Group, round_id: int, stance: c.Stance
        ) -> tuple[e.Statement, ...]: ...
        def leave_alliance_proposal(self, group: Group, proposal: Proposal) -> list[e.Event]: ...

    # -- lookups -------------------------------------------------------------------------

    def alliance_of(self, group: Group, number: int | None) -> Alliance:
        """Alliance ``number`` if ``group`` is in it; with no number, the group's only one."""
        if number is None:
            numbers = self.s.scalars(
                select(AllianceMember.alliance_id)
                .where(AllianceMember.group_id == group.id, AllianceMember.left_at.is_(None))
                .order_by(AllianceMember.alliance_id)
            ).all()
            if not numbers:
                raise DomainError("no_alliance")
            if len(numbers) > 1:
                raise DomainError("which_alliance", numbers=tuple(numbers))
            number = numbers[0]
        alliance = self.s.get(Alliance, number)
        if alliance is None:
            raise DomainError("no_such_alliance", number=number)
        if not self.in_alliance(number, group.id):
            raise DomainError("not_in_alliance", number=number)
        return alliance

    def in_alliance(self, number: int, group_id: str) -> bool:
        return in_alliance(self.s, number, group_id)

    def party_groups(self, number: int) -> list[Group]:
        return party_groups(self.s, number)

    def titles(self, groups: Sequence[Group]) -> tuple[str, ...]:
        return tuple(g.title for g in groups)

    def takes_part(self, proposal: Proposal, group_id: str) -> bool:
        """May ``group_id`` act on ``proposal``: its own, or one of an alliance it is in."""
        if proposal.group_id == group_id:
            number = alliance_number(proposal)
            return number is None or self.in_alliance(number, group_id)
        number = alliance_number(proposal)
        return number is not None and self.in_alliance(number, group_id)

    def allied_charters(self, group_id: str) -> list[str]:
        return allied_charters(self.s, group_id)

    # -- the lifecycle -------------------------------------------------------------------

    def do_CreateAlliance(
        self, group: Group, actor: c.Actor, cmd: c.CreateAlliance
    ) -> list[e.Event]:
        name = " ".join(self._text(cmd.name, "alliance", MAX_NAME).split())
        alliance = Alliance(
            name=name, min_parties=None, rule="own", created_by=group.id, created_at=self.now
        )
        self.s.add(alliance)
        self.s.flush()
        self.s.add(AllianceMember(alliance_id=alliance.id, group_id=group.id, joined_at=self.now))
        self.s.add(
            Charter(
                id=charter_of(alliance.id),
                name=name,
                kind="alliance",
                group_id=None,
                created_at=self.now,
            )
        )
        code, expires = self._invite(alliance, group, actor, timedelta(days=INVITE_DAYS))
        return [
            e.AllianceCreated(
                group=group.id, alliance=alliance.id, name=name, code=code, expires_at=expires
            )
        ]

    def do_InviteToAlliance(
        self, group: Group, actor: c.Actor, cmd: c.InviteToAlliance
    ) -> list[e.Event]:
        alliance = self.alliance_of(group, cmd.alliance)
        valid = (
            timedelta(hours=self._hours(cmd.valid_for))
            if cmd.valid_for
            else timedelta(days=INVITE_DAYS)
        )
        code, expires = self._invite(alliance, group, actor, valid)
        return [
            e.InviteCreated(
                group=group.id,
                alliance=alliance.id,
                name=alliance.name,
                code=code,
                expires_at=expires,
            )
        ]

    def _invite(
        self, alliance: Alliance, group: Group, actor: c.Actor, valid: timedelta
    ) -> tuple[str, datetime]:
        code = new_code()
        expires = self.now + valid
        self.s.add(
            AllianceInvite(
                code_hash=code_hash(code),
                alliance_id=alliance.id,
                group_id=group.id,
                created_by=actor.person,
                created_at=self.now,
                expires_at=expires,
            )
        )
        self.s.flush()
        return code, expires

    def do_RevokeInvites(self, group: Group, actor: c.Actor, cmd: c.RevokeInvites) -> list[e.Event]:
        alliance = self.alliance_of(group, cmd.alliance)
        revoked = self.s.execute(
            update(AllianceInvite)
            .where(
                AllianceInvite.alliance_id == alliance.id,
                AllianceInvite.used_at.is_(None),
                AllianceInvite.revoked_at.is_(None),
                AllianceInvite.expires_at > self.now,
            )
            .values(revoked_at=self.now),
            execution_options={"synchronize_session": False},
        )
        return [
            e.InvitesRevoked(
                group=group.id, alliance=alliance.id, name=alliance.name, count=revoked.rowcount
            )
        ]

    def do_JoinAlliance(self, group: Group, actor: c.Actor, cmd: c.JoinAlliance) -> list[e.Event]:
        query = select(AllianceInvite).where(AllianceInvite.code_hash == code_hash(cmd.code))
        invite = self.s.scalars(query.with_for_update()).first()
        if (
            invite is None
            or invite.used_at is not None
            or invite.revoked_at is not None
            or invite.expires_at <= self.now
        ):
            raise DomainError("bad_invite")
        alliance = self.s.get(Alliance, invite.alliance_id)
        assert alliance is not None
        if self.in_alliance(alliance.id, group.id):
            raise DomainError("already_in_alliance", number=alliance.id, name=alliance.name)
        invite.used_at, invite.used_by = self.now, group.id
        member = self.s.get(AllianceMember, (alliance.id, group.id))
        if member is None:
            self.s.add(
                AllianceMember(alliance_id=alliance.id, group_id=group.id, joined_at=self.now)
            )
        else:  # back after leaving
            member.joined_at, member.left_at = self.now, None
        self.s.flush()
        groups = self.party_groups(alliance.id)
        return [
            e.AllianceJoined(
                group=party.id,
                alliance=alliance.id,
                name=alliance.name,
                joined=group.title,
                platform=group.platform,
                groups=self.titles(groups),
            )
            for party in groups
        ]

    def do_LeaveAlliance(self, group: Group, actor: c.Actor, cmd: c.LeaveAlliance) -> list[e.Event]:
        """The group leaves: it is no party to the alliance's open proposals any more, and
        those whose outcome hung on it are decided again without it."""
        alliance = self.alliance_of(group, cmd.alliance)
        member = self.s.get(AllianceMember, (alliance.id, group.id))
        assert member is not None
        member.left_at = self.now
        self.s.flush()
        open_ones = self.s.scalars(
            select(Proposal)
            .where(
                Proposal.charter_id == charter_of(alliance.id),
                Proposal.phase.in_(OPEN_PHASES),
            )
            .order_by(Proposal.id)
        ).all()
        remaining = self.party_groups(alliance.id)
        told = [group, *remaining]
        events: list[e.Event] = [
            e.AllianceLeft(
                group=party.id,
                alliance=alliance.id,
                name=alliance.name,
                left=group.title,
                groups=self.titles(remaining),
                proposals=tuple(p.id for p in open_ones),
            )
            for party in told
        ]
        for proposal in open_ones:
            events += self.leave_alliance_proposal(group, proposal)
        return events

    def do_AllianceSetting(
        self, group: Group, actor: c.Actor, cmd: c.AllianceSetting
    ) -> list[e.Event]:
        alliance = self.alliance_of(group, cmd.alliance)
        key, value = cmd.key.strip().lower(), cmd.value.strip().lower()
        if key == "min_parties":
            if value in ("all", "0"):
                alliance.min_parties, shown = None, "all"
            elif value.isdigit() and 1 <= int(value) <= MAX_PARTIES:
                alliance.min_parties = int(value)
                shown = str(alliance.min_parties)
            else:
                raise DomainError("bad_alliance_setting", key=key, expected=f"all, 1-{MAX_PARTIES}")
        elif key == "rule":
            rules = ("own", *(rule.value for rule in Rule))
            if value not in rules:
                raise DomainError("bad_alliance_setting", key=key, expected=", ".join(rules))
            alliance.rule = shown = value
        else:
            raise DomainError("bad_alliance_setting", key=key[:32], expected="min_parties, rule")
        self.s.flush()
        return [
            e.AllianceSettingChanged(
                group=party.id,
                alliance=alliance.id,
                name=alliance.name,
                key=key,
                value=shown,
                by=group.title,
            )
            for party in self.party_groups(alliance.id)
        ]

    # -- alliance proposals --------------------------------------------------------------

    def open_party_rounds(self, proposal: Proposal, number: int) -> None:
        """A consent round in every group of the alliance now."""
        for party in self.party_groups(number):
            self.s.add(
                Round(
                    proposal_id=proposal.id,
                    number=proposal.round_no,
                    phase=Phase.CONSENT.value,
                    party=party.id,
                    opened_at=self.now,
                    closes_at=proposal.phase_closes_at,
                )
            )

    def party_rounds(self, proposal: Proposal, lock: bool) -> list[Round]:
        """This round's consent rounds of an alliance proposal, one per group that took part."""
        query = (
            select(Round)
            .where(
                Round.proposal_id == proposal.id,
                Round.number == proposal.round_no,
                Round.phase == Phase.CONSENT.value,
            )
            .order_by(Round.id)
        )
        if lock:
            query = query.with_for_update()
        return list(self.s.scalars(query))

    def decide_party(self, alliance: Alliance, group: Group, round_: Round) -> Verdict:
        """One group's consent round closes: counted and decided under its own rule (or the
        alliance's) and quorum."""
        tally = self.tally(round_.id)
        eligible = max(actors.eligible(group), tally.stated)
        rule = group.rule if alliance.rule == "own" else alliance.rule
        verdict = decide(tally, rule, Fraction(group.quorum), group.quorum_min, eligible)
        round_.closed_at, round_.eligible, round_.tally, round_.verdict = (
            self.now,
            eligible,
            tally.as_dict(),
            verdict.value,
        )
        return verdict

    def needed(self, alliance: Alliance, taking_part: int) -> int:
        """How many groups must adopt: all of them, or ``min_parties`` (never more than
        there are)."""
        if alliance.min_parties is None:
            return taking_part
        return min(alliance.min_parties, taking_part)

    def outcome(
        self, alliance: Alliance, rounds: Sequence[Round], verdict: Verdict
    ) -> e.AllianceOutcome:
        """The alliance's outcome as every group may see it: counts of each group, and its
        objections, named only where that group names votes."""
        groups = []
        adopted = []
        for round_ in rounds:
            group = self.s.get(Group, round_.party)
            assert group is not None
            tally = Tally(**(round_.tally or {})) if round_.tally else self.tally(round_.id)
            groups.append(
                e.PartyOutcome(
                    id=group.id,
                    group=group.title,
                    verdict=round_.verdict or "",
                    tally=tally,
                    objections=self.statements(group, round_.id, c.Stance.OBJECT),
                )
            )
            if round_.verdict == Verdict.ADOPTED.value:
                adopted.append(group.title)
        taking_part = sum(r.verdict != "left" for r in rounds)
        return e.AllianceOutcome(
            alliance=alliance.id,
            name=alliance.name,
            verdict=verdict.value,
            needed=self.needed(alliance, taking_part),
            groups=tuple(groups),
            parties=tuple(adopted) if verdict is Verdict.ADOPTED else (),
        )

    def fan_out(self, events: list[e.Event]) -> list[e.Event]:
        """Every group of the alliance is told what happens to an alliance proposal: an
        event of ``FANNED`` is copied for each of them, in the order they joined (the group
        where it happened first). An amendment says which group it came from elsewhere."""
        out: list[e.Event] = []
        parties_of: dict[int, list[Group]] = {}
        for ev in events:
            number = getattr(ev, "proposal", None)
            if not isinstance(ev, FANNED) or number is None:
                out.append(ev)
                continue
            proposal = self.s.get(Proposal, number)
            alliance = alliance_number(proposal) if proposal is not None else None
            if alliance is None:
                out.append(ev)
                continue
            if alliance not in parties_of:
                parties_of[alliance] = self.party_groups(alliance)
            groups = parties_of[alliance]
            origin = self.s.get(Group, ev.group)
            out.append(ev)
            for party in groups:
                if party.id == ev.group:
                    continue
                copy = dataclasses.replace(ev, group=party.id)
                if isinstance(copy, e.AmendmentProposed | e.ProposalOpened) and origin:
                    copy = dataclasses.replace(copy, origin=origin.title)
                out.append(copy)
        return out
