"""The transactional outbox: every bot message is a row written in the same transaction
as the change it reports, and delivered after the commit.

A crash after the commit and before delivery leaves the row pending; the next start
delivers it. Each chat has its own worker, so one chat waiting out a flood limit or a
failing platform never holds up the others; rows of one chat go out in order. A failed
attempt is retried with back-off (the platform's ``retry_after`` when it gave one) and
only a permanent refusal marks a row failed. Long texts are sent in parts and the parts
already sent are counted, so a retry does not post them twice.

Live cards are posted through the outbox like any message and then edited when they fall
behind the store. The edit is worded right before it is sent, once the chat may take a
message again, so a burst of changes costs one edit: that is the coalescing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import secrets
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.logging import get_logger
from bot.messages import Adapter, Button, DeliveryError, Outbound
from bot.metrics import Metrics
from bot.textsplit import split_message
from deliberation.model import Card, OutboxItem, OutboxLease, Person
from deliberation.store.db import Database
from deliberation.timers import Clock

log = get_logger(__name__)
T = TypeVar("T")

MAX_ATTEMPTS = 12
MAX_BACKOFF = 300.0  # seconds
WAIT_IN_WORKER = 30.0  # a back-off up to this long is waited out by the chat's worker
# The workers' store reads and writes run on threads of their own (one set per process),
# so that 200 chats' workers never queue the router's batches behind them.
ROWS_AT_ONCE = 10  # of a lane's due rows read at once
LANES_BEFORE_EDITS = 10  # lanes with messages due beyond which new card edits wait
DELIVERY_POLL = 1.0  # seconds a waiting card edit looks again
_THREADS = ThreadPoolExecutor(4, thread_name_prefix="outbox")
STORE_RETRY = 1.0  # seconds between tries to record a delivery the store refused
# A lane's lease: long enough to cover a send that waits out a flood limit, renewed while
# the worker runs, released when it ends; a dead process's lanes are free after it.
LEASE = timedelta(seconds=120)
RENEW_AFTER = timedelta(seconds=30)

# (session, platform, chat, subject) -> the card as it should look now, or None
WordCard = Callable[[Session, str, str, str], Outbound | None]


def enqueue(
    session: Session,
    platform: str,
    chat: str,
    text: str,
    now: datetime,
    proposal: int | None = None,
    buttons: tuple[tuple[Button, ...], ...] | None = None,
) -> None:
    """Queue a message inside the caller's transaction."""
    session.add(
        OutboxItem(
            platform=platform,
            chat=chat,
            text=text,
            proposal_id=proposal,
            created_at=now,
            buttons=json.dumps([[[b.label, b.data] for b in row] for row in buttons])
            if buttons
            else None,
        )
    )


