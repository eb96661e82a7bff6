"""What the bot knows about a Matrix room's people: names, rights, who counts.

Read from the room's full state (``GET /rooms/{id}/state``), kept for a few minutes and
forgotten as soon as a state event that changes it passes through the sync. The rules:

- a mediator is a joined member whose power level is at least ``mediator_power_level``,
  or one of the room's creators in room versions where creators stand above power levels
  (version 12 onwards: the ``m.room.create`` sender and its ``additional_creators``, who
  appear in no ``m.room.power_levels`` and whom matrix-nio reports at level 0);
- the members who count for the quorum are the joined members minus the bot itself and the
  configured other bots.
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
