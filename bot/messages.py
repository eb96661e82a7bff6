"""The small platform-neutral vocabulary between adapters and the bot.

Adapters turn platform payloads into these and deliver ``Outbound`` messages; nothing here
knows a platform. ``dedupe_key`` is the platform's own id of the update (Telegram
``update_id``, Matrix ``event_id``, the console's line counter), so an update is handled
once even when a platform delivers it twice or the bot restarts mid-way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class MessageIn:
    """A person wrote in a chat."""

    platform: str
    dedupe_key: str
    chat: str  # the group id, e.g. "console:main", "telegram:-100123"
    sender: str  # the person id, e.g. "console:alice", "telegram:42"
    sender_name: str
    text: str
    platform_admin: bool = False
    member: bool = True
    member_count: int | None = None
    language_hint: str | None = None
    private: bool = False  # a one-to-one chat with the bot, not a group
    reply_to: str | None = None  # the platform's id of the bot's message this one answers
    chat_title: str | None = None  # the group's name on its platform, when known
    replied_person: tuple[str, str] | None = None  # (id, name) of a person answered instead


@dataclass(frozen=True, slots=True)
class ButtonPressed:
    """A person pressed one of the bot's buttons.

    ``data`` is whatever the client sent: it may be forged, so it is parsed as a request
    and checked like a typed command. ``answer_id`` is what the adapter needs to answer
    the press (Telegram's callback query id); the answer is sent only after the commit.
    """

    platform: str
    dedupe_key: str
    chat: str
    sender: str
    sender_name: str
    data: str
    answer_id: str
    message_ref: str | None = None  # the message that carried the button
    platform_admin: bool = False
    member: bool = True
    member_count: int | None = None
    language_hint: str | None = None
    private: bool = False


@dataclass(frozen=True, slots=True)
class Reaction:
    """A person reacted to one of the bot's messages (Matrix), or took a reaction back.

    ``key`` is normalised (no variation selectors or skin tones). A removal is the
    redaction of an event, ``reaction_ref``; only the router knows whether that event was a
    reaction it counted, so a removal carries no key and no target.
    """

    platform: str
    dedupe_key: str
    chat: str
    sender: str
    sender_name: str
    key: str
    message_ref: str | None  # the message reacted to
    reaction_ref: str  # the reaction event's own id
    removed: bool = False
    platform_admin: bool = False
    member: bool = True
    member_count: int | None = None
    language_hint: str | None = None
    private: bool = False


Inbound = MessageIn | ButtonPressed | Reaction


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a platform's update stream stands (Telegram's next offset, Matrix next_batch),
    stored in the same commit as the effects of the updates before it."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    data: str  # at most 64 bytes on Telegram; the router re-validates it when pressed


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message as the bot wants it shown; ``text`` is already in the platform's markup."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()  # rows of buttons
    force_reply: bool = False  # ask the client to open a reply to this message
    reply_to: str | None = None  # the platform's id of the message this one answers
    # The same every time this message is tried again, so a platform that deduplicates
    # sends by transaction id (Matrix) shows it once even if an earlier try got through.
    txn_id: str | None = None
    mention: tuple[str, str] | None = None  # (person id, name) the text addresses


@dataclass(frozen=True, slots=True)
class Capabilities:
    max_text: int  # characters per message (Telegram: UTF-16 code units)
    markup: str  # "plain" | "html"
    prefix: str  # the command prefix
    username: str | None = None  # the bot's own name, for "/cmd@name" addressed to it
    buttons: bool = False  # live cards with buttons instead of plain announcements
    reactions: bool = False  # the buttons are reactions people add to the card (Matrix)
    # Each chat delivered by its own worker (the platform paces per chat); else one worker
    # keeps the platform's whole output in order (the console's transcript).
    parallel_chats: bool = False


class DeliveryError(Exception):
    """A send or edit that did not go through.

    ``retry_after`` is the platform's own wait (seconds) when it gave one; ``permanent``
    means retrying cannot help (the bot was removed from the chat, the message is gone).
    """

    def __init__(
        self, reason: str, *, retry_after: float | None = None, permanent: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.permanent = permanent


# A message edit's new content, worded when the edit may go (see ``Adapter.edit``).
Wording = Callable[[], Awaitable["Outbound | None"]]

# The bot's answer to each item of a batch: for a button press the short note shown to the
# presser (None for other items). Returned only after the batch was committed.
Sink = Callable[[Sequence[Inbound], Cursor | None], Awaitable[list[str | None]]]


class Adapter(Protocol):
    """One platform. Holds no deliberation logic."""

    platform: str
    caps: Capabilities

    async def start(self, sink: Sink) -> None: ...

    async def stop_receiving(self) -> None:
        """Take no more updates, and return once the batch in hand (if any) is committed:
        the first step of a graceful stop (the outbox may still send through the adapter)."""
        ...

    async def stop(self) -> None: ...

    async def send(self, chat: str, message: Outbound) -> str | None:
        """Post a message; returns the platform's id of it (to edit it later), if any."""
        ...

    async def edit(self, chat: str, ref: str, word: Wording) -> None:
        """Bring the message ``ref`` up to date: ``word()`` gives it as it should look,
        called once the platform's limits let the edit go (so a card waiting its turn
        under a load goes out with every change made meanwhile); None: leave it."""
        ...

    def busy_for(self, chat: str) -> float:
        """Seconds until ``chat`` may take another message (flood limits); 0 if now."""
        ...

    def resolve_user(self, chat: str, user: str) -> tuple[str, str] | None:
        """A person id and display name for a user named in a command, or None."""
        ...
