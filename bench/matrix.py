"""Matrix end to end: reactions handled per second, against a bare matrix-nio bot.

    .venv/bin/python bench/matrix.py             # 300 members, 3 runs per leg
    .venv/bin/python bench/matrix.py --quick     # 100 members, one run, for a smoke run

One Synapse (``tests/fakes/synapse.py``, rate limits raised) serves the whole bench. N
members are registered once; each leg has a room of its own, made by a "chair" and filled
with the members at the leg's first run (none of this is timed). Every run then brings a
fresh bot account into the leg's room (and, for charterbot, a fresh database), puts a card
there and times three rounds, in each of which every member reacts on the card once:

1. ✅, while the bot long polls;
2. ⚠️, a change of mind (also a vote), while the bot long polls;
3. ➖, sent while the bot is stopped; the bot is then started again from its stored sync
   token (the backlog a restart finds), and the clock runs from its start.

The reactions are sent by a load process of their own (aiohttp, 32 requests in flight,
``PUT /rooms/{room}/send/m.reaction/{txn}`` with each member's own access token), as their
clients would send them. In rounds 1 and 2 the clock runs from the first send until the bot
has finished with the sync batch that holds the round's last reaction. The legs:

- **charterbot**: the real ``App`` with the Matrix adapter at its production defaults (30 s
  long poll, 100 events per sync, ``SystemClock``), in a thread of this process as
  ``charterbot run`` runs it. A batch is finished when ``Router.on_batch`` returns: its
  positions, history, inbox rows and ``next_batch`` are committed. The card is edited as it
  falls behind, as in production. After the rounds every member's position is checked.
- **bare nio**: an ``AsyncClient`` that syncs the same way (``SYNC_FILTER``, 30 s long poll,
  the same client config), fills a limited timeline's gap from ``/messages`` as the adapter
  does (else it would miss reactions), and only counts the reactions on the card. It is
  charterbot's own loop with the bot's work taken out.

Finishing a batch is noted where it happens, by one counter bump per batch in the bot's
thread (nothing polls the bot); the load process and the bots read the same monotonic
clock. Besides the reactions/s, the table gives the rate at which Synapse accepted the
sends (the load's own rate, which bounds the live rounds of every leg) and how long after
the last accepted send the bot was done; stderr has, per run and round, the syncs, card
edits and the CPU seconds of Synapse, the bot's process and the load. Each cell is the
median of ``--repeat`` runs, the legs interleaved so that a passing load hits them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import multiprocessing
import multiprocessing.connection
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The sibling bench/telegram.py is named like the ``telegram`` package: keep this folder off
# the path so that the adapters import the real one.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

CONCURRENCY = 32  # sends in flight
# The key each member reacts with in each round, and the stance it stands for.
ROUNDS = (("✅", "consent"), ("⚠️", "concern"), ("➖", "abstain"))
BARE = "bare nio"
DONE_TIMEOUT = 300.0
Json = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Account:
    user_id: str
    token: str
    password: str


# -- the load: the members' clients, in a process of their own --------------------------


def serve_load(
    conn: multiprocessing.connection.Connection, base_url: str, tokens: list[str]
) -> None:
    """Send what the bench asks over ``conn``, as the members (one token each)."""
    import aiohttp

    async def main() -> None:
        connector = aiohttp.TCPConnector(limit=CONCURRENCY)
        async with aiohttp.ClientSession(base_url, connector=connector) as session:

            async def each(requests: list[tuple[str, str, str, Json]]) -> int:
                """(method, path, token, body), CONCURRENCY at a time; the failures."""
                failures = 0
                pending = iter(requests)

                async def worker() -> None:
                    nonlocal failures
                    for method, path, token, body in pending:
                        headers = {"Authorization": f"Bearer {token}"}
                        for _attempt in range(5):
                            async with session.request(
                                method, path, json=body, headers=headers
                            ) as response:
                                await response.read()
                                if response.status != 429:
                                    break
                            await asyncio.sleep(0.2)
                        if response.status != 200:
                            failures += 1

                await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
                return failures

            loop = asyncio.get_running_loop()
            conn.send("ready")
            while True:
                command, *args = await loop.run_in_executor(None, conn.recv)
                if command == "quit":
                    conn.send(None)
                    return
                if command == "join":
                    (room,) = args
                    path = f"/_matrix/client/v3/join/{quote(room)}"
                    conn.send(await each([("POST", path, t, {}) for t in tokens]))
                elif command == "react":
                    room, event_id, key, tag = args
                    relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
                    requests = [
                        (
                            "PUT",
                            f"/_matrix/client/v3/rooms/{quote(room)}/send/m.reaction/{tag}.{i}",
                            token,
                            {"m.relates_to": relation},
                        )
                        for i, token in enumerate(tokens)
                    ]
                    started = time.monotonic()
                    failures = await each(requests)
                    conn.send((started, time.monotonic(), failures))
                else:
                    raise ValueError(f"unknown command {command!r}")

    asyncio.run(main())


class Load:
    """The bench's handle on the load process."""

    def __init__(self, base_url: str, tokens: list[str]) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=serve_load, args=(child, base_url, tokens), daemon=True
        )
        self.process.start()
        if self.conn.recv() != "ready":
            raise RuntimeError("the load process did not start")

    def ask(self, *command: Any) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def cpu(self) -> float:
        assert self.process.pid is not None
        return cpu_seconds(self.process.pid)

    def close(self) -> None:
        self.ask("quit")
        self.process.join(10)


def quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


# -- what the bots have finished with ---------------------------------------------------


class Tally:
    """Reactions on the card that a bot has finished with, counted in the bot's thread
    once per batch; ``done_at`` is when the round's last one was."""

    def __init__(self) -> None:
        self.card: str | None = None
        self.key: str | None = None
        self.expected = 0
        self.seen = 0
        self.done_at: float | None = None
        self.last_batch = time.monotonic()
        self.batches = 0  # in the round, until done
        self.edits = 0  # of the card by charterbot, in the round until done
        self.done = threading.Event()

    def expect(self, card: str, key: str, count: int) -> None:
        self.done.clear()
        self.done_at = None
        self.seen = 0
        self.batches = self.edits = 0
        self.expected = count
        self.card, self.key = card, key

    def add(self, count: int) -> None:
        now = time.monotonic()
        self.last_batch = now
        if self.done_at is None:
            self.batches += 1
        if count and self.expected:
            self.seen += count
            if self.seen >= self.expected and self.done_at is None:
                self.done_at = now
                self.done.set()

    def wait_quiet(self, quiet: float = 0.5, timeout: float = 60.0) -> None:
        """Until the bot has had nothing to do for ``quiet`` seconds (it long polls)."""
        wait_until(lambda: time.monotonic() - self.last_batch > quiet, "a quiet bot", timeout)


class InThread:
    """A coroutine on an event loop of its own, in a thread, until ``stop``."""

    def __init__(self, main: Callable[[], Any]) -> None:
        self.loop = asyncio.new_event_loop()
        self._task: asyncio.Task[None] | None = None
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)

            async def wrapper() -> None:
                self._task = asyncio.current_task()  # type: ignore[assignment]
                started.set()
                await main()

            try:
                self.loop.run_until_complete(wrapper())
            except asyncio.CancelledError:
                pass
            finally:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(5)

    def stop(self) -> None:
        if self.thread.is_alive() and self._task is not None:
            self.loop.call_soon_threadsafe(self._task.cancel)
            self.thread.join(30)


# -- the bots ---------------------------------------------------------------------------


