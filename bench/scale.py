"""Scale benchmark on PostgreSQL: 10,000 groups and 1,000,000 positions.

    .venv/bin/python bench/scale.py              # about 12 minutes with the store cached
    .venv/bin/python bench/scale.py --quick      # 1,000 groups, 100 clause lives, 20 s of load
    .venv/bin/python bench/scale.py --explain    # also print the plans of /status's queries

The store (``bench/scale_data.py``) holds 10,000 Telegram groups with the rows the bot
itself writes: 1,153,000 positions, their history, an adopted clause per group, a proposal
in consent and one in amendment per group, and a first group whose charter has 1,001
clauses of 3 versions each. It is loaded once and kept as a ``pg_dump`` under
``~/.cache/charterbot-bench/`` (keyed by the loader's source and the migrations), so a
later run restores it instead of loading it again (``--fresh`` loads it anyway). Each leg
that writes starts from a copy of it (``CREATE DATABASE ... TEMPLATE``).

Legs and targets:

- **/status**: ``Router.handle_batch`` with one Telegram ``/status`` message (the worker
  thread's part of what the bot does with an update: the group and person refreshed, the
  read model, the reply worded and queued, the inbox row, the commit) in random groups by
  random members, half ``/status``, half ``/status P<n>`` on the group's proposal in
  consent (45 positions). p99 under 20 ms.
- **export**: the first group's charter of 1,001 clauses (3,001 versions):
  ``public.export_json`` and the Markdown worded from it in the bench's process, and
  ``charterbot export --format json --charter ...`` as a user runs it (a new process).
  Under 1 s.
- **memory**: a bot process (``bench/scale_bot.py``: ``charterbot run``'s ``App`` with the
  Telegram adapter) against the fake Bot API gets a ``/status`` in each of the 10,000
  groups and answers them all; its resident memory (``VmRSS`` in ``/proc``) then. Under
  200 MB.
- **sustained load**: a bot process at the adapter's default limits (Telegram's: 30
  messages a second, 20 a minute per group, 1 a second per chat) against the fake Bot API
  with its flood limits on, for 60 s: button presses on live cards, ``/status``,
  ``/status P<n>``, typed ``/consent`` on the stored rounds and new proposals, spread over
  200 groups. The outbox's pending rows and the cards waiting for an edit are sampled
  every 5 s: neither may grow.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/telegram.py is named like the ``telegram`` package: this folder must not shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from adapters.telegram_pacing import Limits  # noqa: E402
from bench import scale_data as data  # noqa: E402

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "charterbot-bench"
STATUS_TARGET_MS = 20.0
EXPORT_TARGET_S = 1.0
MEMORY_TARGET_MB = 200.0
SAMPLE_EVERY = 5.0  # seconds between samples of the backlog
# Telegram's update ids go on from those the store has seen (its inbox holds ids up to
# about 1.3 million): the fake's must too, or the bot takes them for duplicates.
FIRST_UPDATE = 100_000_000


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the store ---------------------------------------------------------------------------


def cache_key(groups: int, lives: int) -> str:
    """Changes with the sizes, the loader's ``LAYOUT`` and the schema's migrations."""
    digest = hashlib.sha256(f"{groups}/{lives}/{data.LAYOUT}".encode())
    for path in sorted((ROOT / "deliberation" / "store" / "migrations" / "versions").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def stored(server: Any, name: str, groups: int, lives: int, fresh: bool) -> str:
    """The loaded store as database ``name``: restored from the cache, else loaded (and
    cached). Returns its URL."""
    dump = CACHE / f"scale-{groups}-{lives}-{cache_key(groups, lives)}.dump"
    started = time.perf_counter()
    if dump.exists() and not fresh:
        url = server.create_database(name)
        subprocess.run(
            [str(server.bindir / "pg_restore"), "--no-owner", "-j", "2", "-d",
             server.admin_conninfo(name), str(dump)],
            check=True,
        )  # fmt: skip
        with _connect(server, name) as conn:
            conn.execute("VACUUM ANALYZE")
        log(f"store restored from {dump} in {time.perf_counter() - started:.1f} s")
        return url
    log(f"loading the store ({groups:,} groups, {lives:,} clause lives)")
    url = data.load(server, name, (groups, lives), log)
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob(f"scale-{groups}-{lives}-*.dump"):
        old.unlink()
    partial = dump.with_suffix(".part")
    subprocess.run(
        [str(server.bindir / "pg_dump"), "-Fc", "-Z", "1", "-f", str(partial),
         server.admin_conninfo(name)],
        check=True,
    )  # fmt: skip
    partial.rename(dump)
    log(f"store loaded and cached in {time.perf_counter() - started:.1f} s")
    return url


def _connect(server: Any, name: str) -> Any:
    import psycopg

    return psycopg.connect(server.admin_conninfo(name), autocommit=True)


def copy_of(server: Any, template: str, name: str) -> str:
    """A fresh copy of the loaded store for a leg that writes. Copied file by file, then
    a checkpoint: PostgreSQL 15's default copy writes the whole store to the WAL, and the
    checkpoint that follows stalled the measurements for seconds."""
    server.drop_database(name)
    with _connect(server, "postgres") as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        conn.execute("CHECKPOINT")
    return server.url(name)


def store_figures(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from deliberation.model import Group, Member, OutboxItem, Person, Position, Proposal
    from deliberation.store.db import Database

    db = Database(url)
    with db.unit_of_work(write=False) as uow:
        s = uow.session
        figures = {
            name: s.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (
                ("groups", Group),
                ("people", Person),
                ("members", Member),
                ("proposals", Proposal),
                ("positions", Position),
                ("outbox rows", OutboxItem),
            )
        }
    db.dispose()
    return figures


def consent_proposals(url: str) -> dict[int, int]:
    """Group number -> its proposal in consent (P2 of its life)."""
    from sqlalchemy import select

    from deliberation.model import Proposal
    from deliberation.store.db import Database

    db = Database(url)
    with db.unit_of_work(write=False) as uow:
        rows = uow.session.execute(
            select(Proposal.group_id, Proposal.id).where(Proposal.phase == "consent")
        ).all()
    db.dispose()
    return {-int(group.partition(":")[2]) - 1_000_000_000_000: number for group, number in rows}


# -- /status -----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Latency:
    calls: dict[str, list[float]] = field(default_factory=dict)

    def row(self, kind: str) -> tuple[int, float, float, float]:
        values = self.calls[kind]
        return (
            len(values),
            statistics.median(values),
            percentile(values, 0.99),
            max(values),
        )


def status_latency(url: str, groups: int, calls: int, explain: bool) -> Latency:
    """``/status`` and ``/status P<n>`` through ``Router.handle_batch`` in random groups."""
    from adapters.telegram import TelegramAdapter
    from bot.app import App
    from bot.config import Config, DatabaseConfig
    from bot.messages import MessageIn
    from deliberation.store.db import Database
    from deliberation.timers import ManualClock

    proposals = consent_proposals(url)
    db = Database(url)
    clock = ManualClock(data.START + timedelta(days=23))
    app = App.build(Config(database=DatabaseConfig(url=url)), clock, db)
    app.adapters[data.PLATFORM] = TelegramAdapter("1:bench", lambda _name: None)
    router = app.router
    rng = random.Random(11)
    warmup = 100
    result = Latency({"/status": [], "/status P<n>": []})
    for i in range(warmup + calls):
        g = rng.randrange(groups)
        k = rng.randrange(data.MEMBERS)  # some have not spoken in the group before
        person = data.person_of(g, k)
        text = "/status" if i % 2 else f"/status P{proposals[g]}"
        msg = MessageIn(
            platform=data.PLATFORM,
            dedupe_key=str(2_000_000_000 + i),
            chat=data.group_ref(g),
            sender=data.person_ref(person),
            sender_name=data.person_name(person),
            text=text,
            member_count=data.MEMBERS,
            language_hint="en",
            chat_title=data.group_title(g),
        )
        started = time.perf_counter()
        router.handle_batch([msg])
        elapsed = (time.perf_counter() - started) * 1000
        if i >= warmup:
            result.calls["/status" if i % 2 else "/status P<n>"].append(elapsed)
    if explain:
        explain_status(db, proposals[0])
    db.dispose()
    return result


def explain_status(db: Any, number: int) -> None:
    """The plans of the statements ``/status P<n>`` and ``/status`` run (stderr)."""
    from sqlalchemy import event

    from deliberation import queries

    statements: list[tuple[str, Any]] = []

    def keep(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", keep)
    with db.unit_of_work(write=False) as uow:
        queries.proposal(uow.session, data.group_ref(0), number, None)
        queries.open_proposals(uow.session, data.group_ref(0))
    event.remove(db.engine, "before_cursor_execute", keep)
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        for statement, params in statements:
            plan = raw.execute("EXPLAIN (ANALYZE, COSTS OFF) " + statement, params).fetchall()
            log("  " + " ".join(statement.split())[:200])
            for (line,) in plan:
                log("      " + line)
        conn.rollback()


# -- export ------------------------------------------------------------------------------


@dataclass
class ExportTimes:
    clauses: int
    versions: int
    json_s: float
    verify_s: float  # apart: ``queries.verify`` of the whole record (``charterbot verify``)
    markdown_s: float
    cli_s: float
    cli_bytes: int


def export_times(url: str, runs: int = 5) -> ExportTimes:
    """The first group's charter: ``export_json`` and the Markdown in process (median of
    ``runs``), then ``charterbot export --format json`` in a new process."""
    from bot.export import markdown
    from bot.i18n import get_translator
    from deliberation import public, queries
    from deliberation.store.db import Database

    charter = f"group:{data.group_ref(0)}"
    db = Database(url)
    tr = get_translator("en")
    json_s, md_s, verify_s = [], [], []
    result: dict[str, Any] = {}
    for _ in range(runs):
        started = time.perf_counter()
        with db.unit_of_work(write=False) as uow:
            check = queries.verify(uow.session)
        verify_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        with db.unit_of_work(write=False) as uow:
            result = public.export_json(uow.session, charter)
        json_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        markdown(tr, result)
        md_s.append(time.perf_counter() - started)
    db.dispose()
    (ch,) = result["charters"]
    assert check.problem is None, check.problem
    env = {**os.environ, "CHARTERBOT_DATABASE_URL": url}
    started = time.perf_counter()
    out = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "charterbot"), "export", "--format", "json",
         "--charter", charter],
        env=env, capture_output=True, check=True,
    )  # fmt: skip
    cli_s = time.perf_counter() - started
    return ExportTimes(
        clauses=len(ch["clauses"]),
        versions=sum(len(c["versions"]) for c in ch["clauses"]),
        json_s=statistics.median(json_s),
        verify_s=statistics.median(verify_s),
        markdown_s=statistics.median(md_s),
        cli_s=cli_s,
        cli_bytes=len(out.stdout),
    )


# -- the bot process and the fake Bot API ----------------------------------------------


def memory_of(pid: int) -> tuple[float, float]:
    """Resident and peak resident memory of a process, in MB (``/proc/<pid>/status``)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


