"""The Matrix adapter: one bot account on a homeserver, through matrix-nio's ``AsyncClient``.

Its own sync loop rather than nio's ``sync_forever``: nio would save ``next_batch`` before our
commit (PITFALLS.md). Here each sync response is one batch: its events are translated
(``matrix_events.translate``), enriched with who the senders are (``matrix_rooms``), and
handed to the router together with the response's ``next_batch``, which is stored in the
same commit as their effects. A restart resumes from the stored token: nothing is done
twice or skipped. On the very first start (no token) the bot syncs with an empty timeline,
so it does not act on a room's history.

A gap (``limited`` timeline after downtime) is filled from ``/messages`` back to the
stored token before the batch is handed on. A room the bot has just joined is not filled:
what was said before it came is not for it.

Direct chats are the bot's private chats: a room created as one (``is_direct`` on the
invite) by someone who shares a room with the bot, or whom ``allowed_inviters`` names. They
are kept in the bot's ``m.direct`` account data, so they outlive restarts. There a message is
``private`` while the bot and that person are the only ones joined; when the person leaves
(or anyone else joins) the bot leaves too and the room is no longer a direct chat.

Sends carry the outbox row's transaction id, so a send retried after a lost answer is
shown once (Synapse deduplicates per device). nio's own retries are off: 429s, 5xx and
timeouts come back as ``DeliveryError`` (``checked``) and the outbox waits and retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fnmatch
import html
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from nio import (
    Api,
    AsyncClient,
    AsyncClientConfig,
    DirectRoomsErrorResponse,
    DirectRoomsResponse,
    ErrorResponse,
    JoinedRoomsResponse,
    JoinResponse,
    KeysClaimResponse,
    KeysQueryResponse,
    KeysUploadResponse,
    LocalProtocolError,
    MessageDirection,
    RoomGetStateResponse,
    RoomLeaveResponse,
    RoomMessagesResponse,
    RoomSendResponse,
    SyncResponse,
)
from nio.crypto import ENCRYPTION_ENABLED
from nio.responses import EmptyResponse

from adapters.matrix_events import (
    PLATFORM,
    Encrypted,
    StateChanged,
    chat_id,
    normalise_key,
    person_id,
    translate,
)
from adapters.matrix_rooms import DirectRooms, RoomPeople, read_state, still_private
from bot.buttons import reaction_for
from bot.config import MatrixConfig
from bot.i18n import get_translator
from bot.logging import get_logger
from bot.messages import (
    Capabilities,
    Cursor,
    DeliveryError,
    Inbound,
    MessageIn,
    Outbound,
    Sink,
    Wording,
)

log = get_logger(__name__)

CURSOR = "matrix:next_batch"
DIRECT = "m.direct"  # the account data that lists the bot's direct chats
MAX_TEXT = 16_000  # characters of HTML per event, well inside the 64 KiB event limit
CACHE_SECONDS = 300.0
SYNC_TIMEOUT_MS = 30_000
REQUEST_TIMEOUT = 60.0  # seconds before a request without an answer counts as failed (nio's)
PAGE = 100  # events per sync timeline and per /messages page


def sync_filter(timeline_limit: int) -> dict[str, Any]:
    """Only the rooms' timelines and state, and the bot's list of direct chats (``m.direct``);
    at most ``timeline_limit`` events per room."""
    return {
        "presence": {"not_types": ["*"]},
        "account_data": {"types": [DIRECT]},
        "room": {
            "timeline": {"limit": timeline_limit},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
        },
    }


SYNC_FILTER = sync_filter(PAGE)
FIRST_FILTER = sync_filter(0)  # the first start: no history
JOIN_TRIES = 5  # syncs that try to accept an invite the homeserver refused for a moment
# Errors that trying again cannot mend: the bot is not in the room, the event is gone.
PERMANENT = frozenset({"M_FORBIDDEN", "M_NOT_FOUND", "M_UNKNOWN_TOKEN", "M_BAD_JSON"})

R = TypeVar("R")


class MatrixError(Exception):
    """A Matrix request the homeserver refused (``errcode``), or that did not get through."""

    def __init__(self, what: str, errcode: str | None, message: str) -> None:
        super().__init__(f"{what}: {errcode or 'error'} {message}".strip())
        self.errcode = errcode


def checked(what: str, response: object, expected: type[R]) -> R:
    """The one place nio's answers are read: the expected response, else ``DeliveryError``
    (429 with the server's wait, permanent for refusals that retrying cannot mend). An
    answer of the expected type is also refused when its HTTP status says it failed: nio
    reads a proxy's HTML error page as ``{}``, which an empty response accepts."""
    status = getattr(getattr(response, "transport_response", None), "status", None)
    failed = isinstance(status, int) and status >= 400
    if isinstance(response, expected) and not failed:
        return response
    if failed and not isinstance(response, ErrorResponse):
        log.warning("matrix.refused", request=what, status=status)
        raise DeliveryError(f"{what}: HTTP {status}")
    if isinstance(response, ErrorResponse):
        code = response.status_code
        log.warning("matrix.refused", request=what, errcode=code, reason=response.message)
        retry = response.retry_after_ms / 1000 if response.retry_after_ms else None
        if code == "M_LIMIT_EXCEEDED" and retry is None:
            retry = 5.0
        raise DeliveryError(
            f"{what}: {code} {response.message}", retry_after=retry, permanent=code in PERMANENT
        )
    raise DeliveryError(f"{what}: unexpected answer {type(response).__name__}")


class MatrixAdapter:
    """One Matrix account. ``load_cursor`` reads the stored ``next_batch`` (our database)."""

    platform = PLATFORM

    def __init__(
        self,
        config: MatrixConfig,
        load_cursor: Callable[[str], str | None],
        *,
        cache_seconds: float = CACHE_SECONDS,
        sync_timeout_ms: int = SYNC_TIMEOUT_MS,
        timeline_limit: int = PAGE,
        default_locale: str = "en",
        request_timeout: float = REQUEST_TIMEOUT,
    ) -> None:
        """``timeline_limit``: events per room in a sync and per page when filling a gap
        (tests make it small to force gaps). ``request_timeout``: how long a request other
        than the sync's long poll may go unanswered before it is tried again."""
        self.config = config
        self.caps = Capabilities(
            max_text=MAX_TEXT,
            markup="html",
            prefix=config.command_prefix,
            username=config.user_id,
            buttons=True,
            reactions=True,
            parallel_chats=True,
        )
        self.load_cursor = load_cursor
        self.cache_seconds = cache_seconds
        self.sync_timeout_ms = sync_timeout_ms
        self.timeline_limit = timeline_limit
        self._filter = sync_filter(timeline_limit)
        self.excluded = frozenset([config.user_id, *config.other_bots])
        self.default_locale = default_locale
        if config.encryption and not ENCRYPTION_ENABLED:
            raise MatrixError(
                "encryption", None, "needs matrix-nio's e2e extra: pip install 'charterbot[e2e]'"
            )
        client_config = AsyncClientConfig(
            max_limit_exceeded=0,
            max_timeouts=0,
            request_timeout=request_timeout,
            store_sync_tokens=False,
            encryption_enabled=config.encryption,
        )
        self.client = AsyncClient(
            config.homeserver,
            config.user_id,
            device_id=config.device_id,
            store_path=config.store_path if config.encryption else "",
            config=client_config,
        )
        # Encrypting needs nio to know each room's members and settings: the first sync of
        # each run asks for the full state (nio keeps no room state across runs).
        self._full_state = config.encryption
        self.since: str | None = None
        self.ready = False
        self._sink: Sink | None = None
        self._task: asyncio.Task[None] | None = None
        self._batch_lock = asyncio.Lock()  # held from a sync's answer to its commit
        self._rooms: dict[str, tuple[float, RoomPeople]] = {}
        self._lookups: dict[str, asyncio.Future[RoomPeople]] = {}
        self._seeded: set[tuple[str, str]] = set()
        self._unreadable: set[str] = set()  # encrypted rooms told that the bot cannot read
        self._join_tries: dict[str, int] = {}  # invites whose join failed for a moment
        self._direct: DirectRooms | None = None  # read from ``m.direct`` at each start

    # -- life ----------------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        self._sink = sink
        await self._log_in()
        self.since = await asyncio.to_thread(self.load_cursor, CURSOR)
        self._task = asyncio.create_task(self._sync_loop(), name="matrix-sync")
        log.info("matrix.started", user=self.config.user_id, resumed=self.since is not None)

    async def stop_receiving(self) -> None:
        """No more syncs; a sync whose batch is being handled is finished first."""
        async with self._batch_lock:
            if self._task is not None:
                self._task.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> None:
        await self.stop_receiving()
        await self.client.close()

    async def _log_in(self) -> None:
        cfg = self.config
        if cfg.encryption:
            Path(cfg.store_path).mkdir(parents=True, exist_ok=True)  # nio's key store
        if cfg.access_token:
            self.client.restore_login(cfg.user_id, cfg.device_id, cfg.access_token)
            return
        response = await self.client.login(cfg.password, device_name="charterbot")
        if isinstance(response, ErrorResponse):
            # The message names the account, never the password.
            raise MatrixError("login", response.status_code, f"as {cfg.user_id}")

    # -- receiving -----------------------------------------------------------------------

    async def _sync_loop(self) -> None:
        failures = 0
        while True:
            try:
                await self.sync_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except DeliveryError as exc:
                failures += 1
                wait = exc.retry_after or min(30.0, 0.5 * 2**failures)
                log.warning("matrix.sync_failed", error=exc.reason, failures=failures)
                await asyncio.sleep(wait)
            except Exception as exc:  # noqa: BLE001 - network, 5xx, a failed commit: retry
                failures += 1
                log.warning("matrix.sync_failed", error=type(exc).__name__, failures=failures)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))

    async def sync_once(self) -> None:
        """One sync request and its batch, committed with its ``next_batch``."""
        first = self.since is None
        if self._direct is None:
            self._direct = await self._read_direct()
        if first:
            # nio syncs from its last answer when given no token: after a failed first try
            # that would skip the invites it brought. Start afresh instead.
            self.client.next_batch = ""
        request = self.client.sync(
            timeout=0 if first or self._full_state else self.sync_timeout_ms,
            sync_filter=FIRST_FILTER if first else self._filter,
            since=self.since,
            full_state=self._full_state or None,
        )
        response = checked("sync", await self._network(request), SyncResponse)
        async with self._batch_lock:
            await self._handle_sync(response, first)

    async def _handle_sync(self, response: SyncResponse, first: bool) -> None:
        """A sync's answer: its events handed on and committed with its ``next_batch``."""
        self._read_direct_changes(response)
        await self._answer_invites(response)
        items: list[Inbound] = []
        unreadable: list[str] = []
        direct = self._direct.person
        gone = {room_id for room_id in response.rooms.leave if room_id in direct}
        to_leave: set[str] = set()
        for room_id, info in response.rooms.join.items():
            events = [event.source for event in info.timeline.events]
            partner = direct.get(room_id)
            if partner is not None and not still_private(
                [*(e.source for e in info.state), *events], partner, self.config.user_id
            ):
                to_leave.add(room_id)  # the person left, or someone else came
                continue
            joined_now = _joined_at(events, self.config.user_id)
            if not self.config.encryption and _turned_encrypted(
                [e.source for e in info.state], events, joined_now
            ):
                unreadable.append(room_id)
            if joined_now is not None:
                events = events[joined_now + 1 :]  # not the history before the bot came
            elif info.timeline.limited and not first and info.timeline.prev_batch:
                events = await self._fill_gap(room_id, info.timeline.prev_batch) + events
            for state in info.state:
                self._translate_state(state.source, room_id)
            items.extend(self._translate_all(events, room_id))
        await self._end_direct(gone, to_leave)  # before the commit: else tried again with it
        enriched = await asyncio.gather(*(self._enrich(item) for item in items))
        items = [item for item in enriched if item is not None]
        assert self._sink is not None
        await self._sink(items, Cursor(CURSOR, response.next_batch))
        self.since = response.next_batch
        self._full_state = False
        self.ready = True
        for room_id in unreadable:
            await self._say_unreadable(room_id)
        if self.config.encryption:
            await self._keys()

    async def _keys(self) -> None:
        """The key work of an encrypting client after each sync: hand out room keys, publish
        our own, learn the devices of the people in our rooms."""
        client = self.client
        try:
            await self._network(client.send_to_device_messages())
            if client.should_upload_keys:
                checked(
                    "keys_upload", await self._network(client.keys_upload()), KeysUploadResponse
                )
            if client.should_query_keys:
                checked("keys_query", await self._network(client.keys_query()), KeysQueryResponse)
            if client.should_claim_keys:
                users = client.get_users_for_key_claiming()
                checked(
                    "keys_claim", await self._network(client.keys_claim(users)), KeysClaimResponse
                )
        except DeliveryError as exc:
            log.warning("matrix.keys_failed", error=exc.reason)  # tried again after the next sync
        except Exception as exc:  # noqa: BLE001 - nio's key store (peewee): also next time
            log.warning("matrix.keys_failed", error=type(exc).__name__)

    async def _say_unreadable(self, room_id: str) -> None:
        """Tell an encrypted room, once (when the bot joins it or it turns encrypted), that
        the bot cannot read it, instead of ignoring everyone in silence."""
        tr = get_translator(None, self.default_locale)
        text = html.escape(
            tr.gettext(
                "I cannot read this room: its messages are end-to-end encrypted, and "
                "encryption is turned off for me. Ask the person who runs charterbot to turn "
                "it on (encryption = true), or talk to me in a room without encryption."
            ),
            quote=False,
        )
        try:
            await self.send(chat_id(room_id), Outbound(text, txn_id=f"unreadable.{room_id}"))
        except DeliveryError as exc:
            log.warning("matrix.unreadable_notice_failed", room=room_id, error=exc.reason)

    def _translate_all(self, events: Sequence[dict[str, Any]], room_id: str) -> list[Inbound]:
        items: list[Inbound] = []
        for event in events:
            translated = translate(event, room_id, self.config.user_id)
            if isinstance(translated, StateChanged):
                self._rooms.pop(room_id, None)
            elif isinstance(translated, Encrypted):
                self._cannot_read(room_id, translated.event_id)
            elif translated is not None:
                items.append(translated)
        return items

    def _translate_state(self, event: dict[str, Any], room_id: str) -> None:
        if isinstance(translate(event, room_id, self.config.user_id), StateChanged):
            self._rooms.pop(room_id, None)

    async def _fill_gap(self, room_id: str, prev_batch: str) -> list[dict[str, Any]]:
        """The events a limited sync left out: from the timeline's start back to our token."""
        events: list[dict[str, Any]] = []
        start: str | None = prev_batch
        while start:
            page = checked(
                "messages",
                await self._network(
                    self.client.room_messages(
                        room_id,
                        start=start,
                        end=self.since,
                        direction=MessageDirection.back,
                        limit=self.timeline_limit,
                    )
                ),
                RoomMessagesResponse,
            )
            if not page.chunk:
                break
            events.extend(event.source for event in page.chunk)
            start = page.end if page.end != start else None
        events.reverse()
        log.info("matrix.gap_filled", room=room_id, events=len(events))
        return events

    async def _answer_invites(self, response: SyncResponse) -> None:
        for room_id, info in response.rooms.invite.items():
            inviter, is_direct = None, False
            for event in info.invite_state:
                source = getattr(event, "source", {})
                if (
                    source.get("type") == "m.room.member"
                    and source.get("state_key") == self.config.user_id
                ):
                    inviter = source.get("sender")
                    # (nio moves the content out of the source of the invite's events)
                    content = getattr(event, "content", None) or source.get("content") or {}
                    is_direct = content.get("is_direct") is True
            direct = bool(inviter and is_direct and await self._may_talk_privately(inviter))
            if inviter and (direct or self.allowed_inviter(inviter)):
                joined = await self._network(self.client.join(room_id))
                log.info(
                    "matrix.joined",
                    room=room_id,
                    inviter=inviter,
                    direct=direct,
                    ok=not _failed(joined),
                )
                if isinstance(joined, ErrorResponse) and joined.status_code not in PERMANENT:
                    # The invite comes down /sync once: a join refused for a moment (429,
                    # 5xx) is tried again with the whole sync, from the same token; but
                    # not for ever, as all the other rooms wait meanwhile.
                    tries = self._join_tries[room_id] = self._join_tries.get(room_id, 0) + 1
                    if tries < JOIN_TRIES:
                        checked("join", joined, JoinResponse)
                    log.warning("matrix.join_given_up", room=room_id, tries=tries)
                else:
                    self._join_tries.pop(room_id, None)
                    if direct and not _failed(joined):
                        assert self._direct is not None and inviter is not None
                        await self._keep_direct(self._direct.with_room(room_id, inviter))
            else:
                await self._network(self.client.room_leave(room_id))
                log.info("matrix.invite_declined", room=room_id, inviter=inviter, direct=is_direct)

    def allowed_inviter(self, user_id: str) -> bool:
        """``allowed_inviters``: user ids, or ``*:server`` patterns."""
        return any(
            fnmatch.fnmatchcase(user_id, pattern) for pattern in self.config.allowed_inviters
        )

    # -- direct chats --------------------------------------------------------------------

    async def _may_talk_privately(self, user_id: str) -> bool:
        """A direct chat is for someone the bot may bring into a group, or who is a joined
        member of a group room the bot is in: not for strangers."""
        return self.allowed_inviter(user_id) or await self._shares_room(user_id)

    async def _shares_room(self, user_id: str) -> bool:
        rooms = checked(
            "joined_rooms", await self._network(self.client.joined_rooms()), JoinedRoomsResponse
        )
        assert self._direct is not None
        for room_id in rooms.rooms:
            if room_id in self._direct.person:
                continue  # a direct chat is no group
            try:
                people = await self.people(room_id)
            except DeliveryError as exc:
                if not exc.permanent:
                    raise
                continue  # left meanwhile
            if user_id in people.names:
                return True
        return False

    async def _read_direct(self) -> DirectRooms:
        """The direct chats, from the bot's ``m.direct`` account data: an incremental sync
        brings account data only when it changes, so it is read once at each start."""
        response = await self._network(self.client.list_direct_rooms())
        if isinstance(response, DirectRoomsErrorResponse) and response.status_code == "M_NOT_FOUND":
            return DirectRooms()  # none yet
        found = checked("direct_rooms", response, DirectRoomsResponse)
        return DirectRooms.from_account_data(found.rooms)

    def _read_direct_changes(self, response: SyncResponse) -> None:
        """``m.direct`` changed (by us, or by another client of the bot's account)."""
        for event in response.account_data_events:
            if getattr(event, "type", None) == DIRECT:
                self._direct = DirectRooms.from_account_data(getattr(event, "content", None))

    async def _keep_direct(self, rooms: DirectRooms) -> None:
        """Store the direct chats in ``m.direct`` (nio 0.26 has no call for writing account
        data, so the request is built with its own ``Api`` helpers), then use them."""
        path = Api._build_path(["user", self.config.user_id, "account_data", DIRECT])
        body = json.dumps(rooms.account_data())
        response = await self._network(self.client._send(EmptyResponse, "PUT", path, body))
        checked("account_data", response, EmptyResponse)
        self._direct = rooms

    async def _end_direct(self, gone: set[str], to_leave: set[str]) -> None:
        """Direct chats that are no longer: the bot leaves those whose person left (or that
        someone else joined), and forgets them and those it is no longer in."""
        if not gone and not to_leave:
            return
        for room_id in sorted(to_leave):
            try:
                checked(
                    "leave",
                    await self._network(self.client.room_leave(room_id)),
                    RoomLeaveResponse,
                )
            except DeliveryError as exc:
                if not exc.permanent:
                    raise
        for room_id in sorted(gone | to_leave):
            self._rooms.pop(room_id, None)
            log.info("matrix.direct_ended", room=room_id)
        assert self._direct is not None
        await self._keep_direct(self._direct.without(gone | to_leave))

    def _cannot_read(self, room_id: str, event_id: str) -> None:
        if self.config.encryption:  # no key for it (yet): the sender's client did not share it
            log.warning("matrix.undecryptable", room=room_id, event=event_id)
            return
        if room_id in self._unreadable:
            return
        self._unreadable.add(room_id)
        log.warning("matrix.encrypted_unreadable", room=room_id)

    async def _enrich(self, item: Inbound) -> Inbound | None:
        """Who the sender is in the room: name, mediator, member; how many people count.
        In a direct chat: private, while the bot and its person are all who are in it
        (None: nothing for the bot). Matrix tells nothing of a person's language."""
        room_id = item.chat.removeprefix(f"{PLATFORM}:")
        user = item.sender.removeprefix(f"{PLATFORM}:")
        people = await self.people(room_id)
        partner = self._direct.person.get(room_id) if self._direct else None
        if partner is not None:
            if user != partner or people.names.keys() != {partner, self.config.user_id}:
                return None
            return dataclasses.replace(item, sender_name=people.names.get(user, user), private=True)
        if isinstance(item, MessageIn) and people.title:
            item = dataclasses.replace(item, chat_title=people.title)
        return dataclasses.replace(
            item,
            sender_name=people.names.get(user, user),
            platform_admin=people.is_mediator(user, self.config.mediator_power_level),
            member=user in people.names and user not in self.excluded,
            member_count=people.counted(self.excluded),
        )

    async def people(self, room_id: str) -> RoomPeople:
        """The room's people, from the cache or asked once however many updates wait."""
        cached = self._rooms.get(room_id)
        if cached is not None and time.monotonic() - cached[0] < self.cache_seconds:
            return cached[1]
        pending = self._lookups.get(room_id)
        if pending is None:
            pending = asyncio.ensure_future(self._read_people(room_id))
            self._lookups[room_id] = pending
            pending.add_done_callback(lambda _f: self._lookups.pop(room_id, None))
        return await asyncio.shield(pending)

    async def _read_people(self, room_id: str) -> RoomPeople:
        response = checked(
            "state", await self._network(self.client.room_get_state(room_id)), RoomGetStateResponse
        )
        people = read_state(response.events)
        self._rooms[room_id] = (time.monotonic(), people)
        return people

    # -- sending -------------------------------------------------------------------------

    async def send(self, chat: str, message: Outbound) -> str | None:
        room_id = chat.removeprefix(f"{PLATFORM}:")
        content = _content(message)
        if message.reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": message.reply_to}}
        response = checked(
            "send",
            await self._network(
                self.client.room_send(
                    room_id,
                    "m.room.message",
                    content,
                    tx_id=message.txn_id or uuid.uuid4().hex,
                    ignore_unverified_devices=True,
                )
            ),
            RoomSendResponse,
        )
        await self._seed(room_id, response.event_id, message)
        return response.event_id

    async def edit(self, chat: str, ref: str, word: Wording) -> None:
        message = await word()  # no pacing here: the homeserver answers 429 itself
        if message is None:
            return
        room_id = chat.removeprefix(f"{PLATFORM}:")
        new = _content(message)
        content = {
            **new,
            "body": "* " + new["body"],
            "formatted_body": "* " + new["formatted_body"],
            "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": ref},
        }
        checked(
            "edit",
            await self._network(
                self.client.room_send(
                    room_id,
                    "m.room.message",
                    content,
                    tx_id=uuid.uuid4().hex,
                    ignore_unverified_devices=True,
                )
            ),
            RoomSendResponse,
        )
        await self._seed(room_id, ref, message)

    async def _seed(self, room_id: str, ref: str, message: Outbound) -> None:
        """The card's buttons as reactions on it, once each: people answer by adding theirs."""
        for row in message.buttons:
            for button in row:
                key = reaction_for(button.data)
                if key is None or (ref, key) in self._seeded:
                    continue
                content = {
                    "m.relates_to": {"rel_type": "m.annotation", "event_id": ref, "key": key}
                }
                response = await self._network(
                    self.client.room_send(
                        room_id,
                        "m.reaction",
                        content,
                        tx_id=f"seed.{ref}.{normalise_key(key)}",
                        ignore_unverified_devices=True,
                    )
                )
                if isinstance(response, ErrorResponse) and response.status_code != (
                    "M_DUPLICATE_ANNOTATION"
                ):
                    checked("reaction", response, RoomSendResponse)
                self._seeded.add((ref, key))

    def busy_for(self, chat: str) -> float:
        return 0.0  # the homeserver says when to wait (429 with retry_after_ms)

    def resolve_user(self, chat: str, user: str) -> tuple[str, str] | None:
        """``@name:server`` as written in ``!mediator add``; the name from the room."""
        user = user.strip()
        if not (user.startswith("@") and ":" in user):
            return None
        cached = self._rooms.get(chat.removeprefix(f"{PLATFORM}:"))
        name = cached[1].names.get(user, user) if cached else user
        return person_id(user), name

    async def _network(self, request: Awaitable[R]) -> R:
        """A request that did not reach the homeserver or timed out: ``DeliveryError``."""
        try:
            return await request
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"network: {type(exc).__name__}") from exc
        except LocalProtocolError as exc:  # e.g. a room nio has not synced yet: try again
            raise DeliveryError(f"client: {exc}") from exc


