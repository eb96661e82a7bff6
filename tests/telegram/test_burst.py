"""A burst of button presses at Telegram's real flood limits.

A group of 1,000 members, a proposal in its consent phase, and every member presses a
position button within a few seconds. The fake Bot API enforces Telegram's default limits
(one message a second per chat with a burst of 3, 20 a minute per group, 30 a second
overall) and the adapter paces itself with its default ``Limits()``. Every press must be
answered, the one card must catch up within a few seconds of the last press by a handful of
edits (changes coalesce into the next edit), and the bot must never hit a limit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.telegram_pacing import Limits
from deliberation.model import Position
from tests.fakes.bot_api import FakeBotApi
from tests.telegram.harness import RunningBot, fake_group, find

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000042
CREATOR = FakeBotApi.make_user(1, "Ada", language_code="en")
MEMBERS = [FakeBotApi.make_user(10_000 + i, f"Member{i}", language_code="en") for i in range(1000)]
STANCES = ("v1:c", "v1:k", "v1:a")  # ✅ ⚠️ ➖ (✋ asks for a reason first)
PRESS_SECONDS = 5.0  # the presses are spread over this long (well within 10 s)
CATCH_UP = 6.0  # seconds the card may take after the last press to show every press


@pytest.fixture
def api(bot_api_factory) -> FakeBotApi:  # type: ignore[no-untyped-def]
    fake = bot_api_factory()  # Telegram's default flood limits, strict
    fake_group(fake, GROUP, CREATOR, MEMBERS)
    return fake


@pytest.fixture
def bot(api: FakeBotApi, tmp_path: Path) -> Iterator[RunningBot]:
    with RunningBot(api, f"sqlite:///{tmp_path / 'bot.db'}", limits=Limits()) as running:
        yield running


def counts_on(text: str) -> dict[str, int]:
    found = {}
    for icon in ("✅", "⚠️", "➖", "✋"):
        m = re.search(rf"{icon} ([0-9,]+)", text)
        found[icon] = int(m[1].replace(",", "")) if m else 0
    return found


def test_a_thousand_presses_are_answered_and_one_card_catches_up(bot: RunningBot) -> None:
    api = bot.api
    api.user_message(GROUP, CREATOR, "/settings amendment_hours 0")
    bot.wait_for(lambda: find(api, GROUP, "amendment_hours"), "the settings answer")
    api.user_message(GROUP, CREATOR, "/propose The kitchen is cleaned every evening.")
    card = bot.wait_for(lambda: find(api, GROUP, "P1 ·"), "the card")
    card_id = card["message_id"]
    assert "consent phase" in card["plain_text"]
    bot.wait_for(lambda: card["reply_markup"], "the card's buttons")

    expected = {"✅": 0, "⚠️": 0, "➖": 0, "✋": 0}
    icons = dict(zip(STANCES, ("✅", "⚠️", "➖"), strict=True))
    started = time.monotonic()
    for index, member in enumerate(MEMBERS):
        data = STANCES[index % 3]
        expected[icons[data]] += 1
        api.press_button(GROUP, member, card_id, data)
        ahead = started + PRESS_SECONDS * (index + 1) / len(MEMBERS) - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    last_press = time.monotonic()
    assert last_press - started < 10.0

    def shown() -> dict[str, int]:
        return counts_on(api.message(GROUP, card_id)["text"])

    bot.wait_for(lambda: shown() == expected, "the card to count every press", timeout=30)
    caught_up = time.monotonic() - last_press
    bot.wait_for(lambda: len(api.callback_answers) >= len(MEMBERS), "every press answered")
    answered = time.monotonic() - last_press
    record = api.records[(GROUP, card_id)]
    edits = len(record["edits"])
    print(
        f"\n1,000 presses in {last_press - started:.1f} s; card exact {caught_up:.2f} s and "
        f"every press answered {answered:.2f} s after the last press; {edits} edits"
    )

    assert caught_up <= CATCH_UP
    answers = api.callback_answers
    assert len(answers) == len(MEMBERS)
    assert {a["user_id"] for a in answers} == {m["id"] for m in MEMBERS}
    assert all(a["text"] and "P1" in a["text"] for a in answers)
    # One card, edited in place; the edits coalesce (about one a second at most).
    assert len([m for m in api.sent_to(GROUP) if m["plain_text"].startswith("P1 ·")]) == 1
    assert not record["deleted"]
    assert 1 <= edits <= PRESS_SECONDS + CATCH_UP + 3
    edit_calls = [r for r in api.requests if r[0] == "editMessageText"]
    assert len(edit_calls) == edits  # no refused or repeated edit
    assert api.flood_violations == []
    assert api.flood_refusals == []
    with bot.db.unit_of_work(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Position)) == len(MEMBERS)
