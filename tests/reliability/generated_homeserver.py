"""A loopback stand-in for a Matrix homeserver: the few client-server endpoints the Matrix
adapter uses, for the generated-input test (why not Synapse: see test_generated_input.py).

It serves, in the client-server API's JSON:

- ``GET /sync``: the events the test queued (``post``), all at once, as one room timeline
  per room; with nothing queued it long-polls like Synapse. ``synced_past(token)`` tells
  when the bot asked for more after a batch: it does so only once the batch is committed.
- ``GET /rooms/{room}/state``: the room's state (creation, power levels, members, name);
  a queued ``m.room.member`` event changes it, as it would on a homeserver.
- ``PUT /rooms/{room}/send/{type}/{txn}``: the bot's messages, edits and reactions, kept in
  ``sent`` (a send repeated with the same transaction id gets the same event id).
- ``GET /user/{user}/account_data/m.direct``: none yet (404 ``M_NOT_FOUND``).

Anything else is answered 404 ``M_UNRECOGNIZED`` and listed in ``unknown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

Json = dict[str, Any]
API = "/_matrix/client/v3"


@dataclass
class Sent:
    room_id: str
    event_type: str
    content: Json
    event_id: str


class StandInHomeserver:
    def __init__(self, server_name: str = "gen") -> None:
        self.server_name = server_name
        self.state: dict[str, list[Json]] = {}
        self.sent: list[Sent] = []
        self.unknown: list[str] = []
        self._queued: list[tuple[str, Json]] = []
        self._txns: dict[tuple[str, str], str] = {}
        self._ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._seen_since: set[str] = set()
        self._pending_token = ""
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- the test's side (any thread) ------------------------------------------------------

    def new_id(self) -> str:
        return f"${next(self._ids)}:{self.server_name}"

    def add_room(self, room_id: str, creator: str, members: dict[str, str], name: str) -> None:
        """A room with ``creator`` (power 100) and ``members`` (user id -> display name)."""
        state: list[Json] = [
            self._state("m.room.create", "", creator, {"room_version": "10", "creator": creator}),
            self._state(
                "m.room.power_levels", "", creator, {"users": {creator: 100}, "users_default": 0}
            ),
            self._state("m.room.name", "", creator, {"name": name}),
        ]
        for user, display in members.items():
            state.append(
                self._state(
                    "m.room.member", user, user, {"membership": "join", "displayname": display}
                )
            )
        self._call(self.state.__setitem__, room_id, state)

    def post(self, events: list[tuple[str, Json]]) -> str:
        """Queue (room id, event) pairs for the next sync; returns the token that sync ends
        with (``synced_past`` tells when the bot asked beyond it)."""
        return self._call(self._post, events)

    def synced_past(self, token: str) -> bool:
        return token in self._seen_since

    def _call(self, fn: Any, *args: Any) -> Any:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._run(fn, *args), self._loop)
        return future.result(10)

    @staticmethod
    async def _run(fn: Any, *args: Any) -> Any:
        return fn(*args)

    def _state(self, kind: str, key: str, sender: str, content: Json) -> Json:
        return {
            "type": kind,
            "state_key": key,
            "sender": sender,
            "content": content,
            "event_id": self.new_id(),
            "origin_server_ts": 1_700_000_000_000,
        }

    def _post(self, events: list[tuple[str, Json]]) -> str:
        for room_id, event in events:
            if event.get("type") == "m.room.member" and "state_key" in event:
                state = self.state[room_id]
                state[:] = [
                    e
                    for e in state
                    if not (e["type"] == "m.room.member" and e["state_key"] == event["state_key"])
                ]
                state.append(event)
        self._queued.extend(events)
        token = f"s{next(self._tokens)}"
        self._pending_token = token
        assert self._wake is not None
        self._wake.set()
        return token

    # -- the server --------------------------------------------------------------------

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls) -> Iterator[StandInHomeserver]:
        server = cls()
        started = threading.Event()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(server._start())
            started.set()
            loop.run_forever()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        started.wait(10)
        try:
            yield server
        finally:
            asyncio.run_coroutine_threadsafe(server._stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    async def _start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_get(f"{API}/sync", self._sync)
        app.router.add_get(f"{API}/rooms/{{room}}/state", self._room_state)
        app.router.add_put(f"{API}/rooms/{{room}}/send/{{type}}/{{txn}}", self._send)
        app.router.add_get(f"{API}/user/{{user}}/account_data/{{type}}", self._account_data)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _sync(self, request: web.Request) -> web.Response:
        since = request.query.get("since")
        if since:
            self._seen_since.add(since)
        timeout = int(request.query.get("timeout", "0")) / 1000
        assert self._wake is not None
        if not self._queued and since and timeout > 0:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
        events, self._queued = self._queued, []
        token = self._pending_token if events else f"s{next(self._tokens)}"
        if not since:  # the first sync: no history (the adapter asks for none)
            events = []
        rooms: dict[str, Json] = {}
        for room_id, event in events:
            room = rooms.setdefault(room_id, _joined_room())
            room["timeline"]["events"].append(event)
        return web.json_response(
            {
                "next_batch": token,
                "rooms": {"join": rooms, "invite": {}, "leave": {}},
                "presence": {"events": []},
                "account_data": {"events": []},
                "to_device": {"events": []},
                "device_lists": {"changed": [], "left": []},
                "device_one_time_keys_count": {},
            }
        )

    async def _room_state(self, request: web.Request) -> web.Response:
        state = self.state.get(request.match_info["room"])
        if state is None:
            return _error(403, "M_FORBIDDEN", "not in the room")
        return web.json_response(state)

    async def _send(self, request: web.Request) -> web.Response:
        room_id, kind, txn = (request.match_info[k] for k in ("room", "type", "txn"))
        if room_id not in self.state:
            return _error(403, "M_FORBIDDEN", "not in the room")
        event_id = self._txns.get((room_id, txn))
        if event_id is None:
            event_id = self._txns[(room_id, txn)] = self.new_id()
            self.sent.append(Sent(room_id, kind, await request.json(), event_id))
        return web.json_response({"event_id": event_id})

    async def _account_data(self, request: web.Request) -> web.Response:
        return _error(404, "M_NOT_FOUND", "Account data not found")

    async def _unknown(self, request: web.Request) -> web.Response:
        self.unknown.append(f"{request.method} {request.path}")
        return _error(404, "M_UNRECOGNIZED", "Unrecognized request")


def _joined_room() -> Json:
    return {
        "timeline": {"events": [], "limited": False, "prev_batch": "p0"},
        "state": {"events": []},
        "ephemeral": {"events": []},
        "account_data": {"events": []},
        "summary": {},
        "unread_notifications": {},
    }


def _error(status: int, errcode: str, message: str) -> web.Response:
    return web.json_response({"errcode": errcode, "error": message}, status=status)
