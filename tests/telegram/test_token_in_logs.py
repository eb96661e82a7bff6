"""The bot token never reaches the logs, even with PTB and httpx logging every URL."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest

from bot.logging import configure_logging
from tests.fakes.bot_api import FakeBotApi
from tests.telegram.harness import FAST_FAKE, RunningBot, fake_group, find

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000003
ALICE = FakeBotApi.make_user(31, "Alice")


def test_debug_logs_of_a_whole_exchange_hold_no_token(bot_api_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api = bot_api_factory(**FAST_FAKE)
    fake_group(api, GROUP, ALICE, [])
    out = io.StringIO()
    configure_logging("DEBUG", library_level="DEBUG", stream=out)
    try:
        api.fail_next("sendMessage", 502)  # errors and retries are logged too
        with RunningBot(api, f"sqlite:///{tmp_path / 'bot.db'}") as bot:
            api.user_message(GROUP, ALICE, "/propose Logs stay clean.")
            bot.wait_for(lambda: find(api, GROUP, "Logs stay clean."), "the card")
    finally:
        configure_logging("WARNING")
        logging.getLogger().handlers.clear()
    written = out.getvalue()
    assert "getUpdates" in written  # the URLs were logged ...
    token_secret = api.token.split(":", 1)[1]
    assert token_secret not in written  # ... without the token
    assert api.token not in written
