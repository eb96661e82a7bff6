"""Matrix room events into the bot's platform-neutral vocabulary (``bot/messages.py``).

``translate`` is a pure function of one event (its JSON, as the client-server API gives it
in ``/sync`` and ``/messages``), the room and the bot's own user id: no network, no store.
It reads untrusted payloads, so it is small and tested against recorded event JSON.

- ``m.room.message`` (text, emote, notice from people) -> ``MessageIn``; a reply names the
  event it answers (``m.in_reply_to``), and its quoted fallback (``> ...`` lines) is cut.
  Edits (``m.replace``) are ignored, as on Telegram: a command is carried out once.
- ``m.reaction`` -> ``Reaction`` with the key normalised (variation selectors and skin
  tones removed), so ``✋🏽`` and ``✋`` are one answer.
- ``m.room.redaction`` -> ``Reaction(removed=True)`` naming the redacted event: removing a
  reaction arrives as the redaction of the reaction event. Whether that event was a
  reaction at all is for the router to find out (it stores the reactions it counted).
- state that decides rights or counts (members, power levels, the room's creation) ->
  ``StateChanged``, so the adapter forgets what it cached about the room.
- ``m.room.encrypted`` -> ``Encrypted``: a message the bot could not read.

Who is a member, a mediator, how many people count: looked up by the adapter afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.messages import MessageIn, Reaction

PLATFORM = "matrix"
_STATE_TYPES = frozenset(
    {"m.room.member", "m.room.power_levels", "m.room.create", "m.room.encryption", "m.room.name"}
)
_TEXT_TYPES = frozenset({"m.text", "m.emote", "m.notice"})
# Variation selectors (text/emoji presentation) and the five skin-tone modifiers.
_DECORATION = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class StateChanged:
    """Membership, power levels or the room's creation changed."""

    chat: str
    event_type: str
    user_id: str | None  # the member concerned (``state_key``) for ``m.room.member``
    membership: str | None


@dataclass(frozen=True, slots=True)
class Encrypted:
    """An encrypted event the bot could not decrypt."""

    chat: str
    event_id: str


Translated = MessageIn | Reaction | StateChanged | Encrypted | None


def chat_id(room_id: str) -> str:
    return f"{PLATFORM}:{room_id}"


def person_id(user_id: str) -> str:
    return f"{PLATFORM}:{user_id}"


def normalise_key(key: str) -> str:
    """A reaction key as the bot compares it: ``⚠️`` and ``⚠``, ``✋🏽`` and ``✋`` alike."""
    return _DECORATION.sub("", key).strip()


def translate(event: Json, room_id: str, own_user_id: str) -> Translated:
    """One timeline event of ``room_id``, or None when it is nothing for the bot."""
    kind = event.get("type")
    sender = event.get("sender")
    event_id = event.get("event_id")
    content = event.get("content")
    if not isinstance(sender, str) or not isinstance(event_id, str):
        return None
    if not isinstance(content, dict):
        content = {}
    chat = chat_id(room_id)
    if kind in _STATE_TYPES and "state_key" in event:
        return StateChanged(
            chat=chat,
            event_type=kind,
            user_id=event["state_key"] if kind == "m.room.member" else None,
            membership=content.get("membership") if kind == "m.room.member" else None,
        )
    if sender == own_user_id:
        return None  # the bot's own messages and seeded reactions
    if kind == "m.room.message":
        return _message(event_id, chat, sender, content)
    if kind == "m.reaction":
        relation = content.get("m.relates_to")
        if not isinstance(relation, dict) or relation.get("rel_type") != "m.annotation":
            return None
        target, key = relation.get("event_id"), relation.get("key")
        if not isinstance(target, str) or not isinstance(key, str):
            return None
        return _reaction(event_id, chat, sender, normalise_key(key), target, event_id)
    if kind == "m.room.redaction":
        # Room versions up to 10 carry ``redacts`` at the top; 11 and later in the content.
        redacts = content.get("redacts") or event.get("redacts")
        if not isinstance(redacts, str):
            return None
        return _reaction(event_id, chat, sender, "", None, redacts, removed=True)
    if kind == "m.room.encrypted":
        return Encrypted(chat=chat, event_id=event_id)
    return None


def _reaction(
    event_id: str,
    chat: str,
    sender: str,
    key: str,
    target: str | None,
    reaction_ref: str,
    removed: bool = False,
) -> Reaction:
    return Reaction(
        platform=PLATFORM,
        dedupe_key=event_id,
        chat=chat,
        sender=person_id(sender),
        sender_name=sender,
        key=key,
        message_ref=target,
        reaction_ref=reaction_ref,
        removed=removed,
    )


def _message(event_id: str, chat: str, sender: str, content: Json) -> MessageIn | None:
    body = content.get("body")
    if content.get("msgtype") not in _TEXT_TYPES or not isinstance(body, str):
        return None
    relation = content.get("m.relates_to")
    reply_to = None
    if isinstance(relation, dict):
        if relation.get("rel_type") == "m.replace":
            return None  # an edit: see the module docstring
        in_reply_to = relation.get("m.in_reply_to")
        if isinstance(in_reply_to, dict) and isinstance(in_reply_to.get("event_id"), str):
            reply_to = in_reply_to["event_id"]
            body = strip_reply_fallback(body)
    return MessageIn(
        platform=PLATFORM,
        dedupe_key=event_id,
        chat=chat,
        sender=person_id(sender),
        sender_name=sender,
        text=body,
        reply_to=reply_to,
    )


def strip_reply_fallback(body: str) -> str:
    """A reply's body without the quoted lines older clients put before it."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index < len(lines) and lines[index] == "":
        index += 1
    return "\n".join(lines[index:])
