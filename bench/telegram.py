"""Telegram end to end: button presses handled per second, against a bare PTB bot.

    .venv/bin/python bench/telegram.py             # 2,000 and 5,000 presses
    .venv/bin/python bench/telegram.py --quick     # 500 presses, for a smoke run

A group whose N members each press a position button (✅ ⚠️ ➖ in turn) on a proposal in its
consent phase, then each presses another one (a change of mind). Each round's N presses are
pushed into the fake Bot API at once while the bot long polls; the clock runs from the
moment they are queued until the fake has received the last ``answerCallbackQuery``. For
charterbot every press is committed (position, history, inbox row, offset) before it is
answered, and the card is kept up to date by edits paced at Telegram's limits (the adapter's
default ``Limits()``). In the first round each presser's membership is asked of Telegram
(``getChatMember``, one request per new presser); in the second it is cached.

The baseline is a bare python-telegram-bot bot on the same fake: a ``telegram.Bot``
``getUpdates`` loop (100 per call, the same pool size and timeouts as charterbot's adapter)
that answers each batch's callback queries concurrently with a fixed note and stores
nothing. It is charterbot's own loop with the bot's work taken out. It runs twice: with
PTB's default HTTP client (``HTTPXRequest``: "a bare PTB bot", what the target is defined
against) and with ours (``adapters.telegram_http.AiohttpRequest``, which charterbot's
adapter uses), so the table shows both what charterbot achieves against a bare bot and what
its work costs with the HTTP client held equal. Everything runs in this process.

The fake Bot API runs in a process of its own (the real Telegram is not in the bot's
process either), with its flood limits off: ``answerCallbackQuery`` is not limited anyway,
and the card edits are paced by the adapter itself. Each cell is the median of
``--repeat`` runs, the legs interleaved so that a passing load hits them alike.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This file is named like the ``telegram`` package: its folder must not shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

GROUP = -1001000000777
CREATOR_ID = 1
FIRST_MEMBER = 100_000
STANCES = ("v1:c", "v1:k", "v1:a")  # ✅ ⚠️ ➖ (✋ asks for a reason first)
BATCH = 100  # getUpdates answers at most 100 updates
BARE = "bare PTB (HTTPXRequest, PTB's default)"
BARE_AIOHTTP = "bare PTB (AiohttpRequest)"


# -- the fake Bot API, in its own process ----------------------------------------------


def serve_fake(conn: multiprocessing.connection.Connection) -> None:
    """Run a FakeBotApi and do what the benchmark asks over ``conn``."""
    import logging

    from tests.fakes.bot_api import FakeBotApi, Json

    logging.disable(logging.WARNING)

    class TimedFake(FakeBotApi):
        """Notes when the ``expected``-th callback query was answered."""

        expected = 0
        done_at: float | None = None

        def _m_answercallbackquery(self, params: Json) -> bool:
            result = super()._m_answercallbackquery(params)
            if self.done_at is None and len(self.callback_answers) >= self.expected > 0:
                self.done_at = time.monotonic()
            return result

    with TimedFake.in_thread(flood_limits=False) as api:
        conn.send((api.token, api.base_url))
        while True:
            command, *args = conn.recv()
            if command == "quit":
                conn.send(None)
                return
            if command == "group":
                (members,) = args
                users = [
                    FakeBotApi.make_user(FIRST_MEMBER + i, f"Member{i}") for i in range(members)
                ]
                creator = FakeBotApi.make_user(CREATOR_ID, "Ada")
                api.add_chat(GROUP, "Bench group", creator=creator, members=users)
                conn.send(None)
            elif command == "say":
                (text,) = args
                api.user_message(GROUP, CREATOR_ID, text)
                conn.send(None)
            elif command == "find":
                (needle,) = args
                found = [
                    m
                    for m in api.sent_to(GROUP)
                    if needle in m["plain_text"] and m.get("reply_markup")
                ]
                conn.send(found[0]["message_id"] if found else None)
            elif command == "press":
                message_id, count, turn = args

                def push(
                    message_id: int = message_id, count: int = count, turn: int = turn
                ) -> float:
                    api.expected = len(api.callback_answers) + count
                    api.done_at = None
                    for i in range(count):
                        user = FakeBotApi.make_user(FIRST_MEMBER + i, f"Member{i}")
                        api.press_button(GROUP, user, message_id, STANCES[(i + turn) % 3])
                    return time.monotonic()

                conn.send(api._in_loop(push))  # noqa: SLF001 - all at once, in the server loop
            elif command == "wait":
                (timeout,) = args
                deadline = time.monotonic() + timeout
                while api.done_at is None and time.monotonic() < deadline:
                    time.sleep(0.005)
                conn.send(api.done_at)
            elif command == "stats":
                edits = sum(len(m["edits"]) for m in api.sent_to(GROUP))
                calls: dict[str, int] = {}
                for method, _params, _status in api.requests:
                    calls[method] = calls.get(method, 0) + 1
                conn.send(
                    {
                        "answers": len(api.callback_answers),
                        "edits": edits,
                        "calls": calls,
                        "refusals": len(api.flood_refusals),
                    }
                )
            else:
                raise ValueError(f"unknown command {command!r}")


class Fake:
    """The benchmark's handle on the fake server process."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=serve_fake, args=(child,), daemon=True)
        self.process.start()
        self.token, self.base_url = self.conn.recv()

    def ask(self, *command: Any) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def close(self) -> None:
        self.ask("quit")
        self.process.join(10)


