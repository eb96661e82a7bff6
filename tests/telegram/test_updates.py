"""``adapters.telegram_updates.translate`` on recorded Bot API updates (``recorded/*.json``).

Each file is one update in the shape Telegram sends it; it is loaded with PTB's own
``Update.de_json`` so the test exercises the same objects the polling and webhook paths see.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import telegram

from adapters.telegram_updates import ChatMigrated, MemberChange, translate
from bot.messages import ButtonPressed, MessageIn

RECORDED = Path(__file__).parent / "recorded"
BOT_ID = 123456789
GROUP = "telegram:-1001234567890"
# Split so that no token-shaped literal sits in the repository in one piece.
BOT = telegram.Bot("123456789:" + "AAFakeTokenForLoopbackTestsOnly_0123")


def recorded(name: str) -> dict[str, Any]:
    return json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))


def update(data: dict[str, Any]) -> telegram.Update:
    return telegram.Update.de_json(copy.deepcopy(data), BOT)


def translated(name: str) -> Any:
    return translate(update(recorded(name)), BOT_ID)


# --- messages ------------------------------------------------------------------------------


def test_group_command() -> None:
    got = translated("group_propose")
    assert type(got) is MessageIn
    assert got.platform == "telegram"
    assert got.dedupe_key == "512340001"
    assert got.chat == GROUP
    assert got.sender == "telegram:11"
    assert got.sender_name == "Alice Martin"
    assert got.text == "/propose We water the beds in turns, one week each"
    assert got.language_hint == "de"
    assert got.private is False
    assert got.reply_to is None
    # Authorisation is not read from the payload: the adapter fills these in afterwards.
    assert got.platform_admin is False
    assert got.member is True
    assert got.member_count is None


def test_command_addressed_to_the_bot_keeps_its_text() -> None:
    got = translated("group_consent_addressed")
    assert type(got) is MessageIn
    assert got.dedupe_key == "512340002"
    assert got.chat == GROUP
    assert got.sender == "telegram:12"
    assert got.sender_name == "Bob"  # no last name
    assert got.text == "/consent@charter_test_bot 3"  # the router strips the @name
    assert got.language_hint is None  # no language_code in the payload
    assert got.private is False
    assert got.reply_to is None


def test_private_start() -> None:
    got = translated("private_start")
    assert type(got) is MessageIn
    assert got.dedupe_key == "512340003"
    assert got.chat == "telegram:11"
    assert got.sender == "telegram:11"
    assert got.sender_name == "Alice Martin"
    assert got.text == "/start"
    assert got.language_hint == "de"
    assert got.private is True
    assert got.reply_to is None
    assert got.platform_admin is False
    assert got.member is True
    assert got.member_count is None


def test_reply_to_the_bot_names_the_bot_message() -> None:
    got = translated("reply_to_bot")
    assert type(got) is MessageIn
    assert got.dedupe_key == "512340004"
    assert got.chat == GROUP
    assert got.sender == "telegram:13"
    assert got.sender_name == "Chloé Dubois"
    assert got.text == "Two weeks each is easier for people who travel."
    assert got.language_hint == "fr"
    assert got.private is False
    assert got.reply_to == "2043"


def test_reply_to_a_person_is_not_a_reply_to_the_bot() -> None:
    got = translated("reply_to_human")
    assert type(got) is MessageIn
    assert got.dedupe_key == "512340005"
    assert got.sender == "telegram:12"
    assert got.text == "Agreed, two weeks."
    assert got.reply_to is None
    assert got.replied_person == ("telegram:13", "Chloé Dubois")  # for /mediator add


def test_a_reply_to_the_bot_names_no_person() -> None:
    assert translated("reply_to_bot").replied_person is None


def test_reply_to_another_bot_is_not_a_reply_to_the_bot() -> None:
    data = recorded("reply_to_bot")
    data["message"]["reply_to_message"]["from"]["id"] = 987654321
    got = translate(update(data), BOT_ID)
    assert type(got) is MessageIn
    assert got.reply_to is None


def test_forum_topic_root_is_not_a_reply_to_the_bot() -> None:
    # Every message in a topic carries the topic's creation message as reply_to_message,
    # here one the bot created.
    got = translated("topic_message")
    assert type(got) is MessageIn
    assert got.dedupe_key == "512340017"
    assert got.chat == GROUP
    assert got.text == "/consent 3"
    assert got.reply_to is None


@pytest.mark.parametrize(
    "name",
    [
        "edited_message",  # an edited command is never run again
        "photo_with_caption",  # no text, even though the caption looks like a command
        "anonymous_admin",  # sent on behalf of the group: nobody to act for
        "channel_post",
        "new_chat_members",  # membership comes from chat_member updates
        "migrate_from_group",  # the new supergroup's side of a migration
    ],
)
def test_ignored(name: str) -> None:
    assert translated(name) is None


def test_anonymous_admin_payload_is_what_telegram_sends() -> None:
    message = update(recorded("anonymous_admin")).message
    assert message is not None
    assert message.from_user is not None
    assert message.from_user.id == 1087968824
    assert message.sender_chat is not None
    assert message.sender_chat.id == message.chat.id


def test_message_from_another_bot_is_ignored() -> None:
    data = recorded("group_propose")
    data["message"]["from"] = {
        "id": 5000000001,
        "is_bot": True,
        "first_name": "Other Bot",
        "username": "other_bot",
    }
    assert translate(update(data), BOT_ID) is None


def test_message_sent_as_a_channel_in_a_group_is_ignored() -> None:
    # A user posting "as" their channel: from = Channel_Bot, sender_chat = the channel.
    data = recorded("group_propose")
    data["message"]["from"] = {
        "id": 136817688,
        "is_bot": True,
        "first_name": "Channel",
        "username": "Channel_Bot",
    }
    data["message"]["sender_chat"] = {
        "id": -1009876543210,
        "title": "Garden News",
        "username": "garden_news",
        "type": "channel",
    }
    assert translate(update(data), BOT_ID) is None


def test_left_chat_member_service_message_is_a_membership_change() -> None:
    """Not a message; but it tells a bot that is no administrator (and so gets no
    chat_member updates) that someone left."""
    data = recorded("group_propose")
    del data["message"]["text"]
    del data["message"]["entities"]
    data["message"]["left_chat_member"] = dict(data["message"]["from"])
    got = translate(update(data), BOT_ID)
    assert type(got) is MemberChange
    assert (got.chat, got.user_id, got.new_status, got.is_self) == (GROUP, 11, "left", False)


def test_migration() -> None:
    got = translated("migrate_to_supergroup")
    assert got == ChatMigrated(old_chat="telegram:-4012345678", new_chat=GROUP)


# --- buttons -------------------------------------------------------------------------------


def test_button_on_a_group_card() -> None:
    got = translated("callback_group_card")
    assert type(got) is ButtonPressed
    assert got.platform == "telegram"
    assert got.dedupe_key == "512340006"
    assert got.chat == GROUP
    assert got.sender == "telegram:12"
    assert got.sender_name == "Bob Okafor"
    assert got.data == "p:3:consent"
    assert got.answer_id == "4382093713409587261"
    assert got.message_ref == "2043"
    assert got.language_hint == "en"
    assert got.private is False
    assert got.platform_admin is False
    assert got.member is True
    assert got.member_count is None


def test_button_data_is_passed_on_uninterpreted() -> None:
    data = recorded("callback_group_card")
    data["callback_query"]["data"] = "p:999999:make_me_admin\x00"
    got = translate(update(data), BOT_ID)
    assert type(got) is ButtonPressed
    assert got.data == "p:999999:make_me_admin\x00"
    assert got.platform_admin is False


def test_button_without_data_gives_empty_data() -> None:
    data = recorded("callback_group_card")
    del data["callback_query"]["data"]
    data["callback_query"]["game_short_name"] = "garden"
    got = translate(update(data), BOT_ID)
    assert type(got) is ButtonPressed
    assert got.data == ""


def test_button_without_a_message() -> None:
    got = translated("callback_inline_no_message")
    assert type(got) is ButtonPressed
    assert got.dedupe_key == "512340007"
    assert got.chat == ""
    assert got.message_ref is None
    assert got.private is False
    assert got.sender == "telegram:11"
    assert got.sender_name == "Alice Martin"
    assert got.data == "p:3:consent"
    assert got.answer_id == "4382093713409590112"
    assert got.language_hint == "de"


def test_button_on_an_inaccessible_message() -> None:
    # Older than 48 hours: Telegram sends only chat, message_id and date 0.
    data = recorded("callback_group_card")
    data["callback_query"]["message"] = {
        "chat": data["callback_query"]["message"]["chat"],
        "message_id": 2043,
        "date": 0,
    }
    query = update(data).callback_query
    assert query is not None
    assert query.message is not None
    assert query.message.is_accessible is False  # PTB 22 keeps it a Message with ZERO_DATE
    got = translate(update(data), BOT_ID)
    assert type(got) is ButtonPressed
    assert got.chat == GROUP
    assert got.message_ref == "2043"


def test_button_in_a_private_chat() -> None:
    data = recorded("callback_group_card")
    data["callback_query"]["message"]["chat"] = {
        "id": 12,
        "first_name": "Bob",
        "last_name": "Okafor",
        "username": "bob_o",
        "type": "private",
    }
    got = translate(update(data), BOT_ID)
    assert type(got) is ButtonPressed
    assert got.chat == "telegram:12"
    assert got.private is True


# --- membership ----------------------------------------------------------------------------


def test_member_left() -> None:
    got = translated("chat_member_left")
    assert type(got) is MemberChange
    assert got.chat == GROUP
    assert got.user_id == 13
    assert got.is_bot is False
    assert got.old_status == "member"
    assert got.new_status == "left"
    assert got.is_self is False
    assert type(got.old_status) is str
    assert type(got.new_status) is str


def test_bot_added_as_administrator() -> None:
    got = translated("my_chat_member_added_admin")
    assert type(got) is MemberChange
    assert got.chat == GROUP
    assert got.user_id == BOT_ID
    assert got.is_bot is True
    assert got.old_status == "left"
    assert got.new_status == "administrator"
    assert got.is_self is True


# --- everything else -----------------------------------------------------------------------


def test_other_update_types_are_ignored() -> None:
    inline_query = {
        "update_id": 512340099,
        "inline_query": {
            "id": "4382093713409599999",
            "from": {"id": 11, "is_bot": False, "first_name": "Alice"},
            "query": "consent",
            "offset": "",
        },
    }
    assert translate(update(inline_query), BOT_ID) is None


def test_every_recorded_update_loads() -> None:
    names = sorted(p.stem for p in RECORDED.glob("*.json"))
    assert len(names) >= 15
    for name in names:
        translated(name)  # no exception on any recorded shape
