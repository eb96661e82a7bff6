"""charterbot (``App`` with the Matrix adapter) and people, all real Matrix clients.

The bot runs ``App.run_forever`` in a background thread with its own event loop, exactly as
``charterbot run`` does, syncing with the test Synapse over HTTP on 127.0.0.1. People are
matrix-nio ``AsyncClient``s driven from the test thread through a loop of their own
(``Loop``); they read the room as a client shows it: the bot's messages with their latest
edit applied, and the reactions on them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import peewee
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    MessageDirection,
    RoomMessagesResponse,
)

from adapters.matrix import MatrixAdapter
from bot.app import App
from bot.config import Config, ConsoleConfig, DatabaseConfig, MatrixConfig
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from deliberation.timers import ManualClock
from tests.app_thread import AppThread
from tests.fakes.synapse import Synapse

if TYPE_CHECKING:
    from tests.matrix.conftest import MatrixUser

T = TypeVar("T")
START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
Json = dict[str, Any]


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class Loop:
    """An event loop in a thread, for the people's clients."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


class Person:
    """Someone in the rooms, through a real nio client."""

    def __init__(self, loop: Loop, synapse: Synapse, user: MatrixUser) -> None:
        self.loop = loop
        self.user_id = user.user_id

        async def make() -> AsyncClient:
            client = AsyncClient(synapse.url, user.user_id)
            client.access_token = user.access_token
            return client

        self.client = loop.run(make())

    @staticmethod
    def _ok(response: Any) -> Any:
        if isinstance(response, ErrorResponse):
            raise AssertionError(f"the homeserver refused: {response}")
        return response

    def create_room(self, invite: list[str], **options: Any) -> str:
        response = self.loop.run(self.client.room_create(invite=invite, **options))
        return self._ok(response).room_id

    def join(self, room_id: str) -> None:
        self._ok(self.loop.run(self.client.join(room_id)))

    def leave(self, room_id: str) -> None:
        self.loop.run(self.client.room_leave(room_id))

    def say(self, room_id: str, text: str, reply_to: str | None = None) -> str:
        content: Json = {"msgtype": "m.text", "body": text}
        if reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": reply_to}}
        return self.send(room_id, "m.room.message", content)

    def send(self, room_id: str, kind: str, content: Json) -> str:
        return self._ok(self.loop.run(self.client.room_send(room_id, kind, content))).event_id

    def react(self, room_id: str, event_id: str, key: str) -> str:
        relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
        return self.send(room_id, "m.reaction", {"m.relates_to": relation})

    def redact(self, room_id: str, event_id: str) -> None:
        self._ok(self.loop.run(self.client.room_redact(room_id, event_id)))

    def power(self, room_id: str, levels: dict[str, int]) -> None:
        """Set users' power levels in the room (as its creator or an admin)."""

        async def change() -> None:
            state = await self.client.room_get_state_event(room_id, "m.room.power_levels")
            content = dict(state.content)
            content["users"] = {**content.get("users", {}), **levels}
            await self.client.room_put_state(room_id, "m.room.power_levels", content)

        self.loop.run(change())

    def events(self, room_id: str) -> list[Json]:
        """The room's recent events, oldest first."""

        async def read() -> list[Json]:
            response = await self.client.room_messages(
                room_id, start="", direction=MessageDirection.back, limit=500
            )
            assert isinstance(response, RoomMessagesResponse), response
            return [event.source for event in reversed(response.chunk)]

        return self.loop.run(read())

    def bot_messages(self, room_id: str, bot: str) -> list[Json]:
        """The bot's messages as a client shows them: each with its latest edit and the
        reactions on it (``reactions``: key -> senders)."""
        events = self.events(room_id)
        shown: dict[str, Json] = {}
        for event in events:
            if event.get("type") != "m.room.message" or event.get("sender") != bot:
                continue
            content = event.get("content") or {}
            relation = content.get("m.relates_to") or {}
            if relation.get("rel_type") == "m.replace":
                target = shown.get(relation.get("event_id", ""))
                if target is not None:
                    target["content"] = content.get("m.new_content", {})
                    target["edits"] += 1
                continue
            shown[event["event_id"]] = {
                "event_id": event["event_id"],
                "content": content,
                "edits": 0,
                "reactions": {},
            }
        redacted = {
            (e.get("content") or {}).get("redacts") or e.get("redacts")
            for e in events
            if e.get("type") == "m.room.redaction"
        }
        for event in events:
            relation = (event.get("content") or {}).get("m.relates_to") or {}
            if event.get("type") != "m.reaction" or event["event_id"] in redacted:
                continue
            target = shown.get(relation.get("event_id", ""))
            if target is not None:
                target["reactions"].setdefault(relation.get("key"), []).append(event["sender"])
        return list(shown.values())

    def find(self, room_id: str, bot: str, needle: str) -> Json | None:
        """The first bot message whose text contains ``needle``."""
        for message in self.bot_messages(room_id, bot):
            if needle in message["content"].get("body", ""):
                return message
        return None

    def close(self) -> None:
        self.loop.run(self.client.close())