@contextmanager
def fake_server(members: int) -> Iterator[Fake]:
    fake = Fake()
    try:
        fake.ask("group", members)
        yield fake
    finally:
        fake.close()


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


# -- the bare PTB bot -------------------------------------------------------------------

Rates = tuple[float, float]  # presses per second: first presses, second presses


def bare_rates(presses: int, client: str) -> tuple[Rates, dict[str, Any]]:
    """Presses per second a bare PTB getUpdates loop answers, in two rounds, with PTB's
    default HTTP client (``client="httpx"``) or ours (``"aiohttp"``)."""
    import telegram
    from telegram.request import HTTPXRequest

    from adapters.telegram_http import AiohttpRequest

    request_class = {"httpx": HTTPXRequest, "aiohttp": AiohttpRequest}[client]
    with fake_server(presses) as fake:

        async def run() -> Rates:
            pool = request_class(connection_pool_size=64, read_timeout=15.0, write_timeout=15.0)
            polling = request_class(read_timeout=11.0)
            bot = telegram.Bot(
                fake.token, base_url=fake.base_url, request=pool, get_updates_request=polling
            )
            async with bot:
                card = await bot.send_message(
                    GROUP,
                    "P1",
                    reply_markup=telegram.InlineKeyboardMarkup(
                        [[telegram.InlineKeyboardButton("✅", callback_data="v1:c")]]
                    ),
                )
                offset: int | None = None

                async def loop() -> None:
                    nonlocal offset
                    answered = 0
                    while answered < presses:
                        updates = await bot.get_updates(
                            offset=offset,
                            limit=BATCH,
                            timeout=1,
                            allowed_updates=["message", "callback_query"],
                        )
                        if not updates:
                            continue
                        offset = updates[-1].update_id + 1
                        queries = [u.callback_query for u in updates if u.callback_query]
                        await asyncio.gather(
                            *(bot.answer_callback_query(q.id, text="Noted.") for q in queries)
                        )
                        answered += len(queries)

                async def round_(turn: int) -> float:
                    task = asyncio.create_task(loop())
                    await asyncio.sleep(0.3)  # the loop is long polling
                    queued = await asyncio.to_thread(
                        fake.ask, "press", card.message_id, presses, turn
                    )
                    await task
                    done = await asyncio.to_thread(fake.ask, "wait", 5.0)
                    return presses / (done - queued)

                first = await round_(0)
                second = await round_(1)
                await bot.get_updates(offset=offset, timeout=0)  # confirm the last batch
            return first, second

        rates = asyncio.run(run())
        return rates, fake.ask("stats")