class Charterbot:
    """charterbot (``App`` + Matrix adapter, production defaults) on ``db_url``. The
    router's ``on_batch`` is wrapped to count, after the commit, the reactions on the card
    that the batch held; the adapter's ``edit`` to count the card's edits."""

    def __init__(self, homeserver: str, db_url: str, account: Account, tally: Tally) -> None:
        from deliberation.store.db import Database
        from deliberation.store.migrate import upgrade

        self.homeserver = homeserver
        self.account = account
        self.tally = tally
        self.db_url = db_url
        self.db = Database(db_url)
        upgrade(self.db.engine)
        self.access_token = ""  # after the first start: no second login

    def start(self, *, wait: bool = True) -> None:
        from adapters.matrix_events import normalise_key
        from bot.app import App
        from bot.config import Config, ConsoleConfig, DatabaseConfig, MatrixConfig
        from bot.messages import Reaction
        from deliberation.timers import SystemClock

        tally = self.tally
        config = dataclasses.replace(
            Config(),
            database=DatabaseConfig(url=self.db_url),
            console=ConsoleConfig(enabled=False),
            matrix=MatrixConfig(
                enabled=True,
                homeserver=self.homeserver,
                user_id=self.account.user_id,
                password=self.account.password,
                access_token=self.access_token,
                allowed_inviters=("*:localhost",),
            ),
        )
        self.app = app = App.build(config, SystemClock(), self.db)
        self.adapter = adapter = app.add_matrix()  # SYNC_TIMEOUT_MS, PAGE: as `charterbot run`
        handle, edit = app.router.on_batch, adapter.edit

        async def on_batch(batch: Any, cursor: Any = None) -> list[str | None]:
            notes = await handle(batch, cursor)
            key = normalise_key(tally.key or "")
            tally.add(
                sum(
                    1
                    for item in batch
                    if isinstance(item, Reaction)
                    and item.message_ref == tally.card
                    and item.key == key
                    and not item.removed
                )
            )
            return notes

        async def counted_edit(chat: str, ref: str, message: Any) -> None:
            await edit(chat, ref, message)
            if tally.done_at is None:
                tally.edits += 1

        app.router.on_batch = on_batch  # type: ignore[method-assign]
        adapter.edit = counted_edit  # type: ignore[method-assign]
        self.launched = time.monotonic()
        self.running = InThread(app.run_forever)
        if wait:
            wait_until(lambda: adapter.ready, "charterbot's first sync")

    def stop(self) -> None:
        self.access_token = self.adapter.client.access_token
        self.running.stop()

    def close(self) -> None:
        self.stop()
        self.db.engine.dispose()


class BareBot:
    """A bare nio bot: syncs like the adapter and counts the reactions on the card."""

    def __init__(self, homeserver: str, account: Account, tally: Tally) -> None:
        self.homeserver = homeserver
        self.account = account
        self.tally = tally
        self.since: str | None = None  # where the last finished sync ended

    def start(self, *, wait: bool = True) -> None:
        ready = threading.Event()
        self.launched = time.monotonic()
        self.running = InThread(lambda: self.main(ready))
        if wait and not ready.wait(30):
            raise RuntimeError("the bare bot's first sync did not come")

    async def main(self, ready: threading.Event) -> None:
        from nio import (
            AsyncClient,
            AsyncClientConfig,
            MessageDirection,
            RoomMessagesResponse,
            SyncResponse,
        )

        from adapters.matrix import FIRST_FILTER, PAGE, SYNC_FILTER, SYNC_TIMEOUT_MS

        tally = self.tally
        config = AsyncClientConfig(max_limit_exceeded=0, max_timeouts=0, store_sync_tokens=False)
        client = AsyncClient(self.homeserver, self.account.user_id, config=config)
        client.access_token = self.account.token
        try:
            if self.since is None:
                first = await client.sync(timeout=0, sync_filter=FIRST_FILTER)
                assert isinstance(first, SyncResponse), first
                self.since = first.next_batch
            ready.set()
            while True:
                response = await client.sync(
                    timeout=SYNC_TIMEOUT_MS, sync_filter=SYNC_FILTER, since=self.since
                )
                if not isinstance(response, SyncResponse):
                    await asyncio.sleep(0.5)
                    continue
                counted = 0
                for room_id, info in response.rooms.join.items():
                    events = [event.source for event in info.timeline.events]
                    start = info.timeline.prev_batch if info.timeline.limited else None
                    while start:  # the gap, back to where the last sync ended
                        page = await client.room_messages(
                            room_id,
                            start=start,
                            end=self.since,
                            direction=MessageDirection.back,
                            limit=PAGE,
                        )
                        assert isinstance(page, RoomMessagesResponse), page
                        if not page.chunk:
                            break
                        events.extend(event.source for event in page.chunk)
                        start = page.end if page.end != start else None
                    for event in events:
                        relation = (event.get("content") or {}).get("m.relates_to") or {}
                        if (
                            event.get("type") == "m.reaction"
                            and relation.get("event_id") == tally.card
                            and relation.get("key") == tally.key
                        ):
                            counted += 1
                self.since = response.next_batch
                tally.add(counted)
        finally:
            await client.close()

    def stop(self) -> None:
        self.running.stop()

    def close(self) -> None:
        self.stop()