@contextmanager
def bot_process(url: str, api: Any, fast: bool, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """``bench/scale_bot.py`` on ``url`` against ``api``, until the block ends."""
    logfile = Path(f"/tmp/charterbot-bench-{name}.log").open("wb")  # noqa: SIM115
    argv = [sys.executable, str(ROOT / "bench" / "scale_bot.py"), url, api.base_url, api.token]
    process = subprocess.Popen(argv + (["--fast"] if fast else []), stderr=logfile)
    try:
        wait_until(lambda: any(m == "getUpdates" for m, _p, _s in api.requests[-50:]), 60)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        logfile.close()


def wait_until(predicate: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.05)
    raise RuntimeError("timed out")


def user(group: int, k: int) -> dict[str, Any]:
    from tests.fakes.bot_api import FakeBotApi

    person = data.person_of(group, k)
    return FakeBotApi.make_user(data.user_id(person), data.person_name(person))


@dataclass
class Memory:
    groups: int
    idle_mb: float
    after_mb: float
    peak_mb: float
    seconds: float


def memory(url: str, groups: int) -> Memory:
    """A /status in every group, all answered; the bot's resident memory then."""
    from tests.fakes.bot_api import FakeBotApi

    with FakeBotApi.in_thread(flood_limits=False, first_update_id=FIRST_UPDATE) as api:
        for g in range(groups):
            api.add_chat(data.chat_id(g), data.group_title(g), creator=user(g, 0), members=100)
        with bot_process(url, api, fast=True, name="memory") as process:
            time.sleep(2.0)
            idle, _peak = memory_of(process.pid)
            started = time.perf_counter()
            for g in range(groups):
                api.user_message(data.chat_id(g), user(g, 1 + g % 99), "/status")
                if g % 500 == 499:  # as fast as the bot takes them, not all queued at once
                    wait_until(lambda: len(api.updates) < 500, 120)
            wait_until(lambda: len(api.sent) >= groups, 600)
            elapsed = time.perf_counter() - started
            time.sleep(2.0)
            after, peak = memory_of(process.pid)
            answered = {m["chat_id"] for m in api.sent}
            assert len(answered) == groups, len(answered)
    return Memory(groups, idle, after, peak, elapsed)


# -- sustained load ----------------------------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """Updates per second across the load's groups."""

    presses: float = 40.0  # ✅ ⚠️ ➖ on the groups' live cards (a change of mind too)
    status: float = 14.0  # /status
    status_p: float = 4.0  # /status P<n> on the stored round
    consent: float = 4.0  # /consent P<n> typed, on the stored round (1,000,000 positions)
    propose: float = 1.0  # /propose: a new card

    def schedule(self, seconds: float, rng: random.Random) -> list[tuple[float, str]]:
        """(offset in seconds, kind) of every update, each kind evenly spread."""
        events = []
        for kind, rate in dataclasses_items(self):
            count = int(rate * seconds)
            events += [((i + rng.random()) / rate, kind) for i in range(count)]
        return sorted(events)


def dataclasses_items(mix: Mix) -> list[tuple[str, float]]:
    import dataclasses

    return [(f.name, getattr(mix, f.name)) for f in dataclasses.fields(mix)]


@dataclass
class LoadResult:
    groups: int
    seconds: float
    updates: int
    # (t, pending rows, cards behind, updates queued, seconds the oldest card change waits)
    samples: list[tuple[float, int, int, int, float]]
    sent: int  # messages the fake took while the load ran
    edits: int  # and edits
    answers: int
    refusals: int
    drained_s: float
    warmup_s: float

    def growing(self) -> bool:
        """The backlog grew: its least-squares slope over the run (after the first
        sample) is above one item a second, an intake or delivery falling behind by under
        2 % of the load. The backlog is what waits to be sent or handled (pending rows,
        queued updates); single samples jump with a garbage collection or a burst of the
        random mix, a steady rise does not hide in a slope. Cards behind are not in it:
        they are bounded by the live cards (one edit carries every change before it), and
        judged by :meth:`edits_take_what_is_left`."""
        steady = self.samples[1:]  # the first, at 0 s, is empty: the warm-up drained it
        times = [t for t, *_ in steady]
        depths = [p + q for _t, p, _b, q, _w in steady]
        slope, _intercept = statistics.linear_regression(times, depths)
        return slope > 1.0

    def left_for_edits(self) -> float:
        """Sends per second the overall limit leaves card edits beside these messages."""
        limits = Limits()
        return max(
            0.0, limits.global_per_second - limits.reserve_overall - self.sent / self.seconds
        )

    def edits_take_what_is_left(self) -> bool:
        """While cards were behind, edits used most of what the limits leave them: the
        cards wait for Telegram, not for the bot."""
        return self.edits / self.seconds >= 0.8 * self.left_for_edits()


def backlog(db: Any) -> tuple[int, int]:
    pending, behind, _waits = backlog_and_wait(db)
    return pending, behind


def backlog_and_wait(db: Any) -> tuple[int, int, float]:
    """Pending outbox rows, cards behind, and how long ago the card behind longest was
    last brought up to date (seconds; 0 when none is behind)."""
    from sqlalchemy import func, select

    from deliberation.model import Card, OutboxItem

    behind_ = (Card.version > Card.shown_version) & Card.message_ref.is_not(None)
    with db.unit_of_work(write=False) as uow:
        s = uow.session
        pending = s.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.state == "pending")
        )
        behind, oldest = s.execute(
            select(func.count(), func.min(Card.edited_at)).select_from(Card).where(behind_)
        ).one()
    waits = 0.0
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
        waits = (datetime.now(UTC) - oldest).total_seconds()
    return pending or 0, behind or 0, waits


