"""The engine's use cases: the only code that changes the store, and the only place that
commits.

``Deliberation.handle(actor, command)`` checks the request against the stored state (who
may do what, in which phase), changes the state, and returns events. A refused request
raises ``DomainError`` and changes nothing. ``run_due_timers`` carries out deadlines that
fell due, each exactly once even with several processes on one database.

Callers that must record something in the same transaction (the router's inbox row and
outbox messages) pass ``before_commit``: it runs after the change and before the commit,
so either everything is stored or nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import InvalidOperation
from fractions import Fraction
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from deliberation import actors, positions, queries
from deliberation import charter as chain
from deliberation import commands as c
from deliberation import events as e
from deliberation.amendments import (
    Change,
    Fit,
    apply,
    check_passage,
    occurrences,
    order_by_support,
)
from deliberation.errors import DomainError
from deliberation.model import (
    Amendment,
    AmendmentVote,
    ChainEntry,
    Charter,
    Clause,
    ClauseVersion,
    Group,
    Mediator,
    Person,
    Position,
    PositionChange,
    Proposal,
    Round,
    TextVersion,
    Timer,
)
from deliberation.phases import (
    OPEN_PHASES,
    Action,
    InvalidTransition,
    Phase,
    advance,
    allowed_from,
)
from deliberation.settings import REMINDERS_BEFORE_CLOSE, SETTINGS, Defaults
from deliberation.store.db import Database
from deliberation.tally import Tally, Verdict, decide
from deliberation.timers import REMIND_CONSENT, Clock, closes_at, is_late, review_date

log = logging.getLogger(__name__)

MAX_TEXT = 3000  # characters of a proposal or amendment text (fits one chat message)
MAX_REASON = 1000
STALE_RETRIES = 3
# The timer kind of a reminder before a consent round closes (one per lead time).

BeforeCommit = Callable[[Session, list[e.Event]], None]
Outcome = list[e.Event] | DomainError  # what one command of a batch came to


# The command word users type, where it is not the class name (the refusal names it).
_COMMAND_WORDS: dict[type, str] = {
    c.ChangeSetting: "settings",
    c.AddMediator: "mediator",
    c.RemoveMediator: "mediator",
}

# The phase an omitted proposal id is looked for in, per command.
_IMPLIED_PHASES: dict[type, tuple[Phase, ...]] = {
    c.Amend: (Phase.AMENDMENT,),
    c.StatePosition: (Phase.CONSENT,),
    c.Withdraw: OPEN_PHASES,
    c.Resolve: (Phase.OBJECTED,),
    c.Next: (Phase.AMENDMENT, Phase.CONSENT),
    c.Close: OPEN_PHASES,
}


class Deliberation:
    """The engine bound to a database, a clock and the defaults for new groups."""

    def __init__(self, db: Database, clock: Clock, defaults: Defaults | None = None) -> None:
        self.db = db
        self.clock = clock
        self.defaults = defaults or Defaults()

    def handle(
        self, actor: c.Actor, command: c.Command, before_commit: BeforeCommit | None = None
    ) -> list[e.Event]:
        """Carry out one command; a refusal raises ``DomainError`` and changes nothing."""
        hook = None
        if before_commit is not None:

            def hook(session: Session, outcomes: list[Outcome]) -> None:
                before_commit(session, outcomes[0])  # type: ignore[arg-type]

        (events,) = self.handle_many([(actor, command)], hook)
        return events  # type: ignore[return-value]

    def handle_many(
        self,
        requests: Sequence[tuple[c.Actor, c.Command]],
        before_commit: Callable[[Session, list[Outcome]], None] | None = None,
    ) -> list[Outcome]:
        """Carry out several commands in one transaction (group commit).

        Platforms deliver updates in batches (Telegram up to 100 per ``getUpdates``, a
        Matrix sync); committing a batch once is what lets a burst of votes through. Each
        command of a batch runs in its own savepoint, so a refused one is answered with its
        ``DomainError`` and changes nothing while the others stand. A single command runs
        without a savepoint and raises its ``DomainError``. The whole batch is retried when
        a concurrent change made it stale.
        """
        nested = len(requests) > 1
        for _attempt in range(STALE_RETRIES):
            with self.db.unit_of_work() as uow:
                work = _Work(uow.session, self.clock.now(), self.defaults, self.db.dialect)
                try:
                    outcomes = [work.attempt(actor, command, nested) for actor, command in requests]
                    if before_commit:
                        before_commit(uow.session, outcomes)
                    uow.commit()
                except StaleDataError:
                    continue
                return outcomes
        raise DomainError("stale")

    def register(self, actor: c.Actor, before_commit: BeforeCommit | None = None) -> None:
        """Record that ``actor`` is in the group (and the group exists), without a command."""
        with self.db.unit_of_work() as uow:
            _Work(uow.session, self.clock.now(), self.defaults, self.db.dialect).enter(actor)
            if before_commit:
                before_commit(uow.session, [])
            uow.commit()

    def run_due_timers(
        self, before_commit: BeforeCommit | None = None, limit: int = 1000
    ) -> list[e.Event]:
        """Carry out every deadline due now, oldest first, one transaction each.

        The claim and the work share one transaction: a crash rolls both back and the
        timer stays due; a second process skips a claimed row (``SKIP LOCKED`` on
        PostgreSQL, the ``BEGIN IMMEDIATE`` write lock on SQLite).
        """
        done: list[e.Event] = []
        stale: dict[int, int] = {}
        for _ in range(limit):
            with self.db.unit_of_work() as uow:
                now = self.clock.now()
                query = (
                    select(Timer)
                    .where(Timer.done_at.is_(None), Timer.due_at <= now)
                    .order_by(Timer.due_at, Timer.id)
                    .limit(1)
                )
                if self.db.dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                timer = uow.session.scalars(query).first()
                if timer is None:
                    return done
                timer_id, kind = timer.id, timer.kind  # read now: a failed write expires them
                timer.claimed_at, timer.done_at = now, now
                work = _Work(uow.session, now, self.defaults, self.db.dialect)
                try:
                    events = work.fire(timer)
                    if before_commit:
                        before_commit(uow.session, events)
                    uow.commit()
                except StaleDataError:
                    # A command changed the proposal meanwhile (another process, PostgreSQL):
                    # the deadline stays due and is carried out again on the fresh row.
                    uow.rollback()
                    stale[timer_id] = stale.get(timer_id, 0) + 1
                    if stale[timer_id] <= STALE_RETRIES:
                        continue
                    log.exception(
                        "timer kept meeting changes; set aside",
                        extra={"timer": timer_id, "kind": kind},
                    )
                    self._set_aside(timer_id, now)
                    continue
                except Exception:
                    # One deadline that cannot be carried out must not block every later one:
                    # set it aside, visibly, and go on.
                    uow.rollback()
                    log.exception(
                        "timer failed; set aside", extra={"timer": timer_id, "kind": kind}
                    )
                    self._set_aside(timer_id, now)
                    continue
                done.extend(events)
        return done

    def _set_aside(self, timer_id: int, now: datetime) -> None:
        with self.db.unit_of_work() as uow:
            timer = uow.session.get(Timer, timer_id)
            if timer is not None:
                timer.claimed_by, timer.claimed_at, timer.done_at = "failed", now, now
                uow.commit()

    def next_due(self) -> datetime | None:
        """When the next deadline falls due (to wake the scheduler or the console clock)."""
        with self.db.unit_of_work(write=False) as uow:
            return uow.session.scalar(select(func.min(Timer.due_at)).where(Timer.done_at.is_(None)))


class _Work:
    """One transaction's worth of engine work."""

    def __init__(self, session: Session, now: datetime, defaults: Defaults, dialect: str) -> None:
        self.s = session
        # Fix: the chain entry's "at" was written in the clock's own offset while the store
        # reads times back in UTC, so `verify` failed every clause version under a non-UTC
        # clock. The engine works in UTC throughout.
        self.now = now.astimezone(UTC)
        self.defaults = defaults
        self.dialect = dialect
        # Events caused as a consequence of the main one (proposals superseded by a repeal),
        # announced after it.
        self.followups: list[e.Event] = []

    # -- entry -------------------------------------------------------------------------

    def attempt(self, actor: c.Actor, command: c.Command, nested: bool) -> Outcome:
        """One command of a batch: its events, or (in a savepoint) its refusal."""
        self.followups = []
        if not nested:
            return self.handle(actor, command)
        if (
            isinstance(command, c.StatePosition)
            and command.proposal is not None
            and actor.member
            and not actor.private
        ):
            # Refused before anything is written (``positions.record``): no savepoint needed,
            # which keeps a burst of votes at one statement each on PostgreSQL. (Not so for a
            # non-member, a private chat or an omitted number: those write the person's rows
            # first, and a refusal must take them back.)
            try:
                return self.handle(actor, command)
            except DomainError as refusal:
                return refusal
        savepoint = self.s.begin_nested()
        try:
            events = self.handle(actor, command)
        except DomainError as refusal:
            savepoint.rollback()
            return refusal
        savepoint.commit()
        return events

    def handle(self, actor: c.Actor, command: c.Command) -> list[e.Event]:
        if actor.private:
            return self.in_private(actor, command)
        if isinstance(command, c.StatePosition) and actor.member:
            return self.state_position(actor, command)  # the hot path refreshes the actor itself
        self.enter(actor)
        if isinstance(command, c.Register):
            return []
        if isinstance(command, c.SetLanguage):
            return self.set_language(actor, command)
        if not actor.member:
            raise DomainError("not_member")
        group = self.s.get(Group, actor.group)
        assert group is not None
        if isinstance(command, c.MEDIATOR_ONLY) and not self.is_mediator(group, actor):
            word = _COMMAND_WORDS.get(type(command), type(command).__name__.lower())
            raise DomainError("not_mediator", command=word)
        handler = getattr(self, "do_" + type(command).__name__)
        return handler(group, actor, command) + self.followups

    def in_private(self, actor: c.Actor, command: c.Command) -> list[e.Event]:
        """A private chat is no group: a person may only set their own language there."""
        if not isinstance(command, c.SetLanguage | c.Register):
            raise DomainError("group_only")
        person = self.s.get(Person, actor.person)
        if person is None:
            self.s.add(Person(id=actor.person, name=actor.name))
        elif person.name != actor.name:
            person.name = actor.name
        self.s.flush()
        if isinstance(command, c.Register):
            return []
        return self.set_language(actor, command)

    def enter(self, actor: c.Actor) -> None:
        actors.enter(self.s.connection(), actor, self.now, self._new_group)

    def _new_group(self, group_id: str) -> Group:
        group = Group(
            id=group_id,
            platform=group_id.partition(":")[0],
            title=group_id,
            **self.defaults.group_columns(),
            named_votes=True,
            show_tally="live",
            public=False,
            member_count=0,
            created_at=self.now,
        )
        self.s.add(group)
        self.s.flush()  # no ORM relationships: parents are flushed before children
        self.s.add(
            Charter(
                id=f"group:{group_id}",
                name=group_id,
                kind="group",
                group_id=group_id,
                created_at=self.now,
            )
        )
        self.s.flush()
        return group

    def is_mediator(self, group: Group, actor: c.Actor) -> bool:
        return actor.platform_admin or self.s.get(Mediator, (group.id, actor.person)) is not None

    def name_of(self, person_id: str) -> str:
        person = self.s.get(Person, person_id)
        return person.name if person else person_id.partition(":")[2]

    # -- lookups -----------------------------------------------------------------------

    def proposal(
        self, group_id: str, number: int | None, command: c.Command, lock: bool = True
    ) -> Proposal:
        """The named proposal of this group, or the only one in the phase the command implies."""
        if number is None:
            phases = _IMPLIED_PHASES[type(command)]
            numbers = self.s.scalars(
                select(Proposal.id)
                .where(Proposal.group_id == group_id, Proposal.phase.in_(phases))
                .order_by(Proposal.id)
            ).all()
            phase_names = tuple(str(p) for p in phases)
            if not numbers:
                raise DomainError("no_open_proposal", phase=phase_names)
            if len(numbers) > 1:
                raise DomainError("ambiguous_proposal", phase=phase_names, numbers=tuple(numbers))
            number = numbers[0]
        query = select(Proposal).where(Proposal.id == number)
        if lock and self.dialect == "postgresql":
            query = query.with_for_update()
        proposal = self.s.scalars(query).first()
        if proposal is None:
            raise DomainError("no_such_proposal", number=number)
        if proposal.group_id != group_id:
            raise DomainError("not_in_group", kind="P", number=number)
        return proposal

    def amendment(self, group: Group, number: int) -> tuple[Amendment, Proposal]:
        amendment = self.s.get(Amendment, number)
        if amendment is None:
            raise DomainError("no_such_amendment", number=number)
        proposal = self.s.get(Proposal, amendment.proposal_id)
        assert proposal is not None
        if proposal.group_id != group.id:
            raise DomainError("not_in_group", kind="A", number=number)
        return amendment, proposal

    def clause(self, group: Group, number: int) -> Clause:
        clause = self.s.get(Clause, number)
        if clause is None:
            raise DomainError("no_such_clause", number=number)
        if clause.charter_id != f"group:{group.id}":
            raise DomainError("not_in_group", kind="C", number=number)
        return clause

    def current_round(self, proposal: Proposal, phase: Phase) -> Round:
        """The open round of ``phase``, row-locked on PostgreSQL.

        The lock orders a closing round after any vote still in flight: votes update the
        round's counts (``positions.record``), so a close waits for them and then counts
        them, and a vote arriving after the close finds the round closed.
        """
        query = select(Round).where(
            Round.proposal_id == proposal.id,
            Round.number == proposal.round_no,
            Round.phase == phase.value,
        )
        if self.dialect == "postgresql":
            query = query.with_for_update()
        found = self.s.scalars(query).first()
        assert found is not None, "an open phase always has its round"
        return found

    @staticmethod
    def expect(proposal: Proposal, *phases: Phase) -> None:
        if proposal.phase not in phases:
            raise DomainError(
                "wrong_phase",
                number=proposal.id,
                phase=proposal.phase,
                expected=tuple(str(p) for p in phases),
            )

    def move(self, proposal: Proposal, action: Action) -> None:
        before = proposal.phase
        try:
            proposal.phase = advance(proposal.phase, action).value
        except InvalidTransition:
            self.expect(proposal, *allowed_from(action))
            raise
        if before == Phase.CONSENT and proposal.phase != Phase.CONSENT:
            # Every way out of a consent round passes here (its close, /next, /withdraw,
            # /close, a repeal superseding it): its pending reminders go with it.
            self._cancel_reminders(proposal)

    # -- proposals ---------------------------------------------------------------------

    @staticmethod
    def _text(text: str | None, command: str, limit: int = MAX_TEXT) -> str:
        text = (text or "").strip()
        if not text:
            raise DomainError("text_required", command=command)
        if len(text) > limit:
            raise DomainError("text_too_long", limit=limit, length=len(text))
        return text

    def do_Propose(self, group: Group, actor: c.Actor, cmd: c.Propose) -> list[e.Event]:
        # Fix: a Propose of kind renewal/repeal made a clause-less proposal whose adoption
        # failed an assert inside its timer, blocking every later timer; those kinds have
        # their own commands (Renew, Repeal). A change without a clause number failed an
        # assert too: it is now refused as a missing C number.
        if cmd.kind not in (c.ProposalKind.NEW, c.ProposalKind.CHANGE):
            raise ValueError(f"Propose cannot open a {cmd.kind} proposal; use Renew or Repeal")
        text = self._text(cmd.text, "propose")
        clause = None
        if cmd.kind is c.ProposalKind.CHANGE:
            if cmd.clause is None:
                raise DomainError("bad_id", kind="C", given="")
            clause = self.clause(group, cmd.clause)
            if clause.status != "active":
                raise DomainError("clause_not_active", number=clause.id, status=clause.status)
        proposal = self._open(group, actor, cmd.kind, text, clause)
        opened = self._opened_event(group, proposal)
        skipped = self._maybe_skip_amendment(group, proposal)
        if skipped:  # announced as a proposal in consent; the round's timing follows
            opened = dataclasses.replace(opened, phase=Phase.CONSENT.value, closes_at=None)
        return [opened, *skipped]

    def do_Renew(self, group: Group, actor: c.Actor, cmd: c.Renew) -> list[e.Event]:
        clause = self.active_clause(group, cmd.clause)
        proposal = self._open(
            group, actor, c.ProposalKind.RENEWAL, clause.text, clause, consent_now=True
        )
        return [self._opened_event(group, proposal)]

    def do_Repeal(self, group: Group, actor: c.Actor, cmd: c.Repeal) -> list[e.Event]:
        clause = self.active_clause(group, cmd.clause)
        reason = self._text(cmd.reason, "repeal", MAX_REASON)
        proposal = self._open(
            group,
            actor,
            c.ProposalKind.REPEAL,
            clause.text,
            clause,
            consent_now=True,
            reason=reason,
        )
        return [self._opened_event(group, proposal)]

    def active_clause(self, group: Group, number: int) -> Clause:
        clause = self.clause(group, number)
        if clause.status != "active":
            raise DomainError("clause_not_active", number=clause.id, status=clause.status)
        return clause

    def _open(
        self,
        group: Group,
        actor: c.Actor,
        kind: c.ProposalKind,
        text: str,
        clause: Clause | None,
        consent_now: bool = False,
        reason: str | None = None,
    ) -> Proposal:
        """A new proposal in its first phase, with its first text version and round."""
        phase = Phase.CONSENT if consent_now else Phase.AMENDMENT
        hours = group.consent_hours if consent_now else group.amendment_hours
        proposal = Proposal(
            group_id=group.id,
            charter_id=f"group:{group.id}",
            kind=kind.value,
            clause_id=clause.id if clause else None,
            author_id=actor.person,
            text=text,
            text_version=1,
            reason=reason,
            phase=phase.value,
            round_no=1,
            phase_opened_at=self.now,
            phase_closes_at=closes_at(self.now, hours),
            created_at=self.now,
        )
        self.s.add(proposal)
        self.s.flush()
        self.s.add(
            TextVersion(
                proposal_id=proposal.id,
                version=1,
                text=text,
                author_id=actor.person,
                created_at=self.now,
            )
        )
        self._open_round(proposal, phase)
        return proposal

    def _open_round(self, proposal: Proposal, phase: Phase) -> Round:
        round_ = Round(
            proposal_id=proposal.id,
            number=proposal.round_no,
            phase=phase.value,
            opened_at=self.now,
            closes_at=proposal.phase_closes_at,
        )
        self.s.add(round_)
        if proposal.phase_closes_at is not None:
            self.s.add(
                Timer(
                    kind=f"close_{phase.value}",
                    proposal_id=proposal.id,
                    round_no=proposal.round_no,
                    due_at=proposal.phase_closes_at,
                )
            )
            if phase is Phase.CONSENT:
                self._set_reminders(proposal, proposal.phase_closes_at)
        self.s.flush()
        return round_

    def _set_reminders(self, proposal: Proposal, close: datetime) -> None:
        """The reminders before a consent round closes: those still ahead of us (a 12-hour
        round gets the 1-hour reminder only)."""
        for due in sorted({close - lead for lead in REMINDERS_BEFORE_CLOSE}):
            if due > self.now:
                self.s.add(
                    Timer(
                        kind=REMIND_CONSENT,
                        proposal_id=proposal.id,
                        round_no=proposal.round_no,
                        due_at=due,
                    )
                )

    def _cancel_reminders(self, proposal: Proposal) -> None:
        """The consent round ended before its time: its reminders are done, unsent."""
        self.s.execute(
            update(Timer)
            .where(
                Timer.kind == REMIND_CONSENT,
                Timer.proposal_id == proposal.id,
                Timer.done_at.is_(None),
            )
            .values(claimed_by="cancelled", claimed_at=self.now, done_at=self.now)
        )

    def _opened_event(self, group: Group, proposal: Proposal) -> e.ProposalOpened:
        return e.ProposalOpened(
            group=group.id,
            proposal=proposal.id,
            kind=proposal.kind,
            author=self.name_of(proposal.author_id),
            text=proposal.text,
            phase=proposal.phase,
            closes_at=proposal.phase_closes_at,
            clause=proposal.clause_id,
            reason=proposal.reason,
        )

    def _maybe_skip_amendment(self, group: Group, proposal: Proposal) -> list[e.Event]:
        """``amendment_hours = 0`` goes straight to consent."""
        if group.amendment_hours > 0:
            return []
        return [self._close_amendment(group, proposal, late=False, skipped=True)]

    # -- amendments --------------------------------------------------------------------

    def do_Amend(self, group: Group, actor: c.Actor, cmd: c.Amend) -> list[e.Event]:
        proposal = self.proposal(group.id, cmd.proposal, cmd)
        self.expect(proposal, Phase.AMENDMENT)
        if cmd.passage is not None:
            passage = cmd.passage
            replacement = cmd.replacement or ""
            if not passage.strip():
                raise DomainError("text_required", command="amend")
            if len(passage) > MAX_TEXT or len(replacement) > MAX_TEXT:
                raise DomainError(
                    "text_too_long", limit=MAX_TEXT, length=max(len(passage), len(replacement))
                )
            check_passage(proposal.text, passage, replacement)
            # Fix: the reported length was len(text) + len(replacement), not the result's.
            length = len(proposal.text) - len(passage) + len(replacement)
            if length > MAX_TEXT:
                raise DomainError("text_too_long", limit=MAX_TEXT, length=length)
            text = None
        else:
            passage = replacement = None
            text = self._text(cmd.text, "amend")
            if text == proposal.text:
                raise DomainError("passage_same")
        amendment = Amendment(
            proposal_id=proposal.id,
            round_no=proposal.round_no,
            author_id=actor.person,
            passage=passage,
            replacement=replacement,
            text=text,
            base_version=proposal.text_version,
            status="open",
            created_at=self.now,
        )
        self.s.add(amendment)
        self.s.flush()
        return [
            e.AmendmentProposed(
                group=group.id,
                amendment=amendment.id,
                proposal=proposal.id,
                author=actor.name,
                passage=passage,
                replacement=replacement,
                text=text,
            )
        ]

    def _open_amendment(self, group: Group, number: int) -> tuple[Amendment, Proposal]:
        amendment, proposal = self.amendment(group, number)
        self.expect(proposal, Phase.AMENDMENT)
        if amendment.status != "open":
            raise DomainError("amendment_closed", number=amendment.id, status=amendment.status)
        return amendment, proposal

    def do_VoteAmendment(self, group: Group, actor: c.Actor, cmd: c.VoteAmendment) -> list[e.Event]:
        amendment, proposal = self._open_amendment(group, cmd.amendment)
        if amendment.author_id == actor.person:
            raise DomainError("own_amendment", number=amendment.id)
        vote = self.s.get(AmendmentVote, (amendment.id, actor.person))
        if vote is None:
            self.s.add(
                AmendmentVote(
                    amendment_id=amendment.id,
                    person_id=actor.person,
                    support=cmd.support,
                    at=self.now,
                )
            )
        else:
            vote.support, vote.at = cmd.support, self.now
        self.s.flush()
        support, oppose = queries.amendment_counts(self.s, amendment.id)
        return [
            e.AmendmentVoted(
                group=group.id,
                amendment=amendment.id,
                proposal=proposal.id,
                voter=actor.name,
                support=cmd.support,
                supporters=support,
                opposers=oppose,
            )
        ]

    def do_AcceptAmendment(
        self, group: Group, actor: c.Actor, cmd: c.AcceptAmendment
    ) -> list[e.Event]:
        amendment, proposal = self._open_amendment(group, cmd.amendment)
        proposal = self.proposal(group.id, proposal.id, cmd)  # locked for update
        if proposal.author_id != actor.person:
            raise DomainError("not_author", kind="P", number=proposal.id)
        fit = self._apply(proposal, amendment, status="accepted")
        if fit is not Fit.OK:
            # Fix: an ambiguous passage was refused as "not found", and a result over the
            # length limit had no reply of its own. (The refusal rolls everything back.)
            if fit is Fit.PASSAGE_AMBIGUOUS:
                count = occurrences(proposal.text, amendment.passage or "")
                raise DomainError("passage_ambiguous", passage=amendment.passage, count=count)
            if fit is Fit.PASSAGE_MISSING:
                raise DomainError("passage_not_found", passage=amendment.passage)
            if fit is Fit.TOO_LONG:
                grown = len(amendment.replacement or "") - len(amendment.passage or "")
                length = len(proposal.text) + grown
                raise DomainError("text_too_long", limit=MAX_TEXT, length=length)
            raise DomainError("amendment_closed", number=amendment.id, status="conflicting")
        return [
            e.AmendmentAccepted(
                group=group.id,
                amendment=amendment.id,
                proposal=proposal.id,
                author=self.name_of(amendment.author_id),
                version=proposal.text_version,
                text=proposal.text,
            )
        ]

    def _apply(self, proposal: Proposal, amendment: Amendment, status: str) -> Fit:
        """Apply one amendment: a new text version credited to its author."""
        change = Change(
            amendment.passage, amendment.replacement, amendment.text, amendment.base_version
        )
        # Fix: limit=MAX_TEXT, or amendments applied together could exceed the text limit.
        fit, text = apply(proposal.text, proposal.text_version, change, limit=MAX_TEXT)
        if fit is not Fit.OK:
            return fit
        proposal.text = text
        proposal.text_version += 1
        amendment.status = status
        amendment.applied_version = proposal.text_version
        self.s.add(
            TextVersion(
                proposal_id=proposal.id,
                version=proposal.text_version,
                text=text,
                author_id=amendment.author_id,
                amendment_id=amendment.id,
                created_at=self.now,
            )
        )
        self.s.flush()
        return fit

    def _close_amendment(
        self, group: Group, proposal: Proposal, late: bool, skipped: bool = False
    ) -> e.ConsentOpened:
        """Apply supported amendments by net support, report conflicts, open consent."""
        self.current_round(proposal, Phase.AMENDMENT).closed_at = self.now
        open_ones = self.s.scalars(
            select(Amendment)
            .where(Amendment.proposal_id == proposal.id, Amendment.status == "open")
            .order_by(Amendment.id)
        ).all()
        by_number = {a.id: a for a in open_ones}
        counts = [(a.id, *queries.amendment_counts(self.s, a.id)) for a in open_ones]
        order = order_by_support(counts)
        applied: list[e.AppliedAmendment] = []
        conflicts: list[e.ConflictingAmendment] = []
        for number in order:
            amendment = by_number[number]
            fit = self._apply(proposal, amendment, status="applied")
            if fit is Fit.OK:
                applied.append(
                    e.AppliedAmendment(
                        number, self.name_of(amendment.author_id), proposal.text_version
                    )
                )
            else:
                amendment.status = "conflicting"
                conflicts.append(
                    e.ConflictingAmendment(number, self.name_of(amendment.author_id), fit.value)
                )
        not_passed = tuple(n for n in by_number if n not in order)
        for number in not_passed:
            by_number[number].status = "not_passed"
        self.move(proposal, Action.CLOSE_AMENDMENT)
        proposal.phase_opened_at = self.now
        proposal.phase_closes_at = closes_at(self.now, group.consent_hours)
        self._open_round(proposal, Phase.CONSENT)
        return e.ConsentOpened(
            group=group.id,
            proposal=proposal.id,
            round=proposal.round_no,
            kind=proposal.kind,
            text=proposal.text,
            version=proposal.text_version,
            closes_at=proposal.phase_closes_at,
            applied=tuple(applied),
            conflicts=tuple(conflicts),
            not_passed=not_passed,
            clause=proposal.clause_id,
            late=late,
            skipped=skipped,
        )

    # -- consent -----------------------------------------------------------------------

    def state_position(self, actor: c.Actor, cmd: c.StatePosition) -> list[e.Event]:
        reason = (cmd.reason or "").strip() or None
        if cmd.stance is c.Stance.OBJECT and not reason:
            raise DomainError("reason_required", command="object")
        if reason and len(reason) > MAX_REASON:
            raise DomainError("text_too_long", limit=MAX_REASON, length=len(reason))
        number = cmd.proposal
        if number is None:
            self.enter(actor)
            number = self.proposal(actor.group, None, cmd, lock=False).id
        return [positions.record(self.s, self.dialect, self.now, actor, number, cmd.stance, reason)]

    def do_RetractPosition(
        self, group: Group, actor: c.Actor, cmd: c.RetractPosition
    ) -> list[e.Event]:
        """Take back one's position: the person has none in the round any more.

        Ordered against the round's close as a vote is: the proposal is read unlocked, and
        the open round's row is locked under ``closed_at IS NULL`` before the position is
        read or written (a close holds that lock while it counts), so a retraction that
        finds the round closed changes nothing, and one that gets in first is not counted.
        """
        proposal = self.proposal(group.id, cmd.proposal, cmd, lock=False)
        self.expect(proposal, Phase.CONSENT)
        query = select(Round.id).where(
            Round.proposal_id == proposal.id,
            Round.number == proposal.round_no,
            Round.phase == Phase.CONSENT.value,
            Round.closed_at.is_(None),
        )
        if self.dialect == "postgresql":
            query = query.with_for_update()
        round_id = self.s.scalar(query)
        if round_id is None:  # the round closed while this request was on its way
            raise DomainError(
                "wrong_phase", number=proposal.id, phase="closed", expected=("consent",)
            )
        table = Position.__table__
        previous = (
            self.s.connection()
            .execute(
                delete(table)
                .where(table.c.round_id == round_id, table.c.person_id == actor.person)
                .returning(table.c.stance)
            )
            .scalar()
        )
        if previous is None:
            raise DomainError("no_position", number=proposal.id)
        self.s.add(
            PositionChange(
                round_id=round_id,
                person_id=actor.person,
                stance="retract",
                reason=None,
                at=self.now,
            )
        )
        self.s.flush()
        tally = positions.shift_counts(self.s, round_id, previous, None)
        return [
            e.PositionRetracted(
                group=group.id,
                proposal=proposal.id,
                person=actor.name,
                previous=previous,
                tally=tally if group.show_tally != "after_close" else None,
                named=bool(group.named_votes),
            )
        ]

    def tally(self, round_id: int) -> Tally:
        rows = self.s.execute(
            select(Position.stance, func.count())
            .where(Position.round_id == round_id)
            .group_by(Position.stance)
        ).all()
        return Tally(**{stance: n for stance, n in rows})

    def statements(self, group: Group, round_id: int, stance: c.Stance) -> tuple[e.Statement, ...]:
        rows = self.s.execute(
            select(Person.name, Position.reason)
            .join(Person, Person.id == Position.person_id)
            .where(Position.round_id == round_id, Position.stance == stance.value)
            .order_by(Position.at)
        ).all()
        return tuple(
            e.Statement(name if group.named_votes else None, reason) for name, reason in rows
        )

    def _close_consent(self, group: Group, proposal: Proposal, late: bool) -> e.Decided:
        round_ = self.current_round(proposal, Phase.CONSENT)
        tally = self.tally(round_.id)
        eligible = max(actors.eligible(group), tally.stated)
        verdict = decide(tally, group.rule, Fraction(group.quorum), group.quorum_min, eligible)
        round_.closed_at, round_.eligible, round_.tally, round_.verdict = (
            self.now,
            eligible,
            tally.as_dict(),
            verdict.value,
        )
        proposal.phase_closes_at = None
        if verdict is Verdict.ADOPTED:
            return self._adopt(group, proposal, round_, tally, late, Action.ADOPT)
        action = Action.OBJECT if verdict is Verdict.OBJECTED else Action.REJECT
        self.move(proposal, action)
        proposal.phase_opened_at = self.now
        if verdict is Verdict.OBJECTED:
            self.s.add(
                Timer(
                    kind="expire",
                    proposal_id=proposal.id,
                    round_no=proposal.round_no,
                    due_at=self.now + timedelta(days=group.expire_days),
                )
            )
        else:
            proposal.ended_at = self.now
        proposal.outcome = {
            "verdict": verdict.value,
            "tally": tally.as_dict(),
            "eligible": eligible,
        }
        self.s.flush()
        return e.Decided(
            group=group.id,
            proposal=proposal.id,
            kind=proposal.kind,
            verdict=verdict,
            tally=tally,
            eligible=eligible,
            rule=group.rule,
            objections=self.statements(group, round_.id, c.Stance.OBJECT),
            concerns=self.statements(group, round_.id, c.Stance.CONCERN),
            clause=proposal.clause_id,
            late=late,
        )

    def _adopt(
        self,
        group: Group,
        proposal: Proposal,
        round_: Round,
        tally: Tally,
        late: bool,
        action: Action,
    ) -> e.Decided:
        """Write the adoption to the charter and the hash chain."""
        self.move(proposal, action)
        proposal.ended_at = self.now
        concerns = self.statements(group, round_.id, c.Stance.CONCERN)
        concern_list = [{"name": s.name, "reason": s.reason} for s in concerns]
        parties = [group.id]
        next_review = review_date(self.now, group.review_months, group.timezone)
        kind = c.ProposalKind(proposal.kind)
        if kind is c.ProposalKind.NEW:
            clause = Clause(
                charter_id=proposal.charter_id,
                status="active",
                version=0,
                text=proposal.text,
                parties=parties,
                adopted_at=self.now,
                created_at=self.now,
            )
            self.s.add(clause)
            self.s.flush()
        else:
            clause = self.s.get(Clause, proposal.clause_id)
            assert clause is not None
        chain_action = {"new": "adopt", "change": "change", "renewal": "renew", "repeal": "repeal"}[
            kind.value
        ]
        if kind in (c.ProposalKind.NEW, c.ProposalKind.CHANGE):
            clause.version += 1
            clause.text = proposal.text
            clause.parties = parties
        if kind is c.ProposalKind.REPEAL:
            clause.status = "repealed"
            self._supersede(group, clause, proposal)
            clause.next_review = None
        else:
            clause.adopted_at = self.now
            clause.next_review = next_review
        entry = self._append_chain(
            clause,
            chain_action,
            {
                "clause": clause.id,
                "version": clause.version,
                "text": clause.text,
                "parties": parties,
                "proposal": proposal.id,
                "tally": tally.as_dict(),
                "concerns": concern_list,
                "at": self.now.isoformat(),
                "next_review": clause.next_review.isoformat() if clause.next_review else None,
                "reason": proposal.reason,
            },
        )
        if kind in (c.ProposalKind.NEW, c.ProposalKind.CHANGE):
            self.s.add(
                ClauseVersion(
                    clause_id=clause.id,
                    version=clause.version,
                    text=clause.text,
                    proposal_id=proposal.id,
                    tally=tally.as_dict(),
                    parties=parties,
                    concerns=concern_list,
                    adopted_at=self.now,
                    next_review=clause.next_review,
                    entry_seq=entry.seq,
                )
            )
        proposal.outcome = {"verdict": "adopted", "tally": tally.as_dict(), "clause": clause.id}
        self.s.flush()
        return e.Decided(
            group=group.id,
            proposal=proposal.id,
            kind=proposal.kind,
            verdict=Verdict.ADOPTED,
            tally=tally,
            eligible=round_.eligible or tally.stated,
            rule=group.rule,
            objections=(),
            concerns=concerns,
            clause=clause.id,
            clause_version=clause.version,
            next_review=clause.next_review,
            chain_head=entry.hash,
            late=late,
        )

    def _supersede(self, group: Group, clause: Clause, repeal: Proposal) -> None:
        """End the other open proposals on a repealed clause: they no longer have a subject."""
        others = self.s.scalars(
            select(Proposal)
            .where(
                Proposal.clause_id == clause.id,
                Proposal.id != repeal.id,
                Proposal.phase.in_(OPEN_PHASES),
            )
            .order_by(Proposal.id)
        ).all()
        for other in others:
            self.move(other, Action.CLOSE)
            other.ended_at, other.phase_closes_at = self.now, None
            other.outcome = {"verdict": "superseded", "by": repeal.id}
            self.followups.append(
                e.ProposalEnded(
                    group=group.id, proposal=other.id, how="superseded", clause=clause.id
                )
            )

    def _append_chain(self, clause: Clause, action: str, body: dict[str, Any]) -> ChainEntry:
        if self.dialect == "postgresql":
            self.s.execute(select(func.pg_advisory_xact_lock(0x636861727465)))  # one writer
        head = self.s.scalars(select(ChainEntry).order_by(ChainEntry.seq.desc()).limit(1)).first()
        seq = head.seq + 1 if head else 1
        prev = head.hash if head else chain.GENESIS
        payload = {"seq": seq, "charter": clause.charter_id, "action": action, **body}
        entry = ChainEntry(
            seq=seq,
            charter_id=clause.charter_id,
            action=action,
            clause_id=clause.id,
            payload=chain.canonical_json(payload),
            prev_hash=prev,
            hash=chain.entry_hash(prev, payload),
            created_at=self.now,
        )
        self.s.add(entry)
        self.s.flush()
        return entry

    # -- after objections --------------------------------------------------------------

    def do_Withdraw(self, group: Group, actor: c.Actor, cmd: c.Withdraw) -> list[e.Event]:
        proposal = self.proposal(group.id, cmd.proposal, cmd)
        self.expect(proposal, *OPEN_PHASES)
        if proposal.phase == Phase.OBJECTED:
            round_ = self.current_round(proposal, Phase.CONSENT)
            position = self.s.get(Position, (round_.id, actor.person))
            if position is not None and position.stance == c.Stance.OBJECT:
                return self._withdraw_objection(group, proposal, round_, position, actor)
        if proposal.author_id != actor.person:
            if proposal.phase == Phase.OBJECTED:
                raise DomainError("not_objector", number=proposal.id)
            raise DomainError("not_author", kind="P", number=proposal.id)
        self.move(proposal, Action.WITHDRAW)
        proposal.ended_at, proposal.phase_closes_at = self.now, None
        self.s.flush()
        return [
            e.ProposalEnded(group=group.id, proposal=proposal.id, how="withdrawn", by=actor.name)
        ]

    def _withdraw_objection(
        self, group: Group, proposal: Proposal, round_: Round, position: Position, actor: c.Actor
    ) -> list[e.Event]:
        """An objector stands aside; with no objection left, the proposal is adopted."""
        position.stance, position.at = c.Stance.ABSTAIN.value, self.now
        self.s.add(
            PositionChange(
                round_id=round_.id,
                person_id=actor.person,
                stance="objection_withdrawn",
                reason=position.reason,
                at=self.now,
            )
        )
        self.s.flush()
        positions.shift_counts(self.s, round_.id, c.Stance.OBJECT.value, c.Stance.ABSTAIN.value)
        tally = self.tally(round_.id)
        events: list[e.Event] = [
            e.ObjectionWithdrawn(
                group=group.id, proposal=proposal.id, person=actor.name, remaining=tally.object
            )
        ]
        if tally.object == 0:
            round_.tally = tally.as_dict()
            events.append(
                self._adopt(group, proposal, round_, tally, False, Action.OBJECTIONS_WITHDRAWN)
            )
        return events

    def do_Resolve(self, group: Group, actor: c.Actor, cmd: c.Resolve) -> list[e.Event]:
        proposal = self.proposal(group.id, cmd.proposal, cmd)
        self.expect(proposal, Phase.OBJECTED)
        last = self.current_round(proposal, Phase.CONSENT)
        objectors = self.s.scalars(
            select(Person.name)
            .join(Position, Position.person_id == Person.id)
            .where(Position.round_id == last.id, Position.stance == c.Stance.OBJECT.value)
            .order_by(Position.at)
        ).all()
        self.move(proposal, Action.RESOLVE)
        proposal.round_no += 1
        proposal.phase_opened_at = self.now
        proposal.phase_closes_at = closes_at(self.now, group.amendment_hours or group.consent_hours)
        self._open_round(proposal, Phase.AMENDMENT)
        return [
            e.Resolved(
                group=group.id,
                proposal=proposal.id,
                round=proposal.round_no,
                objectors=tuple(objectors),
                closes_at=proposal.phase_closes_at,
                by=actor.name,
            )
        ]

    # -- mediators ---------------------------------------------------------------------

    def do_Next(self, group: Group, actor: c.Actor, cmd: c.Next) -> list[e.Event]:
        proposal = self.proposal(group.id, cmd.proposal, cmd)
        self.expect(proposal, Phase.AMENDMENT, Phase.CONSENT)
        return [self._close_phase(group, proposal, late=False)]

    def _close_phase(self, group: Group, proposal: Proposal, late: bool) -> e.Event:
        if proposal.phase == Phase.AMENDMENT:
            return self._close_amendment(group, proposal, late)
        return self._close_consent(group, proposal, late)

    def do_Close(self, group: Group, actor: c.Actor, cmd: c.Close) -> list[e.Event]:
        proposal = self.proposal(group.id, cmd.proposal, cmd)
        self.expect(proposal, *OPEN_PHASES)
        self.move(proposal, Action.CLOSE)
        proposal.ended_at, proposal.phase_closes_at = self.now, None
        self.s.flush()
        return [e.ProposalEnded(group=group.id, proposal=proposal.id, how="closed", by=actor.name)]

    def do_ChangeSetting(self, group: Group, actor: c.Actor, cmd: c.ChangeSetting) -> list[e.Event]:
        key = cmd.key.strip().lower()
        if key not in SETTINGS:
            raise DomainError("unknown_setting", key=cmd.key[:40], known=tuple(SETTINGS))
        parse, expected = SETTINGS[key]
        try:
            value = parse(cmd.value)
        except (ValueError, KeyError, InvalidOperation):
            raise DomainError("bad_setting_value", key=key, expected=expected) from None
        setattr(group, key, value)
        self.s.flush()
        if isinstance(value, bool):
            shown = "on" if value else "off"
        else:
            shown = f"{value:g}" if isinstance(value, float) else str(value)
        return [e.SettingChanged(group=group.id, key=key, value=shown)]

    def do_AddMediator(self, group: Group, actor: c.Actor, cmd: c.AddMediator) -> list[e.Event]:
        # A person named by a bare id ("/mediator add 13" on Telegram) is announced by the
        # name we know them by, not by the number typed.
        person = self.s.get(Person, cmd.person)
        name = person.name if person is not None else cmd.name
        if self.s.get(Mediator, (group.id, cmd.person)) is not None:
            raise DomainError("already_mediator", person=name)
        if person is None:
            self.s.add(Person(id=cmd.person, name=cmd.name, locale=None, timezone=None))
            self.s.flush()
        self.s.add(
            Mediator(
                group_id=group.id,
                person_id=cmd.person,
                appointed_by=actor.person,
                appointed_at=self.now,
            )
        )
        self.s.flush()
        return [e.MediatorChanged(group=group.id, person=name, added=True, by=actor.name)]

    def do_RemoveMediator(
        self, group: Group, actor: c.Actor, cmd: c.RemoveMediator
    ) -> list[e.Event]:
        person = self.s.get(Person, cmd.person)
        name = person.name if person is not None else cmd.name
        mediator = self.s.get(Mediator, (group.id, cmd.person))
        if mediator is None:
            raise DomainError("not_a_mediator", person=name)
        self.s.delete(mediator)
        self.s.flush()
        return [e.MediatorChanged(group=group.id, person=name, added=False, by=actor.name)]

    def set_language(self, actor: c.Actor, cmd: c.SetLanguage) -> list[e.Event]:
        person = self.s.get(Person, actor.person)
        assert person is not None
        person.locale = cmd.code
        self.s.flush()
        return [e.LanguageSet(group=actor.group, person=actor.name, code=cmd.code)]

    # -- deadlines ---------------------------------------------------------------------

    def fire(self, timer: Timer) -> list[e.Event]:
        """Carry out a due timer, if what it was set for still stands."""
        proposal = self.s.get(Proposal, timer.proposal_id) if timer.proposal_id else None
        if proposal is None or proposal.round_no != timer.round_no:
            return []
        group = self.s.get(Group, proposal.group_id)
        assert group is not None
        late = is_late(timer.due_at, self.now)
        if timer.kind in ("close_amendment", "close_consent"):
            phase = timer.kind.removeprefix("close_")
            if proposal.phase != phase or proposal.phase_closes_at != timer.due_at:
                return []  # closed early by /next, or rescheduled
            return [self._close_phase(group, proposal, late), *self.followups]
        if timer.kind == REMIND_CONSENT:
            reminder = self._reminder(group, proposal, timer.due_at)
            return [reminder] if reminder is not None else []
        if timer.kind == "expire" and proposal.phase == Phase.OBJECTED:
            self.move(proposal, Action.EXPIRE)
            proposal.ended_at = self.now
            self.s.flush()
            return [e.ProposalEnded(group=group.id, proposal=proposal.id, how="expired", late=late)]
        return []

    def _reminder(
        self, group: Group, proposal: Proposal, due: datetime
    ) -> e.ConsentReminder | None:
        """The reminder set at ``due`` before the consent round closes, if it is still worth
        sending: the round is still open, someone has yet to state a position, and at least
        half the reminder's lead time is left (a 24-hour reminder carried out with 30
        minutes to go, after the bot was down, is dropped; a 1-hour reminder 10 minutes
        late is sent)."""
        close = proposal.phase_closes_at
        if proposal.phase != Phase.CONSENT or close is None or self.now >= close:
            return None
        lead = close - due
        if lead <= timedelta(0) or (close - self.now) * 2 < lead:
            return None  # rescheduled past it, or its moment is long past
        round_id = self.s.scalar(
            select(Round.id).where(
                Round.proposal_id == proposal.id,
                Round.number == proposal.round_no,
                Round.phase == Phase.CONSENT.value,
                Round.closed_at.is_(None),
            )
        )
        if round_id is None:
            return None
        responded = self.tally(round_id).stated
        eligible = max(actors.eligible(group), responded)  # as the close counts
        if eligible <= responded:
            return None  # everyone has stated a position: no one to remind
        return e.ConsentReminder(
            group=group.id,
            proposal=proposal.id,
            closes_at=close,
            responded=responded,
            eligible=eligible,
            not_responded=eligible - responded,
        )