# -- charterbot -------------------------------------------------------------------------


def charterbot_rates(url: str, presses: int) -> tuple[Rates, dict[str, Any]]:
    """Presses per second charterbot (App + Telegram adapter) commits and answers: first
    presses (membership asked of Telegram), then everyone changes their position
    (membership cached)."""
    from sqlalchemy import func, select

    from adapters.telegram_pacing import Limits
    from deliberation.model import Position
    from tests.telegram.harness import RunningBot

    with fake_server(presses) as fake:
        api = SimpleNamespace(token=fake.token, base_url=fake.base_url)
        with RunningBot(api, url, limits=Limits()) as bot:  # type: ignore[arg-type]
            fake.ask("say", "/settings amendment_hours 0")
            fake.ask("say", "/propose The benchmark clause.")
            card = wait_until(lambda: fake.ask("find", "P1 ·"), "the card with its buttons")
            rates = []
            for turn in (0, 1):
                queued = fake.ask("press", card, presses, turn)
                done = fake.ask("wait", 300.0)
                if done is None:
                    raise RuntimeError("not every press was answered")
                rates.append(presses / (done - queued))
            with bot.db.unit_of_work(write=False) as uow:
                stored = uow.session.scalar(select(func.count()).select_from(Position))
            if stored != presses:
                raise RuntimeError(f"{stored} positions stored for {presses} presses")
        return (rates[0], rates[1]), fake.ask("stats")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 presses, one run")
    parser.add_argument("--presses", type=int, nargs="*", help="press counts to run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (median)")
    args = parser.parse_args()
    counts = args.presses or ([500] if args.quick else [2000, 5000])
    repeat = 1 if args.quick else args.repeat

    from bench.engine import postgres_url
    from bot.logging import configure_logging

    configure_logging(level="WARNING")
    runs: dict[tuple[str, int], list[Rates]] = {}
    names: list[str] = []
    with tempfile.TemporaryDirectory() as folder, postgres_url() as postgres:
        legs: list[tuple[str, Callable[[int, str], tuple[Rates, dict[str, Any]]]]] = [
            (BARE, lambda n, tag: bare_rates(n, "httpx")),
            (BARE_AIOHTTP, lambda n, tag: bare_rates(n, "aiohttp")),
            (
                "charterbot, SQLite (WAL, file)",
                lambda n, tag: charterbot_rates(f"sqlite:///{folder}/{tag}.db", n),
            ),
        ]
        if postgres is None:
            print("PostgreSQL server binaries not found: PostgreSQL leg skipped", file=sys.stderr)
        else:
            legs.append(
                ("charterbot, PostgreSQL", lambda n, tag: charterbot_rates(postgres(tag), n))
            )
        names = [name for name, _ in legs]
        for presses in counts:
            for run in range(repeat):  # interleaved: a passing load hits every leg alike
                for name, leg in legs:
                    rates, stats = leg(presses, f"t{presses}_{run}")
                    runs.setdefault((name, presses), []).append(rates)
                    print(
                        f"  {name}, {presses:,} presses, run {run + 1}: first "
                        f"{rates[0]:,.0f}/s, second {rates[1]:,.0f}/s; {stats}",
                        file=sys.stderr,
                    )

    print(
        "| bot | presses | first presses/s | vs bare PTB | vs bare PTB, aiohttp "
        "| second presses/s (membership cached) | vs bare PTB | vs bare PTB, aiohttp |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for presses in counts:

        def median(name: str, i: int, presses: int = presses) -> float:
            return statistics.median(r[i] for r in runs[(name, presses)])

        for name in names:
            cells = [f"{name}", f"{presses:,}"]
            for i in (0, 1):
                rate = median(name, i)
                cells += [
                    f"{rate:,.0f}",
                    f"{rate / median(BARE, i):.2f}",
                    f"{rate / median(BARE_AIOHTTP, i):.2f}",
                ]
            print(f"| {' | '.join(cells)} |")


if __name__ == "__main__":
    main()
