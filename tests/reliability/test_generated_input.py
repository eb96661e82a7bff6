"""10,000 generated inputs per platform through the command grammar: no crash, each input
answered or ignored by the rules, no user markup unescaped in anything the bot sends.

Hypothesis (``derandomize=True``: the same inputs on every run and in CI) generates batches
of inputs (tests/reliability/generated_inputs.py): real command words with garbled
arguments, ids of every kind and size, durations, quotes, right-to-left marks, HTML and
Markdown, overlong texts, and arbitrary text; on Telegram also forged button data, on
Matrix also reactions, redactions, edits and other odd events. Each batch goes through the
platform's real inbound path into the real App (router, engine, store, outbox) and out
through the real adapter. The rules, per input:

- a command for this bot (``grammar.parse`` gives a request or a refusal) gets an answer
  in its chat; anything else (conversation, ``/cmd@otherbot``) gets none;
- a button press is always answered (``answerCallbackQuery``); on Matrix, a reaction is
  ignored unless it is one of a card's buttons (then it may change the card or be refused),
  and the odd events (edits, images, encrypted events, redactions of other things, other
  event types) are ignored whatever their text;
- every outbound HTML message holds only the bot's own tags, in the bot's own form, and
  no ``<``, ``>`` or bare ``&`` of anyone else's (``markup_problems``); Telegram's fake
  also parses each message as Telegram does and refuses broken HTML or overlong text;
- nothing crashes: every batch is committed and its answers delivered, no outbox row
  fails, and after all batches a sentinel ``help`` gets its usual answer.

To tell which input an answer belongs to, each input of a batch goes to a chat of its own
(a group, or a private chat), and a batch is done when everything it caused is delivered.

Platforms:

- Telegram: the App with the Telegram adapter polls the fake Bot API
  (tests/fakes/bot_api.py) over HTTP on loopback, as in tests/telegram/; users' messages
  and presses are real updates, answered through PTB's ``Bot``.
- Matrix: Synapse takes about 60 events a second (docs/benchmarks.md, Matrix end to end):
  10,000 events in and thousands of answers out would take minutes, far over the suite's
  budget. So the homeserver here is a small loopback stand-in (generated_homeserver.py)
  that serves the few endpoints the adapter uses (``/sync``, room state, sends) with
  Matrix's JSON. Everything of ours and of nio runs unchanged: the adapter's sync loop,
  nio's schema-checked parsing of each sync, the translation and enrichment of events,
  the router, the outbox, ``room_send`` over HTTP. The stand-in keeps each sent event
  (``formatted_body``, ``m.new_content`` of edits, reactions) for the checks.
- Console: the App with the console adapter (tests/console/conftest.py), fed
  ``name@group: text`` lines as a script would; an input's answer is what the bot prints
  before the next line is read. The console answers one line at a time (about 9 ms a
  line: 10,000 in about 90 s, within the reliability suite, which runs alongside the rest
  of the tests).

Generated texts hold NUL characters, which PostgreSQL (where this file does not run them)
cannot store: tried there, such a message or name failed its whole batch, for ever. It is fixed
in bot/router.py, and ``test_nul_characters_do_not_hold_up_the_bot`` holds it on every store.

The store is an SQLite file in ``/dev/shm`` (``fast_dir``). The inputs are generated once
for the module (the ``batches`` fixture), which is a good part of the run.

Time (2 cores shared with the rest of the tests): generating the 10,000 inputs 10-30 s,
Telegram 47-60 s, Matrix 35-74 s, console 90-100 s, NUL test 3 s; 3-4.5 min in all.
``CHARTERBOT_GENERATED_INPUTS=1000`` makes a quick run while working on this file.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from adapters.matrix_events import normalise_key
from bot.app import App
from bot.config import Config, ConsoleConfig, DatabaseConfig, MatrixConfig
from deliberation.model import Card, OutboxItem
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from deliberation.timers import ManualClock
from tests.app_thread import AppThread
from tests.console.conftest import Console
from tests.fakes.bot_api import FakeBotApi
from tests.reliability.figures import record
from tests.reliability.generated_homeserver import Json, StandInHomeserver
from tests.reliability.generated_inputs import (
    Action,
    actions,
    expected_answer,
    for_platform,
    markup_problems,
)
from tests.telegram.harness import FAST_FAKE, START, RunningBot

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
]

TOTAL = int(os.environ.get("CHARTERBOT_GENERATED_INPUTS", "10000"))
BATCH = 100  # inputs per batch: one getUpdates answer / one sync
HELP = "charterbot: proposals, amendments and consent"  # the first line of the help text


def hypothesis_settings(batches: int) -> settings:
    """Reproducible (``derandomize``), no deadline (a batch waits for real deliveries), no
    shrinking (the bot's state moves on: a shrunk batch would meet another bot)."""
    return settings(
        max_examples=batches,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@dataclass
class Tally:
    """What happened to the inputs of one platform."""

    inputs: int = 0
    answered: int = 0
    ignored: int = 0
    wrong: list[str] = field(default_factory=list)  # inputs not handled by the rules
    unescaped: list[str] = field(default_factory=list)
    crashes: int = 0

    def judge(self, text: str, must_answer: bool, answered: bool) -> None:
        self.inputs += 1
        if answered:
            self.answered += 1
        else:
            self.ignored += 1
        if must_answer != answered:
            expected = "an answer" if must_answer else "silence"
            self.wrong.append(f"{text[:80]!r}: expected {expected}")

    def figures(self) -> str:
        return (
            f"{self.inputs} / {self.answered} / {self.ignored} / {self.crashes} / "
            f"{len(self.unescaped)}"
        )

    def check(self, total: int = TOTAL) -> None:
        assert self.inputs >= total
        assert not self.wrong, self.wrong[:10]
        assert not self.unescaped, self.unescaped[:10]
        assert self.crashes == 0


def settled(db: Database) -> bool:
    """Nothing left to deliver: no pending message, no card behind its state."""
    with db.unit_of_work(write=False) as uow:
        s = uow.session
        pending = s.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.state == "pending")
        )
        behind = s.scalar(
            select(func.count()).select_from(Card).where(Card.version > Card.shown_version)
        )
        return pending == 0 and behind == 0


