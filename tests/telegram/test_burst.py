"""A burst of button presses at Telegram's real flood limits.

A group of 1,000 members, a proposal in its consent phase, and every member presses ✅, ⚠️
or ➖ once within 10 s (about 110 presses a second, none of them seen before: each costs a
``getChatMember``). The fake Bot API enforces Telegram's default limits (one message a
second per chat with a burst of 3, 20 a minute per group, 30 a second overall) and the
adapter paces itself with its default ``Limits()``. Every press must be answered, the one
card must show every press within a few seconds of the last one, by a handful of edits
(changes coalesce into the next edit), and the bot must never hit a limit.
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
PRESS_SECONDS = 9.0  # the presses are spread over this long (within 10 s)
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
    """The card's tally line ("✅ 334 · ⚠️ 333 · ✋ 0 · ➖ 333") as counts by icon."""
    return {
        icon: int(number.replace(",", ""))
        for icon, number in re.findall(r"(✅|⚠️|✋|➖) ([0-9][0-9,]*)", text)
    }


def test_a_thousand_presses_are_answered_and_one_card_catches_up(bot: RunningBot) -> None:
    api = bot.api
    api.user_message(GROUP, CREATOR, "/settings amendment_hours 0")
    bot.wait_for(lambda: find(api, GROUP, "amendment_hours"), "the settings answer")
    api.user_message(GROUP, CREATOR, "/propose The kitchen is cleaned every evening.")
    card = bot.wait_for(lambda: find(api, GROUP, "P1 ·"), "the card")
    card_id = card["message_id"]
    assert "consent phase" in card["plain_text"]
    bot.wait_for(lambda: card["reply_markup"], "the card's buttons")

    expected = {"✅": 0, "⚠️": 0, "✋": 0, "➖": 0}
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

    answered = caught_up = None
    deadline = last_press + 30
    while (answered is None or caught_up is None) and time.monotonic() < deadline:
        now = time.monotonic() - last_press
        if answered is None and len(api.callback_answers) >= len(MEMBERS):
            answered = now
        if caught_up is None and shown() == expected:
            caught_up = now
        time.sleep(0.01)
    assert answered is not None, "not every press was answered"
    assert caught_up is not None, f"the card shows {shown()}, not {expected}"
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
    assert "1,000 of 1,001 members stated a position." in api.message(GROUP, card_id)["text"]
    # One card, edited in place; 1,000 changes coalesce into a few edits (a group's budget
    # is 20 sends a minute; the bot spaces card edits over it).
    assert len([m for m in api.sent_to(GROUP) if m["plain_text"].startswith("P1 ·")]) == 1
    assert not record["deleted"]
    assert 1 <= edits <= 15
    edit_calls = [r for r in api.requests if r[0] == "editMessageText"]
    assert len(edit_calls) == edits  # none refused, none repeated
    assert api.flood_violations == []
    assert api.flood_refusals == []
    with bot.db.unit_of_work(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Position)) == len(MEMBERS)
