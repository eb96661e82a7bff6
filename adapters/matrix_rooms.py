"""What the bot knows about a Matrix room's people: names, rights, who counts.

Read from the room's full state (``GET /rooms/{id}/state``), kept for a few minutes and
forgotten as soon as a state event that changes it passes through the sync. The rules:

- a mediator is a joined member whose power level is at least ``mediator_power_level``,
  or one of the room's creators in room versions where creators stand above power levels
  (version 12 onwards: the ``m.room.create`` sender and its ``additional_creators``, who
  appear in no ``m.room.power_levels`` and whom matrix-nio reports at level 0);
- the members who count for the quorum are the joined members minus the bot itself and the
  configured other bots.

Also the bot's private chats (``DirectRooms``): rooms created as direct chats with it, kept
in its ``m.direct`` account data, private while the bot and that one person are all the
joined members.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Room versions whose creators have unlimited power (MSC4289); later versions keep it.
_CREATOR_POWER_VERSIONS_FROM = 12


@dataclass(slots=True)
class RoomPeople:
    names: dict[str, str] = field(default_factory=dict)  # joined user id -> display name
    levels: dict[str, int] = field(default_factory=dict)
    default_level: int = 0
    creators: frozenset[str] = frozenset()
    encrypted: bool = False
    title: str = ""  # the room's name (``m.room.name``), what other groups call it

    def level(self, user_id: str) -> int:
        return self.levels.get(user_id, self.default_level)

    def is_mediator(self, user_id: str, threshold: int) -> bool:
        return user_id in self.creators or self.level(user_id) >= threshold

    def counted(self, excluded: frozenset[str]) -> int:
        return len(self.names.keys() - excluded)


def read_state(events: list[dict[str, Any]]) -> RoomPeople:
    """The room's people from its state events (the JSON of ``/state``)."""
    people = RoomPeople()
    version = "1"
    creator: str | None = None
    additional: list[str] = []
    for event in events:
        kind, content = event.get("type"), event.get("content") or {}
        if kind == "m.room.member" and content.get("membership") == "join":
            user = event.get("state_key", "")
            people.names[user] = str(content.get("displayname") or user)
        elif kind == "m.room.power_levels":
            users = content.get("users") or {}
            people.levels = {u: _int(v) for u, v in users.items()}
            people.default_level = _int(content.get("users_default", 0))
        elif kind == "m.room.create":
            version = str(content.get("room_version", "1"))
            creator = event.get("sender")
            extra = content.get("additional_creators") or []
            additional = [u for u in extra if isinstance(u, str)]
        elif kind == "m.room.encryption":
            people.encrypted = True
        elif kind == "m.room.name":
            people.title = str(content.get("name") or "")
    if _creators_rule(version) and creator:
        people.creators = frozenset([creator, *additional])
    return people


def _creators_rule(version: str) -> bool:
    try:
        return int(version) >= _CREATOR_POWER_VERSIONS_FROM
    except ValueError:
        return False  # experimental versions ("org.example.1"): power levels alone


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


@dataclass(slots=True)
class DirectRooms:
    """The bot's private chats: room id -> the person it talks with there. Kept in the bot's
    ``m.direct`` account data (``{user id: [room ids]}``, the Matrix standard)."""

    person: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_account_data(cls, content: object) -> DirectRooms:
        """Read leniently: the account data may have been written by another client."""
        rooms = cls()
        if isinstance(content, dict):
            for user, room_ids in content.items():
                if isinstance(user, str) and isinstance(room_ids, list):
                    for room_id in room_ids:
                        if isinstance(room_id, str):
                            rooms.person[room_id] = user
        return rooms

    def account_data(self) -> dict[str, list[str]]:
        content: dict[str, list[str]] = {}
        for room_id, user in sorted(self.person.items()):
            content.setdefault(user, []).append(room_id)
        return content

    def with_room(self, room_id: str, user_id: str) -> DirectRooms:
        return DirectRooms({**self.person, room_id: user_id})

    def without(self, room_ids: set[str]) -> DirectRooms:
        return DirectRooms({r: u for r, u in self.person.items() if r not in room_ids})


def still_private(events: list[dict[str, Any]], person: str, own_user_id: str) -> bool:
    """Whether a direct room is still the bot's private chat with ``person`` after these
    state and timeline events (in order): not once the person has left or been banned, or
    someone else has joined."""
    final: dict[str, str] = {}
    for event in events:
        if event.get("type") == "m.room.member" and isinstance(event.get("state_key"), str):
            final[event["state_key"]] = str((event.get("content") or {}).get("membership"))
    if final.get(person, "join") != "join":
        return False
    return not any(
        membership == "join"
        for user, membership in final.items()
        if user not in (person, own_user_id)
    )