def _joined_at(events: Sequence[dict[str, Any]], own_user_id: str) -> int | None:
    """The index of the bot's own join in a timeline, if it joined within it."""
    for index in range(len(events) - 1, -1, -1):
        event = events[index]
        if (
            event.get("type") == "m.room.member"
            and event.get("state_key") == own_user_id
            and (event.get("content") or {}).get("membership") == "join"
            and ((event.get("unsigned") or {}).get("prev_content") or {}).get("membership")
            != "join"
        ):
            return index
    return None


def _turned_encrypted(
    state: Sequence[dict[str, Any]], timeline: Sequence[dict[str, Any]], joined_now: int | None
) -> bool:
    """The bot has just joined an encrypted room, or a room it is in just turned encrypted."""

    def encryption(events: Sequence[dict[str, Any]]) -> bool:
        return any(e.get("type") == "m.room.encryption" and "state_key" in e for e in events)

    if joined_now is not None:
        return encryption(state) or encryption(timeline)
    return encryption(timeline)


def _failed(response: object) -> bool:
    return isinstance(response, ErrorResponse)


def _content(message: Outbound) -> dict[str, Any]:
    """An ``m.notice`` with the HTML and a plain body; pills for the person addressed."""
    formatted = message.text.replace("\n", "<br>")
    mentions: dict[str, Any] = {}
    if message.mention is not None:
        person, name = message.mention
        user = person.removeprefix(f"{PLATFORM}:")
        escaped = html.escape(name, quote=False)
        pill = f'<a href="https://matrix.to/#/{html.escape(user)}">{escaped}</a>'
        if escaped in formatted:
            formatted = formatted.replace(escaped, pill, 1)
        mentions = {"user_ids": [user]}
    return {
        "msgtype": "m.notice",
        "body": plain_text(message.text),
        "format": "org.matrix.custom.html",
        "formatted_body": formatted,
        "m.mentions": mentions,
    }


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(markup: str) -> str:
    """The text of the bot's HTML, for clients that show no HTML (and notifications)."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)