def sustained(url: str, groups: int, load_groups: int, seconds: float, mix: Mix) -> LoadResult:
    """The mix for ``seconds`` at Telegram's limits; the backlog every ``SAMPLE_EVERY``."""
    from deliberation.store.db import Database
    from tests.fakes.bot_api import FakeBotApi

    rng = random.Random(5)
    chosen = rng.sample(range(1, groups), load_groups)
    proposals = consent_proposals(url)
    db = Database(url)
    with FakeBotApi.in_thread(flood_limits=True, first_update_id=FIRST_UPDATE) as api:
        for g in chosen:
            members = [user(g, k) for k in range(1, data.MEMBERS)]
            api.add_chat(data.chat_id(g), data.group_title(g), creator=user(g, 0), members=members)
        with bot_process(url, api, fast=False, name="load"):
            # Warm-up: a proposal with a live card in consent in every group of the load.
            started = time.perf_counter()
            loaded = _newest_proposal(db)
            for g in chosen:
                api.user_message(data.chat_id(g), user(g, 0), "/propose A clause under load.")
            opened = wait_until(lambda: _opened(db, loaded, len(chosen)), 300)
            for g in chosen:
                api.user_message(data.chat_id(g), user(g, 0), f"/next P{opened[g]}")
            cards = wait_until(lambda: _cards(api, chosen), 300)
            wait_until(lambda: backlog(db) == (0, 0) and not api.updates, 300)
            warmup = time.perf_counter() - started
            log(f"  warm-up: {load_groups} live cards in consent in {warmup:.1f} s")
            base_sent, base_edits = len(api.sent), _edits(api)
            base_answers, base_refusals = len(api.callback_answers), len(api.flood_refusals)
            schedule = mix.schedule(seconds, rng)
            samples = []
            started = time.monotonic()
            next_sample = 0.0
            stances = ("v{}:c", "v{}:k", "v{}:a")
            for offset, kind in schedule:
                while (now := time.monotonic() - started) < offset:
                    if now >= next_sample:
                        pending, behind, waits = backlog_and_wait(db)
                        samples.append((now, pending, behind, len(api.updates), waits))
                        log(f"  t={now:5.1f}s pending={pending} behind={behind} "
                            f"queued={len(api.updates)} oldest card {waits:.0f} s")  # fmt: skip
                        next_sample += SAMPLE_EVERY
                    time.sleep(min(0.005, max(0.0, offset - now)))
                g = rng.choice(chosen)
                chat = data.chat_id(g)
                who = user(g, rng.randrange(1, data.MEMBERS))
                if kind == "presses":
                    number, message_id = cards[g]
                    api.press_button(chat, who, message_id, rng.choice(stances).format(number))
                elif kind == "status":
                    api.user_message(chat, who, "/status")
                elif kind == "status_p":
                    api.user_message(chat, who, f"/status P{proposals[g]}")
                elif kind == "consent":
                    api.user_message(chat, who, f"/consent P{proposals[g]}")
                else:
                    api.user_message(chat, user(g, 0), "/propose One more clause under load.")
            pending, behind, waits = backlog_and_wait(db)
            now = time.monotonic() - started
            samples.append((now, pending, behind, len(api.updates), waits))
            sent, edits = len(api.sent) - base_sent, _edits(api) - base_edits  # in the window
            stopped = time.monotonic()
            wait_until(lambda: backlog(db) == (0, 0) and not api.updates, 600)
            drained = time.monotonic() - stopped
            result = LoadResult(
                groups=load_groups,
                seconds=seconds,
                updates=len(schedule),
                samples=samples,
                sent=sent,
                edits=edits,
                answers=len(api.callback_answers) - base_answers,
                refusals=len(api.flood_refusals) - base_refusals,
                drained_s=drained,
                warmup_s=warmup,
            )
    db.dispose()
    return result