def failed_rows(db: Database) -> int:
    with db.unit_of_work(write=False) as uow:
        return uow.session.scalar(
            select(func.count()).select_from(OutboxItem).where(OutboxItem.state == "failed")
        )


def wait(predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


@pytest.fixture
def fast_dir(tmp_path: Path) -> Iterator[Path]:
    """A folder for an SQLite file in memory (``/dev/shm``) where there is one: the store
    syncs every commit to disk (``synchronous = FULL``), which is not what is tested here
    and would cost most of the run. The in-memory store (one shared connection) cannot
    serve the App's several threads at once."""
    shm = Path("/dev/shm")
    if not shm.is_dir():
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="charterbot-generated-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_the_markup_check_sees_unescaped_text() -> None:
    """The check itself: text as the bot writes it passes; user markup left unescaped, in
    any of the generated forms, does not."""
    clean = "<b>P1</b> by Eve &lt;b&gt; &amp;amp; &lt;script&gt;<code>x</code>"
    assert markup_problems(clean, TELEGRAM_TAGS) == []
    for unescaped in ("<i>x</i>", "<B>x</B>", '<b class="x">', "A & B", "&#60;", "<!-- c -->"):
        assert markup_problems(f"<b>P1</b> by {unescaped}", TELEGRAM_TAGS), unescaped
    pill = '<a href="https://matrix.to/#/@member3:gen">Member3</a>: <br><b>x</b>'
    assert markup_problems(pill, MATRIX_TAGS) == []
    forged = '<a href="https://matrix.to/#/@mallory:x">pill</a>'
    assert markup_problems(forged, MATRIX_TAGS)


# -- Telegram --------------------------------------------------------------------------

TELEGRAM_TAGS = re.compile(r"</?(?:b|code)>")  # what render.HtmlMarkup writes
TELEGRAM_LIMIT = 4096  # what a person can send: Telegram's own limit on a message


def utf16_cut(text: str, limit: int) -> str:
    while len(text.encode("utf-16-le")) // 2 > limit:
        text = text[: -max(1, len(text) // 10)]
    return text


class TelegramWorld:
    """A group per batch slot (its creator and a member known to the fake), and the bot."""

    def __init__(self, api: FakeBotApi, running: RunningBot) -> None:
        self.api = api
        self.running = running
        for slot in range(BATCH):
            creator = FakeBotApi.make_user(self.user(0, slot), f"Creator{slot}")
            member = FakeBotApi.make_user(self.user(1, slot), f"Member{slot}")
            api.add_chat(self.group(slot), f"Group {slot}", creator=creator, members=[member])

    @staticmethod
    def group(slot: int) -> int:
        return -1_000_000 - slot

    @staticmethod
    def user(who: int, slot: int) -> int:
        return 10_000 * (who + 1) + slot

    def versions(self, start: int, edits: list[int]) -> dict[int, list[str]]:
        """Per chat, the texts the bot sent or edited in since the marks (``start``: how
        many messages there were, ``edits``: how many edits each had)."""
        made: dict[int, list[str]] = {}
        for index, message in enumerate(self.api.sent):
            old = edits[index] if index < start else -1
            count = len(message["edits"])
            if count == old:
                continue
            shown = [e["text"] for e in message["edits"]][old + 1 :] + [message["text"]]
            made.setdefault(message["chat_id"], []).extend(shown)
        return made

    def run_batch(self, batch: list[Action], tally: Tally) -> None:
        api = self.api
        username = self.running.telegram.caps.username
        start = len(api.sent)
        edits = [len(m["edits"]) for m in api.sent]
        answers = len(api.callback_answers)
        pushed: list[tuple[str, int, str | None, bool]] = []  # input, chat, query, must answer
        for slot, action in enumerate(batch):
            user_id = self.user(action.who, slot)
            user = FakeBotApi.make_user(user_id, action.name, language_code="en")
            if action.where == "private":
                user_id = self.user(3, slot)  # a private chat of its own in this batch
                user = FakeBotApi.make_user(user_id, action.name, language_code=None)
                chat = user_id
            else:
                chat = self.group(slot)
            if action.where == "press":
                sent = api.sent_to(chat) if action.on_card else []
                message_id = sent[-1]["message_id"] if sent else 999_999
                update = api.press_button(chat, user, message_id, action.data)
                pushed.append((f"press {action.data}", chat, update["callback_query"]["id"], True))
                continue
            text = utf16_cut(for_platform(action.text, "/", TELEGRAM_LIMIT), TELEGRAM_LIMIT)
            text = text or "."  # Telegram delivers no empty message
            api.user_message(chat, user, text)
            pushed.append((text, chat, None, expected_answer(text, "/", username)))
        presses = sum(1 for _, _, query, _ in pushed if query is not None)
        try:
            wait(lambda: not api.updates, "the batch to be confirmed")
            wait(lambda: len(api.callback_answers) >= answers + presses, "the presses' answers")
            wait(lambda: settled(self.running.db), "the batch's answers to be delivered")
        except AssertionError:
            tally.crashes += 1
            raise
        answered_queries = {a["callback_query_id"] for a in api.callback_answers[answers:]}
        made = self.versions(start, edits)
        for text, chat, query, must in pushed:
            answered = query in answered_queries if query is not None else chat in made
            tally.judge(text, must, answered)
        for texts in made.values():
            for text in texts:
                problems = markup_problems(text, TELEGRAM_TAGS)
                if problems:
                    tally.unescaped.append(f"{problems[0]} in {text[:120]!r}")


@pytest.fixture(scope="module")
def batches() -> list[list[Action]]:
    """The generated inputs, in batches; the same for every platform."""
    made: list[list[Action]] = []

    @hypothesis_settings(TOTAL // BATCH)
    @given(st.lists(actions(), min_size=BATCH, max_size=BATCH))
    def generate(batch: list[Action]) -> None:
        made.append(batch)

    generate()
    return made


@pytest.fixture
def telegram_world(fast_dir: Path) -> Iterator[TelegramWorld]:
    with (
        FakeBotApi.in_thread(**FAST_FAKE) as api,
        RunningBot(api, f"sqlite:///{fast_dir}/telegram.db") as running,
    ):
        yield TelegramWorld(api, running)


def test_generated_input_telegram(
    batches: list[list[Action]], telegram_world: TelegramWorld
) -> None:
    world, api = telegram_world, telegram_world.api
    tally = Tally()
    started = time.monotonic()
    for batch in batches:
        world.run_batch(batch, tally)
    refused = [(m, str(p.get("text", ""))[:80], s) for m, p, s in api.requests if s != 200]
    failed = failed_rows(world.running.db)
    # The sentinel: after everything, a plain question still gets its usual answer.
    sam = FakeBotApi.make_user(9, "Sam")
    api.add_chat(-999, "Sentinel", creator=sam)
    api.user_message(-999, sam, "/help")
    world.running.wait_for(
        lambda: any(HELP in m["plain_text"] for m in api.sent_to(-999)), "the sentinel's answer"
    )
    elapsed = time.monotonic() - started
    record(
        "generated input, telegram",
        "inputs / answered / ignored / crashes / unescaped",
        tally.figures(),
    )
    print(f"telegram: {tally.figures()} in {elapsed:.1f} s")
    assert not refused, refused[:10]
    assert failed == 0
    tally.check()


# -- Matrix ----------------------------------------------------------------------------

BOT = "@charterbot:gen"
# What the adapter writes: render.HtmlMarkup's tags, line breaks, and pills for the
# person addressed (the user id in the link escaped with quotes).
MATRIX_TAGS = re.compile(
    r'</?(?:b|code)>|<br>|<a href="https://matrix\.to/#/@(?:creator|member|newcomer)\d+:gen">|</a>'
)
MATRIX_LIMIT = 16_000  # the adapter's longest formatted_body: longer answers are split
SEEDED = {"✅", "⚠️", "✋", "➖", "👍", "👎"}  # the reactions the bot puts on its cards


class MatrixWorld:
    """A room per batch slot on the stand-in homeserver, and the bot syncing with it."""

    def __init__(self, hs: StandInHomeserver, running: MatrixBot) -> None:
        self.hs = hs
        self.running = running
        self.reactions: list[str] = []  # people's reaction events, to redact some later
        for slot in range(BATCH):
            members = {self.user(0, slot): f"Creator{slot}", self.user(1, slot): f"Member{slot}"}
            hs.add_room(
                self.room(slot), self.user(0, slot), {**members, BOT: "charterbot"}, f"Room {slot}"
            )

    @staticmethod
    def room(slot: int) -> str:
        return f"!room{slot}:gen"

    @staticmethod
    def user(who: int, slot: int) -> str:
        return f"@{('creator', 'member', 'newcomer')[who]}{slot}:gen"

    def last_card(self, room_id: str) -> str | None:
        for sent in reversed(self.hs.sent):
            relation = sent.content.get("m.relates_to") or {}
            if sent.room_id == room_id and sent.event_type == "m.room.message" and not relation:
                return sent.event_id
        return None

    def event(self, kind: str, sender: str, content: Json) -> Json:
        return {
            "type": kind,
            "event_id": self.hs.new_id(),
            "sender": sender,
            "origin_server_ts": 1_700_000_000_000,
            "content": content,
            "unsigned": {"age": 1},
        }

    def odd_event(self, action: Action, sender: str, body: str) -> Json:
        """Events that are nothing for the bot, however command-like their text."""
        message = {"msgtype": "m.text", "body": body}
        match action.odd:
            case 0:  # an image whose caption is a command
                return self.event("m.room.message", sender, {"msgtype": "m.image", "body": body})
            case 1:  # an edit of a command: carried out once, when first sent
                relation = {"rel_type": "m.replace", "event_id": self.hs.new_id()}
                return self.event(
                    "m.room.message",
                    sender,
                    {**message, "m.new_content": message, "m.relates_to": relation},
                )
            case 2:  # a body that is no text
                return self.event("m.room.message", sender, {"msgtype": "m.text", "body": 12})
            case 3:  # encrypted, and the bot has no encryption
                return self.event(
                    "m.room.encrypted",
                    sender,
                    {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": body},
                )
            case 4:  # the redaction of something that was no counted reaction
                return self.event("m.room.redaction", sender, {"redacts": self.hs.new_id()})
            case _:  # an event type of someone else's
                return self.event("org.example.custom", sender, {"body": body})

    def run_batch(self, batch: list[Action], tally: Tally) -> None:
        hs = self.hs
        start = len(hs.sent)
        events: list[tuple[str, Json]] = []
        judged: list[tuple[str, str, bool | None]] = []  # input, room, must answer (None: free)
        for slot, action in enumerate(batch):
            room, sender = self.room(slot), self.user(action.who, slot)
            body = for_platform(action.text, "!", MATRIX_LIMIT)
            if action.who == 2:  # a newcomer joins under the name they chose
                member = self.event(
                    "m.room.member", sender, {"membership": "join", "displayname": action.name}
                )
                events.append((room, {**member, "state_key": sender}))
            if action.where == "press":
                card = self.last_card(room) if action.on_card else None
                target = card or hs.new_id()
                relation = {"rel_type": "m.annotation", "event_id": target, "key": action.key}
                reaction = self.event("m.reaction", sender, {"m.relates_to": relation})
                events.append((room, reaction))
                button = card is not None and normalise_key(action.key) in {
                    normalise_key(k) for k in SEEDED
                }
                judged.append((f"reaction {action.key}", room, None if button else False))
            elif action.where == "odd":
                events.append((room, self.odd_event(action, sender, body)))
                judged.append((f"odd {action.odd} {body[:40]}", room, False))
            else:
                msgtype = "m.notice" if action.where == "private" else "m.text"
                events.append(
                    (room, self.event("m.room.message", sender, {"msgtype": msgtype, "body": body}))
                )
                judged.append((body, room, expected_answer(body, "!", BOT)))
        token = hs.post(events)
        try:
            wait(lambda: hs.synced_past(token), "the batch to be committed")
            wait(lambda: settled(self.running.db), "the batch's answers to be delivered")
        except AssertionError:
            tally.crashes += 1
            raise
        answered_rooms: set[str] = set()
        for sent in hs.sent[start:]:
            if sent.event_type == "m.reaction":
                key = (sent.content.get("m.relates_to") or {}).get("key")
                if key not in SEEDED:
                    tally.unescaped.append(f"reaction {key!r}")
                continue
            answered_rooms.add(sent.room_id)
            for content in (sent.content, sent.content.get("m.new_content") or {}):
                if not content:
                    continue
                problems = markup_problems(content.get("formatted_body", ""), MATRIX_TAGS)
                if content.get("m.mentions") is None:
                    problems.append("no m.mentions")
                if problems:
                    tally.unescaped.append(
                        f"{problems[0]} in {content.get('formatted_body', '')[:120]!r}"
                    )
        for text, room, must in judged:
            answered = room in answered_rooms
            tally.judge(text, answered if must is None else must, answered)


class MatrixBot:
    """charterbot's App with the Matrix adapter, run as ``charterbot run`` runs it."""

    def __init__(self, homeserver: str, db_url: str) -> None:
        self.db = Database(db_url)
        upgrade(self.db.engine)
        matrix = MatrixConfig(
            enabled=True, homeserver=homeserver, user_id=BOT, access_token="stand-in-token"
        )
        config = dataclasses.replace(
            Config(),
            database=DatabaseConfig(url=db_url),
            console=ConsoleConfig(enabled=False),
            matrix=matrix,
        )
        self.app = App.build(config, ManualClock(START), self.db)
        self.matrix = self.app.add_matrix(sync_timeout_ms=1000)
        self.runner = AppThread(self.app)

    def __enter__(self) -> MatrixBot:
        self.runner.start()
        wait(lambda: self.matrix.ready, "the bot's first sync")
        return self

    def __exit__(self, *exc: object) -> None:
        self.runner.stop(15)
        self.db.dispose()


@pytest.fixture
def matrix_world(fast_dir: Path) -> Iterator[MatrixWorld]:
    with (
        StandInHomeserver.in_thread() as hs,
        MatrixBot(hs.url, f"sqlite:///{fast_dir}/matrix.db") as running,
    ):
        yield MatrixWorld(hs, running)


def test_generated_input_matrix(batches: list[list[Action]], matrix_world: MatrixWorld) -> None:
    world, hs = matrix_world, matrix_world.hs
    tally = Tally()
    started = time.monotonic()
    for batch in batches:
        world.run_batch(batch, tally)
    failed = failed_rows(world.running.db)
    # The sentinel: after everything, a plain question still gets its usual answer.
    room = world.room(0)
    help_event = world.event(
        "m.room.message", world.user(1, 0), {"msgtype": "m.text", "body": "!help"}
    )
    start = len(hs.sent)
    hs.post([(room, help_event)])
    wait(
        lambda: any(HELP in s.content.get("body", "") for s in hs.sent[start:]),
        "the sentinel's answer",
    )
    elapsed = time.monotonic() - started
    record(
        "generated input, matrix",
        "inputs / answered / ignored / crashes / unescaped",
        tally.figures(),
    )
    print(f"matrix: {tally.figures()} in {elapsed:.1f} s")
    assert not hs.unknown, hs.unknown[:10]
    assert failed == 0
    tally.check()


# -- console ---------------------------------------------------------------------------

CONSOLE_NAME = re.compile(r"[\w.\-]+")


def console_line(slot: int, action: Action) -> tuple[str, str]:
    """The console line for an action (``name@group: text``) and the text the bot reads."""
    name = ("alice", "bob")[action.who] if action.who < 2 else action.name
    if not CONSOLE_NAME.fullmatch(name):
        name = "carol"
    text = for_platform(action.text, "/", 5_000)
    return f"{name}@g{slot}: {text}", text


def test_generated_input_console(batches: list[list[Action]]) -> None:
    console = Console()
    out = console.out
    tally = Tally()
    started = time.monotonic()

    async def run() -> None:
        for batch in batches:
            for slot, action in enumerate(batch):
                line, text = console_line(slot, action)
                before = out.tell()
                await console.console.line(line)
                out.seek(before)
                printed = out.read()
                if "\nconsole: " in "\n" + printed:
                    tally.crashes += 1  # the console could not read its own line
                tally.judge(text, expected_answer(text, "/", None), bool(printed))
        before = out.tell()
        await console.console.line("bob@sentinel: /help")
        out.seek(before)
        assert HELP in out.read(), "the sentinel's answer"

    asyncio.run(run())
    elapsed = time.monotonic() - started
    record(
        "generated input, console",
        "inputs / answered / ignored / crashes / unescaped",
        tally.figures(),
    )
    print(f"console: {tally.figures()} in {elapsed:.1f} s")
    tally.check(TOTAL)


def test_nul_characters_do_not_hold_up_the_bot(database_url: str) -> None:
    """Found by the generated inputs: PostgreSQL cannot store a NUL character in text, so a
    message or a name holding one failed its whole batch, and the bot tried it again for
    ever. People's text reaches the store without them; on every store the bot answers."""
    console = Console(env={"CHARTERBOT_DATABASE_URL": database_url})
    assert console.text("alice: /propose We share\x00 the kitchen.").startswith(
        "bot: P1: new clause proposed by alice:\nbot:   We share the kitchen."
    )
    assert "I do not know the command /nosuch" in console.text("bob: /nosuch\x00")
