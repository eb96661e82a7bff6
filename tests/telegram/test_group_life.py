"""A whole proposal life in a Telegram group: charterbot's App polling our fake Bot API.

Users act through the fake (messages, button presses) and the tests read what they would
see: the cards, their buttons and edits, the notes answering presses, announcements.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.bot_api import FakeBotApi
from tests.telegram.harness import (
    FAST_FAKE,
    RunningBot,
    answers_to,
    buttons_of,
    fake_group,
    find,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000001
ALICE = FakeBotApi.make_user(11, "Alice", language_code="en")
BOB = FakeBotApi.make_user(12, "Bob", language_code="es")
CAROL = FakeBotApi.make_user(13, "Carol", language_code="en")
MALLORY = FakeBotApi.make_user(66, "Mallory", language_code="en")


@pytest.fixture
def api(bot_api_factory) -> FakeBotApi:  # type: ignore[no-untyped-def]
    fake = bot_api_factory(**FAST_FAKE)
    fake_group(fake, GROUP, ALICE, [BOB, CAROL])
    return fake


@pytest.fixture
def bot(api: FakeBotApi, file_database_url: str) -> Iterator[RunningBot]:
    """The bot on an SQLite file and on PostgreSQL (``file_database_url``)."""
    with RunningBot(api, file_database_url) as running:
        yield running


def say(bot: RunningBot, user: dict, text: str, reply_to: int | None = None) -> None:
    bot.api.user_message(GROUP, user, text, reply_to=reply_to)


def card_of(bot: RunningBot, needle: str) -> dict:
    return bot.wait_for(lambda: find(bot.api, GROUP, needle), f"a card with {needle!r}")


def test_a_proposal_is_amended_and_adopted_with_buttons(bot: RunningBot) -> None:
    api = bot.api
    say(bot, ALICE, "/propose We share the kitchen.")
    card = card_of(bot, "We share the kitchen.")
    card_id = card["message_id"]
    assert card["plain_text"].startswith("P1 · new clause · amendment phase")
    assert buttons_of(card) == []  # amendment phase: no position buttons yet
    assert card["parse_mode"] == "HTML"

    def shown() -> str:
        return api.message(GROUP, card_id)["text"]

    def keys(message_id: int) -> list[str]:
        markup = api.message(GROUP, message_id).get("reply_markup") or {}
        return [b["callback_data"] for row in markup.get("inline_keyboard", []) for b in row]

    say(bot, BOB, '/amend@charter_test_bot P1 replace "kitchen" with "kitchen and garden"')
    amendment = card_of(bot, "A1 to P1")
    assert keys(amendment["message_id"]) == ["a1:+", "a1:-"]

    api.press_button(GROUP, CAROL, amendment["message_id"], "a1:+")
    bot.wait_for(lambda: answers_to(api, CAROL), "the note to Carol")
    assert answers_to(api, CAROL) == ["Carol supports A1. Support 1, opposition 0."]
    bot.wait_for(
        lambda: "Support 1" in api.message(GROUP, amendment["message_id"])["text"],
        "the amendment card to show the support",
    )

    say(bot, ALICE, "/next P1")  # Alice created the group: a mediator
    bot.wait_for(lambda: keys(card_id), "the card to offer consent buttons")
    assert keys(card_id) == ["v1:c", "v1:k", "v1:o", "v1:a"]
    assert "We share the kitchen and garden." in shown()
    bot.wait_for(lambda: not keys(amendment["message_id"]), "the amendment card to close")
    assert "(applied)" in api.message(GROUP, amendment["message_id"])["text"]

    api.press_button(GROUP, BOB, card_id, "v1:c")
    api.press_button(GROUP, CAROL, card_id, "v1:k")
    bot.wait_for(lambda: answers_to(api, BOB) and answers_to(api, CAROL)[1:], "the notes")
    assert "P1" in (answers_to(api, BOB)[0] or "")  # in Bob's language (es)
    assert answers_to(api, BOB)[0] != answers_to(api, CAROL)[1]

    # ✋ asks for the reason; Alice answers by replying to the prompt.
    api.press_button(GROUP, ALICE, card_id, "v1:o")
    prompt = card_of(bot, "reason for your objection to P1")
    assert prompt["reply_markup"] == {"force_reply": True, "selective": False}
    assert "Reply to my message" in (answers_to(api, ALICE)[0] or "")
    bot.recorded(prompt["message_id"])
    say(bot, ALICE, "The garden is not ours.", reply_to=prompt["message_id"])
    bot.wait_for(lambda: "The garden is not ours." in shown(), "the objection on the card")
    assert "✅ 1" in shown() and "⚠️ 1" in shown() and "✋ 1" in shown()

    api.press_button(GROUP, ALICE, card_id, "v1:c")  # she changes her mind
    bot.wait_for(lambda: "✅ 2" in shown(), "the card to count Alice's consent")
    say(bot, ALICE, "/next P1")
    bot.wait_for(lambda: find(api, GROUP, "C1"), "the adoption announcement")
    bot.wait_for(lambda: not keys(card_id), "the card to lose its buttons")
    assert shown().startswith("P1 · new clause · adopted")
    assert len([m for m in api.sent_to(GROUP) if m["plain_text"].startswith("P1 ·")]) == 1
    assert api.flood_violations == []


def test_a_reply_to_the_card_names_the_proposal(bot: RunningBot) -> None:
    api = bot.api
    say(bot, ALICE, "/settings amendment_hours 0")
    bot.wait_for(lambda: find(api, GROUP, "amendment_hours"), "the settings answer")
    say(bot, ALICE, "/propose Quiet after ten.")
    card = card_of(bot, "Quiet after ten.")
    bot.recorded(card["message_id"])
    say(bot, BOB, "/object No.", reply_to=card["message_id"])
    bot.wait_for(
        lambda: "No." in api.message(GROUP, card["message_id"])["text"],
        "Bob's objection on the card",
    )
