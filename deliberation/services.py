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
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.util import identity_key

from deliberation import actors, positions, queries
from deliberation import charter as chain
from deliberation import commands as c
from deliberation import events as e
from deliberation.alliances import (
    AllianceWork,
    alliance_number,
    alliance_number_of_charter,
    alliance_verdict,
    charter_of,
)
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
    Alliance,
    Amendment,
    AmendmentVote,
    ChainEntry,
    Charter,
    Clause,
    ClauseVersion,
    Group,
    Mediator,
    Meeting,
    Member,
    Person,
    Position,
    PositionChange,
    Proposal,
    Round,
    TextVersion,
    Timer,
    Translation,
)
from deliberation.phases import (
    OPEN_PHASES,
    Action,
    InvalidTransition,
    Phase,
    advance,
    allowed_from,
)
from deliberation.settings import SETTINGS, Defaults, lead_times
from deliberation.store.db import Database, is_transient
from deliberation.tally import Tally, Verdict, decide
from deliberation.timers import (
    MEETING_REMINDERS,
    OPEN_SCHEDULED,
    PROPOSAL_LOCAL,
    REMIND_CONSENT,
    REMIND_MEETING,
    REMIND_RENEWAL,
    REVIEW,
    Clock,
    closes_at,
    is_late,
    review_date,
    review_moment,
)
from deliberation.when import BadTime, parse_duration, parse_when, split_when

log = logging.getLogger(__name__)

MAX_TEXT = 3000  # characters of a proposal or amendment text (fits one chat message)
MAX_REASON = 1000
STALE_RETRIES = 3
# Due timers claimed per transaction by ``run_due_timers`` (docs/benchmarks.md, "Timers").
TIMER_BATCH = 100
# A claimed timer marked done just before its work runs (built once: a sweep runs it often).
_TIMER_DONE = (
    update(Timer.__table__)
    .where(Timer.__table__.c.id == bindparam("timer"))
    .values(claimed_at=bindparam("now"), done_at=bindparam("now"))
)
# The same for a run of deadlines whose done marks wait for one flush (``_DeferredWrites``).
_TIMERS_DONE = (
    update(Timer.__table__)
    .where(Timer.__table__.c.id.in_(bindparam("timers", expanding=True)))
    .values(claimed_at=bindparam("now"), done_at=bindparam("now"))
)
# The author of the renewal proposals that open by themselves on a clause's review date.
SYSTEM_PERSON = "system:charterbot"
# The timer kind of a reminder before a consent round closes (one per lead time).

BeforeCommit = Callable[[Session, list[e.Event]], None]
Outcome = list[e.Event] | DomainError  # what one command of a batch came to


# The command word users type, where it is not the class name (the refusal names it).
_COMMAND_WORDS: dict[type, str] = {
    c.ChangeSetting: "settings",
    c.AddMediator: "mediator",
    c.RemoveMediator: "mediator",
    c.AnnounceMeeting: "meeting",
    c.CancelMeeting: "meeting",
    **dict.fromkeys(
        (
            c.CreateAlliance,
            c.InviteToAlliance,
            c.RevokeInvites,
            c.JoinAlliance,
            c.LeaveAlliance,
            c.AllianceSetting,
        ),
        "alliance",
    ),
}

_SETTING_COMMANDS = {"timezone": "timezone", "languages": "grouplang"}

