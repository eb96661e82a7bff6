"""Two webhook workers behind one URL, on one database (docs/deployment.md).

A load balancer may hand an update to either worker, and Telegram sends it again when an
answer is late, possibly to the other one. Here every update is posted to both workers at
the same moment: each must be carried out once, and each message the bot owes must be
sent once, although both workers deliver from the same outbox (a lane is sent by the
worker holding its lease: bot/outbox.py).
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from adapters.telegram import SECRET_HEADER, WEBHOOK_PATH
from deliberation.model import OutboxItem, Proposal
from tests.fakes.bot_api import FakeBotApi
from tests.telegram.harness import FAST_FAKE, RunningBot, fake_group

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000012
ALICE = FakeBotApi.make_user(121, "Alice")
MEMBERS = [FakeBotApi.make_user(130 + i, f"Member{i}") for i in range(12)]
URL = "https://bot.example.org/telegram/webhook"
SECRET = "workers-Secret_1"
OPTIONS = {"webhook_url": URL, "webhook_port": 0, "webhook_secret": SECRET, "mode": "webhook"}


@pytest.fixture
def workers(bot_api_factory, file_database_url: str) -> Iterator[tuple[RunningBot, RunningBot]]:  # type: ignore[no-untyped-def]
    api = bot_api_factory(**FAST_FAKE)
    fake_group(api, GROUP, ALICE, MEMBERS)
    with (
        RunningBot(api, file_database_url, **OPTIONS) as first,
        RunningBot(api, file_database_url, **OPTIONS) as second,
    ):
        yield first, second


def post(bot: RunningBot, update: dict) -> int:
    url = f"http://127.0.0.1:{bot.telegram.webhook_port_bound}{WEBHOOK_PATH}"
    headers = {SECRET_HEADER: SECRET}
    return httpx.post(url, content=json.dumps(update), headers=headers, timeout=30).status_code


def deliver_to_both(workers: tuple[RunningBot, RunningBot], update: dict) -> None:
    """Both workers get the update at once; a 500 is retried, as Telegram does."""
    with ThreadPoolExecutor(2) as pool:
        codes = list(pool.map(lambda bot: post(bot, update), workers))
    for bot, code in zip(workers, codes, strict=True):
        while code != 200:
            assert code == 500, code
            code = post(bot, update)


def test_every_update_once_and_every_message_once(
    workers: tuple[RunningBot, RunningBot], tmp_path: Path
) -> None:
    first, second = workers
    api = first.api
    updates = [api.user_message(GROUP, ALICE, "/settings amendment_hours 0")]
    updates += [
        api.user_message(GROUP, m, f"/propose Rule number {i}.") for i, m in enumerate(MEMBERS)
    ]
    for update in updates:
        deliver_to_both(workers, update)

    def settled() -> bool:
        with first.db.unit_of_work(write=False) as uow:
            pending = uow.session.scalar(select(func.count()).where(OutboxItem.state == "pending"))
        return pending == 0 and len(texts()) >= 1 + len(MEMBERS)

    def texts() -> list[str]:
        return [m["plain_text"] for m in api.sent_to(GROUP)]

    first.wait_for(settled, "every message delivered", timeout=60)
    with first.db.unit_of_work(write=False) as uow:
        proposals = uow.session.scalar(select(func.count()).select_from(Proposal))
        sent = uow.session.scalar(select(func.count()).where(OutboxItem.state == "sent"))
    assert proposals == len(MEMBERS)  # each /propose carried out once
    for i in range(len(MEMBERS)):
        assert sum(f"Rule number {i}." in t for t in texts()) == 1
    posted = collections.Counter(texts())
    assert [t for t, n in posted.items() if n > 1] == []
    assert len(api.sent_to(GROUP)) == sent  # each outbox row sent by one worker only