# -- one run ----------------------------------------------------------------------------


@dataclasses.dataclass
class Round:
    rate: float  # reactions the bot finished with per second
    sent: float  # sends Synapse accepted per second
    tail: float  # seconds from the last accepted send until the bot was done
    batches: int  # syncs the bot finished with in the round
    edits: int  # card edits charterbot sent in the round
    cpu: dict[str, float]  # CPU seconds in the round: Synapse, the bot's process, the load

    def __str__(self) -> str:
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in self.cpu.items())
        return (
            f"{self.rate:,.0f}/s (sent {self.sent:,.0f}/s, tail {self.tail * 1000:,.0f} ms, "
            f"{self.batches} syncs, {self.edits} edits, CPU s: {cpu})"
        )


def cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


Bot = Charterbot | BareBot


class Bench:
    def __init__(self, synapse: Any, members: int) -> None:
        self.synapse = synapse
        self.members = members
        self.chair = self.account("chair")
        with ThreadPoolExecutor(8) as pool:
            self.people = list(pool.map(lambda i: self.account(f"m{i}"), range(members)))
        self.load = Load(synapse.url, [p.token for p in self.people])
        self.runs = 0
        self.joining = 0.0  # seconds the last room took to fill
        self.places: dict[str, str] = {}  # each leg's room

    def account(self, prefix: str) -> Account:
        password = secrets.token_urlsafe(12)
        user_id, token = self.synapse.register(f"bench-{prefix}-{secrets.token_hex(3)}", password)
        return Account(user_id, token, password)

    def request(self, method: str, path: str, body: Json | None = None) -> Json:
        return dict(self.synapse.request(method, path, body, access_token=self.chair.token))

    def fill(self, room: str) -> None:
        began = time.monotonic()
        failures = self.load.ask("join", room)
        self.joining = time.monotonic() - began
        if failures:
            raise RuntimeError(f"{failures} members could not join {room}")

    def say(self, room: str, text: str, msgtype: str = "m.text") -> str:
        txn = secrets.token_hex(8)
        path = f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/{txn}"
        return str(self.request("PUT", path, {"msgtype": msgtype, "body": text})["event_id"])

    def annotations(self, room: str, event_id: str) -> int:
        path = f"/_matrix/client/v1/rooms/{quote(room)}/relations/{quote(event_id)}/m.annotation"
        return len(self.request("GET", path + "?limit=50")["chunk"])

    def cpu(self) -> dict[str, float]:
        pids = {"Synapse": self.synapse._process.pid, "bot": os.getpid()}  # noqa: SLF001
        return {**{k: cpu_seconds(p) for k, p in pids.items()}, "load": self.load.cpu()}

    def react(self, room: str, card: str, key: str) -> tuple[float, float]:
        """Every member reacts ``key`` on the card; when the first send went, and when
        Synapse had accepted the last."""
        self.runs += 1
        started, sent, failures = self.load.ask("react", room, card, key, f"r{self.runs}")
        if failures:
            raise RuntimeError(f"{failures} reactions were refused")
        return started, sent

    def done(self, tally: Tally) -> float:
        if not tally.done.wait(DONE_TIMEOUT) or tally.done_at is None:
            raise RuntimeError(f"the bot finished {tally.seen} of {self.members} reactions")
        return tally.done_at

    def rounds(self, room: str, card: str, bot: Bot, tally: Tally) -> list[Round]:
        """The live rounds (✅, then ⚠️, while the bot long polls), then the backlog (➖
        sent while the bot is stopped; timed from its start)."""
        results = []
        tally.wait_quiet()
        for key, _stance in ROUNDS[:2]:
            tally.expect(card, key, self.members)
            before = self.cpu()
            started, sent = self.react(room, card, key)
            done = self.done(tally)
            cpu = {k: v - before[k] for k, v in self.cpu().items()}
            rate, accepted = self.members / (done - started), self.members / (sent - started)
            results.append(Round(rate, accepted, done - sent, tally.batches, tally.edits, cpu))
            tally.wait_quiet()
        key = ROUNDS[2][0]
        bot.stop()
        tally.expect(card, key, self.members)
        sending, sent = self.react(room, card, key)
        before = self.cpu()
        bot.start(wait=False)
        started = bot.launched
        done = self.done(tally)
        cpu = {k: v - before[k] for k, v in self.cpu().items()}
        rate, accepted = self.members / (done - started), self.members / (sent - sending)
        results.append(Round(rate, accepted, done - started, tally.batches, tally.edits, cpu))
        return results

    def place(self, leg: str) -> str:
        """The leg's room, made and filled with the members at its first run (the chair
        alone is there with them between runs)."""
        if leg not in self.places:
            room = str(
                self.request("POST", "/_matrix/client/v3/createRoom", {"preset": "public_chat"})[
                    "room_id"
                ]
            )
            self.fill(room)
            self.places[leg] = room
        return self.places[leg]

    def leave(self, room: str, account: Account) -> None:
        path = f"/_matrix/client/v3/rooms/{quote(room)}/leave"
        self.synapse.request("POST", path, {}, access_token=account.token)

    def bare(self) -> list[Round]:
        """One run of the bare bot: a fresh account (see ``charterbot``) and card."""
        room = self.place("bare")
        account = self.account("bare")
        self.synapse.request(
            "POST", f"/_matrix/client/v3/join/{quote(room)}", {}, access_token=account.token
        )
        tally = Tally()
        bot = BareBot(self.synapse.url, account, tally)
        bot.start()
        try:
            card = self.say(room, "P1 · the benchmark clause", "m.notice")
            return self.rounds(room, card, bot, tally)
        finally:
            bot.close()
            self.leave(room, account)

    def charterbot(self, leg: str, db_url: str) -> list[Round]:
        """One run of charterbot: a fresh database and a fresh account, invited to the
        leg's room; a proposal put to its consent round; the rounds; then every member's
        position is checked. (A fresh account each run: Synapse answers a repeated sync
        request from its cache for two minutes, so a second first start of one account
        would get the first one's initial sync, with its old token.)"""
        from sqlalchemy import func, select

        from deliberation.model import Card, Position

        room = self.place(leg)
        account = self.account("charterbot")
        tally = Tally()
        bot = Charterbot(self.synapse.url, db_url, account, tally)
        bot.start()
        try:
            self.request(
                "POST",
                f"/_matrix/client/v3/rooms/{quote(room)}/invite",
                {"user_id": account.user_id},
            )
            path = f"/_matrix/client/v3/rooms/{quote(room)}/joined_members"
            wait_until(
                lambda: account.user_id in self.request("GET", path)["joined"], "the bot to join"
            )
            self.say(room, "!propose The benchmark clause.")

            def card() -> str | None:
                with bot.db.unit_of_work(write=False) as uow:
                    return uow.session.scalar(select(Card.message_ref).where(Card.subject == "P1"))

            ref = wait_until(card, "the card")
            self.say(room, "!next P1")
            wait_until(lambda: self.annotations(room, ref) >= 4, "the answers seeded on the card")
            results = self.rounds(room, ref, bot, tally)
            with bot.db.unit_of_work(write=False) as uow:
                stances = dict(
                    uow.session.execute(
                        select(Position.stance, func.count()).group_by(Position.stance)
                    ).all()
                )
            if stances != {ROUNDS[-1][1]: self.members}:
                raise RuntimeError(f"positions stored: {stances}, not {self.members} abstentions")
            return results
        finally:
            bot.close()
            self.leave(room, account)

    def close(self) -> None:
        self.load.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 members, one run")
    parser.add_argument("--members", type=int, help="members reacting (default 300)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per leg (median)")
    args = parser.parse_args()
    members = args.members or (100 if args.quick else 300)
    repeat = 1 if args.quick else args.repeat

    from bench.engine import postgres_url
    from bot.logging import configure_logging
    from tests.fakes.synapse import Synapse, ensure_synapse

    configure_logging(level="WARNING")
    runs: dict[str, list[list[Round]]] = {}
    began = time.monotonic()
    with (
        tempfile.TemporaryDirectory() as folder,
        postgres_url() as postgres,
        Synapse(ensure_synapse()) as synapse,
    ):
        bench = Bench(synapse, members)
        try:
            legs: list[tuple[str, Callable[[str], list[Round]]]] = [
                (BARE, lambda tag: bench.bare()),
                (
                    "charterbot, SQLite (WAL, file)",
                    lambda tag: bench.charterbot("sqlite", f"sqlite:///{folder}/{tag}.db"),
                ),
            ]
            if postgres is None:
                print(
                    "PostgreSQL server binaries not found: PostgreSQL leg skipped", file=sys.stderr
                )
            else:
                legs.append(
                    (
                        "charterbot, PostgreSQL",
                        lambda tag: bench.charterbot("postgres", postgres(tag)),
                    )
                )
            print(f"  setup: {time.monotonic() - began:.0f} s", file=sys.stderr)
            for run in range(repeat):  # interleaved: a passing load hits every leg alike
                for name, leg in legs:
                    bench.joining = 0.0
                    rounds = leg(f"m{run}")
                    runs.setdefault(name, []).append(rounds)
                    print(
                        f"  {name}, run {run + 1}: "
                        + "; ".join(map(str, rounds))
                        + f" [joins {bench.joining:.0f} s; {time.monotonic() - began:.0f} s]",
                        file=sys.stderr,
                    )
        finally:
            bench.close()

    def median(name: str, turn: int, field: str) -> float:
        return statistics.median(getattr(r[turn], field) for r in runs[name])

    print(
        "| bot | members | ✅ reactions/s | vs bare nio | ⚠️ reactions/s (a change of mind) "
        "| vs bare nio | ➖ backlog reactions/s | vs bare nio | Synapse accepted/s (✅, ⚠️) "
        "| done after the last send, ms (✅, ⚠️) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in runs:
        cells = [name, f"{members:,}"]
        for turn in range(len(ROUNDS)):
            rate = median(name, turn, "rate")
            cells += [f"{rate:,.0f}", f"{rate / median(BARE, turn, 'rate'):.2f}"]
        cells.append(" / ".join(f"{median(name, t, 'sent'):,.0f}" for t in (0, 1)))
        cells.append(" / ".join(f"{median(name, t, 'tail') * 1000:,.0f}" for t in (0, 1)))
        print(f"| {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
