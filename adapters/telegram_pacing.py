"""Pacing of what the bot sends to Telegram, so it stays inside Telegram's flood limits.

Telegram limits what a bot sends; messages and edits count alike:

* about one message per second to one chat;
* at most 20 messages per minute to one group (chat id < 0);
* about 30 messages per second overall.

Going over earns a 429 answer with ``retry_after`` seconds. That wait must be obeyed exactly
for that chat: sending again early counts against the bot and ends in a ban. PTB's
``AIORateLimiter`` obeys it by halting every chat. :class:`Pacer` paces each chat on its own
instead: one chat's long wait (a 429, a full group minute) never delays the others, and the
overall limit is the only one chats share.

Telegram counts a request when it *arrives*. The bot cannot see that moment, only when it
started the request and when the answer came back. So a send counts from the moment its slot
is granted (in flight: as if it happened now or later) and, once the answer is back, is
recorded with its completion time, which is never earlier than its arrival. Every wait is
measured from those times and gets a small margin on top. That keeps the bot within the
limits whatever the network latency, at the cost of a little throughput.

Card edits are *background* sends: they bring a live card up to date, and a later edit
carries every change before it, so they take only what messages leave. A background send
never takes the last ``Limits.reserve_overall`` slots of the overall second nor the last
``Limits.reserve_group`` of a group's minute, and waits while a message to its chat waits
or one waits for the overall limit.
Under a sustained load at Telegram's limits the replies keep flowing and the cards are
edited less often, never the other way round.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

GROUP_WINDOW = 60.0  # seconds the per-group limit counts over
GLOBAL_WINDOW = 1.0  # seconds the overall limit counts over
BACKGROUND_POLL = 0.25  # seconds a card edit waits before looking again while messages wait


@dataclass(frozen=True)
class Limits:
    """The flood limits the bot keeps (defaults: Telegram's published figures)."""

    per_chat_interval: float = 1.0  # seconds between two sends to one chat
    group_per_minute: int = 20  # sends to one group (chat id < 0) in any 60 s
    global_per_second: int = 30  # sends overall in any 1 s
    margin: float = 0.05  # seconds of slack added to every wait
    reserve_overall: int = 6  # of the overall second's sends, kept for messages (not edits)
    reserve_group: int = 6  # of a group's minute, kept for messages (not edits)


class _Window:
    """At most ``limit`` sends in any ``span`` seconds, counting sends still in flight."""

    def __init__(self, limit: int, span: float, margin: float) -> None:
        self.limit = limit
        self.span = span
        self.margin = margin
        self.done: deque[float] = deque()  # completion times, oldest first
        self.in_flight = 0

    def _forget_expired(self, now: float) -> None:
        while self.done and self.done[0] + self.span + self.margin <= now:
            self.done.popleft()

    def wait(self, now: float, reserve: int = 0) -> float:
        """Seconds until one more send fits (leaving ``reserve`` sends free); sends in
        flight are taken as completing now.

        With sends in flight that is a lower bound: they may complete later.
        """
        self._forget_expired(now)
        must_expire = len(self.done) + self.in_flight - (self.limit - reserve) + 1
        if must_expire <= 0:
            return 0.0
        last_to_expire = self.done[must_expire - 1] if must_expire <= len(self.done) else now
        return last_to_expire + self.span + self.margin - now

    def empty(self, now: float) -> bool:
        """Whether nothing in the window limits future sends any more."""
        self._forget_expired(now)
        return not self.done and not self.in_flight

    def start(self) -> None:
        self.in_flight += 1

    def finish(self, at: float) -> None:
        self.in_flight -= 1
        self.done.append(at)


class _Chat:
    """What the pacer knows about one chat."""

    def __init__(self, chat_id: int, limits: Limits) -> None:
        self.limits = limits
        self.lock = asyncio.Lock()  # one send in flight; waiters are served in arrival order
        self.users = 0  # slots entered and not yet left, waiting or sending
        self.messages_waiting = 0  # foreground slots entered, not yet sending
        self.sending = False
        self.last_done = -math.inf  # completion time of the last send
        self.blocked_until = -math.inf  # from a 429's retry_after
        self.group = (
            _Window(limits.group_per_minute, GROUP_WINDOW, limits.margin) if chat_id < 0 else None
        )

    def wait(self, now: float, background: bool = False) -> float:
        """Seconds until this chat's own limits allow a send (a lower bound while sending);
        ``background``: a send that leaves the group's reserve free."""
        last = now if self.sending else self.last_done
        waits = [
            self.blocked_until + self.limits.margin - now,
            last + self.limits.per_chat_interval + self.limits.margin - now,
        ]
        if self.group is not None:
            reserve = self.limits.reserve_group if background else 0
            waits.append(self.group.wait(now, reserve))
        return max(waits)

    def idle(self, now: float) -> bool:
        """Whether forgetting this chat changes nothing: no one uses it, nothing limits it."""
        return (
            self.users == 0
            and self.wait(now) <= 0
            and (self.group is None or self.group.empty(now))
        )

    def start(self) -> None:
        self.sending = True
        if self.group is not None:
            self.group.start()

    def finish(self, at: float) -> None:
        self.sending = False
        self.last_done = at
        if self.group is not None:
            self.group.finish(at)


@dataclass
class _InLine:
    """A background send's place in the pacer's line."""

    chat: _Chat
    granted: asyncio.Future[None]  # set by the dispatcher: the send may go now
    started: asyncio.Future[None]  # set by the send once it counts (or when it left)

    def counted(self) -> None:
        if not self.started.done():
            self.started.set_result(None)


class Pacer:
    """Lets sends through to Telegram only as fast as the flood limits allow.

    Every request that counts against the limits (``sendMessage``, ``editMessageText`` ...)
    runs inside ``async with pacer.slot(chat_id):``. When Telegram still answers 429, call
    :meth:`block` with its ``retry_after``.
    """

    def __init__(
        self,
        limits: Limits = Limits(),
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._sleep = sleep
        self._global = _Window(limits.global_per_second, GLOBAL_WINDOW, limits.margin)
        self._chats: dict[int, _Chat] = {}
        self._messages_held = 0  # messages waiting for the overall limit
        self._line: dict[int, _InLine] = {}  # background sends waiting, in the order they asked
        self._tickets = itertools.count()
        self._dispatcher: asyncio.Task[None] | None = None
        self._next_sweep = clock() + GROUP_WINDOW

    @asynccontextmanager
    async def slot(self, chat_id: int, background: bool = False) -> AsyncIterator[None]:
        """Wait until a send to chat_id stays within every limit; the request runs inside.

        Sends to one chat go one at a time, in the order they asked. The send counts from the
        moment the slot is granted and is recorded when the block is left, also when it raises:
        the request may have reached Telegram. A ``background`` send (a card edit) waits in
        the pacer's line (see :meth:`_dispatch`) until it leaves the reserves free and no
        message to its chat waits, so it never holds a message up.
        """
        chat = self._chat(chat_id)
        chat.users += 1
        waiting_message = not background
        chat.messages_waiting += waiting_message
        place: _InLine | None = None
        try:
            if background:
                place = await self._wait_in_line(chat)
            async with chat.lock:
                while (wait := self._wait(chat, self._clock())) > 0:
                    # A message held back by the overall limit holds every card edit back.
                    held = waiting_message and self._global.wait(self._clock()) >= wait
                    self._messages_held += held
                    try:
                        await self._sleep(wait)
                    finally:
                        self._messages_held -= held
                chat.messages_waiting -= waiting_message
                waiting_message = False
                chat.start()
                self._global.start()
                if place is not None:
                    place.counted()
                try:
                    yield
                finally:
                    now = self._clock()
                    chat.finish(now)
                    self._global.finish(now)
        finally:
            if place is not None:
                place.counted()  # also when it left before its send counted (cancelled)
            chat.users -= 1
            chat.messages_waiting -= waiting_message  # left while waiting (cancelled)

    async def _wait_in_line(self, chat: _Chat) -> _InLine:
        """Take a place in the line of background sends and wait until it is this one's
        turn: the dispatcher saw the overall limit and the chat's own let it go now."""
        loop = asyncio.get_running_loop()
        place = _InLine(chat, loop.create_future(), loop.create_future())
        ticket = next(self._tickets)
        self._line[ticket] = place
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch())
        try:
            await place.granted
        except BaseException:
            self._line.pop(ticket, None)
            place.counted()  # a turn granted as it was cancelled: the dispatcher goes on
            raise
        return place

    async def _dispatch(self) -> None:
        """Give background sends their turns, one at a time, in the order they asked; a send
        whose chat is not ready (a message to it waits, its minute is spent) keeps its place
        while later ones go.

        One task looks at the overall limit for all of them. Hundreds of cards behind under
        a load would otherwise all wake whenever a send leaves the overall second, and one
        of them get through: the process's time spent on waking. And an edit put off by a
        message to its chat would go to the back of the line, again and again.
        """
        while self._line:
            now = self._clock()
            if self._messages_held:
                await self._sleep(BACKGROUND_POLL)  # messages first: look again soon
                continue
            wait = self._global.wait(now, self.limits.reserve_overall)
            if wait > 0:
                await self._sleep(wait)
                continue
            ready, soonest = None, BACKGROUND_POLL
            for ticket, place in self._line.items():
                chat_wait = self._chat_background_wait(place.chat, now)
                if chat_wait <= 0:
                    ready = ticket
                    break
                soonest = min(soonest, chat_wait)
            if ready is None:
                await self._sleep(soonest)
                continue
            place = self._line.pop(ready)
            if place.granted.done():  # cancelled meanwhile
                continue
            place.granted.set_result(None)
            await place.started  # the send counts now: the overall limit has it

    def block(self, chat_id: int, seconds: float) -> None:
        """Telegram answered 429 with retry_after=seconds for this chat.

        Nothing goes to the chat before then; other chats are not affected.
        """
        chat = self._chat(chat_id)
        chat.blocked_until = max(chat.blocked_until, self._clock() + seconds)

    def blocked_for(self, chat_id: int) -> float:
        """Seconds until chat_id may be sent to (0 if free), counting blocks and limits.

        Sends still in flight are taken as completing now, and sends already waiting for the
        chat are not counted, so this is a lower bound while the chat is busy.
        """
        now = self._clock()
        chat = self._chats.get(chat_id)
        own = chat.wait(now) if chat is not None else 0.0
        return max(0.0, own, self._global.wait(now))

    def background_for(self, chat_id: int) -> float:
        """Seconds until the chat's own limits let a background send (a card edit) go: a
        lower bound, like :meth:`blocked_for`; the overall limit is waited for in line, in
        :meth:`slot`."""
        return max(0.0, self._chat_background_wait(self._chat(chat_id), self._clock()))

    def _wait(self, chat: _Chat, now: float) -> float:
        return max(chat.wait(now), self._global.wait(now))

    def _chat_background_wait(self, chat: _Chat, now: float) -> float:
        if chat.messages_waiting:
            return BACKGROUND_POLL  # messages first: look again soon
        return chat.wait(now, background=True)

    def _chat(self, chat_id: int) -> _Chat:
        """The chat's state, created on first use; idle chats are forgotten once a minute."""
        now = self._clock()
        if now >= self._next_sweep:
            self._chats = {key: chat for key, chat in self._chats.items() if not chat.idle(now)}
            self._next_sweep = now + GROUP_WINDOW
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = _Chat(chat_id, self.limits)
        return chat
