"""Webhook mode: our own aiohttp route, the secret header checked, 200 only after commit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.telegram import SECRET_HEADER, WEBHOOK_PATH
from tests.fakes.bot_api import FakeBotApi
from tests.telegram.harness import FAST_FAKE, RunningBot, fake_group, find

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000002
ALICE = FakeBotApi.make_user(21, "Alice")
BOB = FakeBotApi.make_user(22, "Bob")
URL = "https://bot.example.org/telegram/webhook"
SECRET = "s3cret-Token_1"


@pytest.fixture
def bot(bot_api_factory, tmp_path: Path) -> Iterator[RunningBot]:  # type: ignore[no-untyped-def]
    api = bot_api_factory(**FAST_FAKE)
    fake_group(api, GROUP, ALICE, [BOB])
    options = {"webhook_url": URL, "webhook_port": 0, "webhook_secret": SECRET}
    with RunningBot(api, f"sqlite:///{tmp_path / 'bot.db'}", mode="webhook", **options) as running:
        yield running


def post(bot: RunningBot, update: dict, secret: str | None = SECRET) -> int:
    """Deliver an update the way Telegram does: POST to our route with the secret header."""
    url = f"http://127.0.0.1:{bot.telegram.webhook_port_bound}{WEBHOOK_PATH}"
    headers = {SECRET_HEADER: secret} if secret is not None else {}
    return httpx.post(url, content=json.dumps(update), headers=headers, timeout=10).status_code


def test_the_webhook_is_registered_with_its_secret(bot: RunningBot) -> None:
    assert bot.api.webhook is not None
    assert bot.api.webhook["url"] == URL
    assert bot.api.webhook["secret_token"] == SECRET
    assert "callback_query" in bot.api.webhook["allowed_updates"]


def test_an_update_is_handled_once_and_answered_after_commit(bot: RunningBot) -> None:
    update = bot.api.user_message(GROUP, ALICE, "/propose Bikes go in the yard.")
    assert post(bot, update) == 200
    # 200 means committed: the card is queued for delivery and arrives
    bot.wait_for(lambda: find(bot.api, GROUP, "Bikes go in the yard."), "the card")
    assert post(bot, update) == 200  # Telegram retried: nothing happens twice
    bot.call(bot.app.outbox.settle())
    assert len([m for m in bot.api.sent_to(GROUP) if "Bikes" in m["plain_text"]]) == 1


@pytest.mark.parametrize("secret", [None, "wrong", ""])
def test_a_request_without_the_secret_is_refused(bot: RunningBot, secret: str | None) -> None:
    update = bot.api.user_message(GROUP, ALICE, "/propose Forged.")
    assert post(bot, update, secret) == 403
    bot.call(bot.app.outbox.settle())
    assert find(bot.api, GROUP, "Forged.") is None


def test_a_body_that_is_no_update_is_refused(bot: RunningBot) -> None:
    url = f"http://127.0.0.1:{bot.telegram.webhook_port_bound}{WEBHOOK_PATH}"
    answer = httpx.post(url, content=b"not json", headers={SECRET_HEADER: SECRET}, timeout=10)
    assert answer.status_code == 400