def _gone(holder: str) -> bool:
    """Whether a lease's holder is a process of this machine that no longer runs (a bot
    restarted after a crash need not wait out its own old leases)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def backoff(attempts: int) -> float:
    """Seconds to wait before attempt ``attempts + 1``: 1, 2, 4 ... up to five minutes."""
    return min(MAX_BACKOFF, 2.0 ** max(0, attempts - 1))


@dataclass(frozen=True, slots=True)
class _Row:
    """What a worker needs of an outbox row, read in one short transaction."""

    id: int
    platform: str
    chat: str
    text: str
    purpose: str
    subject: str | None
    buttons: tuple[tuple[Button, ...], ...]
    parts_sent: int
    attempts: int
    created_at: datetime
    mention: tuple[str, str] | None  # the addressee (person id, name) of a prompt

    def txn_id(self, part: int) -> str:
        """Stable across tries of this row, and not reused by a later database."""
        return f"cb{self.id}.{part}.{int(self.created_at.timestamp() * 1000)}"


class Outbox:
    """Delivers pending rows and edits cards that fell behind, through the adapters."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        adapters: dict[str, Adapter],
        word_card: WordCard | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.adapters = adapters
        self.word_card = word_card
        # Back-off is real time, whatever clock the engine runs on (the demo's is manual).
        self.wall: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._workers: dict[tuple[str, str], asyncio.Task[None]] = {}
        # Set when a message for a worker's lane is due: a worker waiting to edit a card
        # sends it first (a card edit takes what messages leave).
        self._wakes: dict[tuple[str, str], asyncio.Event] = {}
        self._leases: dict[tuple[str, str], datetime] = {}  # lanes held, until when
        self._edits: dict[tuple[str, str], asyncio.Task[bool]] = {}  # a card edit per lane
        self._lanes_with_messages = 0  # at the last flush: while many, cards wait
        self._stopping = False
        # Who holds a lease: this process, and this Outbox in it (tests run several).
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    # -- scheduling ----------------------------------------------------------------------

    async def flush(self) -> None:
        """Start a worker for every chat with something to deliver now; wake one waiting
        to edit a card where a message is due."""
        if self._stopping:
            return
        due = await self._store(self._due_chats)
        self._lanes_with_messages = sum(due.values())
        for key, message_due in due.items():
            task = self._workers.get(key)
            if task is None or task.done():
                self._wakes[key] = asyncio.Event()
                self._workers[key] = asyncio.create_task(self._work(*key))
            elif message_due:
                self._wakes[key].set()

    async def _store(self, work: Callable[..., T], *args: object) -> T:
        """``work(*args)`` on the outbox's own threads."""
        return await asyncio.get_running_loop().run_in_executor(
            _THREADS, functools.partial(work, *args)
        )

    async def settle(self) -> None:
        """Deliver everything deliverable now and wait until it is done (console, tests)."""
        while True:
            await self.flush()
            running = [t for t in self._workers.values() if not t.done()]
            if not running:
                return
            await asyncio.gather(*running, return_exceptions=True)

    async def stop(self, grace: float = 5.0) -> None:
        """Let each worker finish the message it is sending (a send cut off after Telegram
        took it would be sent again at the next start), then stop them."""
        self._stopping = True
        running = [t for t in self._workers.values() if not t.done()]
        if running:
            await asyncio.wait(running, timeout=grace)
        for task in self._workers.values():
            task.cancel()
        for task in self._workers.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._workers.clear()
        if self._leases:
            with contextlib.suppress(Exception):  # unreleased, they end in LEASE
                await self._store(self._release_leases)

    def _due_chats(self) -> dict[tuple[str, str], bool]:
        """Lanes (a chat, or a platform that must keep one order) with work: True where a
        message is due, False where only a card is behind."""
        now = self.wall()
        keys: dict[tuple[str, str], bool] = {}
        with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            for platform in self.adapters:
                chats = s.execute(
                    select(OutboxItem.chat)
                    .where(
                        OutboxItem.platform == platform,
                        OutboxItem.state == "pending",
                        or_(OutboxItem.not_before.is_(None), OutboxItem.not_before <= now),
                    )
                    .group_by(OutboxItem.chat)
                    .order_by(func.min(OutboxItem.id))
                ).scalars()
                behind = s.scalars(
                    select(Card.chat).where(
                        Card.platform == platform,
                        Card.version > Card.shown_version,
                        Card.message_ref.is_not(None),
                    )
                )
                for chat in chats:
                    keys[(platform, self._lane(platform, chat))] = True
                for chat in behind:
                    keys.setdefault((platform, self._lane(platform, chat)), False)
        return keys

    def _lane(self, platform: str, chat: str) -> str:
        """A chat's own worker where the platform delivers concurrently, else one for all."""
        return chat if self.adapters[platform].caps.parallel_chats else "*"

    # -- a worker ------------------------------------------------------------------------

    async def _work(self, platform: str, lane: str) -> None:
        adapter = self.adapters[platform]
        try:
            if not await self._store(self._take_lease, platform, lane):
                return  # another bot process delivers this lane
            renewed = self.wall()
            while not self._stopping:
                if self.wall() - renewed > RENEW_AFTER:
                    if not await self._store(self._take_lease, platform, lane):
                        return
                    renewed = self.wall()
                wake = self._wakes[(platform, lane)]
                wake.clear()  # set again by a flush that finds a message due after this read
                rows = await self._store(self._next_rows, platform, lane)
                for row in rows:
                    if self._stopping:
                        return
                    if not await self._deliver(adapter, row):
                        # Later rows of the lane keep their order behind this one: wait out a
                        # short back-off here, a long one in the delivery loop.
                        wait = await self._store(self._wait_for, row.id)
                        if wait is None or wait > WAIT_IN_WORKER:
                            return
                        await asyncio.sleep(wait)
                        wake.set()  # read the lane again: this row is due again
                        break
                if wake.is_set() or len(rows) == ROWS_AT_ONCE:
                    continue  # more may be due
                # cards are edited by per-chat workers (platforms with buttons pace per chat)
                if lane == "*" or not await self._edit_card(adapter, platform, lane, wake):
                    return
        except Exception:  # noqa: BLE001 - a worker must not die silently
            log.exception("outbox.worker_failed", platform=platform)
        finally:
            editing = self._edits.pop((platform, lane), None)
            if editing is not None:  # stopping: an edit sent again later changes nothing
                editing.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await editing

    def _take_lease(self, platform: str, lane: str) -> bool:
        """Hold (or keep holding) the lane for ``LEASE``; False when another process does.
        A lease this process wrote less than ``RENEW_AFTER`` ago is still its own: no write
        (a worker starts for every reply; leases are kept until ``stop``)."""
        now = self.wall()
        until = self._leases.get((platform, lane))
        if until is not None and until - now > LEASE - RENEW_AFTER:
            return True
        try:
            with self.db.unit_of_work() as uow:
                s = uow.session
                lease = s.get(OutboxLease, (platform, lane), with_for_update=True)
                if lease is None:
                    s.add(
                        OutboxLease(
                            platform=platform, lane=lane, holder=self.holder, until=now + LEASE
                        )
                    )
                elif lease.holder == self.holder or lease.until <= now or _gone(lease.holder):
                    lease.holder, lease.until = self.holder, now + LEASE
                else:
                    return False
                uow.commit()
                self._leases[(platform, lane)] = now + LEASE
                return True
        except IntegrityError:  # another process took it in the same moment
            return False

    def _release_leases(self) -> None:
        """Hand every lane this process holds to the others at once (a graceful stop)."""
        with self.db.unit_of_work() as uow:
            uow.session.execute(delete(OutboxLease).where(OutboxLease.holder == self.holder))
            uow.commit()
        self._leases.clear()

    def _next_rows(self, platform: str, lane: str) -> list[_Row]:
        """The lane's next rows due now, in order (up to ``ROWS_AT_ONCE``): one read for
        several sends. The lane's lease keeps them this worker's meanwhile."""
        now = self.wall()
        with self.db.unit_of_work(write=False) as uow:
            query = (
                select(OutboxItem)
                .where(OutboxItem.platform == platform, OutboxItem.state == "pending")
                .order_by(OutboxItem.id)
                .limit(ROWS_AT_ONCE)
            )
            if lane != "*":
                query = query.where(OutboxItem.chat == lane)
            rows = []
            for item in uow.session.scalars(query):
                if item.not_before is not None and item.not_before > now:
                    break  # later rows keep their order behind this one
                buttons = json.loads(item.buttons) if item.buttons else []
                rows.append(
                    _Row(
                        id=item.id,
                        platform=item.platform,
                        chat=item.chat,
                        text=item.text,
                        purpose=item.purpose,
                        subject=item.subject,
                        buttons=tuple(
                            tuple(Button(label, data) for label, data in r) for r in buttons
                        ),
                        parts_sent=item.parts_sent,
                        attempts=item.attempts,
                        created_at=item.created_at,
                        mention=_addressee(uow.session, item.addressee),
                    )
                )
            return rows

    async def _deliver(self, adapter: Adapter, row: _Row) -> bool:
        """Send one row; False when the lane must wait (the row stays pending)."""
        try:
            if row.purpose == "card":
                await self._post_card(adapter, row)
                self.metrics.delivered.labels(row.platform).inc()
                return True
            html = adapter.caps.markup == "html"
            parts = [p for p in split_message(row.text, adapter.caps.max_text, html) if p.strip()]
            ref = None
            for index in range(row.parts_sent, len(parts)):
                last = index == len(parts) - 1
                message = Outbound(
                    parts[index],
                    buttons=row.buttons if last else (),
                    force_reply=last and row.purpose == "prompt",
                    txn_id=row.txn_id(index),
                    mention=row.mention,
                )
                ref = await adapter.send(row.chat, message)
                if not last:
                    await self._record_delivery(self._progress, row.id, index + 1)
        except DeliveryError as exc:
            if exc.retry_after is not None:
                self.metrics.rate_limited.labels(row.platform).inc()
            await self._store(self._failed, row, exc)
            return exc.permanent
        await self._record_delivery(self._sent, row.id, ref)
        self.metrics.delivered.labels(row.platform).inc()
        return True

    async def _post_card(self, adapter: Adapter, row: _Row) -> None:
        assert row.subject is not None and self.word_card is not None
        worded = await self._store(self._word, row.platform, row.chat, row.subject)
        if worded is None:
            await self._store(self._sent, row.id, None)
            return
        version, message = worded
        ref = await adapter.send(row.chat, dataclasses.replace(message, txn_id=row.txn_id(0)))
        # After a failed try that may have got through, Matrix answers this one with the
        # event that try made, worded as the card was then: record no version shown, so an
        # edit brings the card up to date.
        await self._record_delivery(self._card_posted, row, ref, version if not row.attempts else 0)

    async def _record_delivery(self, write: Callable[..., None], *args: object) -> None:
        """Store that the platform took a message. Until then the row is pending and would be
        sent again, so a locked or unreachable store is waited out here."""
        while True:
            try:
                await self._store(write, *args)
                return
            except Exception as exc:  # noqa: BLE001 - the store locked or unreachable
                log.warning("outbox.record_failed", error=type(exc).__name__)
                await asyncio.sleep(STORE_RETRY)

    async def _edit_card(
        self, adapter: Adapter, platform: str, chat: str, wake: asyncio.Event
    ) -> bool:
        """Bring one card of ``chat`` up to date; False when none is behind. A message
        due for the chat meanwhile (``wake``, cleared by the worker before it reads its
        lane) goes first: True, and the edit, once begun, keeps waiting for its turn
        meanwhile (the adapter's line, where it keeps its place). While messages wait in
        many lanes, new edits (their reads, wording and sends: the process's time) wait
        for them."""
        key = (platform, chat)
        editing = self._edits.get(key)
        if editing is None:
            while self._lanes_with_messages > LANES_BEFORE_EDITS and not self._stopping:
                try:
                    await asyncio.wait_for(wake.wait(), DELIVERY_POLL)
                except TimeoutError:
                    continue
                return True
            found = await self._store(self._behind_card, platform, chat)
            if found is None:
                return False
            wait = adapter.busy_for(chat)
            if wait > 0:  # more changes may arrive meanwhile: one edit for all
                try:
                    await asyncio.wait_for(wake.wait(), wait)
                except TimeoutError:
                    pass
                else:
                    return True
            editing = asyncio.create_task(self._edit(adapter, platform, chat, *found))
            self._edits[key] = editing
        woken = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait((editing, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            woken.cancel()
        if not editing.done():  # a message came: it goes first, the edit waits on
            return True
        del self._edits[key]
        return editing.result()

    async def _edit(
        self, adapter: Adapter, platform: str, chat: str, subject: str, ref: str
    ) -> bool:
        """Edit the card, worded when its turn comes; False when the platform put it off."""
        worded: tuple[int, Outbound] | None = None

        async def word() -> Outbound | None:
            nonlocal worded
            worded = await self._store(self._word, platform, chat, subject)
            return worded[1] if worded else None

        try:
            await adapter.edit(chat, ref, word)
        except DeliveryError as exc:
            if exc.retry_after is not None:
                self.metrics.rate_limited.labels(platform).inc()
            if exc.permanent:  # the card was deleted: post it anew
                log.warning("outbox.card_gone", platform=platform, subject=subject)
                await self._store(self._repost_card, platform, chat, subject)
                return True
            log.info("outbox.edit_deferred", platform=platform, reason=exc.reason)
            return False
        version = worded[0] if worded else None  # None: the card is gone
        await self._store(self._card_shown, platform, chat, subject, version)
        return True

    # -- store ---------------------------------------------------------------------------

    def _word(self, platform: str, chat: str, subject: str) -> tuple[int, Outbound] | None:
        assert self.word_card is not None
        with self.db.unit_of_work(write=False) as uow:
            card = uow.session.get(Card, (platform, chat, subject))
            message = self.word_card(uow.session, platform, chat, subject)
            if message is None:
                return None
            return (card.version if card else 0), message

    def _behind_card(self, platform: str, chat: str) -> tuple[str, str] | None:
        with self.db.unit_of_work(write=False) as uow:
            card = uow.session.scalars(
                select(Card)
                .where(
                    Card.platform == platform,
                    Card.chat == chat,
                    Card.version > Card.shown_version,
                    Card.message_ref.is_not(None),
                )
                .order_by(Card.edited_at.is_not(None), Card.edited_at)
                .limit(1)
            ).first()
            if card is None or card.message_ref is None:
                return None
            return card.subject, card.message_ref

    def _card_shown(self, platform: str, chat: str, subject: str, version: int | None) -> None:
        """The card shows ``version`` now (None: every version, the subject is gone)."""
        shown = Card.version if version is None else version
        with self.db.unit_of_work() as uow:
            uow.session.execute(
                update(Card)
                .where(Card.platform == platform, Card.chat == chat, Card.subject == subject)
                .values(
                    shown_version=case(
                        (Card.shown_version < shown, shown), else_=Card.shown_version
                    ),
                    edited_at=self.clock.now(),
                )
            )
            uow.commit()

    def _card_posted(self, row: _Row, ref: str | None, version: int) -> None:
        with self.db.unit_of_work() as uow:
            s = uow.session
            card = s.get(Card, (row.platform, row.chat, row.subject))
            if card is not None:
                card.message_ref = ref
                card.shown_version = max(card.shown_version, version)
                card.edited_at = self.clock.now()
            self._mark_sent(s, row.id, ref)
            uow.commit()

    def _repost_card(self, platform: str, chat: str, subject: str) -> None:
        with self.db.unit_of_work() as uow:
            s = uow.session
            card = s.get(Card, (platform, chat, subject))
            if card is None:
                return
            card.message_ref = None
            s.add(
                OutboxItem(
                    platform=platform,
                    chat=chat,
                    text="",
                    created_at=self.clock.now(),
                    purpose="card",
                    subject=subject,
                )
            )
            uow.commit()

    def _wait_for(self, row_id: int) -> float | None:
        """Seconds until a failed row may be tried again (None: it will not be)."""
        with self.db.unit_of_work(write=False) as uow:
            item = uow.session.get(OutboxItem, row_id)
            if item is None or item.state != "pending" or item.not_before is None:
                return None
            return max(0.0, (item.not_before - self.wall()).total_seconds())

    def _progress(self, row_id: int, parts_sent: int) -> None:
        with self.db.unit_of_work() as uow:
            item = uow.session.get(OutboxItem, row_id)
            if item is not None:
                item.parts_sent = parts_sent
                uow.commit()

    def _sent(self, row_id: int, ref: str | None) -> None:
        with self.db.unit_of_work() as uow:
            self._mark_sent(uow.session, row_id, ref)
            uow.commit()

    def _mark_sent(self, s: Session, row_id: int, ref: str | None) -> None:
        s.execute(
            update(OutboxItem)
            .where(OutboxItem.id == row_id)
            .values(state="sent", sent_at=self.clock.now(), message_ref=ref)
        )

    def _failed(self, row: _Row, exc: DeliveryError) -> None:
        with self.db.unit_of_work() as uow:
            item = uow.session.get(OutboxItem, row.id)
            if item is None:
                return
            # A flood wait (429) is the platform saying when to come back, not a failure:
            # counted, a minute of them gave a message up after 12 tries, and each one
            # lengthened the back-off of the next real failure.
            if exc.retry_after is None:
                item.attempts += 1
            if exc.permanent or item.attempts >= MAX_ATTEMPTS:
                item.state = "failed"
            else:
                wait = exc.retry_after if exc.retry_after is not None else backoff(item.attempts)
                item.not_before = self.wall() + timedelta(seconds=wait)
            log.warning(
                "outbox.send_failed",
                row=row.id,
                platform=row.platform,
                attempts=item.attempts,
                state=item.state,
                reason=exc.reason,
            )
            uow.commit()


def _addressee(s: Session, person: str | None) -> tuple[str, str] | None:
    """The person a prompt addresses, for a platform that mentions people (Matrix pills)."""
    if person is None:
        return None
    name = s.scalar(select(Person.name).where(Person.id == person))
    return (person, name) if name is not None else None
