"""A fake Telegram Bot API server on loopback, driven by the real python-telegram-bot client.

``FakeBotApi`` is an aiohttp server on ``127.0.0.1`` (port 0: the OS picks a free port, see
:attr:`FakeBotApi.port`). Point PTB at it with ``telegram.Bot(token,
base_url=fake.base_url)``; PTB appends the token, so requests arrive at
``/bot<token>/<method>``. Bodies may be form-encoded (what PTB sends: strings raw, everything
else JSON-encoded), JSON or multipart. Answers have Telegram's shape: ``{"ok": true, "result":
...}`` or ``{"ok": false, "error_code": n, "description": "..."}`` plus ``"parameters":
{"retry_after": n}`` on 429.

What it enforces like Telegram (see ../shared/PITFALLS.md, Telegram section):

* message text <= 4096 UTF-16 code units after HTML entity parsing; HTML must use only
  Telegram's tags, balanced (else 400 "can't parse entities");
* inline keyboard callback data 1-64 bytes (else 400 "BUTTON_DATA_INVALID");
* ``editMessageText`` with identical content and markup -> 400 "message is not modified";
* flood limits on ``sendMessage``/``editMessageText``/``editMessageReplyMarkup``: a token
  bucket per chat (``per_chat_rate`` per second, ``per_chat_burst``), at most
  ``group_per_minute`` in any 60 s window per group, at most ``global_per_second`` in any 1 s
  window overall. Exceeding one answers 429 with ``retry_after`` (whole seconds, >= 1) and
  blocks that scope (the chat, or the whole bot for the global limit) until it elapses.
  Every request that arrives in a blocked scope before the retry_after elapsed is recorded in
  :attr:`FakeBotApi.flood_violations`; with ``strict_flood=True`` (default) it is also refused
  with 429 again, as Telegram does (and eventually bans).
* ``getUpdates`` confirms: updates with ``update_id < offset`` are dropped for good; at most
  100 per call; ``timeout`` long-polls; a newer ``getUpdates`` ends a pending one with 409
  like Telegram's "terminated by other getUpdates request".

Flood counters use an injectable ``clock`` (default :func:`time.monotonic`); with a
:class:`ManualClock` the tests move time themselves. Long polling and injected delays use real
time.

Faults: ``fail_next``, ``delay_next`` and ``drop_connection_next`` queue faults for the next
calls of a method; ``fault_window`` makes Telegram fail for a stretch of real time, each
method with its own cycle of 429s, 5xx, hung requests (never carried out) and lost answers
(carried out, answer never sent), a hung request waiting until its client gives up.

Thread-safety: the server runs in one event loop. All helpers that change state
(``user_message``, ``press_button``, ``fail_next`` ...) may be called from any thread; when
called from outside the server's loop they are handed to it and waited for. ``FakeBotApi.in_thread()``
runs the server in a background thread with its own loop, so a plain sync test can run PTB
under ``asyncio.run`` against it.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import itertools
import json
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.faults import FaultCycle

# Shaped like a real token (built here so no token-shaped literal sits in the repo).
DEFAULT_TOKEN = "123456789:" + "AAFakeTokenForLoopbackTestsOnly_0123"
MAX_TEXT_UTF16 = 4096
MAX_UPDATES_PER_CALL = 100

Json = dict[str, Any]
UserLike = int | Json

# Fields whose form value is JSON-encoded by PTB (strings are sent raw).
_JSON_FIELDS = {
    "reply_markup",
    "commands",
    "scope",
    "allowed_updates",
    "entities",
    "link_preview_options",
    "reply_parameters",
    "disable_notification",
    "protect_content",
    "show_alert",
    "disable_web_page_preview",
}
_INT_FIELDS = {
    "chat_id",
    "message_id",
    "user_id",
    "offset",
    "limit",
    "timeout",
    "message_thread_id",
    "cache_time",
    "reply_to_message_id",
}

_SERVER_ERRORS = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

# Telegram's HTML tags -> entity type.
_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_RE = re.compile(
    r"<(/?)([A-Za-z][A-Za-z0-9-]*)"
    r"((?:\s+[A-Za-z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*/?>"
)
_ATTR_RE = re.compile(r"([A-Za-z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]+);")
_COMMAND_RE = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")

_ADMIN_RIGHTS = (
    "can_be_edited",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
)


class ApiError(Exception):
    """Raised inside a method handler to answer ``{"ok": false}`` with this code."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


