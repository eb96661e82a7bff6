"""The transactional outbox: every bot message is a row written in the same transaction
as the change it reports, and delivered after the commit.

A crash after the commit and before delivery leaves the row pending; the next start
delivers it. Rows are delivered in order per platform; a failing send is retried with
back-off and never blocks other platforms.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.logging import get_logger
from bot.messages import Adapter
from deliberation.model import OutboxItem
from deliberation.store.db import Database
from deliberation.timers import Clock

log = get_logger(__name__)

MAX_ATTEMPTS = 8


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long message at line breaks (or hard, for one very long line) to fit ``limit``."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:limit])
            line = line[limit:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return parts


def enqueue(
    session: Session,
    platform: str,
    chat: str,
    text: str,
    now: datetime,
    proposal: int | None = None,
) -> None:
    """Queue a message inside the caller's transaction."""
    session.add(
        OutboxItem(platform=platform, chat=chat, text=text, proposal_id=proposal, created_at=now)
    )


class Outbox:
    """Delivers pending rows through the adapters."""

    def __init__(self, db: Database, clock: Clock, adapters: dict[str, Adapter]) -> None:
        self.db = db
        self.clock = clock
        self.adapters = adapters
        self._lock = asyncio.Lock()

    async def flush(self) -> int:
        """Deliver everything pending now; returns how many messages were sent."""
        async with self._lock:
            sent = 0
            for platform, adapter in self.adapters.items():
                sent += await self._flush_platform(platform, adapter)
            return sent

    async def _flush_platform(self, platform: str, adapter: Adapter) -> int:
        sent = 0
        while True:
            with self.db.unit_of_work(write=False) as uow:
                rows = uow.session.scalars(
                    select(OutboxItem)
                    .where(OutboxItem.platform == platform, OutboxItem.state == "pending")
                    .order_by(OutboxItem.id)
                    .limit(50)
                ).all()
            if not rows:
                return sent
            for row in rows:
                try:
                    for part in split_text(row.text, adapter.caps.max_text):
                        await adapter.send(row.chat, part)
                except Exception as exc:  # noqa: BLE001 - any platform failure is retried later
                    self._failed(row.id, exc)
                    return sent
                self._mark(row.id, "sent")
                sent += 1

    def _mark(self, row_id: int, state: str) -> None:
        with self.db.unit_of_work() as uow:
            row = uow.session.get(OutboxItem, row_id)
            if row is not None:
                row.state = state
                row.sent_at = self.clock.now()
                uow.commit()

    def _failed(self, row_id: int, exc: Exception) -> None:
        with self.db.unit_of_work() as uow:
            row = uow.session.get(OutboxItem, row_id)
            if row is None:
                return
            row.attempts += 1
            if row.attempts >= MAX_ATTEMPTS:
                row.state = "failed"
            log.warning(
                "outbox.send_failed", row=row_id, attempts=row.attempts, error=type(exc).__name__
            )
            uow.commit()
