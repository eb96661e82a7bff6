"""Telegram through python-telegram-bot's ``Bot``: our own update loop, our own pacing.

Why not PTB's ``Application``/``Updater``: the Updater confirms a batch to Telegram (moves
the offset) before the handlers ran, so a crash loses those updates (see
../shared/PITFALLS.md). Here a batch goes to the router, which commits its effects, its
inbox rows and the next offset in one transaction; only then is the next ``getUpdates``
sent (which confirms the batch to Telegram) and only then are button presses answered.
A restart resumes from the stored offset: nothing is processed twice, nothing is lost.

Webhook mode serves the same path from our own aiohttp route, answering 200 only after
the commit so that Telegram redelivers anything not stored.

Sends and edits are paced per chat, per group and overall (``telegram_pacing``); a 429
blocks only its chat for exactly ``retry_after``. Who is a mediator and how many members
a group has are read from Telegram (administrators, member count) and cached briefly.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import telegram
from aiohttp import web
from telegram import (
    BotCommand,
    BotCommandScopeAllChatAdministrators,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)

from adapters.telegram_http import AiohttpRequest
from adapters.telegram_pacing import Limits, Pacer
from adapters.telegram_updates import ChatMigrated as ChatMigratedUpdate
from adapters.telegram_updates import MemberChange, translate
from bot.i18n import N_, available_locales, get_translator
from bot.logging import get_logger
from bot.messages import (
    ButtonPressed,
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

PLATFORM = "telegram"
CURSOR = "telegram:offset"
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "callback_query", "chat_member", "my_chat_member")
MAX_TEXT = 4096  # UTF-16 code units after entity parsing
CACHE_SECONDS = 300.0  # administrators, member counts and memberships
POLL_TIMEOUT = 25  # seconds of long polling
ACTIVE = ("creator", "administrator", "member")

# (command, description) for the menu; descriptions are translated per language.
MENU: tuple[tuple[str, str], ...] = (
    ("propose", N_("Propose a clause")),
    ("amend", N_("Amend a proposal")),
    ("consent", N_("Consent to a proposal")),
    ("concern", N_("Consent with a concern")),
    ("object", N_("Object, with a reason")),
    ("abstain", N_("Stand aside")),
    ("status", N_("Open proposals, or one proposal")),
    ("charter", N_("The group's charter")),
    ("clause", N_("One clause with its versions")),
    ("meeting", N_("Meetings to come")),
    ("settings", N_("The group's settings")),
    ("lang", N_("Choose my language")),
    ("help", N_("All commands")),
)
# Group administrators (mediators) also see the commands that run the process.
MEDIATOR_MENU: tuple[tuple[str, str], ...] = (
    *MENU[:-3],
    ("schedule", N_("Schedule a round")),
    ("next", N_("Close the current phase now")),
    ("resolve", N_("A new round after objections")),
    ("alliance", N_("Alliances with other groups")),
    *MENU[-3:],
)
# A private chat with the bot: the person's own preferences and rounds.
PRIVATE_MENU: tuple[tuple[str, str], ...] = (
    ("start", N_("Welcome and preferences")),
    ("status", N_("My open rounds")),
    ("remind", N_("Private reminders on or off")),
    ("lang", N_("Choose my language")),
    ("help", N_("All commands")),
)


# Telegram names languages by two-letter ISO 639-1 codes; CLDR (our catalogs) names
# Tagalog by its standard form, Filipino ("fil"), which has none.
_ISO_639_1 = {"fil": "tl"}


def telegram_language(code: str) -> str:
    """The language code Telegram uses for catalog ``code`` ("pt_BR" -> "pt")."""
    language = code.split("_")[0]
    return _ISO_639_1.get(language, language)


class TelegramAdapter:
    """One bot account. ``load_cursor`` reads the stored offset (our database)."""

    platform = PLATFORM

    def __init__(
        self,
        token: str,
        load_cursor: Callable[[str], str | None],
        *,
        base_url: str = "",
        mode: str = "polling",
        webhook_url: str = "",
        webhook_listen: str = "127.0.0.1",
        webhook_port: int = 8443,
        webhook_secret: str = "",
        limits: Limits | None = None,
        cache_seconds: float = CACHE_SECONDS,
        poll_timeout: int = POLL_TIMEOUT,
        default_locale: str = "en",
    ) -> None:
        self.caps = Capabilities(
            max_text=MAX_TEXT, markup="html", prefix="/", buttons=True, parallel_chats=True
        )
        self.mode = mode
        self.load_cursor = load_cursor
        self.webhook_url = webhook_url
        self.webhook_listen = webhook_listen
        self.webhook_port = webhook_port
        self.webhook_secret = webhook_secret or _derived_secret(token)
        self.pacer = Pacer(limits or Limits())
        self.cache_seconds = cache_seconds
        self.poll_timeout = poll_timeout
        self.default_locale = default_locale
        # aiohttp's client, not PTB's default httpx: a fraction of the CPU per request
        pool = AiohttpRequest(connection_pool_size=64, read_timeout=15.0, write_timeout=15.0)
        polling = AiohttpRequest(read_timeout=poll_timeout + 10.0)
        kwargs: dict[str, Any] = {"request": pool, "get_updates_request": polling}
        if base_url:
            kwargs["base_url"] = base_url
        self.bot = telegram.Bot(token, **kwargs)
        self.offset: int | None = None
        self.ready = False  # started: receiving updates
        self._sink: Sink | None = None
        self._task: asyncio.Task[None] | None = None
        self._runner: web.AppRunner | None = None
        self._batch_lock = asyncio.Lock()
        self.closing = False  # a graceful stop began: no more updates are taken
        self._admins: dict[int, tuple[float, frozenset[int]]] = {}
        self._bots: dict[int, set[int]] = {}
        self._counts: dict[int, tuple[float, int]] = {}
        self._members: dict[tuple[int, int], tuple[float, bool]] = {}
        self._lookups: dict[tuple[Any, ...], asyncio.Future[Any]] = {}  # asked, not answered
        self._usernames: dict[str, tuple[str, str]] = {}  # lowercase username -> (id, name)
        self._last_edit: dict[int, float] = {}  # chat -> when a card there was last edited

    # -- life ----------------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        self._sink = sink
        await self.bot.initialize()  # getMe: our username, for /cmd@name
        self.caps = dataclasses.replace(self.caps, username=self.bot.username)
        stored = await asyncio.to_thread(self.load_cursor, CURSOR)
        self.offset = int(stored) if stored else None
        await self.register_commands()
        if self.mode == "webhook":
            await self._start_webhook()
        else:
            await self.bot.delete_webhook()  # pending updates are kept
            self._task = asyncio.create_task(self._poll(), name="telegram-poll")
        self.ready = True
        log.info("telegram.started", username=self.bot.username, mode=self.mode)

    async def stop_receiving(self) -> None:
        """No more polls (the webhook answers 503, so Telegram sends again, to a worker
        that runs); the batch being committed is finished first."""
        self.closing = True
        async with self._batch_lock:  # a batch in hand ends before the poll is cancelled
            if self._task is not None:
                self._task.cancel()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def stop(self) -> None:
        await self.stop_receiving()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        with contextlib.suppress(TelegramError):
            await self.bot.shutdown()

    async def register_commands(self) -> None:
        """The command menus in every shipped language: groups, their administrators (who
        are mediators) and private chats each see the commands they can use there."""
        menus = (
            (BotCommandScopeDefault(), MENU),
            (BotCommandScopeAllGroupChats(), MENU),
            (BotCommandScopeAllChatAdministrators(), MEDIATOR_MENU),
            (BotCommandScopeAllPrivateChats(), PRIVATE_MENU),
        )
        for code in available_locales():
            tr = get_translator(code, self.default_locale)
            for scope, menu in menus:
                commands = [BotCommand(name, tr.gettext(text)) for name, text in menu]
                language = None if code == self.default_locale else telegram_language(code)
                await self.bot.set_my_commands(commands, scope=scope, language_code=language)
                if language is None:
                    await self.bot.set_my_commands(commands, scope=scope, language_code=code)

    # -- receiving -----------------------------------------------------------------------

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                updates = await self.bot.get_updates(
                    offset=self.offset,
                    timeout=self.poll_timeout,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
                await self.process(updates)
                failures = 0
            except asyncio.CancelledError:
                raise
            except RetryAfter as exc:
                await asyncio.sleep(_retry_seconds(exc))
            except (InvalidToken, Forbidden):
                log.error("telegram.token_refused")
                raise
            except Conflict:
                log.warning("telegram.conflict", hint="another process polls this bot")
                await asyncio.sleep(5.0)
            except Exception as exc:  # noqa: BLE001 - network, 5xx, a failed commit: retry
                failures += 1
                log.warning("telegram.poll_failed", error=type(exc).__name__, failures=failures)
                await asyncio.sleep(min(30.0, 0.5 * 2**failures))

    async def process(self, updates: Sequence[telegram.Update]) -> None:
        """One batch: commit it (with the next offset), then answer its button presses."""
        if not updates:
            return
        assert self._sink is not None
        async with self._batch_lock:
            items: list[Inbound] = []
            for update in updates:
                self._remember_username(update.effective_user)
                translated = translate(update, self.bot.id)
                if isinstance(translated, MemberChange):
                    self._member_changed(translated)
                elif isinstance(translated, ChatMigratedUpdate):
                    log.warning("telegram.chat_migrated", old=translated.old_chat)
                elif translated is not None:
                    items.append(translated)
            items = list(await asyncio.gather(*(self._enrich(i) for i in items)))
            next_offset = max(u.update_id for u in updates) + 1
            notes = await self._sink(items, Cursor(CURSOR, str(next_offset)))
            self.offset = next_offset
        presses = [
            (i, n) for i, n in zip(items, notes, strict=True) if isinstance(i, ButtonPressed)
        ]
        await asyncio.gather(*(self._answer(item, note) for item, note in presses))

    async def _answer(self, press: ButtonPressed, note: str | None) -> None:
        try:
            await self.bot.answer_callback_query(press.answer_id, text=note)
        except TelegramError as exc:  # an old query: the press is stored all the same
            log.info("telegram.answer_failed", error=type(exc).__name__)

    async def _enrich(self, item: Inbound) -> Inbound:
        """What Telegram says about the sender: admin, member, the group's size."""
        if item.private or not item.chat:
            return item
        chat_id = int(item.chat.removeprefix("telegram:"))
        user_id = int(item.sender.removeprefix("telegram:"))
        admins, count = await asyncio.gather(
            self._once(("admins", chat_id), lambda: self._admin_ids(chat_id)),
            self._once(("count", chat_id), lambda: self._member_count(chat_id)),
        )
        member = True  # Telegram lets only members post in a group: remember them
        if isinstance(item, MessageIn):
            expires = time.monotonic() + self.cache_seconds
            self._members[(chat_id, user_id)] = (expires, True)
        else:
            member = await self._once(
                ("member", chat_id, user_id), lambda: self._is_member(chat_id, user_id)
            )
        return dataclasses.replace(
            item, platform_admin=user_id in admins, member=member, member_count=count
        )

    async def _once(self, key: tuple[Any, ...], lookup: Callable[[], Awaitable[Any]]) -> Any:
        """One request for all who ask the same at once: a batch's items are enriched
        concurrently, and each would miss the cache and ask Telegram again."""
        pending = self._lookups.get(key)
        if pending is None:
            pending = self._lookups[key] = asyncio.ensure_future(lookup())
            pending.add_done_callback(lambda _: self._lookups.pop(key, None))
        return await asyncio.shield(pending)

    async def _admin_ids(self, chat_id: int) -> frozenset[int]:
        cached = self._admins.get(chat_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            admins = await self.bot.get_chat_administrators(chat_id)
        except (BadRequest, Forbidden) as exc:
            log.warning("telegram.admins_unknown", error=type(exc).__name__)
            return cached[1] if cached else frozenset()
        except TelegramError:
            if cached is None:
                raise  # a passing failure: the batch is fetched again, not misjudged
            return cached[1]
        ids = frozenset(a.user.id for a in admins if not a.user.is_bot)
        self._bots.setdefault(chat_id, set()).update(a.user.id for a in admins if a.user.is_bot)
        self._admins[chat_id] = (time.monotonic() + self.cache_seconds, ids)
        return ids

    async def _member_count(self, chat_id: int) -> int | None:
        cached = self._counts.get(chat_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            total = await self.bot.get_chat_member_count(chat_id)
        except TelegramError as exc:
            log.warning("telegram.count_unknown", error=type(exc).__name__)
            return cached[1] if cached else None
        bots = self._bots.setdefault(chat_id, set())
        bots.add(self.bot.id)
        count = max(0, total - len(bots))
        self._counts[chat_id] = (time.monotonic() + self.cache_seconds, count)
        return count

    async def _is_member(self, chat_id: int, user_id: int) -> bool:
        cached = self._members.get((chat_id, user_id))
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        try:
            member = await self.bot.get_chat_member(chat_id, user_id)
        except (BadRequest, Forbidden) as exc:
            log.warning("telegram.member_unknown", error=type(exc).__name__)
            return False
        # Other errors (5xx, timeouts, 429) propagate: a member's press must not be refused
        # for a passing failure; the batch is not committed and is fetched again.
        inside = member.status in ACTIVE or bool(getattr(member, "is_member", False))
        self._members[(chat_id, user_id)] = (time.monotonic() + self.cache_seconds, inside)
        return inside

    def _remember_username(self, user: telegram.User | None) -> None:
        if user is not None and user.username and not user.is_bot:
            if len(self._usernames) > 100_000:  # bounded: forget the oldest
                self._usernames.pop(next(iter(self._usernames)))
            self._usernames[user.username.lower()] = (f"telegram:{user.id}", user.full_name)

    def _member_changed(self, change: MemberChange) -> None:
        chat_id = int(change.chat.removeprefix("telegram:"))
        if change.is_bot:
            self._bots.setdefault(chat_id, set()).add(change.user_id)
        self._admins.pop(chat_id, None)
        self._counts.pop(chat_id, None)
        self._members.pop((chat_id, change.user_id), None)

    # -- webhook -------------------------------------------------------------------------

    async def _start_webhook(self) -> None:
        app = web.Application()
        app.router.add_post(WEBHOOK_PATH, self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.webhook_listen, self.webhook_port)
        await site.start()
        await self.bot.set_webhook(
            self.webhook_url,
            secret_token=self.webhook_secret,
            allowed_updates=list(ALLOWED_UPDATES),
        )

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.webhook_secret.encode()):
            log.warning("telegram.webhook_refused")
            return web.Response(status=403)
        if self.closing:  # stopping: Telegram sends it again (to a worker that runs)
            return web.Response(status=503)
        try:
            data = await request.json()
            update = telegram.Update.de_json(data, self.bot)
        except ValueError:
            return web.Response(status=400)
        try:
            await self.process([update])
        except Exception as exc:  # noqa: BLE001 - not stored: Telegram must send it again
            log.warning("telegram.webhook_failed", error=type(exc).__name__)
            return web.Response(status=500)
        return web.Response(status=200)

    @property
    def webhook_port_bound(self) -> int:
        """The port the webhook server listens on (the OS picks one for port 0)."""
        assert self._runner is not None
        (site,) = self._runner.sites
        server = site._server  # noqa: SLF001 - aiohttp keeps the bound socket here
        assert server is not None
        return server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    # -- sending -------------------------------------------------------------------------

    async def send(self, chat: str, message: Outbound) -> str | None:
        chat_id = _chat_id(chat)
        sent = await self._call(
            chat_id,
            lambda: self.bot.send_message(
                chat_id,
                message.text,
                parse_mode=ParseMode.HTML,
                reply_markup=_markup(message),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            ),
        )
        return str(sent.message_id)

    async def edit(self, chat: str, ref: str, word: Wording) -> None:
        chat_id = _chat_id(chat)
        self._last_edit[chat_id] = time.monotonic()

        async def request() -> Any:
            message = await word()  # the card as it is when its turn came
            if message is None:
                return None
            return await self.bot.edit_message_text(
                message.text,
                chat_id=chat_id,
                message_id=int(ref),
                parse_mode=ParseMode.HTML,
                reply_markup=_markup(message),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )

        try:
            # A card: what messages leave of the limits.
            await self._call(chat_id, background=True, request=request)
        except DeliveryError as exc:
            if "not modified" in exc.reason.lower():
                return  # it already shows this
            raise

    def busy_for(self, chat: str) -> float:
        """Until the chat's own limits let a card edit go (``Pacer.background_for``: after
        its messages), spaced evenly over what a group's minute leaves edits (14 of 20: one
        every 4.3 s), so that a long burst never spends the minute early and leaves the
        last, exact edit waiting for the window to clear. The overall limit is waited for in
        ``edit``."""
        chat_id = _chat_id(chat)
        limits = self.pacer.limits
        spacing = (
            60.0 / (limits.group_per_minute - limits.reserve_group)
            if chat_id < 0
            else limits.per_chat_interval
        )
        since = time.monotonic() - self._last_edit.get(chat_id, float("-inf"))
        return max(self.pacer.background_for(chat_id), spacing - since)

    async def _call(
        self, chat_id: int, request: Callable[[], Awaitable[Any]], background: bool = False
    ) -> Any:
        """One paced request (``background``: a card edit, see ``Pacer.slot``); Telegram's
        refusals as ``DeliveryError``."""
        async with self.pacer.slot(chat_id, background):
            try:
                return await request()
            except RetryAfter as exc:
                wait = _retry_seconds(exc)
                self.pacer.block(chat_id, wait)
                raise DeliveryError("flood", retry_after=wait) from None
            except Forbidden as exc:  # removed from the chat, blocked by the user
                raise DeliveryError(str(exc), permanent=True) from None
            except ChatMigrated as exc:
                raise DeliveryError("chat migrated", permanent=True) from exc
            except BadRequest as exc:
                text = str(exc)
                permanent = "not modified" not in text.lower()
                if permanent:
                    log.error("telegram.bad_request", reason=text)
                raise DeliveryError(text, permanent=permanent) from None
            except TelegramError as exc:  # 5xx, timeouts, network: try again later
                raise DeliveryError(type(exc).__name__) from None

    def resolve_user(self, chat: str, user: str) -> tuple[str, str] | None:
        """A person named in ``/mediator add``: ``@username`` of someone the bot has seen,
        or a numeric user id. (Replying to their message with ``/mediator add`` needs
        neither.) The Bot API cannot look a username up, so unseen ones are refused."""
        name = user.strip()
        if name.isdigit():
            return f"telegram:{name}", name
        return self._usernames.get(name.lstrip("@").lower())


def _chat_id(chat: str) -> int:
    return int(chat.removeprefix("telegram:"))


def _markup(message: Outbound) -> InlineKeyboardMarkup | ForceReply | None:
    if message.force_reply:
        return ForceReply(selective=False)
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b.label, callback_data=b.data) for b in row]
            for row in message.buttons
        ]
    )


def _retry_seconds(exc: RetryAfter) -> float:
    """``retry_after`` in seconds (read from the timedelta PTB 22 keeps, which avoids its
    deprecation warning about the int-or-timedelta property)."""
    value = getattr(exc, "_retry_after", None)
    if value is None:
        return 1.0
    return float(value.total_seconds())


def _derived_secret(token: str) -> str:
    """A stable webhook secret when none is configured (Telegram allows A-Z a-z 0-9 _ -)."""
    return hashlib.sha256(b"charterbot-webhook:" + token.encode()).hexdigest()
