"""The small platform-neutral vocabulary between adapters and the bot.

Adapters turn platform payloads into these and deliver ``Outbound`` text; nothing here
knows a platform. ``dedupe_key`` is the platform's own id of the update (Telegram
``update_id``, Matrix ``event_id``, the console's line counter), so an update is handled
once even when a platform delivers it twice or the bot restarts mid-way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class MessageIn:
    platform: str
    dedupe_key: str
    chat: str  # the group id, e.g. "console:main"
    sender: str  # the person id, e.g. "console:alice"
    sender_name: str
    text: str
    platform_admin: bool = False
    member: bool = True
    member_count: int | None = None
    language_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    max_text: int  # characters per message
    markup: str  # "plain" | "html"
    prefix: str  # the command prefix
    username: str | None = None  # the bot's own name, for "/cmd@name" addressed to it


Sink = Callable[[MessageIn], Awaitable[None]]


class Adapter(Protocol):
    """One platform. Holds no deliberation logic."""

    platform: str
    caps: Capabilities

    async def start(self, sink: Sink) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, chat: str, text: str) -> None: ...

    def resolve_user(self, chat: str, user: str) -> tuple[str, str] | None:
        """A person id and display name for a user named in a command, or None."""
        ...
