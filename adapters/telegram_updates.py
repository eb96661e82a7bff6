"""Telegram updates into the bot's platform-neutral vocabulary (``bot/messages.py``).

``translate`` is a pure function of one ``telegram.Update`` and the bot's own user id: no
network, no clock, no store. That keeps the part of the adapter that reads untrusted
payloads small and tested against recorded Bot API JSON (``tests/telegram/recorded/``),
loaded with ``Update.de_json`` exactly as the polling and webhook paths load them.

Edited messages are ignored on purpose. A command is carried out once, when it is first
sent; re-running it because its text was edited later would act twice (or act on a
command the group already saw answered), and the edit could rewrite a command after
others reacted to it. Someone who wants a different command sends a new message.

Nothing here decides who may do what. The payload only says who sent something and where;
whether that person is an administrator or a member of the group (``platform_admin``,
``member``, ``member_count``) is looked up by the adapter afterwards from the platform and
filled in with ``dataclasses.replace``, and button ``data`` is handed on uninterpreted:
a client can send any callback data it likes, so the router parses and checks it like a
typed command.
"""

from __future__ import annotations

from dataclasses import dataclass

import telegram
from telegram.constants import ChatType

from bot.messages import ButtonPressed, MessageIn

PLATFORM = "telegram"


@dataclass(frozen=True, slots=True)
class MemberChange:
    """Someone's status in a chat changed (``chat_member`` / ``my_chat_member``)."""

    chat: str  # "telegram:<chat id>"
    user_id: int
    is_bot: bool
    old_status: str  # ChatMember.status: creator/administrator/member/restricted/left/kicked
    new_status: str
    is_self: bool  # the change concerns the bot itself (my_chat_member)


@dataclass(frozen=True, slots=True)
class ChatMigrated:
    """A group became a supergroup, which gives it a new chat id."""

    old_chat: str
    new_chat: str


Translated = MessageIn | ButtonPressed | MemberChange | ChatMigrated | None


def chat_id(telegram_chat_id: int) -> str:
    return f"{PLATFORM}:{telegram_chat_id}"


def person_id(telegram_user_id: int) -> str:
    return f"{PLATFORM}:{telegram_user_id}"


def translate(update: telegram.Update, bot_id: int) -> Translated:
    """One update as the bot sees it, or None when the bot has nothing to do with it.

    ``bot_id`` is the bot's own Telegram user id: it tells replies to the bot apart from
    other replies and identifies the bot in ``my_chat_member``. Edited messages, channel
    posts, messages from bots or sent on behalf of a chat, and messages without text all
    give None; so does every update type not handled here.
    """
    dedupe_key = str(update.update_id)
    if update.message is not None:
        return _message(update.message, dedupe_key, bot_id)
    if update.callback_query is not None:
        return _button(update.callback_query, dedupe_key)
    if update.chat_member is not None:
        return _member_change(update.chat_member, user_id=None)
    if update.my_chat_member is not None:
        return _member_change(update.my_chat_member, user_id=bot_id)
    # edited_message, channel_post, edited_channel_post, inline queries, polls, business
    # messages, reactions ... : nothing for the bot to do.
    return None


def _message(message: telegram.Message, dedupe_key: str, bot_id: int) -> Translated:
    # A service message written by Telegram itself, whoever triggered the upgrade.
    if message.migrate_to_chat_id is not None:
        return ChatMigrated(
            old_chat=chat_id(message.chat.id), new_chat=chat_id(message.migrate_to_chat_id)
        )
    left = message.left_chat_member
    if left is not None:
        # Someone left or was removed. Every bot gets this service message, also one that
        # is no administrator and so gets no chat_member updates: without it, membership
        # remembered from their last message would let them press card buttons for minutes.
        return MemberChange(
            chat=chat_id(message.chat.id),
            user_id=left.id,
            is_bot=left.is_bot,
            old_status="member",
            new_status="left",
            is_self=left.id == bot_id,
        )
    user = message.from_user
    if user is None or user.is_bot or message.sender_chat is not None:
        # Channels, anonymous administrators (from = GroupAnonymousBot, sender_chat = the
        # group), automatic forwards from a linked channel, other bots: no person to act for.
        return None
    if message.text is None:
        # Photos, stickers, captions, service messages (new_chat_members, pins, ...):
        # membership arrives as chat_member updates instead.
        return None
    return MessageIn(
        platform=PLATFORM,
        dedupe_key=dedupe_key,
        chat=chat_id(message.chat.id),
        sender=person_id(user.id),
        sender_name=user.full_name,
        text=message.text,
        language_hint=user.language_code,
        private=message.chat.type == ChatType.PRIVATE,
        chat_title=message.chat.title,
        reply_to=_reply_to_bot(message, bot_id),
        replied_person=_replied_person(message, bot_id),
    )


def _replied_person(message: telegram.Message, bot_id: int) -> tuple[str, str] | None:
    """The person (id, name) whose message this one answers (``/mediator add`` by reply)."""
    replied = message.reply_to_message
    if replied is None or replied.forum_topic_created is not None:
        return None
    user = replied.from_user
    if user is None or user.is_bot or user.id == bot_id or replied.sender_chat is not None:
        return None
    return person_id(user.id), user.full_name


def _reply_to_bot(message: telegram.Message, bot_id: int) -> str | None:
    """The id of the bot's message this one answers, or None."""
    replied = message.reply_to_message
    if replied is None or replied.from_user is None or replied.from_user.id != bot_id:
        return None
    if replied.forum_topic_created is not None:
        # In a forum topic every message "replies" to the topic's creation message, even
        # when the bot created the topic: that is not an answer to the bot.
        return None
    return str(replied.message_id)


def _button(query: telegram.CallbackQuery, dedupe_key: str) -> ButtonPressed:
    # query.message is None for buttons on inline-mode messages; an InaccessibleMessage
    # (older than 48 hours) still has its chat and message id.
    carrier = query.message
    user = query.from_user
    return ButtonPressed(
        platform=PLATFORM,
        dedupe_key=dedupe_key,
        chat=chat_id(carrier.chat.id) if carrier is not None else "",
        sender=person_id(user.id),
        sender_name=user.full_name,
        data=query.data or "",  # untrusted: parsed and checked by the router, not here
        answer_id=query.id,
        message_ref=str(carrier.message_id) if carrier is not None else None,
        language_hint=user.language_code,
        private=carrier is not None and carrier.chat.type == ChatType.PRIVATE,
    )


def _member_change(change: telegram.ChatMemberUpdated, *, user_id: int | None) -> MemberChange:
    """``user_id`` is the bot's own id for ``my_chat_member``, None for ``chat_member``."""
    user = change.new_chat_member.user
    return MemberChange(
        chat=chat_id(change.chat.id),
        user_id=user.id if user_id is None else user_id,
        is_bot=user.is_bot,
        old_status=str(change.old_chat_member.status),
        new_status=str(change.new_chat_member.status),
        is_self=user_id is not None,
    )