class EncryptedPerson(Person):
    """Someone with an end-to-end encrypting client (its own device and key store). Before
    each action it syncs and does the key work a client does, so it has the room keys
    others shared with it and shares its own."""

    def __init__(self, loop: Loop, synapse: Synapse, user: MatrixUser, store: str) -> None:
        self.loop = loop
        self.user_id = user.user_id

        async def make() -> AsyncClient:
            config = AsyncClientConfig(encryption_enabled=True, store_sync_tokens=True)
            client = AsyncClient(
                synapse.url, user.user_id, device_id="PHONE", store_path=store, config=config
            )
            response = await client.login(user.password)
            assert not isinstance(response, ErrorResponse), response
            return client

        self.client = loop.run(make())
        loop.run(self._catch_up())

    async def _catch_up(self) -> None:
        await self.client.sync(timeout=0, full_state=self.client.next_batch is None)
        await self.client.send_to_device_messages()
        if self.client.should_upload_keys:
            await self.client.keys_upload()
        if self.client.should_query_keys:
            try:
                await self.client.keys_query()
            except peewee.IntegrityError:
                # nio 0.26's key store now and then refuses to save a device it already
                # has (this client's store, not the bot's); the next catch-up asks again.
                pass
        if self.client.should_claim_keys:
            await self.client.keys_claim(self.client.get_users_for_key_claiming())

    def send(self, room_id: str, kind: str, content: Json) -> str:
        async def send() -> Any:
            await self._catch_up()
            return await self.client.room_send(
                room_id, kind, content, ignore_unverified_devices=True
            )

        return self._ok(self.loop.run(send())).event_id

    def create_room(self, invite: list[str], **options: Any) -> str:
        room = super().create_room(invite, **options)
        self.loop.run(self._catch_up())
        return room

    def join(self, room_id: str) -> None:
        super().join(room_id)
        self.loop.run(self._catch_up())

    def events(self, room_id: str) -> list[Json]:
        self.loop.run(self._catch_up())
        return super().events(room_id)


def joined(person: Person, room_id: str) -> set[str]:
    """Who is joined to the room, as ``person`` sees its history."""
    return {
        e["state_key"]
        for e in person.events(room_id)
        if e.get("type") == "m.room.member" and (e.get("content") or {}).get("membership") == "join"
    }


def meeting(bot: RunningMatrixBot, creator: Person, *others: Person, **options: Any) -> str:
    """A room ``creator`` made, with the bot and ``others`` joined; its id."""
    room = creator.create_room(invite=[bot.user_id, *(o.user_id for o in others)], **options)
    for other in others:
        other.join(room)
    wait_for(lambda: bot.user_id in joined(creator, room), "the bot to accept the invite")
    return room


def direct_chat(bot: RunningMatrixBot, someone: Person) -> str:
    """A direct chat ``someone`` opened with the bot (as clients do: ``is_direct``), once the
    bot has joined it; its id."""
    room = someone.create_room(invite=[bot.user_id], is_direct=True)
    wait_for(lambda: bot.user_id in joined(someone, room), "the bot to join the direct chat")
    return room


class RunningMatrixBot:
    """The bot on ``db_url`` with ``account``'s Matrix login; ``restart`` keeps the store."""

    def __init__(
        self,
        synapse: Synapse,
        db_url: str,
        account: MatrixUser,
        *,
        allowed_inviters: tuple[str, ...] = ("*:localhost",),
        other_bots: tuple[str, ...] = (),
        clock: ManualClock | None = None,
        encryption_store: str | None = None,
        **adapter_options: Any,
    ) -> None:
        self.synapse = synapse
        self.db_url = db_url
        self.account = account
        self.user_id = account.user_id
        self.clock = clock or ManualClock(START)
        self.matrix_config = MatrixConfig(
            enabled=True,
            homeserver=synapse.url,
            user_id=account.user_id,
            password=account.password,
            allowed_inviters=allowed_inviters,
            other_bots=other_bots,
            encryption=encryption_store is not None,
            store_path=encryption_store or "matrix-store",
        )
        self.adapter_options = {"sync_timeout_ms": 1000, **adapter_options}
        self.db = Database(db_url)
        upgrade(self.db.engine)
        self._runner: AppThread | None = None

    def start(self) -> RunningMatrixBot:
        config = dataclasses.replace(
            Config(),
            database=DatabaseConfig(url=self.db_url),
            console=ConsoleConfig(enabled=False),
            matrix=self.matrix_config,
        )
        self.app = App.build(config, self.clock, self.db)
        self.matrix: MatrixAdapter = self.app.add_matrix(**self.adapter_options)
        runner = self._runner = AppThread(self.app)
        self.loop = runner.loop
        runner.start()
        wait_for(lambda: self.matrix.ready, "the bot's first sync")
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self._runner.stop()
        self._runner = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def advance(self, delta: timedelta) -> None:
        """Move the bot's manual clock, carrying out each deadline on the way (and
        delivering what it says), as the Telegram harness does."""
        assert self._runner is not None
        self._runner.call(self.app.advance(delta), timeout=60)

    def close(self) -> None:
        self.stop()
        self.db.engine.dispose()

    def __enter__(self) -> RunningMatrixBot:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
