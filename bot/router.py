"""Inbound message -> grammar -> engine or query -> worded replies in the outbox.

Each inbound update is handled in one transaction together with its inbox row (the
dedupe key) and its outbox messages: it is either fully handled and its answers queued,
or not at all (and then handled again when redelivered). Refusals are answered in the
sender's language and change nothing but the inbox and outbox.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import export as export_mod
from bot import grammar as g
from bot import render
from bot.i18n import available_locales, get_translator
from bot.logging import get_logger
from bot.messages import Adapter, MessageIn
from bot.outbox import enqueue
from deliberation import commands as c
from deliberation import events as e
from deliberation import queries
from deliberation.errors import DomainError
from deliberation.model import Group, InboxItem, Person
from deliberation.services import Deliberation

log = get_logger(__name__)

# Events that answer the person who acted; all others are announcements to the group.
REPLIES = (e.PositionStated, e.AmendmentVoted, e.LanguageSet)


class Router:
    def __init__(
        self,
        engine: Deliberation,
        adapters: dict[str, Adapter],
        default_locale: str = "en",
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.db = engine.db
        self.clock = engine.clock
        self.adapters = adapters
        self.default_locale = default_locale
        self.on_commit = on_commit or (lambda: None)

    # -- entry points ------------------------------------------------------------------

    async def on_message(self, msg: MessageIn) -> None:
        """Handle one inbound message (in a worker thread: the store is synchronous)."""
        await asyncio.to_thread(self.handle_message, msg)
        self.on_commit()

    async def run_timers(self) -> int:
        events = await asyncio.to_thread(self.engine.run_due_timers, self._announce_events)
        if events:
            self.on_commit()
        return len(events)

    def handle_message(self, msg: MessageIn) -> None:
        adapter = self.adapters[msg.platform]
        actor = c.Actor(
            group=msg.chat,
            person=msg.sender,
            name=msg.sender_name,
            platform_admin=msg.platform_admin,
            member=msg.member,
            member_count=msg.member_count,
            language_hint=msg.language_hint,
        )
        try:
            request = g.parse(msg.text, adapter.caps.prefix, adapter.caps.username)
            if request is None:
                return  # ordinary conversation: not ours
            if isinstance(request, g.MediatorRequest):
                request = self._mediator_command(adapter, msg, request)
            if isinstance(request, c.SetLanguage):
                request = c.SetLanguage(self._checked_language(request.code))
            if isinstance(request, g.Query):
                self._query(msg, actor, request)
            else:
                self.engine.handle(actor, request, self._before_commit(msg))
        except g.UnknownCommand as exc:
            self._reply_only(msg, partial(render.unknown, name=exc.name))
        except g.UsageError as exc:
            self._reply_only(msg, partial(render.usage, command=exc.command))
        except DomainError as exc:
            self._reply_only(msg, partial(render.error, err=exc))
        except _Duplicate:
            log.info("inbox.duplicate", platform=msg.platform, key=msg.dedupe_key)

    # -- helpers -----------------------------------------------------------------------

    def _mediator_command(
        self, adapter: Adapter, msg: MessageIn, req: g.MediatorRequest
    ) -> c.Command:
        resolved = adapter.resolve_user(msg.chat, req.user)
        if resolved is None:
            raise g.UsageError("mediator")
        person, name = resolved
        return c.AddMediator(person, name) if req.add else c.RemoveMediator(person, name)

    @staticmethod
    def _checked_language(code: str) -> str:
        wanted = code.strip().replace("-", "_")
        known = available_locales()
        for candidate in known:
            if candidate.lower() == wanted.lower():
                return candidate
        raise DomainError("bad_language", language=code[:16], known=tuple(known))

    def _record_inbox(self, session: Session, msg: MessageIn) -> None:
        exists = session.get(InboxItem, (msg.platform, msg.dedupe_key))
        if exists is not None:
            raise _Duplicate
        session.add(
            InboxItem(
                platform=msg.platform, dedupe_key=msg.dedupe_key, received_at=self.clock.now()
            )
        )
        try:
            session.flush()
        except IntegrityError:
            raise _Duplicate from None

    def _before_commit(self, msg: MessageIn) -> Callable[[Session, list[e.Event]], None]:
        def write(session: Session, events: list[e.Event]) -> None:
            self._record_inbox(session, msg)
            now = self.clock.now()
            for ev in events:
                if isinstance(ev, REPLIES):
                    reader = self._person_reader(session, msg)
                    enqueue(
                        session,
                        msg.platform,
                        msg.chat,
                        render.event(reader, ev),
                        now,
                        _proposal_of(ev),
                    )
                else:
                    self._announce(session, ev, now)

        return write

    def _announce_events(self, session: Session, events: list[e.Event]) -> None:
        now = self.clock.now()
        for ev in events:
            self._announce(session, ev, now)

    def _announce(self, session: Session, ev: e.Event, now: datetime) -> None:
        """An event to its group, once in each of the group's languages."""
        group = session.get(Group, ev.group)
        platform = ev.group.partition(":")[0]
        adapter = self.adapters.get(platform)
        if group is None or adapter is None:
            log.warning("announce.no_adapter", group=ev.group)
            return
        texts = [
            render.event(self._reader(code, group.timezone, adapter), ev)
            for code in group.languages.split()
        ]
        enqueue(session, platform, ev.group, "\n\n".join(texts), now, _proposal_of(ev))

    def _reader(self, code: str | None, timezone: str, adapter: Adapter) -> render.Reader:
        markup = render.HtmlMarkup() if adapter.caps.markup == "html" else render.Markup()
        return render.Reader(
            tr=get_translator(code, self.default_locale),
            timezone=timezone,
            now=self.clock.now(),
            prefix=adapter.caps.prefix,
            markup=markup,
        )

    def _person_reader(self, session: Session, msg: MessageIn) -> render.Reader:
        """The sender's language: their choice, else the platform's hint, else the group's."""
        person = session.get(Person, msg.sender)
        group = session.get(Group, msg.chat)
        code = (person.locale if person else None) or msg.language_hint
        if code is None and group is not None:
            code = group.languages.split()[0]
        tz = (person.timezone if person and person.timezone else None) or (
            group.timezone if group else "UTC"
        )
        return self._reader(code or self.default_locale, tz, self.adapters[msg.platform])

    def _reply_only(self, msg: MessageIn, word: Callable[[render.Reader], str]) -> None:
        """Answer the sender without changing anything else (a refusal or a query)."""
        with self.db.unit_of_work() as uow:
            try:
                self._record_inbox(uow.session, msg)
            except _Duplicate:
                return
            reader = self._person_reader(uow.session, msg)
            enqueue(uow.session, msg.platform, msg.chat, word(reader), self.clock.now())
            uow.commit()

    def _query(self, msg: MessageIn, actor: c.Actor, req: g.Query) -> None:
        if not isinstance(req, g.Help | g.Start):
            self.engine.register(actor)  # a first /status in a new group creates it
        with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            reader = self._person_reader(s, msg)
            text = self._answer(s, reader, msg, req)
        self._reply_only(msg, lambda _r: text)

    def _answer(self, s: Session, reader: render.Reader, msg: MessageIn, req: g.Query) -> str:
        if isinstance(req, g.Help):
            return render.help_text(reader, req.command)
        if isinstance(req, g.Start):
            return render.start_text(reader)
        if isinstance(req, g.ShowStatus):
            if req.proposal is None:
                return render.open_list(reader, queries.open_proposals(s, msg.chat))
            return render.status(reader, queries.proposal(s, msg.chat, req.proposal, msg.sender))
        if isinstance(req, g.ShowCharter):
            return render.charter(
                reader, queries.charters(s, f"group:{msg.chat}"), queries.chain_head(s)
            )
        if isinstance(req, g.ShowClause):
            return render.clause_text(reader, queries.clause(s, req.clause))
        if isinstance(req, g.ShowSettings):
            return render.settings(reader, queries.settings(s, msg.chat))
        if isinstance(req, g.Export):
            data = queries.export_json(s, f"group:{msg.chat}")
            if req.format == "json":
                return json.dumps(data, ensure_ascii=False, indent=2)
            return export_mod.markdown(reader.tr, data)
        raise AssertionError(f"unhandled query {req!r}")


class _Duplicate(Exception):
    """The update was handled before (its inbox row exists)."""


def _proposal_of(ev: e.Event) -> int | None:
    return getattr(ev, "proposal", None)
