"""Each person's language and time zone in Telegram: the platform's language hint when
they chose none, ``/timezone`` in a private chat for their own clock (SPEC section 4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.i18n import get_translator
from tests.fakes.bot_api import FakeBotApi
from tests.telegram.harness import FAST_FAKE, RunningBot, find
from tests.telegram.test_reminders import idle, say

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000002
ALICE = FakeBotApi.make_user(21, "Alice", language_code="en")
KENJI = FakeBotApi.make_user(22, "Kenji", language_code="ja")  # never says /lang
GINA = FakeBotApi.make_user(23, "Gina", language_code="en")  # lives in Tokyo


@pytest.fixture
def api(bot_api_factory) -> FakeBotApi:  # type: ignore[no-untyped-def]
    fake = bot_api_factory(**FAST_FAKE)
    fake.add_chat(GROUP, "Harbour alliance", creator=ALICE, members=[KENJI, GINA])
    return fake


@pytest.fixture
def bot(api: FakeBotApi, tmp_path: Path) -> Iterator[RunningBot]:
    with RunningBot(api, f"sqlite:///{tmp_path / 'bot.db'}") as running:
        yield running


def test_the_language_hint_and_an_own_time_zone_reach_private_reminders(bot: RunningBot) -> None:
    api = bot.api
    ja = get_translator("ja")
    for user in (KENJI, GINA):
        say(bot, GROUP, user, "/status", "/propose")
    on = ja.gettext(
        "I will remind you here before a consent round of your groups closes, if you have "
        "not stated a position yet. {p}remind off stops it."
    ).format(p="/")
    assert say(bot, KENJI["id"], KENJI, "/remind on", "/remind off") == on  # his hint: ja
    say(bot, GINA["id"], GINA, "/remind on", "/remind off")
    zone = say(bot, GINA["id"], GINA, "/timezone asia/tokyo", "Asia/Tokyo")
    assert (
        zone == "I will show you times in Asia/Tokyo; it is Nov 24, 2026, 9:00\u202fPM there now."
    )
    refused = say(bot, GINA["id"], GINA, "/timezone Mars/Olympus", "timezone")
    assert "Mars/Olympus" not in refused and "IANA" in refused

    say(bot, GROUP, ALICE, "/propose Quiet after ten.", "Quiet after ten.")
    say(bot, GROUP, ALICE, "/next P1", "Consent round 1 on P1")
    bot.advance(timedelta(hours=48))
    kenji = bot.wait_for(lambda: find(api, KENJI["id"], "P1"), "Kenji's reminder")
    assert "2026/11/27 12:00" in kenji["plain_text"]  # Japanese dates, the group's zone (UTC)
    gina = bot.wait_for(lambda: find(api, GINA["id"], "P1"), "Gina's reminder")
    assert "Nov 27, 2026, 9:00\u202fPM" in gina["plain_text"]  # noon UTC, her Tokyo evening
    bot.wait_for(lambda: idle(bot), "the outbox to drain")
    group = find(api, GROUP, "Reminder")
    assert group is not None and "Nov 27, 2026, 12:00\u202fPM" in group["plain_text"]