def _newest_proposal(db: Any) -> int:
    from sqlalchemy import func, select

    from deliberation.model import Proposal

    with db.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(func.max(Proposal.id))) or 0


def _opened(db: Any, after: int, count: int) -> dict[int, int] | None:
    """Group number -> the proposal opened in it during the warm-up, once all are."""
    from sqlalchemy import select

    from deliberation.model import Proposal

    with db.unit_of_work(write=False) as uow:
        rows = uow.session.execute(
            select(Proposal.group_id, Proposal.id).where(Proposal.id > after)
        ).all()
    if len(rows) < count:
        return None
    return {-int(group.partition(":")[2]) - 1_000_000_000_000: n for group, n in rows}


def _cards(api: Any, chosen: list[int]) -> dict[int, tuple[int, int]] | None:
    """Each group's live card: (proposal number, message id), once all are posted."""
    found = {}
    for g in chosen:
        for m in api.sent_to(data.chat_id(g)):
            buttons = str(m.get("reply_markup") or "")
            number = re.search(r"'v(\d+):c'", buttons)
            if number is not None:
                found[g] = (int(number.group(1)), m["message_id"])
                break
        else:
            return None
    return found


def _edits(api: Any) -> int:
    return sum(len(m["edits"]) for m in api.sent)


# -- main --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 groups, 20 s of load")
    parser.add_argument("--fresh", action="store_true", help="load the store even if cached")
    parser.add_argument("--explain", action="store_true", help="print /status's plans")
    parser.add_argument("--seconds", type=float, help="seconds of sustained load (60)")
    parser.add_argument("--only", nargs="*", default=["status", "export", "memory", "load"])
    args = parser.parse_args()
    groups = 1_000 if args.quick else data.GROUPS
    lives = 100 if args.quick else data.CLAUSE_LIVES
    calls = 500 if args.quick else 2_000
    seconds = args.seconds or (20.0 if args.quick else 60.0)
    load_groups = 100 if args.quick else 200

    from bot.logging import configure_logging
    from tests.fakes.postgres import PostgresServer, find_pg_bindir

    configure_logging("WARNING")
    if find_pg_bindir() is None:
        log("PostgreSQL server binaries not found: nothing to run")
        return
    rows: list[str] = []
    bench_started = time.perf_counter()
    with PostgresServer() as server:
        url = stored(server, "scale", groups, lives, args.fresh)
        started = time.perf_counter()
        sample = data.check(url, groups, lives)
        log(f"checked {sample} in {time.perf_counter() - started:.1f} s")
        figures = store_figures(url)
        log("store: " + ", ".join(f"{n:,} {name}" for name, n in figures.items()))
        if "status" in args.only:
            latency = status_latency(copy_of(server, "scale", "scale_status"), groups, calls,
                                     args.explain)  # fmt: skip
            for kind in latency.calls:
                n, p50, p99, worst = latency.row(kind)
                rows.append(
                    f"| `{kind}` latency (Router.handle_batch, {n:,} calls) | p50 {p50:.1f} ms, "
                    f"p99 {p99:.1f} ms, max {worst:.1f} ms | p99 < {STATUS_TARGET_MS:.0f} ms "
                    f"| {'met' if p99 < STATUS_TARGET_MS else 'missed'} |"
                )
        if "export" in args.only:
            ex = export_times(url)
            # The target is the export's own work; the CLI's figure adds starting Python and
            # importing the bot (about a second, whatever is exported).
            met = ex.json_s + ex.markdown_s < EXPORT_TARGET_S
            rows.append(
                f"| export of a charter of {ex.clauses:,} clauses ({ex.versions:,} versions) "
                f"| export_json {ex.json_s:.2f} s + Markdown "
                f"{ex.markdown_s:.2f} s; "
                f"`charterbot export --format json` {ex.cli_s:.2f} s "
                f"({ex.cli_bytes / 1e6:.1f} MB); apart, `verify` of the whole record "
                f"{ex.verify_s:.2f} s | < {EXPORT_TARGET_S:.0f} s "
                f"| {'met' if met else 'missed'} |"
            )
        if "memory" in args.only:
            mem = memory(copy_of(server, "scale", "scale_memory"), groups)
            rows.append(
                f"| resident memory of the bot after a /status in each of {mem.groups:,} groups "
                f"(answered in {mem.seconds:.0f} s) | {mem.after_mb:.0f} MB (at start "
                f"{mem.idle_mb:.0f} MB, peak {mem.peak_mb:.0f} MB) | < {MEMORY_TARGET_MB:.0f} MB "
                f"| {'met' if mem.peak_mb < MEMORY_TARGET_MB else 'missed'} |"
            )
        if "load" in args.only:
            load = sustained(copy_of(server, "scale", "scale_load"), groups, load_groups,
                             seconds, Mix())  # fmt: skip
            depths = ", ".join(f"{p + q}" for _t, p, _b, q, _w in load.samples)
            cards = ", ".join(f"{b}/{w:.0f}" for _t, _p, b, _q, w in load.samples)
            met = not load.growing() and load.edits_take_what_is_left()
            rows.append(
                f"| sustained mix, {load.updates / load.seconds:.0f} updates/s over "
                f"{load.groups} groups (a live card each) for {load.seconds:.0f} s "
                f"| sent {load.sent / load.seconds:.1f} msg/s + {load.edits / load.seconds:.1f} "
                f"edits/s (the limits leave edits {load.left_for_edits():.1f}/s), "
                f"{load.answers:,} presses answered, {load.refusals} 429s; every "
                f"{SAMPLE_EVERY:.0f} s: rows pending + updates queued {depths}; cards behind / "
                f"oldest change waiting (s) {cards}; drained {load.drained_s:.1f} s after "
                f"| no growing backlog; edits take what messages leave | "
                f"{'met' if met else 'missed'} |"
            )
    print()
    print("| measure | result | target | |")
    print("| --- | --- | --- | --- |")
    print("\n".join(rows))
    print()
    print(
        f"Store: {figures['groups']:,} groups, {figures['positions']:,} positions, "
        f"{figures['members']:,} members, {figures['proposals']:,} proposals, "
        f"{figures['outbox rows']:,} outbox rows. "
        f"Run took {time.perf_counter() - bench_started:.0f} s."
    )
    print(f"`.venv/bin/python bench/scale.py{' --quick' if args.quick else ''}`")


if __name__ == "__main__":
    main()