class ManualClock:
    """A clock the test moves by hand: ``clock()`` reads it, ``clock.advance(s)`` moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, as Telegram counts message length and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> tuple[str, list[Json]]:
    """Parse Telegram-flavoured HTML into (plain text, entities) or raise ApiError 400."""
    out: list[str] = []
    pos16 = 0  # UTF-16 offset of the plain text built so far
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[Json] = []
    i = 0
    n = len(text)

    def fail(reason: str) -> ApiError:
        offset = len(text[:i].encode("utf-8"))
        return ApiError(400, f"Bad Request: can't parse entities: {reason} at byte offset {offset}")

    while i < n:
        ch = text[i]
        if ch == "<":
            m = _TAG_RE.match(text, i)
            if m is None:
                raise fail("Unclosed start tag")
            closing, name, raw_attrs = m.group(1), m.group(2).lower(), m.group(3)
            if name not in _TAGS:
                kind = "end" if closing else "start"
                raise fail(f'Unsupported {kind} tag "{name}"')
            if closing:
                if not stack or stack[-1][0] != name:
                    raise fail(f'Unmatched end tag "{name}"')
                open_name, start16, attrs = stack.pop()
                length = pos16 - start16
                if length > 0:
                    entity: Json = {"type": _TAGS[name], "offset": start16, "length": length}
                    if name == "a":
                        entity["url"] = attrs.get("href", "")
                    elif name == "pre" and attrs.get("language"):
                        entity["language"] = attrs["language"]
                    elif name == "tg-emoji":
                        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
                    elif name == "blockquote" and "expandable" in attrs:
                        entity["type"] = "expandable_blockquote"
                    entities.append(entity)
            else:
                attrs = {
                    a.group(1).lower(): a.group(2) or a.group(3) or a.group(4) or ""
                    for a in _ATTR_RE.finditer(raw_attrs)
                }
                if name == "span" and attrs.get("class") != "tg-spoiler":
                    raise fail('Tag "span" must have class "tg-spoiler"')
                if name == "a" and "href" not in attrs:
                    raise fail('Tag "a" must have attribute "href"')
                stack.append((name, pos16, attrs))
            i = m.end()
            continue
        if ch == "&":
            m = _ENTITY_RE.match(text, i)
            decoded: str | None = None
            if m is not None:
                body = m.group(1)
                if body.startswith(("#x", "#X")):
                    decoded = chr(int(body[2:], 16)) if int(body[2:], 16) < 0x110000 else None
                elif body.startswith("#"):
                    decoded = chr(int(body[1:])) if int(body[1:]) < 0x110000 else None
                else:
                    decoded = _NAMED_ENTITIES.get(body)
            if m is not None and decoded is not None:
                out.append(decoded)
                pos16 += utf16_len(decoded)
                i = m.end()
                continue
            # Telegram leaves an unrecognised '&' as it is.
        out.append(ch)
        pos16 += utf16_len(ch)
        i += 1
    if stack:
        i = n
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def command_entities(text: str) -> list[Json]:
    """``bot_command`` entities like Telegram adds to incoming messages (PTB needs them)."""
    result = []
    for m in _COMMAND_RE.finditer(text):
        result.append(
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m.group(0)),
            }
        )
    return result


@dataclass
class FakeChat:
    """A chat the fake knows: its admins, known members and (optionally fixed) member count."""

    id: int
    type: str
    title: str | None = None
    admins: dict[int, Json] = field(default_factory=dict)  # user id -> ChatMember dict
    members: dict[int, Json] = field(default_factory=dict)  # user id -> User dict
    left: dict[int, Json] = field(default_factory=dict)  # user id -> ChatMember dict
    member_count: int | None = None
    username: str | None = None

    def as_json(self) -> Json:
        result: Json = {"id": self.id, "type": self.type}
        if self.type == "private":
            user = self.members.get(self.id, {})
            result["first_name"] = user.get("first_name", "User")
            if user.get("username"):
                result["username"] = user["username"]
        else:
            result["title"] = self.title or f"Chat {self.id}"
        if self.username and self.type != "private":
            result["username"] = self.username
        return result

    def count(self) -> int:
        if self.member_count is not None:
            return self.member_count
        return len(set(self.admins) | set(self.members))


@dataclass
class _Fault:
    kind: str  # "fail" | "delay" | "drop"
    times: int
    status: int = 500
    retry_after: int | None = None
    description: str | None = None
    seconds: float = 0.0
    apply_first: bool = True


# What a fault window answers, request by request (see :meth:`FakeBotApi.fault_window`).
WINDOW_KINDS = frozenset({"pass", "429", "500", "502", "503", "504", "hang", "lost"})
HANG_LIMIT = 300.0  # seconds a hung request waits for its client to give up, at most


@dataclass
class FaultWindow(FaultCycle):
    """Telegram failing for a while (a :class:`FaultCycle` by Bot API method): ``lost``
    holds the Message JSON of each ``sendMessage`` carried out whose answer never came back.
    A hung request is logged in :attr:`FakeBotApi.requests` with status 0."""

    retry_after: int = 1


class FakeBotApi:
    """A loopback Telegram Bot API server with state the tests read and drive.

    State the tests read: :attr:`sent` (every message the bot posted, as dicts with
    ``chat_id``, ``text`` (as sent), ``plain_text``, ``parse_mode``, ``reply_markup``,
    ``message_id``, ``message_thread_id``, ``edits`` (list of earlier versions), ``deleted``),
    :attr:`commands` (``{(scope_type, chat_id, user_id, language_code): [...]}``),
    :attr:`callback_answers`, :attr:`requests` (``(method, params, status)`` per request),
    :attr:`flood_violations`, :attr:`flood_refusals` (429s given), :attr:`chats`.
    """

    RATE_LIMITED = frozenset({"sendMessage", "editMessageText", "editMessageReplyMarkup"})

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "charter_test_bot",
        bot_first_name: str = "Charter Test Bot",
        clock: Callable[[], float] = time.monotonic,
        flood_limits: bool = True,
        per_chat_rate: float = 1.0,
        per_chat_burst: int = 3,
        group_per_minute: int = 20,
        global_per_second: int = 30,
        strict_flood: bool = True,
        first_update_id: int = 100_000,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_user: Json = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.clock = clock
        self.flood_limits = flood_limits
        self.per_chat_rate = per_chat_rate
        self.per_chat_burst = per_chat_burst
        self.group_per_minute = group_per_minute
        self.global_per_second = global_per_second
        self.strict_flood = strict_flood

        self.sent: list[Json] = []
        self.messages: dict[tuple[int, int], Json] = {}  # (chat, id) -> Message JSON
        self.records: dict[tuple[int, int], Json] = {}  # (chat, id) -> entry of `sent`
        self.commands: dict[tuple[str, int | None, int | None, str], list[Json]] = {}
        self.callback_answers: list[Json] = []
        self.requests: list[tuple[str, Json, int]] = []
        self.flood_violations: list[Json] = []
        self.flood_refusals: list[Json] = []
        self.chats: dict[int, FakeChat] = {}
        self.updates: list[Json] = []  # unconfirmed updates, in order
        self.next_update_id = first_update_id

        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1)
        self._open_queries: dict[str, Json] = {}
        self._faults: dict[str, collections.deque[_Fault]] = collections.defaultdict(
            collections.deque
        )
        self._windows: list[FaultWindow] = []
        self._buckets: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._group_window: dict[int, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._global_window: collections.deque[float] = collections.deque()
        self._blocked: dict[Any, float] = {}  # chat id or "global" -> clock deadline
        self._new_update: asyncio.Event | None = None
        self._poll_generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeBotApi:
        self._loop = asyncio.get_running_loop()
        self._new_update = asyncio.Event()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        # End pending long polls (a client that went away leaves its handler waiting).
        self._poll_generation += 1
        self._wake()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBotApi:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **kwargs: Any) -> Iterator[FakeBotApi]:
        """Run a new server in a background thread with its own event loop."""
        api = cls(**kwargs)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-bot-api", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(api.start(), loop).result(10)
            yield api
        finally:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(api.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeBotApi is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """What to pass as ``telegram.Bot(token, base_url=...)`` (PTB appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    def _in_loop(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` in the server's loop (directly when already there) and return its result."""
        loop = self._loop
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop or loop.is_closed():
            return fn(*args, **kwargs)
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed back to the caller
                future.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return future.result(10)

    # ------------------------------------------------------------------ test helpers: setup

    @staticmethod
    def make_user(
        user_id: int,
        first_name: str | None = None,
        *,
        username: str | None = None,
        language_code: str | None = "en",
        is_bot: bool = False,
    ) -> Json:
        user: Json = {"id": user_id, "is_bot": is_bot, "first_name": first_name or f"User{user_id}"}
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        return user

    def _user(self, user: UserLike) -> Json:
        return self.make_user(user) if isinstance(user, int) else dict(user)

    def add_chat(
        self,
        chat_id: int,
        title: str | None = None,
        type: str = "supergroup",  # noqa: A002 - Telegram's field name
        *,
        admins: list[UserLike] | None = None,
        creator: UserLike | None = None,
        members: int | list[UserLike] | None = None,
        bot_is_admin: bool = False,
        username: str | None = None,
    ) -> FakeChat:
        """Create (or replace) a chat. ``members`` is a fixed count or a list of users."""

        def do() -> FakeChat:
            chat = FakeChat(id=chat_id, type=type, title=title, username=username)
            if creator is not None:
                user = self._user(creator)
                chat.admins[user["id"]] = {"status": "creator", "user": user, "is_anonymous": False}
            for admin in admins or []:
                user = self._user(admin)
                chat.admins[user["id"]] = self._admin_member(user)
            if bot_is_admin:
                chat.admins[self.bot_id] = self._admin_member(self.bot_user)
            if isinstance(members, int):
                chat.member_count = members
            else:
                for member in members or []:
                    user = self._user(member)
                    chat.members[user["id"]] = user
            self.chats[chat_id] = chat
            return chat

        return self._in_loop(do)

    @staticmethod
    def _admin_member(user: Json) -> Json:
        member: Json = {"status": "administrator", "user": user, "is_anonymous": False}
        member.update(dict.fromkeys(_ADMIN_RIGHTS, True))
        member["can_be_edited"] = False
        return member

    def _chat(self, chat_id: int, user: Json | None = None) -> FakeChat:
        chat = self.chats.get(chat_id)
        if chat is None:
            if chat_id > 0:
                chat = FakeChat(id=chat_id, type="private")
                if user is not None and user["id"] == chat_id:
                    chat.members[chat_id] = user
            else:
                chat = FakeChat(id=chat_id, type="supergroup", title=f"Group {chat_id}")
            self.chats[chat_id] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def jump_update_id(self, by: int) -> None:
        """Make the next update_id jump forward (Telegram does after idle periods)."""
        self._in_loop(lambda: setattr(self, "next_update_id", self.next_update_id + by))

    # ------------------------------------------------------------------ test helpers: users act

    def _push_update(self, kind: str, payload: Json, update_id: int | None = None) -> Json:
        if update_id is not None:
            if update_id < self.next_update_id:
                raise ValueError("update_id must increase")
            self.next_update_id = update_id
        update = {"update_id": self.next_update_id, kind: payload}
        self.next_update_id += 1
        self.updates.append(update)
        self._wake()
        return update

    def user_message(
        self,
        chat_id: int,
        user: UserLike,
        text: str,
        reply_to: int | None = None,
        *,
        update_id: int | None = None,
        message_thread_id: int | None = None,
    ) -> Json:
        """A user writes ``text`` in the chat; returns the Update dict (``update_id`` forces an id)."""

        def do() -> Json:
            sender = self._user(user)
            chat = self._chat(chat_id, sender)
            if sender["id"] not in chat.admins:
                chat.members.setdefault(sender["id"], sender)
            chat.left.pop(sender["id"], None)
            message: Json = {
                "message_id": self._next_message_id(chat_id),
                "from": sender,
                "chat": chat.as_json(),
                "date": int(time.time()),
                "text": text,
            }
            entities = command_entities(text)
            if entities:
                message["entities"] = entities
            if message_thread_id is not None:
                message["message_thread_id"] = message_thread_id
            if reply_to is not None:
                replied = self.messages.get((chat_id, reply_to))
                if replied is not None:
                    message["reply_to_message"] = {
                        k: v for k, v in replied.items() if k != "reply_to_message"
                    }
            self.messages[(chat_id, message["message_id"])] = message
            return self._push_update("message", message, update_id)

        return self._in_loop(do)

    def press_button(
        self,
        chat_id: int,
        user: UserLike,
        message_id: int,
        data: str,
        *,
        update_id: int | None = None,
    ) -> Json:
        """A user presses an inline button carrying ``data`` (any string: forgeries welcome)."""

        def do() -> Json:
            presser = self._user(user)
            chat = self._chat(chat_id)
            message = self.messages.get((chat_id, message_id))
            if message is None:  # Telegram's InaccessibleMessage
                message = {"chat": chat.as_json(), "message_id": message_id, "date": 0}
            query_id = f"{self.bot_id}{next(self._callback_ids):08d}"
            query = {
                "id": query_id,
                "from": presser,
                "message": message,
                "chat_instance": str(abs(chat_id) * 7 + 1),
                "data": data,
            }
            self._open_queries[query_id] = query
            return self._push_update("callback_query", query, update_id)

        return self._in_loop(do)

    def chat_member_update(
        self,
        chat_id: int,
        user: UserLike,
        old_status: str,
        new_status: str,
        *,
        by: UserLike | None = None,
        update_id: int | None = None,
    ) -> Json:
        """``user`` changes status (member/administrator/creator/left/kicked/restricted).

        Produces ``my_chat_member`` when ``user`` is the bot, ``chat_member`` otherwise (which
        getUpdates only delivers when asked for in ``allowed_updates``), and updates the chat.
        """

        def do() -> Json:
            target = self._user(user)
            actor = self._user(by) if by is not None else target
            chat = self._chat(chat_id)

            def member(status: str) -> Json:
                if status == "administrator":
                    return self._admin_member(target)
                result: Json = {"status": status, "user": target}
                if status == "creator":
                    result["is_anonymous"] = False
                if status == "kicked":
                    result["until_date"] = 0
                if status == "restricted":
                    result.update(
                        {
                            "is_member": True,
                            "until_date": 0,
                            **dict.fromkeys(
                                (
                                    "can_send_messages",
                                    "can_send_audios",
                                    "can_send_documents",
                                    "can_send_photos",
                                    "can_send_videos",
                                    "can_send_video_notes",
                                    "can_send_voice_notes",
                                    "can_send_polls",
                                    "can_send_other_messages",
                                    "can_add_web_page_previews",
                                    "can_change_info",
                                    "can_invite_users",
                                    "can_pin_messages",
                                    "can_manage_topics",
                                ),
                                False,
                            ),
                        }
                    )
                return result

            new_member = member(new_status)
            uid = target["id"]
            chat.admins.pop(uid, None)
            chat.members.pop(uid, None)
            chat.left.pop(uid, None)
            if new_status in ("administrator", "creator"):
                chat.admins[uid] = new_member
            elif new_status in ("member", "restricted"):
                chat.members[uid] = target
            else:
                chat.left[uid] = new_member
            if chat.member_count is not None:
                was_in = old_status in ("member", "administrator", "creator", "restricted")
                is_in = new_status in ("member", "administrator", "creator", "restricted")
                chat.member_count += int(is_in) - int(was_in)
            payload = {
                "chat": chat.as_json(),
                "from": actor,
                "date": int(time.time()),
                "old_chat_member": member(old_status),
                "new_chat_member": new_member,
            }
            kind = "my_chat_member" if uid == self.bot_id else "chat_member"
            return self._push_update(kind, payload, update_id)

        return self._in_loop(do)

    # ------------------------------------------------------------------ test helpers: faults

    def fail_next(
        self,
        method: str,
        status: int = 500,
        times: int = 1,
        retry_after: int | None = None,
        description: str | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` fail with ``status`` (429 gets retry_after)."""
        if status == 429 and retry_after is None:
            retry_after = 1
        fault = _Fault(
            "fail", times, status=status, retry_after=retry_after, description=description
        )
        self._in_loop(self._faults[method].append, fault)

    def delay_next(
        self, method: str, seconds: float, times: int = 1, *, apply_first: bool = True
    ) -> None:
        """Delay the answer to the next ``times`` calls of ``method`` by ``seconds``.

        With ``apply_first`` (default) the call takes effect at once and only the answer is
        late: a client that times out has in fact sent the message (Telegram has no
        idempotency key). Otherwise the call takes effect after the delay, also when the
        client has given up meanwhile (aiohttp does not cancel handlers on disconnect).
        """
        fault = _Fault("delay", times, seconds=seconds, apply_first=apply_first)
        self._in_loop(self._faults[method].append, fault)

    def drop_connection_next(
        self, method: str, times: int = 1, *, apply_first: bool = False
    ) -> None:
        """Close the connection without an answer on the next ``times`` calls of ``method``.

        ``apply_first=True`` lets the call take effect before the connection is dropped.
        """
        fault = _Fault("drop", times, apply_first=apply_first)
        self._in_loop(self._faults[method].append, fault)

    def fault_window(
        self, seconds: float, patterns: dict[str, tuple[str, ...]], *, retry_after: int = 1
    ) -> FaultWindow:
        """Telegram failing for ``seconds`` of real time, from now.

        ``patterns`` maps a method to the answers its requests get in turn, cycling:
        ``"pass"`` (served normally), ``"429"`` (flood wait of ``retry_after`` seconds; for
        a request to a chat, that chat is blocked as after a real flood refusal, so a bot
        that comes back early is recorded in :attr:`flood_violations`), ``"500"``-``"504"``,
        ``"hang"`` (no answer: the request is not carried out and the connection stays
        open until the client gives up) and ``"lost"`` (carried out, then no answer until
        the client gives up: Telegram took the message, the bot cannot know it). Methods
        not named are served normally; faults queued with ``fail_next`` ... come first.
        """
        for method, pattern in patterns.items():
            unknown = set(pattern) - WINDOW_KINDS
            if not pattern or unknown:
                raise ValueError(f"bad pattern for {method}: {pattern!r}")
        window = FaultWindow(time.monotonic() + seconds, dict(patterns), retry_after=retry_after)
        self._in_loop(self._windows.append, window)
        return window

    def _window_kind(self, method: str) -> tuple[FaultWindow, str] | None:
        for window in self._windows:
            kind = window.next_kind(method)
            if kind is not None:
                return window, kind
        return None

    async def _window_fault(
        self,
        request: web.Request,
        method: str,
        handler: Callable[[Json], Any],
        params: Json,
        window: FaultWindow,
        kind: str,
    ) -> web.StreamResponse:
        """Answer one request of a fault window as ``kind`` (not "pass")."""
        try:
            self._check_flood(method, params)  # early after a 429: refused as always
        except ApiError as err:
            self.requests.append((method, params, err.code))
            return self._error(err.code, err.description, err.retry_after)
        if kind == "429":
            self.requests.append((method, params, 429))
            chat_id = params.get("chat_id")
            if isinstance(chat_id, int):
                self._block(chat_id, window.retry_after)
            self.flood_refusals.append(
                {"method": method, "params": params, "retry_after": window.retry_after}
            )
            return self._error(
                429, f"Too Many Requests: retry after {window.retry_after}", window.retry_after
            )
        if kind.isdigit():
            self.requests.append((method, params, int(kind)))
            return self._error(int(kind), _SERVER_ERRORS[int(kind)])
        if kind == "lost":
            response = await self._dispatch(method, handler, params)
            if response.status == 200 and method == "sendMessage":
                window.lost.append(json.loads(response.text or "{}")["result"])
        else:  # "hang"
            self.requests.append((method, params, 0))
        await self._until_client_gives_up(request)
        raise asyncio.CancelledError  # nothing is written; aiohttp drops the request

    @staticmethod
    async def _until_client_gives_up(request: web.Request) -> None:
        """Keep a request unanswered until its client closes the connection (its timeout)."""
        deadline = time.monotonic() + HANG_LIMIT
        while time.monotonic() < deadline:
            transport = request.transport
            if transport is None or transport.is_closing():
                return
            await asyncio.sleep(0.05)
        if request.transport is not None:
            request.transport.abort()

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.popleft()
        return fault

    # ------------------------------------------------------------------ test helpers: reading

    def sent_to(self, chat_id: int) -> list[Json]:
        return [m for m in self.sent if m["chat_id"] == chat_id]

    def message(self, chat_id: int, message_id: int) -> Json:
        """The current Message JSON (bot's or user's) as Telegram would show it."""
        return self.messages[(chat_id, message_id)]

    def commands_for(
        self,
        scope_type: str = "default",
        language_code: str = "",
        *,
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> list[Json] | None:
        return self.commands.get((scope_type, chat_id, user_id, language_code))

    # ------------------------------------------------------------------ HTTP

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._error(404, "Not Found")

    @staticmethod
    def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
        body: Json = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=code)

    @staticmethod
    async def _read_params(request: web.Request) -> Json:
        params: Json = {}
        if request.method == "GET" or not request.can_read_body:
            raw: dict[str, Any] = dict(request.query)
        elif request.content_type == "application/json":
            body = await request.read()
            return dict(json.loads(body)) if body.strip() else dict(request.query)
        elif request.content_type.startswith("multipart/"):
            raw = {}
            reader = await request.multipart()
            async for part in reader:
                if part.name is None:
                    continue
                if getattr(part, "filename", None):
                    raw[part.name] = {"filename": part.filename, "data": await part.read()}
                else:
                    raw[part.name] = await part.text()  # type: ignore[union-attr]
        else:
            raw = dict(await request.post())
            raw.update({k: v for k, v in request.query.items() if k not in raw})
        for key, value in raw.items():
            if isinstance(value, str) and key in _JSON_FIELDS:
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            elif isinstance(value, str) and key in _INT_FIELDS:
                with contextlib.suppress(ValueError):
                    value = int(value)
            params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method_name = request.match_info["method"]
        handler = getattr(self, f"_m_{method_name.lower()}", None)
        try:
            params = await self._read_params(request)
        except (ValueError, UnicodeDecodeError):
            return self._error(400, "Bad Request: can't parse request body")
        if handler is None:
            self.requests.append((method_name, params, 404))
            return self._error(404, "Not Found")

        fault = self._take_fault(method_name)
        if fault is None and (windowed := self._window_kind(method_name)) is not None:
            window, kind = windowed
            if kind != "pass":
                return await self._window_fault(request, method_name, handler, params, window, kind)
        if fault is not None and fault.kind == "fail":
            self.requests.append((method_name, params, fault.status))
            if fault.status == 429:
                self._block(params.get("chat_id"), fault.retry_after or 1)
                self.flood_refusals.append(
                    {"method": method_name, "params": params, "retry_after": fault.retry_after}
                )
                description = fault.description or (
                    f"Too Many Requests: retry after {fault.retry_after}"
                )
                return self._error(429, description, fault.retry_after)
            description = fault.description or _SERVER_ERRORS.get(
                fault.status, f"Error {fault.status}"
            )
            return self._error(fault.status, description)

        apply_now = fault is None or fault.apply_first
        response: web.Response | None = None
        if apply_now:
            response = await self._dispatch(method_name, handler, params)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
        if fault is not None and fault.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError  # nothing is written; aiohttp drops the request
        if response is None:
            response = await self._dispatch(method_name, handler, params)
        return response

    async def _dispatch(
        self, method_name: str, handler: Callable[[Json], Any], params: Json
    ) -> web.Response:
        try:
            consume = self._check_flood(method_name, params)
            result = handler(params)
            if asyncio.iscoroutine(result):
                result = await result
            if consume is not None:  # only requests that succeed use up the budget
                consume()
        except ApiError as err:
            self.requests.append((method_name, params, err.code))
            return self._error(err.code, err.description, err.retry_after)
        self.requests.append((method_name, params, 200))
        return web.json_response({"ok": True, "result": result})

    # ------------------------------------------------------------------ flood control

    def _block(self, chat_id: Any, retry_after: int) -> None:
        scope = chat_id if isinstance(chat_id, int) else "global"
        deadline = self.clock() + retry_after
        self._blocked[scope] = max(self._blocked.get(scope, 0.0), deadline)

    def _refuse(self, method: str, params: Json, scope: Any, wait: float, why: str) -> ApiError:
        retry_after = max(1, math.ceil(wait))
        self._blocked[scope] = max(self._blocked.get(scope, 0.0), self.clock() + retry_after)
        self.flood_refusals.append(
            {"method": method, "params": params, "retry_after": retry_after, "limit": why}
        )
        return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)

    def _check_flood(self, method: str, params: Json) -> Callable[[], None] | None:
        """Refuse with 429 if a limit is hit, else return what records the request's use."""
        if method in ("getUpdates", "getMe"):
            return None
        now = self.clock()
        chat_id = params.get("chat_id")
        scopes: list[Any] = ["global"]
        if isinstance(chat_id, int):
            scopes.append(chat_id)
        for scope in scopes:
            deadline = self._blocked.get(scope)
            if deadline is not None and now < deadline:
                self.flood_violations.append(
                    {
                        "method": method,
                        "scope": scope,
                        "early_by": deadline - now,
                        "params": params,
                    }
                )
                if self.strict_flood:
                    raise self._refuse(method, params, scope, deadline - now, "ignored retry_after")
        if not self.flood_limits or method not in self.RATE_LIMITED:
            return None
        # Overall: global_per_second in any 1 s window.
        window = self._global_window
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.global_per_second:
            raise self._refuse(method, params, "global", window[0] + 1.0 - now, "global")
        tokens = 0.0
        if isinstance(chat_id, int):
            # Per chat: token bucket.
            tokens, at = self._buckets.get(chat_id, (float(self.per_chat_burst), now))
            tokens = min(float(self.per_chat_burst), tokens + (now - at) * self.per_chat_rate)
            if tokens < 1.0:
                wait = (1.0 - tokens) / self.per_chat_rate
                raise self._refuse(method, params, chat_id, wait, "chat")
            # Per group: group_per_minute in any 60 s window.
            if chat_id < 0:
                group = self._group_window[chat_id]
                while group and group[0] <= now - 60.0:
                    group.popleft()
                if len(group) >= self.group_per_minute:
                    raise self._refuse(method, params, chat_id, group[0] + 60.0 - now, "group")

        def consume() -> None:
            if isinstance(chat_id, int):
                self._buckets[chat_id] = (tokens - 1.0, now)
                if chat_id < 0:
                    self._group_window[chat_id].append(now)
            window.append(now)

        return consume

    # ------------------------------------------------------------------ validation helpers

    def _text_and_entities(self, params: Json) -> tuple[str, list[Json]]:
        text = params.get("text")
        if not isinstance(text, str):
            raise ApiError(400, "Bad Request: message text is empty")
        parse_mode = params.get("parse_mode")
        if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
            plain, entities = parse_html(text)
        elif parse_mode in (None, ""):
            plain = text
            entities = list(params.get("entities") or [])
        else:
            plain, entities = text, []  # Markdown is not checked by this fake
        if not plain.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > MAX_TEXT_UTF16:
            raise ApiError(400, "Bad Request: message is too long")
        return plain, entities

    @staticmethod
    def _check_markup(markup: Any) -> Json | None:
        if markup in (None, "", {}):
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise ApiError(400, "Bad Request: can't parse inline keyboard button")
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not button.get("text"):
                        raise ApiError(400, "Bad Request: BUTTON_TEXT_INVALID")
                    if "callback_data" in button:
                        size = len(str(button["callback_data"]).encode("utf-8"))
                        if not 1 <= size <= 64:
                            raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup

    def _chat_for_send(self, params: Json) -> FakeChat:
        chat_id = params.get("chat_id")
        if isinstance(chat_id, str):
            for chat in self.chats.values():
                if chat.username and f"@{chat.username}" == chat_id:
                    return chat
            raise ApiError(400, "Bad Request: chat not found")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat = self.chats.get(chat_id)
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _existing(self, params: Json, what: str) -> tuple[FakeChat, Json]:
        if params.get("inline_message_id"):
            raise ApiError(400, "Bad Request: inline messages are not supported by the fake")
        chat = self._chat_for_send(params)
        message = self.messages.get((chat.id, params.get("message_id")))  # type: ignore[arg-type]
        if message is None:
            raise ApiError(400, f"Bad Request: message to {what} not found")
        return chat, message

    # ------------------------------------------------------------------ methods

    def _m_getme(self, params: Json) -> Json:
        return dict(self.bot_user)

    def _m_logout(self, params: Json) -> bool:
        return True

    def _m_close(self, params: Json) -> bool:
        return True

    webhook: Json | None = None  # what setWebhook was given, until deleteWebhook

    def _m_setwebhook(self, params: Json) -> bool:
        url = params.get("url")
        if not isinstance(url, str) or not url.startswith("https://"):
            raise ApiError(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise ApiError(400, "Bad Request: secret token contains unallowed characters")
        self.webhook = {
            "url": url,
            "secret_token": secret,
            "allowed_updates": params.get("allowed_updates"),
        }
        return True

    def _m_deletewebhook(self, params: Json) -> bool:
        self.webhook = None
        return True

    def _m_getwebhookinfo(self, params: Json) -> Json:
        info: Json = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if self.webhook:
            info["url"] = self.webhook["url"]
            info["pending_update_count"] = len(self.updates)
        return info

    async def _m_getupdates(self, params: Json) -> list[Json]:
        if self.webhook:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = params.get("offset") or 0
        limit = params.get("limit") or MAX_UPDATES_PER_CALL
        timeout = params.get("timeout") or 0
        if not isinstance(limit, int) or not isinstance(offset, int):
            raise ApiError(400, "Bad Request: wrong parameter")
        limit = max(1, min(MAX_UPDATES_PER_CALL, limit))
        allowed = params.get("allowed_updates")
        if allowed:
            self._allowed_updates = set(allowed)
        elif allowed == []:
            self._allowed_updates = None
        self._poll_generation += 1
        generation = self._poll_generation
        self._wake()  # ends an older long poll with 409, like Telegram
        deadline = time.monotonic() + float(timeout)
        while True:
            self._confirm(offset)
            batch = [u for u in self.updates if self._is_allowed(u)][:limit]
            if batch or time.monotonic() >= deadline:
                return batch
            assert self._new_update is not None
            event = self._new_update
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), deadline - time.monotonic())
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only "
                    "one bot instance is running",
                )

    def _wake(self) -> None:
        if self._new_update is not None:
            self._new_update.set()
            self._new_update = asyncio.Event()

    _allowed_updates: set[str] | None = None

    def _is_allowed(self, update: Json) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates is None:
            return kind not in ("chat_member", "message_reaction", "message_reaction_count")
        return kind in self._allowed_updates

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        # updates not allowed are never delivered: Telegram drops them
        if self.updates and not self._is_allowed(self.updates[0]):
            self.updates = [u for u in self.updates if self._is_allowed(u)]

    def _m_sendmessage(self, params: Json) -> Json:
        chat = self._chat_for_send(params)
        plain, entities = self._text_and_entities(params)
        markup = self._check_markup(params.get("reply_markup"))
        message_id = self._next_message_id(chat.id)
        message: Json = {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": chat.as_json(),
            "date": int(time.time()),
            "text": plain,
        }
        if entities:
            message["entities"] = entities
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        reply_to = params.get("reply_to_message_id")
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_to = reply_parameters.get("message_id")
        if isinstance(reply_to, int) and (chat.id, reply_to) in self.messages:
            replied = self.messages[(chat.id, reply_to)]
            message["reply_to_message"] = {
                k: v for k, v in replied.items() if k != "reply_to_message"
            }
        self.messages[(chat.id, message_id)] = message
        record = {
            "chat_id": chat.id,
            "message_id": message_id,
            "text": params["text"],
            "plain_text": plain,
            "parse_mode": params.get("parse_mode"),
            "reply_markup": markup,
            "message_thread_id": params.get("message_thread_id"),
            "reply_to": reply_to,
            "edits": [],
            "deleted": False,
            "at": self.clock(),
        }
        self.sent.append(record)
        self.records[(chat.id, message_id)] = record
        return message

    def _edit(self, params: Json, text_too: bool) -> Json:
        chat, message = self._existing(params, "edit")
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        record = self.records[(chat.id, message["message_id"])]
        if text_too:
            plain, entities = self._text_and_entities(params)
        else:
            plain, entities = message["text"], message.get("entities", [])
        markup = self._check_markup(params.get("reply_markup"))
        if (
            plain == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup of "
                "the message",
            )
        previous = {
            k: record[k] for k in ("text", "plain_text", "parse_mode", "reply_markup", "at")
        }
        record["edits"].append(previous)
        if text_too:
            record.update(
                text=params["text"], plain_text=plain, parse_mode=params.get("parse_mode")
            )
        record["reply_markup"] = markup
        record["at"] = self.clock()
        message["text"] = plain
        if entities:
            message["entities"] = entities
        else:
            message.pop("entities", None)
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return message

    def _m_editmessagetext(self, params: Json) -> Json:
        return self._edit(params, text_too=True)

    def _m_editmessagereplymarkup(self, params: Json) -> Json:
        return self._edit(params, text_too=False)

    def _m_deletemessage(self, params: Json) -> bool:
        chat, message = self._existing(params, "delete")
        del self.messages[(chat.id, message["message_id"])]
        record = self.records.get((chat.id, message["message_id"]))
        if record is not None:
            record["deleted"] = True
        return True

    def _m_answercallbackquery(self, params: Json) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        query = self._open_queries.pop(query_id, None)
        if query is None:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        self.callback_answers.append(
            {
                "callback_query_id": query_id,
                "user_id": query["from"]["id"],
                "data": query.get("data"),
                "text": text,
                "show_alert": bool(params.get("show_alert", False)),
                "url": params.get("url"),
                "cache_time": params.get("cache_time"),
            }
        )
        return True

    def _m_getchatadministrators(self, params: Json) -> list[Json]:
        chat = self._chat_for_send(params)
        if chat.type == "private":
            raise ApiError(400, "Bad Request: there are no administrators in the private chat")
        return list(chat.admins.values())

    def _m_getchatmembercount(self, params: Json) -> int:
        chat = self._chat_for_send(params)
        if chat.member_count is not None or chat.type == "private":
            return chat.count()
        # Telegram counts every member, bots included: the bot itself is in the group.
        return chat.count() + int(self.bot_id not in chat.admins)

    def _m_getchatmember(self, params: Json) -> Json:
        chat = self._chat_for_send(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise ApiError(400, "Bad Request: invalid user_id specified")
        if user_id in chat.admins:
            return chat.admins[user_id]
        if user_id in chat.members:
            return {"status": "member", "user": chat.members[user_id]}
        if user_id in chat.left:
            return chat.left[user_id]
        if user_id == self.bot_id:
            return {"status": "member", "user": dict(self.bot_user)}
        return {"status": "left", "user": self.make_user(user_id)}

    @staticmethod
    def _scope_key(params: Json) -> tuple[str, int | None, int | None, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise ApiError(400, "Bad Request: can't parse BotCommandScope JSON object")
        language = params.get("language_code") or ""
        return (scope["type"], scope.get("chat_id"), scope.get("user_id"), language)

    def _m_setmycommands(self, params: Json) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._scope_key(params)] = [dict(c) for c in commands]
        return True

    def _m_getmycommands(self, params: Json) -> list[Json]:
        return self.commands.get(self._scope_key(params), [])

    def _m_deletemycommands(self, params: Json) -> bool:
        self.commands.pop(self._scope_key(params), None)
        return True
