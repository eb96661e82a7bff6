"""Inbound updates -> grammar -> engine or query -> worded replies in the outbox.

A platform delivers updates in batches (a Telegram ``getUpdates`` answer, a Matrix sync).
A batch is handled in one transaction together with its inbox rows (the dedupe keys), the
platform's cursor and every outbox message it causes: it is either fully handled and its
answers queued, or not at all (and then handled again when redelivered). Each update of a
batch is refused on its own; refusals are answered in the sender's language and change
nothing but the inbox and outbox. The notes for button presses are returned only after
the commit, so a press is never acknowledged before it is stored.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import buttons, cards, render
from bot import export as export_mod
from bot import grammar as g
from bot.i18n import available_locales, catalog_names, get_translator, parse_locale
from bot.logging import get_logger
from bot.messages import Adapter, ButtonPressed, Cursor, Inbound, MessageIn, Outbound, Reaction
from bot.metrics import Metrics
from bot.outbox import enqueue
from deliberation import commands as c
from deliberation import events as e
from deliberation import public, queries
from deliberation.errors import DomainError
from deliberation.model import (
    Amendment,
    Card,
    Group,
    InboxItem,
    OutboxItem,
    Person,
    ReactionRecord,
    StreamCursor,
)
from deliberation.services import Deliberation, Outcome

log = get_logger(__name__)

# Events that answer the person who acted; all others are announcements to the group.
REPLIES = (
    e.PositionStated,
    e.PositionRetracted,
    e.AmendmentVoted,
    e.LanguageSet,
    e.RemindersSet,
    e.TimezoneSet,
)
# Commands whose omitted proposal id a reply to the bot's message about it fills in.
_NAMES_PROPOSAL = (c.StatePosition, c.Amend, c.Withdraw, c.Resolve, c.Next, c.Close)
# A batch's chat and senders in one read (``_load_people_and_groups``), built once.
_CHAT_AND_SENDERS = (
    select(Group, Person)
    .outerjoin(Person, Person.id.in_(bindparam("people", expanding=True)))
    .where(Group.id == bindparam("chat"))
)
TOAST_LIMIT = 200  # characters of a button's answer note (Telegram's limit)

Word = Callable[[render.Reader], str]


@dataclass
class _Item:
    """One inbound update on its way through a batch."""

    inbound: Inbound
    actor: c.Actor
    command: c.Command | None = None  # for the engine
    reply: Word | None = None  # or an answer that changes nothing
    query: g.Query | None = None  # or a question about the store
    ask_objection: int | None = None  # or ✋ pressed: ask for the reason
    note: str | None = None  # the answer to a button press, after the commit
    reacted: tuple[str, str] | None = None  # a reaction counted: (card subject, button data)
    unreacted: tuple[str, str] | None = None  # a counted reaction taken back: (ref, subject)

    @property
    def pressed(self) -> bool:
        return isinstance(self.inbound, ButtonPressed)


class Router:
    def __init__(
        self,
        engine: Deliberation,
        adapters: dict[str, Adapter],
        default_locale: str = "en",
        on_commit: Callable[[], None] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics or Metrics()
        self.db = engine.db
        self.clock = engine.clock
        self.adapters = adapters
        self.default_locale = default_locale
        self.web_url: str | None = None  # the charter pages, when the bot serves them
        self.on_commit = on_commit or (lambda: None)

    # -- entry points ------------------------------------------------------------------

    async def on_batch(
        self, batch: Sequence[Inbound], cursor: Cursor | None = None
    ) -> list[str | None]:
        """Handle a batch (in a worker thread: the store is synchronous); the notes for
        button presses, once committed."""
        notes = await asyncio.to_thread(self.handle_batch, batch, cursor)
        self.on_commit()
        return notes

    async def run_timers(self) -> int:
        events = await asyncio.to_thread(self.engine.run_due_timers, self._announce_events)
        if events:
            self.on_commit()
        return len(events)

    def handle_batch(
        self, batch: Sequence[Inbound], cursor: Cursor | None = None
    ) -> list[str | None]:
        try:
            return self._handle(batch, cursor)
        except IntegrityError:
            pass
        # An update handled before (a single one is not looked up first: the inbox key's
        # uniqueness refuses it), or a concurrent process stored a row of the batch
        # meanwhile: go one by one, so each duplicate is skipped on its own.
        notes = [self._handle_alone(item) for item in batch]
        if cursor is not None:
            self._handle([], cursor)
        return notes

    def _handle_alone(self, inbound: Inbound) -> str | None:
        try:
            return self._handle([inbound], None)[0]
        except IntegrityError:
            log.info("inbox.duplicate", platform=inbound.platform, key=inbound.dedupe_key)
            return None

    # -- a batch -----------------------------------------------------------------------

    def _handle(self, batch: Sequence[Inbound], cursor: Cursor | None) -> list[str | None]:
        seen = self._seen(batch)
        items: list[_Item] = []
        for inbound in batch:
            if inbound.dedupe_key in seen:
                log.info("inbox.duplicate", platform=inbound.platform, key=inbound.dedupe_key)
                continue
            seen.add(inbound.dedupe_key)
            items.append(self._plan(inbound))
        with self.db.unit_of_work(write=False) as uow:
            self._resolve_replies(uow.session, items)
            self._resolve_reactions(uow.session, items)
        planned = [item for item in items if item.command is not None]
        requests = [(item.actor, item.command) for item in planned]

        positions = 0  # recorded by the batch, counted once it is committed

        def before_commit(session: Session, outcomes: list[Outcome]) -> None:
            nonlocal positions
            results = dict(zip(map(id, planned), outcomes, strict=True))
            self._record(session, items, results, cursor)
            positions = sum(
                isinstance(ev, e.PositionStated)
                for outcome in outcomes
                if not isinstance(outcome, DomainError)
                for ev in outcome
            )

        if not requests:
            with self.db.unit_of_work() as uow:
                before_commit(uow.session, [])
                uow.commit()
        else:
            try:
                self.engine.handle_many(requests, before_commit)  # type: ignore[arg-type]
            except DomainError as refusal:
                if len(requests) != 1:
                    raise
                # A single command is refused by raising, and rolled back: record it alone.
                with self.db.unit_of_work() as uow:
                    self._record(uow.session, items, {id(planned[0]): refusal}, cursor)
                    uow.commit()
        if items:
            platform = items[0].inbound.platform
            self.metrics.updates.labels(platform).inc(len(items))
            if positions:
                self.metrics.positions.labels(platform).inc(positions)
        by_key = {item.inbound.dedupe_key: item.note for item in items}
        return [by_key.get(inbound.dedupe_key) for inbound in batch]

    def _seen(self, batch: Sequence[Inbound]) -> set[str]:
        """The batch's updates handled before. One update alone is not looked up (a read
        transaction of its own, a fifth of a ``/status``): its inbox row's unique key
        refuses a duplicate at the flush, and ``handle_batch`` then skips it."""
        if len(batch) < 2:
            return set()
        with self.db.unit_of_work(write=False) as uow:
            keys = [i.dedupe_key for i in batch]
            rows = uow.session.scalars(
                select(InboxItem.dedupe_key).where(
                    InboxItem.platform == batch[0].platform, InboxItem.dedupe_key.in_(keys)
                )
            )
            return set(rows)

    def _plan(self, inbound: Inbound) -> _Item:
        """What the update asks for, before anything is stored."""
        inbound = _without_nul(inbound)
        actor = c.Actor(
            group=inbound.chat,
            person=inbound.sender,
            name=inbound.sender_name,
            platform_admin=inbound.platform_admin,
            member=inbound.member,
            member_count=inbound.member_count,
            language_hint=inbound.language_hint,
            private=inbound.private,
            group_title=getattr(inbound, "chat_title", None),
        )
        item = _Item(inbound, actor)
        if isinstance(inbound, Reaction):
            return item  # what it stands for depends on the card: _resolve_reactions
        try:
            if isinstance(inbound, ButtonPressed):
                self._plan_press(item, inbound.data, inbound.chat, inbound.private)
            else:
                self._plan_message(item, inbound)
        except g.UnknownCommand as exc:
            item.reply = partial(render.unknown, name=exc.name)
        except g.UsageError as exc:
            item.reply = partial(render.usage, command=exc.command)
        except DomainError as exc:
            item.reply = partial(render.error, err=exc)
        return item

    def _plan_message(self, item: _Item, msg: MessageIn) -> None:
        adapter = self.adapters[msg.platform]
        request = g.parse(msg.text, adapter.caps.prefix, adapter.caps.username)
        if request is None:
            return  # ordinary conversation, unless it answers the bot (see _resolve_replies)
        if isinstance(request, g.MediatorRequest):
            request = self._mediator_command(adapter, msg, request)
        if isinstance(request, c.SetLanguage):
            request = c.SetLanguage(self._checked_language(request.code))
        if isinstance(request, c.ChangeSetting) and request.key.strip().lower() == "languages":
            # /grouplang and /settings languages: only languages the bot speaks
            codes = request.value.replace(",", " ").split()
            checked = " ".join(self._checked_language(code) for code in codes)
            request = c.ChangeSetting("languages", checked)
        if isinstance(request, c.Translate):  # a shipped locale, as for /lang ("pt-br": pt_BR)
            request = dataclasses.replace(request, lang=self._checked_language(request.lang))
        if isinstance(request, g.Query):
            item.query = request
            if not isinstance(request, g.Help | g.Start) and not msg.private:
                item.command = c.Register()  # a first /status in a new group creates it
        else:
            item.command = request

    def _plan_press(self, item: _Item, data: str, chat: str, private: bool) -> None:
        try:
            request = buttons.parse(data)
        except buttons.Forged:
            log.warning("button.forged", platform=item.inbound.platform, chat=chat)
            raise DomainError("bad_button") from None
        if not chat:
            raise DomainError("bad_button")
        if private != isinstance(request, buttons.MyRounds | c.SetLanguage):
            # Buttons work where the bot puts them: a card's in its group, the private menu's
            # in the private chat. Forged elsewhere, "my open rounds" would be posted to the
            # whole group, and ✋ in a private chat would tell whether a proposal exists.
            raise DomainError("group_only" if private else "bad_button")
        if isinstance(request, buttons.AskObjection):
            item.ask_objection = request.proposal
        elif isinstance(request, buttons.MyRounds):
            item.query = g.ShowStatus(None)
        elif isinstance(request, c.SetLanguage):
            item.command = c.SetLanguage(self._checked_language(request.code))
        else:
            item.command = request

    def _resolve_replies(self, s: Session, items: list[_Item]) -> None:
        """A reply to the bot's message names the proposal it was about; a reply to an
        objection prompt is the objection, with the reply as its reason."""
        for item in items:
            msg = item.inbound
            if not isinstance(msg, MessageIn) or msg.reply_to is None or item.reply:
                continue
            sent = s.scalars(
                select(OutboxItem)
                .where(
                    OutboxItem.platform == msg.platform,
                    OutboxItem.chat == msg.chat,
                    OutboxItem.message_ref == msg.reply_to,
                )
                .limit(1)
            ).first()
            if sent is None:
                continue
            if item.command is None and item.query is None:
                if sent.purpose == "prompt" and sent.addressee == msg.sender and msg.text.strip():
                    item.command = c.StatePosition(
                        sent.proposal_id, c.Stance.OBJECT, msg.text.strip()
                    )
                continue
            number = sent.proposal_id  # every message about a proposal carries its number
            command = item.command
            if isinstance(command, _NAMES_PROPOSAL) and command.proposal is None and number:
                item.command = dataclasses.replace(command, proposal=number)

    def _resolve_reactions(self, s: Session, items: list[_Item]) -> None:
        """A reaction on a card is the button it stands for; taking back the reaction that
        gave someone's current answer takes the answer back (or restores the one before).
        A reaction added and taken back within one batch is as if it never was."""
        reactions = [i.inbound for i in items if isinstance(i.inbound, Reaction)]
        if not reactions:
            return
        taken_back = {r.reaction_ref for r in reactions if r.removed}
        targets = {r.message_ref for r in reactions if r.message_ref}
        cards = (
            {  # the batch's cards in one query: a busy round brings hundreds of reactions
                (chat, ref): subject
                for chat, ref, subject in s.execute(
                    select(Card.chat, Card.message_ref, Card.subject).where(
                        Card.platform == reactions[0].platform, Card.message_ref.in_(targets)
                    )
                )
            }
            if targets
            else {}
        )
        for item in items:
            msg = item.inbound
            if not isinstance(msg, Reaction) or (
                not msg.removed and msg.reaction_ref in taken_back
            ):
                continue
            if msg.removed:
                self._plan_unreaction(s, item, msg)
                continue
            subject = cards.get((msg.chat, msg.message_ref))
            data = buttons.from_reaction(subject, msg.key) if subject else None
            if subject is None or data is None:
                continue  # a reaction like any other: conversation
            item.reacted = (subject, data)
            try:
                self._plan_press(item, data, msg.chat, msg.private)
            except DomainError as exc:
                item.reply = partial(render.error, err=exc)

    def _plan_unreaction(self, s: Session, item: _Item, msg: Reaction) -> None:
        record = s.scalar(
            select(ReactionRecord).where(
                ReactionRecord.platform == msg.platform, ReactionRecord.ref == msg.reaction_ref
            )
        )
        if record is None:
            return  # the redaction of something else
        item.unreacted = (record.ref, record.subject)
        if record.person != msg.sender:
            return  # a moderator removed it: forgotten, the person's answer stands
        live = s.scalars(
            select(ReactionRecord)
            .where(
                ReactionRecord.platform == msg.platform,
                ReactionRecord.chat == msg.chat,
                ReactionRecord.subject == record.subject,
                ReactionRecord.person == msg.sender,
            )
            .order_by(ReactionRecord.id.desc())
        ).all()
        if not live or live[0].ref != record.ref:
            return  # an older reaction: the current answer came later and stands
        before = next((r for r in live[1:] if not r.data.endswith(":o")), None)
        if before is not None:
            self._plan_press(item, before.data, msg.chat, msg.private)
        elif record.subject.startswith("P"):
            item.command = c.RetractPosition(int(record.subject[1:]))

    # -- recording ---------------------------------------------------------------------

    def _record(
        self,
        session: Session,
        items: list[_Item],
        outcomes: dict[int, Outcome],
        cursor: Cursor | None,
    ) -> None:
        """Inbox rows, answers, announcements, card changes and the cursor of a batch."""
        now = self.clock.now()
        _loaded = self._load_people_and_groups(session, items)  # referenced until the end
        touched: set[tuple[str, str, str]] = set()  # cards to bump, once for the batch
        received: list[dict[str, object]] = []  # inbox rows: written last, in one statement
        for item in items:
            if not (item.command or item.reply or item.query or item.ask_objection):
                if item.unreacted is not None:
                    _forget_reaction(session, item)  # the answer stands
                continue  # conversation: nothing to record
            received.append(
                {
                    "platform": item.inbound.platform,
                    "dedupe_key": item.inbound.dedupe_key,
                    "received_at": now,
                }
            )
            outcome = outcomes.get(id(item))
            if isinstance(outcome, DomainError):
                self._answer(session, item, partial(render.error, err=outcome))
                continue
            if item.reply is not None:
                self._answer(session, item, item.reply)
                continue
            for ev in outcome or []:
                if isinstance(ev, REPLIES):
                    self._answer(session, item, partial(render.event, ev=ev))
                else:
                    self._announce(session, ev, now)
                self._touch_cards(session, ev, touched)
            asked = item.ask_objection is None or self._ask_objection(session, item, now)
            if item.query is not None:
                self._query(session, item)
            if isinstance(item.inbound, Reaction):
                self._remember_reaction(session, item, counted=asked)
        self._bump_cards(session, touched)
        session.flush()
        if received:  # a duplicate inbox key fails here, before the commit
            session.execute(insert(InboxItem), received)
        if cursor is not None:
            session.merge(StreamCursor(name=cursor.name, value=cursor.value))

    def _answer(self, session: Session, item: _Item, word: Word, menu: bool = False) -> None:
        """To a button press: a short note; to a message: a reply in the chat (``menu``:
        with the private chat's buttons); to a reaction: nothing, or a refusal once."""
        msg = item.inbound
        if isinstance(msg, Reaction):
            # No answer of its own: the card shows it. A refusal is said in the room, once.
            if isinstance(word, partial) and word.func is render.error:
                self._explain_once(session, item, word)
            return
        if item.pressed and not menu:
            reader = self._person_reader(session, msg, markup=render.Markup())
            text = " ".join(word(reader).split())
            item.note = text if len(text) <= TOAST_LIMIT else text[: TOAST_LIMIT - 1] + "…"
            return
        reader = self._person_reader(session, msg)
        rows = None
        if menu and self._has_menu(msg.platform):
            rows = cards.private_menu(reader, available_locales())
        enqueue(session, msg.platform, msg.chat, word(reader), self.clock.now(), buttons=rows)

    def _ask_objection(self, session: Session, item: _Item, now: datetime) -> bool:
        """Post the prompt for the reason; False if refused (and answered)."""
        msg = item.inbound
        number = item.ask_objection
        assert number is not None
        if not msg.member:
            self._answer(session, item, partial(render.error, err=DomainError("not_member")))
            return False
        try:
            view = queries.proposal(session, msg.chat, number, msg.sender)
        except DomainError as refusal:
            self._answer(session, item, partial(render.error, err=refusal))
            return False
        if view.phase != "consent":
            wrong = DomainError(
                "wrong_phase", number=number, phase=view.phase, expected=("consent",)
            )
            self._answer(session, item, partial(render.error, err=wrong))
            return False
        reader = self._person_reader(session, msg)
        session.add(
            OutboxItem(
                platform=msg.platform,
                chat=msg.chat,
                text=cards.objection_prompt(reader, msg.sender_name, number),
                proposal_id=number,
                created_at=now,
                purpose="prompt",
                subject=f"P{number}",
                addressee=msg.sender,
            )
        )
        plain = self._person_reader(session, msg, markup=render.Markup())
        item.note = cards.objection_note(plain, number)[:TOAST_LIMIT]
        return True

    def _remember_reaction(self, session: Session, item: _Item, counted: bool) -> None:
        """Keep a counted reaction (its removal takes the answer back); forget a removed one."""
        msg = item.inbound
        assert isinstance(msg, Reaction)
        if item.unreacted is not None:
            _forget_reaction(session, item)
        if item.reacted is not None and counted:
            subject, data = item.reacted
            session.add(
                ReactionRecord(
                    platform=msg.platform,
                    ref=msg.reaction_ref,
                    chat=msg.chat,
                    person=msg.sender,
                    subject=subject,
                    data=data,
                    at=self.clock.now(),
                )
            )

    def _explain_once(self, session: Session, item: _Item, word: Word) -> None:
        """A refused reaction is explained in the room, once per person and card: a
        reaction has no answer of its own, and a second one would only repeat it."""
        msg = item.inbound
        subject = (
            item.reacted[0] if item.reacted else (item.unreacted[1] if item.unreacted else None)
        )
        if subject is None:
            return
        told = session.scalar(
            select(OutboxItem.id)
            .where(
                OutboxItem.platform == msg.platform,
                OutboxItem.chat == msg.chat,
                OutboxItem.purpose == "explained",
                OutboxItem.subject == subject,
                OutboxItem.addressee == msg.sender,
            )
            .limit(1)
        )
        if told is not None:
            return
        reader = self._person_reader(session, msg)
        session.add(
            OutboxItem(
                platform=msg.platform,
                chat=msg.chat,
                text=f"{reader.markup.text(msg.sender_name)}: {word(reader)}",
                created_at=self.clock.now(),
                purpose="explained",
                subject=subject,
                addressee=msg.sender,
            )
        )

    def _load_people_and_groups(self, session: Session, items: list[_Item]) -> list[object]:
        """The batch's senders and chats, read at once. The session's identity map holds
        them only while they are referenced: the caller keeps the list, and wording each
        answer (``_person_reader``) then reads them from memory, not from the database."""
        people = {item.inbound.sender for item in items}
        chats = {item.inbound.chat for item in items if item.inbound.chat}
        if len(chats) == 1:  # the usual batch: one read for the chat and its senders
            chat = next(iter(chats))
            rows = session.execute(_CHAT_AND_SENDERS, {"chat": chat, "people": list(people)}).all()
            if rows:
                return [rows[0][0], *(person for _group, person in rows if person is not None)]
        return [
            *session.scalars(select(Person).where(Person.id.in_(people))),
            *session.scalars(select(Group).where(Group.id.in_(chats))),
        ]

    def _bump_cards(self, session: Session, touched: set[tuple[str, str, str]]) -> None:
        """One UPDATE per chat for the cards a batch changed, however many events it had."""
        subjects: dict[tuple[str, str], list[str]] = {}
        for platform, chat, subject in sorted(touched):
            subjects.setdefault((platform, chat), []).append(subject)
        for (platform, chat), names in subjects.items():
            session.execute(
                update(Card)
                .where(Card.platform == platform, Card.chat == chat, Card.subject.in_(names))
                .values(version=Card.version + 1)
            )

    def _touch_cards(
        self, session: Session, ev: e.Event, touched: set[tuple[str, str, str]] | None = None
    ) -> None:
        """Mark the live cards an event changes; they are worded afresh when next edited.
        With ``touched`` the marks are collected there (see ``_bump_cards``)."""
        platform = ev.group.partition(":")[0]
        adapter = self.adapters.get(platform)
        if adapter is None or not adapter.caps.buttons:
            return
        if isinstance(ev, e.AllianceLeft):  # its proposals' cards list the groups taking part
            marks = {(platform, ev.group, f"P{n}") for n in ev.proposals}
            if touched is None:
                self._bump_cards(session, marks)
            else:
                touched.update(marks)
            return
        proposal = getattr(ev, "proposal", None)
        if proposal is None:
            return
        if isinstance(ev, e.ProposalOpened):
            self._new_card(session, ev.group, f"P{proposal}", proposal)
            return
        if isinstance(ev, e.AmendmentProposed):
            self._new_card(session, ev.group, f"A{ev.amendment}", proposal)
            subjects = [f"P{proposal}"]
        elif isinstance(ev, e.AmendmentVoted):
            subjects = [f"A{ev.amendment}"]
        elif isinstance(ev, e.PositionStated | e.PositionRetracted | e.TranslationAdded):
            subjects = [f"P{proposal}"]
        else:  # a phase changed: the proposal's card and its amendments' cards
            numbers = session.scalars(
                select(Amendment.id).where(Amendment.proposal_id == proposal)
            ).all()
            subjects = [f"P{proposal}", *(f"A{n}" for n in numbers)]
        chats = [ev.group]
        if isinstance(ev, REPLIES):
            # Told to one group, but an alliance proposal's cards in every group show the
            # amendments' support and each group's count.
            chats += [g for g in queries.alliance_groups_of(session, proposal) if g != ev.group]
        marks = {(chat.partition(":")[0], chat, subject) for chat in chats for subject in subjects}
        if touched is None:
            self._bump_cards(session, marks)
        else:
            touched.update(marks)

    def _new_card(self, session: Session, group: str, subject: str, proposal: int) -> None:
        platform = group.partition(":")[0]
        session.merge(
            Card(platform=platform, chat=group, subject=subject, version=1, shown_version=0)
        )
        session.add(
            OutboxItem(
                platform=platform,
                chat=group,
                text="",
                proposal_id=proposal,
                created_at=self.clock.now(),
                purpose="card",
                subject=subject,
            )
        )

    # -- helpers -----------------------------------------------------------------------

    def _mediator_command(
        self, adapter: Adapter, msg: MessageIn, req: g.MediatorRequest
    ) -> c.Command:
        # "/mediator add" without a name, in reply to the person's message, names them.
        resolved = adapter.resolve_user(msg.chat, req.user) if req.user else msg.replied_person
        if resolved is None:
            raise g.UsageError("mediator")
        person, name = resolved
        return c.AddMediator(person, name) if req.add else c.RemoveMediator(person, name)

    @staticmethod
    def _checked_language(code: str) -> str:
        """A shipped catalog's name for ``code``: as typed in any case ("pt-br" is pt_BR),
        or by the locale Babel reads it as ("tl", Tagalog, is CLDR's "fil")."""
        wanted = code.strip().replace("-", "_")
        known = available_locales()
        for candidate in known:
            if candidate.lower() == wanted.lower():
                return candidate
        locale = parse_locale(wanted)
        if locale is not None:
            for name in catalog_names(locale):
                if name in known:
                    return name
        raise DomainError("bad_language", language=code[:16], known=tuple(known))

    def _announce_events(self, session: Session, events: list[e.Event]) -> None:
        now = self.clock.now()
        for ev in events:
            self._announce(session, ev, now)
            if isinstance(ev, e.ConsentReminder):
                self._remind_privately(session, ev, now)
            self._touch_cards(session, ev)

    def _remind_privately(self, session: Session, ev: e.ConsentReminder, now: datetime) -> None:
        """The reminder in the private chat of each member who asked for one (``/remind
        on``) and has not responded, in their language and time zone."""
        group = session.get(Group, ev.group)
        platform = ev.group.partition(":")[0]
        adapter = self.adapters.get(platform)
        if group is None or adapter is None:
            return
        for person_id, chat in ev.remind:
            person = session.get(Person, person_id)
            code = (person.locale or person.language_hint if person else None) or (
                group.languages.split()[0]
            )
            zone = (person.timezone if person else None) or group.timezone
            text = render.private_reminder(self.reader(code, zone, adapter), ev)
            enqueue(session, platform, chat, text, now, ev.proposal)

    def _announce(self, session: Session, ev: e.Event, now: datetime) -> None:
        """An event to its group, once in each of the group's languages."""
        group = session.get(Group, ev.group)
        platform = ev.group.partition(":")[0]
        adapter = self.adapters.get(platform)
        if group is None or adapter is None:
            log.warning("announce.no_adapter", group=ev.group)
            return
        if adapter.caps.buttons and (
            isinstance(ev, e.ProposalOpened | e.AmendmentProposed)
            or (isinstance(ev, e.ConsentOpened) and ev.skipped)
        ):
            return  # the card is the announcement (and opens in its consent round)
        texts = [
            render.event(self.reader(code, group.timezone, adapter), ev)
            for code in group.languages.split()
        ]
        enqueue(session, platform, ev.group, "\n\n".join(texts), now, _proposal_of(ev))

    def reader(
        self,
        code: str | None,
        timezone: str,
        adapter: Adapter,
        markup: render.Markup | None = None,
    ) -> render.Reader:
        if markup is None:
            markup = render.HtmlMarkup() if adapter.caps.markup == "html" else render.Markup()
        return render.Reader(
            tr=get_translator(code, self.default_locale),
            timezone=timezone,
            now=self.clock.now(),
            prefix=adapter.caps.prefix,
            markup=markup,
        )

    def word_card(
        self, session: Session, platform: str, chat: str, subject: str
    ) -> Outbound | None:
        """A live card as it should look now, in the group's languages."""
        adapter = self.adapters[platform]
        return cards.word(
            session,
            chat,
            subject,
            lambda code, tz: self.reader(code, tz, adapter),
            adapter.caps.max_text,
        )

    def _person_reader(
        self, session: Session, msg: Inbound, markup: render.Markup | None = None
    ) -> render.Reader:
        """The sender's language: their choice, else the platform's hint, else the group's."""
        person = session.get(Person, msg.sender)
        group = session.get(Group, msg.chat)
        code = (person.locale if person else None) or msg.language_hint
        if code is None and group is not None:
            code = group.languages.split()[0]
        tz = (person.timezone if person and person.timezone else None) or (
            group.timezone if group else "UTC"
        )
        adapter = self.adapters[msg.platform]
        return self.reader(code or self.default_locale, tz, adapter, markup)

    def _query(self, s: Session, item: _Item) -> None:
        req = item.query
        assert req is not None
        msg = item.inbound
        s.flush()  # the batch's changes, once: the reads below do not flush before each
        try:
            with s.no_autoflush:
                word = self._answer_query(s, msg, req)
        except DomainError as refusal:
            word = partial(render.error, err=refusal)
        menu = msg.private and isinstance(req, g.Start)
        # a question from a button (private chat) is answered with a message, not a note
        self._answer(s, item, word, menu=menu or item.pressed)

    def _answer_query(self, s: Session, msg: Inbound, req: g.Query) -> Word:
        if isinstance(req, g.Help):
            return partial(render.help_text, command=req.command)
        if isinstance(req, g.Start):
            if msg.private:
                return partial(cards.start_private, menu=self._has_menu(msg.platform))
            return render.start_text
        if msg.private:
            if isinstance(req, g.ShowStatus):
                return self._private_status(s, msg, req)
            raise DomainError("group_only")
        if isinstance(req, g.ShowStatus):
            if req.proposal is None:
                return partial(
                    render.open_list,
                    lines=queries.open_proposals(s, msg.chat),
                    meetings=queries.upcoming_meetings(s, msg.chat, self.clock.now()),
                )
            view = queries.proposal(s, msg.chat, req.proposal, msg.sender)
            return partial(render.status, v=view)
        if isinstance(req, g.ListMeetings):
            meetings = queries.upcoming_meetings(s, msg.chat, self.clock.now())
            return partial(render.meeting_list, meetings=meetings)
        if isinstance(req, g.ShowAlliances):
            views = queries.alliances(s, msg.chat, self.clock.now())
            if req.alliance is not None:
                views = [v for v in views if v.number == req.alliance]
                if not views:
                    raise DomainError("not_in_alliance", number=req.alliance)
            return partial(render.alliances, views=views)
        if isinstance(req, g.ShowCharter):
            shown = None if req.everyone else queries.group_charters(s, msg.chat)
            views = queries.charters(s, shown)
            link = None
            if self.web_url:  # the page of the group's own charter, or of them all
                own = f"charter/{public.slug(f'group:{msg.chat}')}.html"
                has_clauses = any(v.clauses for v in views if v.id == f"group:{msg.chat}")
                page = own if has_clauses and not req.everyone else "people.html"
                link = f"{self.web_url}/{page}"
            return partial(render.charter, views=views, head=queries.chain_head(s), link=link)
        if isinstance(req, g.ShowClause):
            return partial(render.clause_text, c=queries.clause(s, req.clause))
        if isinstance(req, g.ShowSettings):
            return partial(render.settings, values=queries.settings(s, msg.chat))
        if isinstance(req, g.Export):
            data = public.export_json(s, queries.group_charters(s, msg.chat))
            if req.format == "json":
                text = json.dumps(data, ensure_ascii=False, indent=2)
                return lambda r: r.markup.text(text)
            return lambda r: r.markup.text(export_mod.markdown(r.tr, data))
        raise AssertionError(f"unhandled query {req!r}")

    def _has_menu(self, platform: str) -> bool:
        """The private menu's buttons can be shown (Telegram); Matrix's buttons are
        reactions on cards, which a menu cannot be."""
        caps = self.adapters[platform].caps
        return caps.buttons and not caps.reactions

    def _private_status(self, s: Session, msg: Inbound, req: g.ShowStatus) -> Word:
        """In a private chat: the person's open rounds, or a proposal of one of their groups."""
        if req.proposal is None:
            return partial(cards.my_rounds, rounds=queries.open_rounds_of(s, msg.sender))
        group = queries.group_of_member(s, req.proposal, msg.sender)
        view = queries.proposal(s, group, req.proposal, msg.sender)
        return partial(render.status, v=view)


def _forget_reaction(session: Session, item: _Item) -> None:
    assert item.unreacted is not None
    session.execute(
        delete(ReactionRecord).where(
            ReactionRecord.platform == item.inbound.platform,
            ReactionRecord.ref == item.unreacted[0],
        )
    )


def _without_nul(inbound: Inbound) -> Inbound:
    """What people wrote, without NUL characters: PostgreSQL cannot store them in text, and
    an update that can never be stored would hold up its whole batch (and every chat behind
    it) for ever."""
    cleaned = {
        name: value.replace("\x00", "")
        for name in ("text", "sender_name", "chat_title", "data")
        if isinstance(value := getattr(inbound, name, None), str) and "\x00" in value
    }
    return dataclasses.replace(inbound, **cleaned) if cleaned else inbound


def _proposal_of(ev: e.Event) -> int | None:
    return getattr(ev, "proposal", None)
