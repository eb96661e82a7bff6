"""What an operator watches, in the Prometheus text format (``/metrics``), and ``/healthz``.

Counters live in this process (updates handled, positions recorded, messages delivered,
flood-limit answers); the outbox depth and the timer lag are read from the store at each
scrape, so they are right whichever process of a deployment did the work. Each ``App``
has a registry of its own: tests run several in one process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from deliberation.model import OutboxItem, Timer
from deliberation.store.db import Database
from deliberation.timers import Clock

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StoreGauges(Collector):
    """Outbox depth per platform and the lag of the oldest due deadline, read at scrape."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "charterbot_outbox_pending",
            "Messages waiting in the outbox to be delivered",
            labels=["platform"],
        )
        lag = GaugeMetricFamily(
            "charterbot_timer_lag_seconds",
            "How long the oldest deadline that fell due has waited to be carried out",
        )
        with self.db.unit_of_work(write=False) as uow:
            s = uow.session
            for platform, count in s.execute(
                select(OutboxItem.platform, func.count())
                .where(OutboxItem.state == "pending")
                .group_by(OutboxItem.platform)
            ):
                depth.add_metric([platform], count)
            oldest: datetime | None = s.scalar(
                select(func.min(Timer.due_at)).where(Timer.done_at.is_(None))
            )
        now = self.clock.now()
        lag.add_metric([], max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        yield depth
        yield lag


class Metrics:
    """The process's counters, and the store's gauges, in one registry."""

    def __init__(self, db: Database | None = None, clock: Clock | None = None) -> None:
        self.registry = CollectorRegistry()
        self.updates = Counter(
            "charterbot_updates_handled",
            "Updates (commands, replies, button presses, reactions) committed",
            ["platform"],
            registry=self.registry,
        )
        self.positions = Counter(
            "charterbot_positions_recorded",
            "Positions (consent, concern, objection, abstention) recorded",
            ["platform"],
            registry=self.registry,
        )
        self.delivered = Counter(
            "charterbot_messages_delivered",
            "Messages the platforms took from the outbox",
            ["platform"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "charterbot_rate_limited",
            "Sends and edits a platform refused with a flood limit (HTTP 429)",
            ["platform"],
            registry=self.registry,
        )
        if db is not None and clock is not None:
            self.registry.register(_StoreGauges(db, clock))

    def exposition(self) -> bytes:
        """The text a Prometheus scrape reads (reads the store: call it off the loop)."""
        return generate_latest(self.registry)


Health = Callable[[], tuple[bool, dict[str, Any]]]


def add_routes(app: web.Application, metrics: Metrics, health: Health) -> None:
    """``/metrics`` for Prometheus and ``/healthz`` for a load balancer or systemd: 200 when
    the process takes updates and reaches its store, else 503 (and stopping: so a balancer
    sends the webhook's updates to another worker)."""

    async def scrape(_request: web.Request) -> web.Response:
        body = await asyncio.to_thread(metrics.exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    async def healthz(_request: web.Request) -> web.Response:
        ok, report = await asyncio.to_thread(health)
        return web.json_response(report, status=200 if ok else 503)

    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
