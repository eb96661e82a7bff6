"""The console group: several people typing in one terminal (or a piped script).

Input lines are ``name: text`` (``name@group: text`` for another console group); a line
ending in a backslash continues on the next line (texts may span lines); lines starting
with ``#`` are comments; ``:advance <duration>`` moves the console clock (``2h``,
``3d``, ``1d 6h``, ``90m``) and carries out what falls due on the way; ``:members <group>
name ...`` fixes a group's membership (others become non-members). Output lines start
with ``bot: `` (``bot@group: `` outside the main group).

It is a real adapter, used by ``charterbot demo`` and by the transcript tests.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import timedelta
from typing import TextIO

from bot.messages import Capabilities, MessageIn, Outbound, Sink, Wording

MAIN = "main"
_LINE = re.compile(r"^\s*([\w.\-]+)(?:@([\w.\-]+))?\s*:\s?(.*)$", re.DOTALL)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta | None:
    """``1d 6h`` -> 30 hours; None when the text is not a duration."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or _DURATION.sub("", text).strip():
        return None
    return sum((timedelta(**{_UNITS[u.lower()]: float(n)}) for n, u in parts), timedelta())


class ConsoleAdapter:
    platform = "console"
    caps = Capabilities(max_text=100_000, markup="plain", prefix="/")

    def __init__(
        self,
        mediators: Iterable[str],
        advance: Callable[[timedelta], Awaitable[None]],
        after_line: Callable[[], Awaitable[None]],
        out: TextIO | None = None,
    ) -> None:
        self.mediators = set(mediators)
        self.advance = advance
        self.after_line = after_line
        self.out = out or sys.stdout
        self.members: dict[str, set[str]] = {}
        self._counter = 0
        self._session = f"{id(self):x}"

    # -- output ------------------------------------------------------------------------

    async def send(self, chat: str, message: Outbound) -> str | None:
        group = chat.removeprefix("console:")
        label = "bot" if group == MAIN else f"bot@{group}"
        for line in message.text.split("\n"):
            self.out.write(f"{label}: {line}\n")
        self.out.flush()
        return None

    async def edit(self, chat: str, ref: str, word: Wording) -> None:
        return None  # the console shows no cards (``caps.buttons`` is false)

    def busy_for(self, chat: str) -> float:
        return 0.0

    def say(self, text: str) -> None:
        """A console notice that is not a bot message (parse errors of console lines)."""
        self.out.write(f"console: {text}\n")
        self.out.flush()

    def resolve_user(self, chat: str, user: str) -> tuple[str, str] | None:
        name = user.strip().lstrip("@")
        if not re.fullmatch(r"[\w.\-]+", name):
            return None
        return f"console:{name}", name

    # -- input -------------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        self._sink = sink

    async def stop_receiving(self) -> None:
        return None  # the console's lines are read by the App's own task

    async def stop(self) -> None:
        return None

    async def feed(self, lines: Iterable[str]) -> None:
        """Process lines in order, each fully (answers printed) before the next."""

        async def each() -> AsyncIterator[str]:
            for line in lines:
                yield line

        await self._consume(each())

    async def read_stream(self, stream: TextIO) -> None:
        """Read a terminal or a piped script until end of input."""
        loop = asyncio.get_running_loop()

        async def each() -> AsyncIterator[str]:
            while raw := await loop.run_in_executor(None, stream.readline):
                yield raw

        await self._consume(each())

    async def _consume(self, lines: AsyncIterator[str]) -> None:
        pending = ""
        async for raw in lines:
            line = raw.rstrip("\n")
            if line.endswith("\\"):
                pending += line[:-1] + "\n"
                continue
            await self.line(pending + line)
            pending = ""
        if pending:
            await self.line(pending.rstrip("\n"))

    async def line(self, line: str) -> None:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            return
        if stripped.startswith(":"):
            await self._directive(stripped[1:])
            return
        match = _LINE.match(line)
        if not match:
            self.say("expected `name: text`, `# comment` or `:advance <duration>`")
            return
        name, group, text = match.group(1), match.group(2) or MAIN, match.group(3)
        self._counter += 1
        known = self.members.get(group)
        message = MessageIn(
            platform=self.platform,
            dedupe_key=f"{self._session}:{self._counter}",
            chat=f"console:{group}",
            sender=f"console:{name}",
            sender_name=name,
            text=text,
            platform_admin=name in self.mediators,
            member=known is None or name in known,
            member_count=len(known) if known is not None else None,
            chat_title=group,
        )
        await self._sink([message], None)
        await self.after_line()

    async def _directive(self, text: str) -> None:
        word, _, rest = text.partition(" ")
        if word == "advance":
            delta = parse_duration(rest)
            if delta is None:
                self.say("expected a duration, e.g. `:advance 2h` or `:advance 3d`")
                return
            await self.advance(delta)
            await self.after_line()
        elif word == "members":
            group, *names = rest.split()
            self.members[group] = set(names)
        else:
            self.say(f"unknown directive :{word}; known: :advance, :members")
