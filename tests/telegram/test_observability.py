"""What an operator watches: ``/metrics`` (Prometheus) and ``/healthz``, served with the
web page by the bot's own HTTP server, while the bot runs against our fake Bot API."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import add_routes
from bot.web import make_app
from tests.fakes.bot_api import FakeBotApi
from tests.telegram.harness import FAST_FAKE, RunningBot, fake_group, find

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000016
ALICE = FakeBotApi.make_user(161, "Alice")
BOB = FakeBotApi.make_user(162, "Bob")


@pytest.fixture
def bot(bot_api_factory, tmp_path: Path) -> Iterator[RunningBot]:  # type: ignore[no-untyped-def]
    api = bot_api_factory(**FAST_FAKE)
    fake_group(api, GROUP, ALICE, [BOB])
    with RunningBot(api, f"sqlite:///{tmp_path / 'bot.db'}") as running:
        running.app.add_web()
        yield running


def scrape(bot: RunningBot, path: str) -> tuple[int, str]:
    """GET ``path`` from the bot's HTTP routes, served on 127.0.0.1."""

    async def fetch() -> tuple[int, str]:
        server = make_app(bot.app.site)  # type: ignore[arg-type]
        add_routes(server, bot.app.metrics, bot.app.health)
        async with TestClient(TestServer(server, host="127.0.0.1")) as client:
            response = await client.get(path)
            return response.status, await response.text()

    return asyncio.run(fetch())


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_what_the_bot_did(bot: RunningBot) -> None:
    api = bot.api
    api.user_message(GROUP, ALICE, "/settings amendment_hours 0")
    bot.wait_for(lambda: find(api, GROUP, "amendment_hours"), "the settings answer")
    api.fail_next("sendMessage", 429, retry_after=1)  # the card waits out a flood limit
    api.user_message(GROUP, ALICE, "/propose The door stays open.")
    bot.wait_for(lambda: find(api, GROUP, "The door stays open."), "the card")
    api.user_message(GROUP, BOB, "/consent P1")
    api.user_message(GROUP, ALICE, "/object P1 too cold")

    def counted() -> dict:
        found = samples(scrape(bot, "/metrics")[1])
        return (
            found
            if found.get(("charterbot_positions_recorded_total", (("platform", "telegram"),))) == 2
            else {}
        )

    found = bot.wait_for(counted, "two positions counted")
    telegram = (("platform", "telegram"),)
    assert found[("charterbot_updates_handled_total", telegram)] == 4
    assert found[("charterbot_rate_limited_total", telegram)] == 1
    assert found[("charterbot_messages_delivered_total", telegram)] >= 2
    assert ("charterbot_timer_lag_seconds", ()) in found
    bot.call(bot.app.outbox.settle())
    assert samples(scrape(bot, "/metrics")[1]).get(("charterbot_outbox_pending", telegram), 0) == 0


def test_healthz_says_whether_the_bot_takes_updates(bot: RunningBot) -> None:
    status, body = scrape(bot, "/healthz")
    assert status == 200
    assert '"status": "ok"' in body and '"telegram": true' in body and '"database": true' in body
    bot.loop.call_soon_threadsafe(bot.app.request_stop)  # a balancer should look elsewhere
    status, body = bot.wait_for(
        lambda: (answer := scrape(bot, "/healthz"))[0] == 503 and answer, "the stop"
    )
    assert status == 503 and '"status": "stopping"' in body