# The phase an omitted proposal id is looked for in, per command.
_IMPLIED_PHASES: dict[type, tuple[Phase, ...]] = {
    c.Amend: (Phase.AMENDMENT,),
    c.StatePosition: (Phase.CONSENT,),
    c.Withdraw: OPEN_PHASES,
    c.Resolve: (Phase.OBJECTED,),
    c.Next: (Phase.AMENDMENT, Phase.CONSENT),
    c.Close: OPEN_PHASES,
    c.Schedule: (Phase.AMENDMENT, Phase.OBJECTED),
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
        """Carry out the deadlines due now (at most ``limit``), oldest first.

        Up to ``TIMER_BATCH`` due timers are claimed per transaction, in ``(due_at, id)``
        order, and carried out in that order, each with its ``before_commit`` call. The
        claim, the work and what the caller records about it commit together: a crash
        rolls them back and the timers stay due. A second process skips the claimed rows
        (``SKIP LOCKED`` on PostgreSQL, the ``BEGIN IMMEDIATE`` write lock on SQLite).

        A run of deadlines that each touch only their own proposal is written in one flush
        (``_DeferredWrites``); any other deadline is written by itself, before the next.

        A timer whose work raises is set aside (``claimed_by = "failed"``); one that meets
        a concurrent change to its proposal (``StaleDataError``) is tried again on the
        fresh row, up to ``STALE_RETRIES`` times. Either rolls its batch back, and the batch
        is claimed again: the timers before it are carried out again, and it is set aside
        without being tried again, or retried. (Savepoints would spare that second pass but
        cost every timer two more statements, about a fifth of a sweep on PostgreSQL;
        docs/benchmarks.md, "Timers".) A failure that cannot be pinned on one timer (among
        deferred writes, or the commit) sends the batch's timers one per transaction. A
        failure of the store itself (``is_transient``: the connection lost, a lock not
        granted) is no deadline's fault and sets none aside: it is raised, what it rolled back
        stays due, and the caller's next sweep carries it out.
        """
        done: list[e.Event] = []
        stale: dict[int, int] = {}  # timer id -> concurrent changes met
        failed: set[int] = set()  # timers whose work raised: set aside when claimed again
        one_by_one = 0  # timers still to claim one per transaction, after a failed batch
        while limit > 0:
            size = 1 if one_by_one else min(limit, TIMER_BATCH)
            with self.db.unit_of_work() as uow:
                s, now = uow.session, self.clock.now()
                query = (
                    select(Timer)
                    .where(Timer.done_at.is_(None), Timer.due_at <= now)
                    .order_by(Timer.due_at, Timer.id)
                    .limit(size)
                )
                if self.db.dialect == "postgresql":
                    query = query.with_for_update(skip_locked=True)
                timers = s.scalars(query).all()
                if not timers:
                    break
                claimed = [(t.id, t.kind) for t in timers]  # read now: a failed write expires them
                # The batch's proposals and groups in two reads, not one or two per timer:
                # ``fire`` and the hook then find them in the session, which holds an object
                # only while something refers to it (hence ``subjects``).
                subjects = self._subjects(s, timers)
                deferred = _DeferredWrites(s, now)
                events: list[e.Event] = []
                for timer, (timer_id, kind) in zip(timers, claimed, strict=True):
                    if timer_id in failed:
                        continue
                    if timer.done_at is not None:
                        continue  # done meanwhile by one before it (a reminder cancelled)
                    defer = size > 1 and deferred.can_take(timer)
                    try:
                        if defer:
                            fired = deferred.run(timer, self._worker(s, now), before_commit)
                        else:
                            deferred.flush()  # what ran before is written before this reads
                    except Exception:
                        # A deferred write (or work among deferred writes) failed: which
                        # deadline's is not known. One per transaction, it is pinned.
                        log.exception("timer batch failed; one by one now", extra={"kind": kind})
                        one_by_one = len(claimed)
                        break
                    if not defer:
                        try:
                            # Done before its work runs, as the work may look at pending
                            # timers. (A plain UPDATE: as an ORM change it would cost a flush.)
                            s.connection().execute(_TIMER_DONE, {"timer": timer_id, "now": now})
                            set_committed_value(timer, "claimed_at", now)
                            set_committed_value(timer, "done_at", now)
                            fired = self._worker(s, now).fire(timer)
                            if before_commit:
                                before_commit(s, fired)
                            s.flush()  # a write that fails is this timer's
                        except StaleDataError:
                            # A command changed the proposal meanwhile (another process,
                            # PostgreSQL): carried out again on the fresh row.
                            stale[timer_id] = stale.get(timer_id, 0) + 1
                            if stale[timer_id] > STALE_RETRIES:
                                log.exception(
                                    "timer kept meeting changes; set aside",
                                    extra={"timer": timer_id, "kind": kind},
                                )
                                failed.add(timer_id)
                            break
                        except Exception as exc:
                            if is_transient(exc):
                                raise  # the store failed, not the deadline: it stays due
                            # One deadline that cannot be carried out must not block every
                            # later one: set it aside, visibly, and go on.
                            log.exception(
                                "timer failed; set aside", extra={"timer": timer_id, "kind": kind}
                            )
                            failed.add(timer_id)
                            break
                    events.extend(fired)
                else:
                    aside = [timer_id for timer_id, _kind in claimed if timer_id in failed]
                    if aside:
                        s.execute(
                            update(Timer)
                            .where(Timer.id.in_(aside))
                            .values(claimed_by="failed", claimed_at=now, done_at=now),
                            execution_options={"synchronize_session": False},
                        )
                    try:
                        deferred.flush()
                        uow.commit()
                    except Exception as exc:
                        uow.rollback()
                        if is_transient(exc):
                            raise  # the store failed (a lost commit is seen done next time)
                        if len(claimed) > 1:
                            log.exception("timer batch failed to commit; one by one now")
                            one_by_one = len(claimed)
                            continue
                        timer_id, kind = claimed[0]
                        log.exception(
                            "timer failed; set aside", extra={"timer": timer_id, "kind": kind}
                        )
                        self._set_aside(timer_id, now)
                        events = []
                    done.extend(events)
                    limit -= len(claimed)
                    one_by_one = max(0, one_by_one - len(claimed))
                    failed.difference_update(timer_id for timer_id, _kind in claimed)
                del subjects  # the batch is over (committed, or rolled back to be claimed again)
        return done

    def _worker(self, s: Session, now: datetime) -> _Work:
        return _Work(s, now, self.defaults, self.db.dialect)

    @staticmethod
    def _subjects(s: Session, timers: Sequence[Timer]) -> list[Proposal | Group]:
        """The proposals of a batch of timers and their groups, loaded into the session."""
        numbers = {t.proposal_id for t in timers if t.proposal_id is not None}
        if not numbers:
            return []
        proposals = s.scalars(select(Proposal).where(Proposal.id.in_(numbers))).all()
        groups = s.scalars(select(Group).where(Group.id.in_({p.group_id for p in proposals})))
        return [*proposals, *groups.all()]

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


class _DeferredWrites:
    """A run of deadlines in one sweep batch whose writes go out in one flush.

    SQLAlchemy writes each flush's new rows of a table in one statement and its updates as
    one batch, and a flush has a fixed cost in Python: a flush per deadline was most of a
    sweep's time (docs/benchmarks.md, "Timers"). A deadline may join the run when its work
    touches only its own proposal (``PROPOSAL_LOCAL``) and no deadline of the run touched
    that proposal: its reads then cannot miss a write still waiting, so it runs without
    autoflush. Any other deadline flushes the run first. A failure while writes wait cannot
    be pinned to one deadline; the caller then carries the batch out one per transaction.
    """

    def __init__(self, session: Session, now: datetime) -> None:
        self.s, self.now = session, now
        self.timers: list[int] = []  # carried out, their done marks and writes waiting
        self.proposals: set[int] = set()

    def can_take(self, timer: Timer) -> bool:
        return (
            timer.kind in PROPOSAL_LOCAL
            and timer.proposal_id is not None
            and timer.proposal_id not in self.proposals
        )

    def run(self, timer: Timer, work: _Work, before_commit: BeforeCommit | None) -> list[e.Event]:
        with self.s.no_autoflush:
            fired = work.fire(timer)
            if before_commit:
                before_commit(self.s, fired)
        set_committed_value(timer, "claimed_at", self.now)
        set_committed_value(timer, "done_at", self.now)
        self.timers.append(timer.id)
        self.proposals.add(timer.proposal_id)
        return fired

    def flush(self) -> None:
        if self.timers:
            self.s.connection().execute(_TIMERS_DONE, {"timers": self.timers, "now": self.now})
            self.s.flush()
            self.timers, self.proposals = [], set()


class _Work(AllianceWork):
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
        if isinstance(command, c.SetReminders):
            raise DomainError("private_only", command="remind")  # reminders go to a private chat
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
            if isinstance(command, c.ChangeSetting):
                # the settings with commands of their own (/timezone, /grouplang)
                word = _SETTING_COMMANDS.get(command.key.strip().lower(), word)
            raise DomainError("not_mediator", command=word)
        handler = getattr(self, "do_" + type(command).__name__)
        return self.fan_out(handler(group, actor, command) + self.followups)

    def in_private(self, actor: c.Actor, command: c.Command) -> list[e.Event]:
        """A private chat is no group: a person may only set their own language there, and
        ask for private reminders (in this chat)."""
        own_zone = isinstance(command, c.ChangeSetting) and command.key == "timezone"
        if not (own_zone or isinstance(command, c.SetLanguage | c.Register | c.SetReminders)):
            raise DomainError("group_only")
        person = self.s.get(Person, actor.person)
        if person is None:
            person = Person(id=actor.person, name=actor.name)
            self.s.add(person)
        elif person.name != actor.name:
            person.name = actor.name
        if actor.language_hint:
            person.language_hint = actor.language_hint
        self.s.flush()
        if isinstance(command, c.Register):
            return []
        if isinstance(command, c.SetReminders):
            return self.set_reminders(actor, command)
        if isinstance(command, c.ChangeSetting):
            return self.set_own_timezone(actor, person, command.value)
        return self.set_language(actor, command)

    def set_own_timezone(self, actor: c.Actor, person: Person, value: str) -> list[e.Event]:
        """``/timezone Area/City`` in a private chat: the person's own time zone, used for
        what the bot writes to them (replies, private reminders)."""
        parse, expected = SETTINGS["timezone"]
        try:
            zone = parse(value)
        except KeyError:
            raise DomainError("bad_setting_value", key="timezone", expected=expected) from None
        person.timezone = zone
        self.s.flush()
        return [e.TimezoneSet(group=actor.group, person=actor.name, zone=zone)]

    def enter(self, actor: c.Actor) -> None:
        if actors.enter(self.s.connection(), actor, self.now, self._new_group):
            for stale in (
                identity_key(Group, actor.group),
                identity_key(Charter, f"group:{actor.group}"),
            ):
                held = self.s.identity_map.get(stale)
                if held is not None:
                    self.s.expire(held, ["title"] if isinstance(held, Group) else ["name"])

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
            ours = Proposal.group_id == group_id
            allied = self.allied_charters(group_id)
            numbers = self.s.scalars(
                select(Proposal.id)
                .where(or_(ours, Proposal.charter_id.in_(allied)) if allied else ours)
                .where(Proposal.phase.in_(phases))
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
        if not self.takes_part(proposal, group_id):
            raise DomainError("not_in_group", kind="P", number=number)
        return proposal

    def amendment(self, group: Group, number: int) -> tuple[Amendment, Proposal]:
        amendment = self.s.get(Amendment, number)
        if amendment is None:
            raise DomainError("no_such_amendment", number=number)
        proposal = self.s.get(Proposal, amendment.proposal_id)
        assert proposal is not None
        if not self.takes_part(proposal, group.id):
            raise DomainError("not_in_group", kind="A", number=number)
        return amendment, proposal

    def clause(self, group: Group, number: int) -> Clause:
        clause = self.s.get(Clause, number)
        if clause is None:
            raise DomainError("no_such_clause", number=number)
        if clause.charter_id != f"group:{group.id}" and clause.charter_id not in (
            self.allied_charters(group.id)
        ):
            raise DomainError("not_in_group", kind="C", number=number)
        return clause

    def current_round(self, proposal: Proposal, phase: Phase, party: str = "") -> Round:
        """The open round of ``phase`` (of group ``party``, in an alliance proposal's
        consent phase), row-locked on PostgreSQL.

        The lock orders a closing round after any vote still in flight: votes update the
        round's counts (``positions.record``), so a close waits for them and then counts
        them, and a vote arriving after the close finds the round closed.
        """
        query = select(Round).where(
            Round.proposal_id == proposal.id,
            Round.number == proposal.round_no,
            Round.phase == phase.value,
            Round.party == party,
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
        # A scheduled round belongs to the phase it was scheduled in: it opens (and is
        # consumed) or the proposal moved on some other way (/resolve, /close) and it lapses.
        proposal.scheduled_phase = proposal.scheduled_at = proposal.scheduled_hours = None
        if (
            proposal.kind == c.ProposalKind.RENEWAL
            and proposal.phase not in OPEN_PHASES
            and proposal.phase != Phase.ADOPTED
        ):
            # Every way a renewal ends unadopted passes here: rejected, expired, closed.
            self._not_renewed(proposal)

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
        charter = (
            charter_of(self.alliance_of(group, cmd.alliance).id)
            if cmd.allied
            else f"group:{group.id}"
        )
        text = self._text(cmd.text, "propose")
        clause = None
        if cmd.kind is c.ProposalKind.CHANGE:
            if cmd.clause is None:
                raise DomainError("bad_id", kind="C", given="")
            clause = self.clause(group, cmd.clause)
            if clause.status != "active":
                raise DomainError("clause_not_active", number=clause.id, status=clause.status)
            charter = clause.charter_id  # a change of an alliance's clause is the alliance's
        proposal = self._open(group, actor, cmd.kind, text, clause, charter=charter)
        opened = self._opened_event(group, proposal)
        skipped = self._maybe_skip_amendment(group, proposal)
        if skipped:  # announced as a proposal in consent; the round's timing follows
            opened = dataclasses.replace(opened, phase=Phase.CONSENT.value, closes_at=None)
        return [opened, *skipped]

    def do_Renew(self, group: Group, actor: c.Actor, cmd: c.Renew) -> list[e.Event]:
        clause = self.active_clause(group, cmd.clause)
        running = self._open_renewal(clause)
        if running is not None:
            raise DomainError("renewal_open", clause=clause.id, proposal=running)
        return [self._opened_event(group, self._renewal(group, actor, clause))]

    def _renewal(self, group: Group, actor: c.Actor, clause: Clause) -> Proposal:
        """A renewal of the clause's current text, in consent at once, in the clause's
        charter (an alliance's clause: a renewal by the whole alliance)."""
        return self._open(
            group,
            actor,
            c.ProposalKind.RENEWAL,
            clause.text,
            clause,
            consent_now=True,
            charter=clause.charter_id,
        )

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
            charter=clause.charter_id,
        )
        return [self._opened_event(group, proposal)]

    def _open_renewal(self, clause: Clause) -> int | None:
        return self.s.scalar(
            select(Proposal.id).where(
                Proposal.clause_id == clause.id,
                Proposal.kind == c.ProposalKind.RENEWAL.value,
                Proposal.phase.in_(OPEN_PHASES),
            )
        )

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
        charter: str | None = None,
    ) -> Proposal:
        """A new proposal in its first phase, with its first text version and round, in
        ``charter`` (the group's own unless said: an alliance's makes an alliance proposal)."""
        phase = Phase.CONSENT if consent_now else Phase.AMENDMENT
        hours = group.consent_hours if consent_now else group.amendment_hours
        proposal = Proposal(
            group_id=group.id,
            charter_id=charter or f"group:{group.id}",
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

    def _open_round(self, proposal: Proposal, phase: Phase) -> None:
        """The phase's round and its timers, written with the caller's next flush. An
        alliance proposal's consent round is one per group of the alliance."""
        number = alliance_number(proposal)
        if number is not None and phase is Phase.CONSENT:
            self.open_party_rounds(proposal, number)
        else:
            self.s.add(
                Round(
                    proposal_id=proposal.id,
                    number=proposal.round_no,
                    phase=phase.value,
                    opened_at=self.now,
                    closes_at=proposal.phase_closes_at,
                )
            )
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

    def _set_reminders(self, proposal: Proposal, close: datetime) -> None:
        """The reminders before a consent round closes: those still ahead of us (a 12-hour
        round gets the 1-hour reminder only), at the group's ``reminders_before_close``."""
        group = self.s.get(Group, proposal.group_id)
        try:
            leads = lead_times(group.reminders_before_close if group else "")
        except ValueError:  # not stored by /settings: the defaults'
            leads = lead_times(self.defaults.reminders_before_close)
        for due in sorted({close - lead for lead in leads}):
            if due > self.now:
                self.s.add(
                    Timer(
                        kind=REMIND_CONSENT,
                        proposal_id=proposal.id,
                        round_no=proposal.round_no,
                        due_at=due,
                    )
                )

    def _reset_reminders(self, group: Group) -> None:
        """``reminders_before_close`` changed: the consent rounds open now follow the new
        lead times from here on (reminders already given stay given; a lead whose moment
        has passed is not set)."""
        leads = lead_times(group.reminders_before_close)
        rounds = self.s.scalars(
            select(Proposal).where(
                Proposal.group_id == group.id,
                Proposal.phase == Phase.CONSENT.value,
                Proposal.phase_closes_at.is_not(None),
            )
        ).all()
        for proposal in rounds:
            close = proposal.phase_closes_at
            assert close is not None
            wanted = {close - lead for lead in leads if close - lead > self.now}
            timers = self.s.scalars(
                select(Timer).where(
                    Timer.kind == REMIND_CONSENT,
                    Timer.proposal_id == proposal.id,
                    Timer.round_no == proposal.round_no,
                )
            ).all()
            for timer in timers:
                if timer.done_at is None and timer.due_at not in wanted:
                    timer.claimed_by = "cancelled"
                    timer.claimed_at = timer.done_at = self.now
                elif timer.due_at in wanted and timer.claimed_by == "cancelled":
                    timer.claimed_by = timer.claimed_at = timer.done_at = None  # wanted again
            for due in sorted(wanted - {timer.due_at for timer in timers}):
                self.s.add(
                    Timer(
                        kind=REMIND_CONSENT,
                        proposal_id=proposal.id,
                        round_no=proposal.round_no,
                        due_at=due,
                    )
                )
        self.s.flush()

    def _cancel_reminders(self, proposal: Proposal) -> None:
        """The consent round ended before its time: its reminders are done, unsent."""
        self._end_timers(
            "cancelled", Timer.kind == REMIND_CONSENT, Timer.proposal_id == proposal.id
        )

    def _end_timers(self, why: str, *where: Any) -> None:
        """Pending timers that no longer stand are done without being carried out; ``why``
        ("cancelled", "superseded") is recorded where a claimant's name would be."""
        self.s.execute(
            update(Timer)
            .where(*where, Timer.done_at.is_(None))
            .values(claimed_by=why, claimed_at=self.now, done_at=self.now)
        )

    def _opened_event(self, group: Group, proposal: Proposal) -> e.ProposalOpened:
        number = alliance_number(proposal)
        alliance = self.s.get(Alliance, number) if number is not None else None
        return e.ProposalOpened(
            alliance=alliance.name if alliance else "",
            alliance_id=alliance.id if alliance else None,
            parties=self.titles(self.party_groups(alliance.id)) if alliance else (),
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
        round_ = self.current_round(proposal, Phase.AMENDMENT)
        open_ones = self.s.scalars(
            select(Amendment)
            .where(Amendment.proposal_id == proposal.id, Amendment.status == "open")
            .order_by(Amendment.id)
        ).all()
        round_.closed_at = self.now  # after the read: written with the next round, not alone
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
        hours = proposal.scheduled_hours if proposal.scheduled_phase == Phase.CONSENT else None
        self.move(proposal, Action.CLOSE_AMENDMENT)
        proposal.phase_opened_at = self.now
        proposal.phase_closes_at = closes_at(self.now, hours or group.consent_hours)
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
            alliance=self._alliance_name(proposal),
            alliance_id=alliance_number(proposal),
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
        self._not_adopted(group, proposal, verdict)
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
            quorum=group.quorum,
            quorum_min=group.quorum_min,
            objections=self.statements(group, round_.id, c.Stance.OBJECT),
            concerns=self.statements(group, round_.id, c.Stance.CONCERN),
            clause=proposal.clause_id,
            late=late,
        )

    def _not_adopted(self, group: Group, proposal: Proposal, verdict: Verdict) -> None:
        """A consent phase closed without adoption: objected (it expires after the group's
        ``expire_days`` unless resolved), or not adopted, and ended."""
        self.move(proposal, Action.OBJECT if verdict is Verdict.OBJECTED else Action.REJECT)
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

    # -- alliance proposals --------------------------------------------------------------

    def _alliance_name(self, proposal: Proposal) -> str:
        number = alliance_number(proposal)
        alliance = self.s.get(Alliance, number) if number is not None else None
        return alliance.name if alliance else ""

    def _close_alliance_consent(self, proposal: Proposal, late: bool) -> list[e.Event]:
        """Every group's round closes, each decided under its rule; the alliance's
        verdict follows from theirs (``alliances.alliance_verdict``)."""
        number = alliance_number(proposal)
        alliance = self.s.get(Alliance, number)
        assert alliance is not None
        rounds = self.party_rounds(proposal, lock=self.dialect == "postgresql")
        for round_ in rounds:
            group = self.s.get(Group, round_.party)
            if round_.closed_at is None and group is not None:
                self.decide_party(alliance, group, round_)
        proposal.phase_closes_at = None
        return self._alliance_decided(proposal, alliance, rounds, late, Action.ADOPT)

    def _alliance_decided_again(self, proposal: Proposal) -> list[e.Event]:
        """An objected alliance proposal after a group's objections were withdrawn, or
        after a group left: adopted now if enough groups adopted; else it stays objected
        (to be resolved, or to expire)."""
        alliance = self.s.get(Alliance, alliance_number(proposal))
        assert alliance is not None
        rounds = self.party_rounds(proposal, lock=False)
        verdicts = [r.verdict or "" for r in rounds if r.verdict != "left"]
        if alliance_verdict(verdicts, self.needed(alliance, len(verdicts))) != Verdict.ADOPTED:
            return []
        return self._alliance_decided(
            proposal, alliance, rounds, False, Action.OBJECTIONS_WITHDRAWN
        )

    def _alliance_decided(
        self,
        proposal: Proposal,
        alliance: Alliance,
        rounds: Sequence[Round],
        late: bool,
        adopt: Action,
    ) -> list[e.Event]:
        """The alliance's verdict carried out, and told to each group that took part with
        its own counts and the other groups' outcomes."""
        verdicts = [r.verdict or "" for r in rounds if r.verdict != "left"]
        verdict = alliance_verdict(verdicts, self.needed(alliance, len(verdicts)))
        outcome = self.outcome(alliance, rounds, verdict)
        origin = self.s.get(Group, proposal.group_id)
        assert origin is not None
        adopting = [r for r in rounds if r.verdict == Verdict.ADOPTED.value]
        total = Tally(
            **{
                stance.value: sum((r.tally or {}).get(stance.value, 0) for r in rounds)
                for stance in c.Stance
            }
        )
        adopted: e.Decided | None = None
        if verdict is Verdict.ADOPTED:
            concerns = tuple(
                statement
                for round_ in adopting
                if (party := self.s.get(Group, round_.party)) is not None
                for statement in self.statements(party, round_.id, c.Stance.CONCERN)
            )
            adopted = self._adopt(
                origin,
                proposal,
                adopting[0],
                total,
                late,
                adopt,
                parties=[r.party for r in adopting],
                concerns=concerns,
            )
        else:
            self._not_adopted(origin, proposal, verdict)
        proposal.outcome = {
            "verdict": verdict.value,
            "tally": total.as_dict(),
            "groups": {r.party: r.verdict for r in rounds},
            **({"clause": adopted.clause} if adopted else {}),
        }
        self.s.flush()
        events: list[e.Event] = []
        for round_ in rounds:
            group = self.s.get(Group, round_.party)
            if group is None or round_.verdict == "left":
                continue
            tally = Tally(**(round_.tally or {}))
            rule = group.rule if alliance.rule == "own" else alliance.rule
            events.append(
                e.Decided(
                    group=group.id,
                    proposal=proposal.id,
                    kind=proposal.kind,
                    verdict=verdict,
                    tally=tally,
                    eligible=round_.eligible or tally.stated,
                    rule=rule,
                    quorum=group.quorum,
                    quorum_min=group.quorum_min,
                    objections=self.statements(group, round_.id, c.Stance.OBJECT),
                    concerns=self.statements(group, round_.id, c.Stance.CONCERN),
                    clause=adopted.clause if adopted else proposal.clause_id,
                    clause_version=adopted.clause_version if adopted else None,
                    next_review=adopted.next_review if adopted else None,
                    chain_head=adopted.chain_head if adopted else None,
                    late=late,
                    alliance=outcome,
                )
            )
        return events

    def leave_alliance_proposal(self, group: Group, proposal: Proposal) -> list[e.Event]:
        """``group`` left the alliance of this open proposal: its consent round (if one
        is open, or decided while the proposal stands objected) no longer counts."""
        if proposal.phase == Phase.AMENDMENT:
            return []  # it will have no consent round
        rounds = self.party_rounds(proposal, lock=self.dialect == "postgresql")
        mine = [r for r in rounds if r.party == group.id]
        for round_ in mine:
            round_.closed_at = round_.closed_at or self.now
            round_.verdict = "left"
        self.s.flush()
        if proposal.phase == Phase.OBJECTED:
            return self._alliance_decided_again(proposal)
        return []

    def _adopt(
        self,
        group: Group,
        proposal: Proposal,
        round_: Round,
        tally: Tally,
        late: bool,
        action: Action,
        parties: Sequence[str] = (),
        concerns: tuple[e.Statement, ...] | None = None,
    ) -> e.Decided:
        """Write the adoption to the charter and the hash chain. ``parties``: the groups
        that adopted an alliance proposal (with the ``concerns`` stated in each); else the
        group itself."""
        self.move(proposal, action)
        proposal.ended_at = self.now
        if concerns is None:
            concerns = self.statements(group, round_.id, c.Stance.CONCERN)
        concern_list = [{"name": s.name, "reason": s.reason} for s in concerns]
        parties = list(parties) or [group.id]
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
        if kind is not c.ProposalKind.REPEAL:  # a renewal binds the groups that renewed it
            clause.parties = parties
        if kind is c.ProposalKind.REPEAL:
            clause.status = "repealed"
            self._supersede(group, clause, proposal)
            clause.next_review = None
        else:
            clause.adopted_at = self.now
            clause.next_review = next_review
        self._set_review(group, clause)
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
            party = group.id if alliance_number(proposal) is not None else ""
            round_ = self.current_round(proposal, Phase.CONSENT, party)
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
            if alliance_number(proposal) is not None:
                # This group no longer objects: its round counts as adopting.
                round_.verdict = Verdict.ADOPTED.value
                return events + self._alliance_decided_again(proposal)
            events.append(
                self._adopt(group, proposal, round_, tally, False, Action.OBJECTIONS_WITHDRAWN)
            )
        return events

    def do_Resolve(self, group: Group, actor: c.Actor, cmd: c.Resolve) -> list[e.Event]:
        proposal = self.proposal(group.id, cmd.proposal, cmd)
        self.expect(proposal, Phase.OBJECTED)
        hours = group.amendment_hours or group.consent_hours
        return [self._resolve(group, proposal, hours, by=actor.name, late=False)]

    def _resolve(
        self, group: Group, proposal: Proposal, hours: float, by: str | None, late: bool
    ) -> e.Resolved:
        """A new amendment round after objections, the objectors invited to amend."""
        if alliance_number(proposal) is None:
            last = [self.current_round(proposal, Phase.CONSENT)]
        else:  # every group's, named where the group names votes
            last = [
                r
                for r in self.party_rounds(proposal, lock=False)
                if r.verdict != "left" and (g := self.s.get(Group, r.party)) and g.named_votes
            ]
        objectors = self.s.scalars(
            select(Person.name)
            .join(Position, Position.person_id == Person.id)
            .where(
                Position.round_id.in_([r.id for r in last]),
                Position.stance == c.Stance.OBJECT.value,
            )
            .order_by(Position.at)
        ).all()
        self._next_round(proposal, Action.RESOLVE, Phase.AMENDMENT, hours)
        return e.Resolved(
            group=group.id,
            proposal=proposal.id,
            round=proposal.round_no,
            objectors=tuple(objectors),
            closes_at=proposal.phase_closes_at,
            by=by,
            late=late,
        )

    def _next_round(self, proposal: Proposal, action: Action, phase: Phase, hours: float) -> None:
        """Round k+1 after objections, in ``phase``, open for ``hours`` from now."""
        self.move(proposal, action)
        proposal.round_no += 1
        proposal.phase_opened_at = self.now
        proposal.phase_closes_at = closes_at(self.now, hours)
        self._open_round(proposal, phase)

    def _reopen_consent(
        self, group: Group, proposal: Proposal, hours: float, late: bool
    ) -> e.ConsentOpened:
        """A new consent round on the same text after objections, as a mediator scheduled."""
        self._next_round(proposal, Action.REOPEN, Phase.CONSENT, hours)
        return e.ConsentOpened(
            group=group.id,
            proposal=proposal.id,
            round=proposal.round_no,
            kind=proposal.kind,
            text=proposal.text,
            version=proposal.text_version,
            closes_at=proposal.phase_closes_at,
            clause=proposal.clause_id,
            late=late,
            reopened=True,
        )

    # -- schedules ---------------------------------------------------------------------

    def do_Schedule(self, group: Group, actor: c.Actor, cmd: c.Schedule) -> list[e.Event]:
        """When the next round of a proposal opens: consent after its amendment phase (the
        amendment phase then closes at that time), or either kind of round after
        objections. Scheduling again moves it; ``phase`` None cancels it."""
        proposal = self.proposal(group.id, cmd.proposal, cmd)
        if cmd.phase is None:
            return [self._unschedule(group, proposal, actor)]
        phase = Phase(cmd.phase)
        if phase is Phase.CONSENT:
            self.expect(proposal, Phase.AMENDMENT, Phase.OBJECTED)
        else:
            self.expect(proposal, Phase.OBJECTED)
        try:
            opens = parse_when(
                cmd.when, now=self.now, timezone=group.timezone, languages=group.languages.split()
            )
        except BadTime as bad:
            raise DomainError(
                "bad_time", reason=bad.reason, text=bad.text[:100], timezone=group.timezone
            ) from None
        default = group.consent_hours if phase is Phase.CONSENT else group.amendment_hours
        hours = self._hours(cmd.duration) if cmd.duration else default or group.consent_hours
        proposal.scheduled_phase, proposal.scheduled_at = phase.value, opens
        proposal.scheduled_hours = hours
        if proposal.phase == Phase.AMENDMENT:
            # The amendment phase lasts until the consent round opens.
            self._move_close(proposal, Phase.AMENDMENT, opens)
        else:
            self._timer(OPEN_SCHEDULED, proposal, opens)
        self.s.flush()
        return [
            e.RoundScheduled(
                group=group.id,
                proposal=proposal.id,
                phase=phase.value,
                opens_at=opens,
                closes_at=closes_at(opens, hours),
                by=actor.name,
            )
        ]

    @staticmethod
    def _hours(text: str) -> float:
        try:
            length = parse_duration(text)
        except BadTime:
            raise DomainError("bad_duration", text=text[:100]) from None
        if length > timedelta(days=365):
            raise DomainError("bad_duration", text=text[:100])
        return length.total_seconds() / 3600

    def _unschedule(self, group: Group, proposal: Proposal, actor: c.Actor) -> e.ScheduleCancelled:
        """The scheduled round will not open: an amendment phase closes after its own length
        again (at once if that has passed); an objected proposal expires as it would have."""
        if proposal.scheduled_phase is None:
            raise DomainError("nothing_scheduled", number=proposal.id)
        phase = proposal.scheduled_phase
        proposal.scheduled_phase = proposal.scheduled_at = proposal.scheduled_hours = None
        close = None
        if proposal.phase == Phase.AMENDMENT:
            opened = self.current_round(proposal, Phase.AMENDMENT).opened_at
            close = max(closes_at(opened, group.amendment_hours), self.now)
            self._move_close(proposal, Phase.AMENDMENT, close)
        else:
            expiry = proposal.phase_opened_at + timedelta(days=group.expire_days)
            self._timer("expire", proposal, max(expiry, self.now))
        self.s.flush()
        return e.ScheduleCancelled(
            group=group.id, proposal=proposal.id, phase=phase, by=actor.name, closes_at=close
        )

    def _move_close(self, proposal: Proposal, phase: Phase, close: datetime) -> None:
        """The open round of ``phase`` now closes at ``close`` (the old timer goes stale:
        ``fire`` checks the proposal's close against the timer's)."""
        proposal.phase_closes_at = close
        if alliance_number(proposal) is not None and phase is Phase.CONSENT:
            for round_ in self.party_rounds(proposal, lock=False):
                if round_.closed_at is None:
                    round_.closes_at = close
        else:
            self.current_round(proposal, phase).closes_at = close
        self._timer(f"close_{phase.value}", proposal, close)

    def _timer(self, kind: str, proposal: Proposal, due: datetime) -> None:
        """A pending timer for this proposal's round at ``due``; one that was set for that
        very moment before (scheduled, cancelled, scheduled again) is made pending again."""
        timer = self.s.scalars(
            select(Timer).where(
                Timer.kind == kind,
                Timer.proposal_id == proposal.id,
                Timer.round_no == proposal.round_no,
                Timer.due_at == due,
            )
        ).first()
        if timer is None:
            self.s.add(
                Timer(kind=kind, proposal_id=proposal.id, round_no=proposal.round_no, due_at=due)
            )
        else:
            timer.claimed_by = timer.claimed_at = timer.done_at = None

    # -- mediators ---------------------------------------------------------------------

    def do_Next(self, group: Group, actor: c.Actor, cmd: c.Next) -> list[e.Event]:
        proposal = self.proposal(group.id, cmd.proposal, cmd)
        self.expect(proposal, Phase.AMENDMENT, Phase.CONSENT)
        return self._close_phase(group, proposal, late=False)

    def _close_phase(self, group: Group, proposal: Proposal, late: bool) -> list[e.Event]:
        if proposal.phase == Phase.AMENDMENT:
            return [self._close_amendment(group, proposal, late)]
        if alliance_number(proposal) is not None:
            return self._close_alliance_consent(proposal, late)
        return [self._close_consent(group, proposal, late)]

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
        if key == "reminders_before_close":
            self._reset_reminders(group)
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

    def set_reminders(self, actor: c.Actor, cmd: c.SetReminders) -> list[e.Event]:
        """``/remind on|off`` in a private chat: reminders of every group of the person's go
        to this chat (only when they have not responded), or no longer."""
        person = self.s.get(Person, actor.person)
        assert person is not None
        person.remind_chat = actor.group if cmd.on else None
        self.s.flush()
        return [e.RemindersSet(group=actor.group, person=actor.name, on=cmd.on)]

    # -- translations ------------------------------------------------------------------

    def do_Translate(self, group: Group, actor: c.Actor, cmd: c.Translate) -> list[e.Event]:
        """A member's translation of the current text of a proposal or clause, credited to
        them. A second translation of the same version into the same language takes the
        place of the first (credited to its translator); the original stays authoritative.
        The language code comes checked by the shell (as for ``/lang``)."""
        lang = cmd.lang.strip()
        if not lang or len(lang) > 16:
            raise DomainError("bad_language", language=lang[:16], known=())
        if cmd.kind == "P":
            proposal = self.proposal(group.id, cmd.number, cmd, lock=False)
            number, version = proposal.id, proposal.text_version
        elif cmd.kind == "C":
            clause = self.clause(group, cmd.number)
            number, version = clause.id, clause.version
        else:
            raise DomainError("bad_id", kind="P", given=f"{cmd.kind}{cmd.number}"[:20])
        text = self._text(cmd.text, "translate")
        subject = f"{cmd.kind}{number}"
        found = self.s.scalars(
            select(Translation).where(
                Translation.subject == subject,
                Translation.version == version,
                Translation.lang == lang,
            )
        ).first()
        if found is None:
            self.s.add(
                Translation(
                    subject=subject,
                    version=version,
                    lang=lang,
                    text=text,
                    translator_id=actor.person,
                    group_id=group.id,
                    created_at=self.now,
                )
            )
        else:
            found.text, found.translator_id, found.created_at = text, actor.person, self.now
        self.s.flush()
        return [
            e.TranslationAdded(
                group=group.id,
                subject=subject,
                version=version,
                lang=lang,
                translator=actor.name,
                replaced=found is not None,
                proposal=number if cmd.kind == "P" else None,
            )
        ]

    # -- meetings ----------------------------------------------------------------------

    def do_AnnounceMeeting(
        self, group: Group, actor: c.Actor, cmd: c.AnnounceMeeting
    ) -> list[e.Event]:
        """A live meeting of the group at a time read from the start of the text, about the
        rest; reminders a day and an hour before it, those still ahead."""
        if len(cmd.text.split()) < 2:
            raise DomainError("text_required", command="meeting")
        try:
            at, topic = split_when(
                cmd.text, now=self.now, timezone=group.timezone, languages=group.languages.split()
            )
        except BadTime as bad:
            raise DomainError(
                "bad_time", reason=bad.reason, text=bad.text[:100], timezone=group.timezone
            ) from None
        topic = self._text(topic, "meeting", MAX_REASON)
        meeting = Meeting(
            group_id=group.id, at=at, topic=topic, created_by=actor.person, created_at=self.now
        )
        self.s.add(meeting)
        self.s.flush()
        reminders = sorted(at - lead for lead in MEETING_REMINDERS if at - lead > self.now)
        for due in reminders:
            self.s.add(Timer(kind=REMIND_MEETING, meeting_id=meeting.id, due_at=due))
        self.s.flush()
        return [
            e.MeetingAnnounced(
                group=group.id,
                meeting=meeting.id,
                at=at,
                topic=topic,
                by=actor.name,
                reminders=tuple(reminders),
            )
        ]

    def do_CancelMeeting(self, group: Group, actor: c.Actor, cmd: c.CancelMeeting) -> list[e.Event]:
        """A meeting still ahead is called off; its pending reminders are done, unsent."""
        query = select(Meeting).where(Meeting.id == cmd.meeting)
        if self.dialect == "postgresql":
            query = query.with_for_update()  # two cancellations: the second finds it cancelled
        meeting = self.s.scalars(query).first()
        if meeting is None:
            raise DomainError("no_such_meeting", number=cmd.meeting)
        if meeting.group_id != group.id:
            raise DomainError("not_in_group", kind="M", number=meeting.id)
        if meeting.cancelled_at is not None:
            raise DomainError("meeting_over", number=meeting.id, status="cancelled")
        if meeting.at <= self.now:
            raise DomainError("meeting_over", number=meeting.id, status="held")
        meeting.cancelled_at = self.now
        self._end_timers("cancelled", Timer.kind == REMIND_MEETING, Timer.meeting_id == meeting.id)
        self.s.flush()
        return [
            e.MeetingCancelled(
                group=group.id,
                meeting=meeting.id,
                by=actor.name,
                at=meeting.at,
                topic=meeting.topic,
            )
        ]

    def _meeting_reminder(self, timer: Timer) -> e.MeetingReminder | None:
        """The reminder set at ``timer.due_at`` before a meeting, if it is still worth
        sending: the meeting stands, has not begun, and at least half the reminder's lead
        time is left (as for consent reminders, ``_reminder``: the 1-day reminder carried
        out 2 hours before the meeting, after the bot was down, is dropped; the 1-hour one
        10 minutes late is sent, marked late)."""
        meeting = self.s.get(Meeting, timer.meeting_id)
        if timer.kind != REMIND_MEETING or meeting is None or meeting.cancelled_at is not None:
            return None
        lead = meeting.at - timer.due_at
        if self.now >= meeting.at or lead <= timedelta(0) or (meeting.at - self.now) * 2 < lead:
            return None
        return e.MeetingReminder(
            group=meeting.group_id,
            meeting=meeting.id,
            at=meeting.at,
            topic=meeting.topic,
            late=is_late(timer.due_at, self.now),
        )

    # -- deadlines ---------------------------------------------------------------------

    def fire(self, timer: Timer) -> list[e.Event]:
        """Carry out a due timer, if what it was set for still stands."""
        self.followups = []
        return self.fan_out(self._fire(timer))

    def _fire(self, timer: Timer) -> list[e.Event]:
        if timer.clause_id is not None:
            return self._fire_review(timer)
        if timer.meeting_id is not None:
            reminder = self._meeting_reminder(timer)
            return [reminder] if reminder is not None else []
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
            return [*self._close_phase(group, proposal, late), *self.followups]
        if timer.kind == REMIND_CONSENT:
            return self._reminders(group, proposal, timer.due_at)
        if timer.kind == OPEN_SCHEDULED:
            return self._open_scheduled(group, proposal, timer.due_at, late)
        if timer.kind == "expire" and proposal.phase == Phase.OBJECTED:
            if proposal.scheduled_phase is not None:
                return []  # a mediator scheduled its next round; cancelling sets a new expiry
            self.move(proposal, Action.EXPIRE)
            proposal.ended_at = self.now
            self.s.flush()
            ended = e.ProposalEnded(group=group.id, proposal=proposal.id, how="expired", late=late)
            return [ended, *self.followups]
        return []

    # -- renewal -----------------------------------------------------------------------

    def _set_review(self, group: Group, clause: Clause) -> None:
        """The clause's review timers: the renewal round on its review date and the
        reminders before it (``renewal_reminders``); those of an earlier date are done."""
        self._end_timers(
            "superseded", Timer.clause_id == clause.id, Timer.kind.in_((REVIEW, REMIND_RENEWAL))
        )
        if clause.status != "active" or clause.next_review is None:
            return
        moment = review_moment(clause.next_review, self.now, group.timezone)
        payload = {"review": clause.next_review.isoformat(), "at": moment.isoformat()}
        self.s.add(Timer(kind=REVIEW, clause_id=clause.id, payload=payload, due_at=moment))
        try:
            leads = lead_times(group.renewal_reminders)
        except ValueError:  # not stored by /settings: the defaults'
            leads = lead_times(self.defaults.renewal_reminders)
        for lead in leads:
            if moment - lead > self.now:
                self.s.add(
                    Timer(
                        kind=REMIND_RENEWAL,
                        clause_id=clause.id,
                        payload=payload,
                        due_at=moment - lead,
                    )
                )
        self.s.flush()

    def _fire_review(self, timer: Timer) -> list[e.Event]:
        """A clause's review date, or a reminder before it, if that date still stands."""
        clause = self.s.get(Clause, timer.clause_id)
        payload = timer.payload or {}
        if (
            clause is None
            or clause.status != "active"
            or clause.next_review is None
            or clause.next_review.isoformat() != payload.get("review")
        ):
            return []  # renewed early, repealed, lapsed
        group = self._charter_group(clause)
        if group is None:
            return []
        late = is_late(timer.due_at, self.now)
        moment = datetime.fromisoformat(payload["at"])
        if timer.kind == REMIND_RENEWAL:
            lead = moment - timer.due_at
            if self.now >= moment or (moment - self.now) * 2 < lead:
                return []  # its moment is long past (the bot was down)
            if self._open_renewal(clause) is not None:
                return []  # renewed early: that round is under way
            number = alliance_number_of_charter(clause.charter_id)
            told = self.party_groups(number) if number is not None else [group]
            return [
                e.RenewalReminder(
                    group=party.id, clause=clause.id, review_at=moment, text=clause.text, late=late
                )
                for party in told
            ]
        if timer.kind != REVIEW or self._open_renewal(clause) is not None:
            return []  # a renewal started early with /renew decides
        return [self._open_automatic_renewal(group, clause, late)]

    def _charter_group(self, clause: Clause) -> Group | None:
        """The group a clause's renewal opens in: the charter's group, or for an alliance
        the first of its groups (the renewal is the whole alliance's)."""
        charter = self.s.get(Charter, clause.charter_id)
        if charter is None:
            return None
        if charter.group_id is not None:
            return self.s.get(Group, charter.group_id)
        number = alliance_number_of_charter(clause.charter_id)
        groups = self.party_groups(number) if number is not None else []
        return groups[0] if groups else None

    def _open_automatic_renewal(self, group: Group, clause: Clause, late: bool) -> e.ProposalOpened:
        """The renewal round that opens by itself on the review date, on the current text,
        listing the concerns recorded when the clause was last adopted."""
        if self.s.get(Person, SYSTEM_PERSON) is None:
            self.s.add(Person(id=SYSTEM_PERSON, name="charterbot"))
            self.s.flush()
        author = c.Actor(group=group.id, person=SYSTEM_PERSON, name="charterbot")
        proposal = self._renewal(group, author, clause)
        concerns = tuple(
            e.Statement(item.get("name"), item.get("reason"))
            for item in queries.last_adoption_concerns(self.s, clause.id)
        )
        return dataclasses.replace(
            self._opened_event(group, proposal), automatic=True, concerns=concerns, late=late
        )

    def _not_renewed(self, proposal: Proposal) -> None:
        """A renewal ended without adoption. Once the review date has come the charter's
        ``on_expiry`` decides: the clause lapses, or stays in force until a next review.
        (An early renewal that fails changes nothing: the review date still comes.)"""
        clause = self.s.get(Clause, proposal.clause_id)
        group = self.s.get(Group, proposal.group_id)
        if clause is None or group is None or clause.status != "active":
            return
        today = self.now.astimezone(ZoneInfo(group.timezone)).date()
        if clause.next_review is None or today < clause.next_review:
            return
        if group.on_expiry == "keep":
            clause.next_review = review_date(self.now, group.review_months, group.timezone)
        else:
            clause.status, clause.next_review = "lapsed", None
        lapsed = clause.status == "lapsed"
        entry = self._append_chain(
            clause,
            "lapse" if lapsed else "keep",
            {
                "clause": clause.id,
                "version": clause.version,
                "text": clause.text,
                "parties": list(clause.parties),
                "proposal": proposal.id,
                "at": self.now.isoformat(),
                "next_review": clause.next_review.isoformat() if clause.next_review else None,
            },
        )
        self._set_review(group, clause)
        self.followups.append(
            e.NotRenewed(
                group=group.id,
                clause=clause.id,
                proposal=proposal.id,
                lapsed=lapsed,
                next_review=clause.next_review,
                chain_head=entry.hash,
            )
        )

    def _open_scheduled(
        self, group: Group, proposal: Proposal, due: datetime, late: bool
    ) -> list[e.Event]:
        """The round a mediator scheduled after objections, if it still stands."""
        if proposal.phase != Phase.OBJECTED or proposal.scheduled_at != due:
            return []  # moved, cancelled, or the proposal went on another way
        hours = proposal.scheduled_hours or group.consent_hours
        if proposal.scheduled_phase == Phase.CONSENT:
            return [self._reopen_consent(group, proposal, hours, late)]
        return [self._resolve(group, proposal, hours, by=None, late=late)]

    def _reminders(self, group: Group, proposal: Proposal, due: datetime) -> list[e.Event]:
        """The reminder set at ``due``: to the group, or to each group of an alliance
        proposal, with its own count of members yet to respond."""
        if alliance_number(proposal) is None:
            reminders = [self._reminder(group, proposal, due)]
        else:
            rounds = self.party_rounds(proposal, lock=False)
            reminders = [
                self._reminder(party, proposal, due, party=party.id)
                for round_ in rounds
                if round_.closed_at is None
                and (party := self.s.get(Group, round_.party)) is not None
            ]
        return [reminder for reminder in reminders if reminder is not None]

    def _reminder(
        self, group: Group, proposal: Proposal, due: datetime, party: str = ""
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
                Round.party == party,
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
            title=group.title,
            text=proposal.text,
            remind=self._remind_privately(group, round_id),
            late=is_late(due, self.now),
        )

    def _remind_privately(self, group: Group, round_id: int) -> tuple[tuple[str, str], ...]:
        """(person, private chat) of the group's members who asked for private reminders
        (``/remind on``) and hold no position in the round, on the group's platform."""
        platform = group.id.partition(":")[0] + ":"
        rows = self.s.execute(
            select(Person.id, Person.remind_chat)
            .join(Member, Member.person_id == Person.id)
            .where(
                Member.group_id == group.id,
                Person.remind_chat.is_not(None),
                Person.id.not_in(select(Position.person_id).where(Position.round_id == round_id)),
            )
            .order_by(Person.id)
        ).all()
        return tuple((person, chat) for person, chat in rows if chat.startswith(platform))
