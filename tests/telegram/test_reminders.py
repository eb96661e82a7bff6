"""Reminders in Telegram: the group's, and the private ones members ask for with
``/remind on`` in their private chat with the bot (SPEC section 3).

charterbot's App polls the fake Bot API (``harness.py``); the manual clock is moved with
``RunningBot.advance`` and the tests read what each chat shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from deliberation.model import OutboxItem, Person
from tests.fakes.bot_api import FakeBotApi, Json
from tests.telegram.harness import FAST_FAKE, RunningBot, find, texts

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000001
ALICE = FakeBotApi.make_user(11, "Alice", language_code="en")  # creates GROUP
BOB = FakeBotApi.make_user(12, "Bob", language_code="en")  # asks for reminders
CAROL = FakeBotApi.make_user(13, "Carol", language_code="en")  # asks, then votes
DAVE = FakeBotApi.make_user(14, "Dave", language_code="en")  # asks, then stops them
ERIN = FakeBotApi.make_user(15, "Erin", language_code="es")  # asks, reads Spanish

HINT_IN_GROUP = (
    "State your position in the group: ✅ /consent P1 · ⚠️ /concern P1 [reason] · "
    "✋ /object P1 <reason> · ➖ /abstain P1"
)


@pytest.fixture
def api(bot_api_factory) -> FakeBotApi:  # type: ignore[no-untyped-def]
    fake = bot_api_factory(**FAST_FAKE)
    fake.add_chat(GROUP, "Kitchen collective", creator=ALICE, members=[BOB, CAROL, DAVE, ERIN])
    return fake


@pytest.fixture
def bot(api: FakeBotApi, tmp_path: Path) -> Iterator[RunningBot]:
    with RunningBot(api, f"sqlite:///{tmp_path / 'bot.db'}") as running:
        yield running


def idle(bot: RunningBot) -> bool:
    with bot.db.unit_of_work(write=False) as uow:
        return not uow.session.scalars(
            select(OutboxItem.id).where(OutboxItem.state == "pending")
        ).first()


def say(bot: RunningBot, chat: int, user: Json, text: str, needle: str) -> str:
    """``user`` writes ``text`` in ``chat``; the bot's new message there containing ``needle``."""
    before = len(bot.api.sent_to(chat))
    bot.api.user_message(chat, user, text)

    def found() -> str | None:
        return next((t for t in texts(bot.api, chat)[before:] if needle in t), None)

    return str(bot.wait_for(found, f"{needle!r} after {text[:40]!r}"))


def test_private_reminders_go_only_to_those_who_asked_and_have_not_responded(
    bot: RunningBot,
) -> None:
    api = bot.api
    for user in (BOB, CAROL, DAVE, ERIN):  # members: seen in the group
        say(bot, GROUP, user, "/status", "/propose")

    refused = say(bot, GROUP, BOB, "/remind on", "private chat")
    assert refused == "/remind works in a private chat with me: write to me there."
    for user in (BOB, CAROL, DAVE):
        confirmed = say(bot, user["id"], user, "/remind on", "remind you")
        assert confirmed == (
            "I will remind you here before a consent round of your groups closes, if you "
            "have not stated a position yet. /remind off stops it."
        )
    say(bot, ERIN["id"], ERIN, "/lang es", "español")
    say(bot, ERIN["id"], ERIN, "/remind on", "/remind off")
    stopped = say(bot, DAVE["id"], DAVE, "/remind off", "private reminders")
    assert stopped == "I will not send you private reminders any more."
    welcome = say(bot, BOB["id"], BOB, "/start", "Welcome")
    assert "Send /remind on to be reminded here" in welcome
    with bot.db.unit_of_work(write=False) as uow:
        people = uow.session.scalars(select(Person)).all()
        chats = {person.id: person.remind_chat for person in people}
    assert chats["telegram:12"] == "telegram:12" and chats["telegram:14"] is None

    say(bot, GROUP, ALICE, "/propose Quiet after ten.", "Quiet after ten.")
    say(bot, GROUP, ALICE, "/next P1", "Consent round 1 on P1")
    say(bot, GROUP, CAROL, "/consent P1", "Carol on P1")
    private = {user["id"]: len(api.sent_to(user["id"])) for user in (BOB, CAROL, DAVE, ERIN)}

    bot.advance(timedelta(hours=48))  # a day before the close
    bot.wait_for(lambda: find(api, GROUP, "Reminder"), "the group's reminder")
    reminded = bot.wait_for(lambda: find(api, BOB["id"], "Reminder"), "Bob's reminder")
    assert reminded["plain_text"] == "\n".join(
        [
            "⏰ Reminder: the consent round on P1 in Kitchen collective closes in 1 day "
            "(Nov 27, 2026, 12:00\u202fPM), and you have not stated a position yet.",
            "“Quiet after ten.”",
            HINT_IN_GROUP,
            "/remind off stops these reminders.",
        ]
    )
    # Erin's reminder is worded in her language (dates at least, until the catalogs catch up).
    spanish = bot.wait_for(lambda: find(api, ERIN["id"], "P1"), "Erin's reminder")
    assert "27 nov 2026, 12:00" in spanish["plain_text"]
    bot.wait_for(lambda: idle(bot), "the outbox to drain")
    assert len(api.sent_to(CAROL["id"])) == private[CAROL["id"]]  # she has consented
    assert len(api.sent_to(DAVE["id"])) == private[DAVE["id"]]  # he said /remind off

    # Bob answers in the group: the 1-hour reminder passes him by.
    say(bot, GROUP, BOB, "/abstain P1", "Bob on P1")
    seen = len(api.sent_to(BOB["id"]))
    bot.advance(timedelta(hours=23))
    bot.wait_for(
        lambda: sum("Reminder" in t for t in texts(api, GROUP)) == 2, "the group's 2nd reminder"
    )
    bot.wait_for(lambda: len(api.sent_to(ERIN["id"])) > private[ERIN["id"]] + 1, "Erin's 2nd")
    bot.wait_for(lambda: idle(bot), "the outbox to drain")
    assert len(api.sent_to(BOB["id"])) == seen
    assert len(api.sent_to(CAROL["id"])) == private[CAROL["id"]]
    assert len(api.sent_to(DAVE["id"])) == private[DAVE["id"]]
