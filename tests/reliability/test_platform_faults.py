"""A minute of 429s, 5xx and timeouts from Telegram and from Matrix: every announcement
arrives afterwards, once, in order.

charterbot's real ``App`` runs twice at the same time, each as ``charterbot run`` runs it:
with the Telegram adapter against the fake Bot API (tests/fakes/bot_api.py, its
``fault_window``), and with the Matrix adapter against a real Synapse through our fault
injecting proxy (tests/reliability/fault_proxy.py). For 60 s of real time each platform
fails: every send and edit is refused, mostly with a flood wait (429 with ``retry_after``,
the platforms' commonest refusal), else with a server error, no answer at all until the
client times out ("hang", never carried out), or no answer after it was carried out
("lost"); the update stream (``getUpdates``, ``/sync``) fails every other request the same
ways, so people's commands still trickle in. Meanwhile
people act in a group/room as they would: they press the card's buttons (react on
Matrix), propose, ask for the status and state positions, and deadlines fall due (the
engine's clock is moved and the bot's alarm rung, as when real time passes), so the bot
owes cards, card edits, replies and phase announcements throughout the minute.

Afterwards, what people see, read from the platform itself (the fake's chat log; the
room's events read by a nio client straight from Synapse, not through the proxy):

* every message the bot committed arrived, and the outbox is empty (all rows sent, none
  failed; every card shows its latest version);
* none twice: each bot message is the delivery of exactly one outbox row, matched by its
  text; the announcements expected from what people did are each there once;
* in commit order: the design keeps one chat's messages in order, so the platform's
  message order is the rows' order;
* Telegram's ``retry_after`` was obeyed every time (the fake records any request that
  came early).

The platform-imposed limit, precisely: Telegram's ``sendMessage`` has no idempotency key
and the bot cannot read a chat's history, so when Telegram carried out a send whose
answer never reached the bot ("lost"), the bot cannot tell it from a send that never
arrived, and sends it again (docs/decisions.md: "rarely a message may appear twice, never
lost"). The test asserts that this is the only source of doubles: the extra copies are
exactly the messages whose answers the fake dropped. Matrix has no such limit: a resent
``PUT`` carries the outbox row's transaction id and Synapse answers it with the event it
already made, so lost answers there must cause no double at all. (A card *edit* resent
after a lost answer may add a second, identical ``m.replace``; clients show the latest, so
no one sees a difference, and edits are not counted as messages.)

What this found in bot/outbox.py: a flood wait counted as a failed try, so a minute of
429s raised the back-off of the next real failure to minutes (and twelve of them gave the
message up for good); and a Matrix card whose post was answered too late kept the wording
of its first try (see the second test).
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from sqlalchemy import func, select

from adapters.matrix import plain_text
from bot.app import App
from deliberation.model import Card, OutboxItem, Position, Proposal
from deliberation.store.db import Database
from deliberation.timers import ManualClock
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.synapse import Synapse, ensure_synapse
from tests.matrix.fixtures import MatrixUser
from tests.matrix.harness import Loop, Person, RunningMatrixBot, meeting, wait_for
from tests.reliability.fault_proxy import FaultProxy
from tests.reliability.figures import record
from tests.telegram.harness import FAST_FAKE, RunningBot, fake_group

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
]

WINDOW = 60.0  # seconds of real time the platforms fail, as the issue says: a minute
DRAIN = 90.0  # seconds the bot may take after the window to deliver everything
HOUR = timedelta(minutes=61)  # past the amendment and consent phases of the groups here

# Sends and edits fail every time during the window, mostly with flood waits (the platforms'
# commonest refusal); the update streams fail every other time, so people's commands still
# trickle in.
TELEGRAM_FAULTS: dict[str, tuple[str, ...]] = {
    "sendMessage": ("429", "429", "429", "502", "429", "429", "429", "hang")
    + ("429", "429", "429", "503", "429", "429", "429", "lost"),
    "editMessageText": ("429", "502", "429", "hang", "429", "503", "429", "lost"),
    "answerCallbackQuery": ("502", "pass", "hang", "429"),
    "getUpdates": ("pass", "502", "pass", "hang", "pass", "429", "pass", "503"),
}
TELEGRAM_RETRY_AFTER = 2  # seconds
MATRIX_FAULTS: dict[str, tuple[str, ...]] = {
    "send": ("429", "429", "429", "502", "429", "429", "429", "hang")
    + ("429", "429", "429", "503", "429", "429", "429", "lost", "429", "500"),
    "sync": ("pass", "502", "pass", "hang", "pass", "429", "pass", "503"),
    "other": ("pass", "502", "pass", "429"),
}
MATRIX_RETRY_AFTER_MS = 2000
MATRIX_REQUEST_TIMEOUT = 8.0  # seconds before the bot gives up on a hung request

GROUP = -1001000000909
NAMES = ("Alice", "Bob", "Carol", "Dave")
TG_PEOPLE = {
    name: FakeBotApi.make_user(90 + i, name, language_code="en") for i, name in enumerate(NAMES)
}

_synapse_users = itertools.count(1)
# Alembic keeps its migration context in module globals: one database at a time.
_MIGRATING = threading.Lock()


# -- what a platform gives the story -------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Shown:
    """One bot message as the platform shows it."""

    ref: str  # the platform's id of the message
    first: str  # its text as first posted
    now: str  # its text now (edits applied)


class Side(Protocol):
    """One platform in the story: people act through it, and it shows the bot's messages."""

    name: str
    prefix: str
    app: App
    clock: ManualClock
    db: Database

    def say(self, who: str, text: str) -> None: ...

    def name_of(self, who: str) -> str: ...

    def press(self, who: str, card: str, answer: str) -> None: ...

    def shown(self) -> list[Shown]: ...

    def call_soon(self, fn: Callable[[], None]) -> None: ...


class TelegramSide:
    name = "telegram"
    prefix = "/"

    def __init__(self, bot: RunningBot) -> None:
        self.bot, self.api = bot, bot.api
        self.app, self.clock, self.db = bot.app, bot.clock, bot.db

    def say(self, who: str, text: str) -> None:
        self.api.user_message(GROUP, TG_PEOPLE[who], text)

    def name_of(self, who: str) -> str:
        return who

    def press(self, who: str, card: str, answer: str) -> None:
        data = {"✅": "v1:c", "➖": "v1:a"}[answer]
        self.api.press_button(GROUP, TG_PEOPLE[who], int(card), data)

    def shown(self) -> list[Shown]:
        return [
            Shown(str(m["message_id"]), (m["edits"][0] if m["edits"] else m)["text"], m["text"])
            for m in self.api.sent_to(GROUP)
        ]

    def call_soon(self, fn: Callable[[], None]) -> None:
        self.bot.loop.call_soon_threadsafe(fn)


class MatrixSide:
    name = "matrix"
    prefix = "!"

    def __init__(self, bot: RunningMatrixBot, people: dict[str, Person], room: str) -> None:
        self.bot, self.people, self.room = bot, people, room
        self.app, self.clock, self.db = bot.app, bot.clock, bot.db

    def say(self, who: str, text: str) -> None:
        self.people[who].say(self.room, text)

    def name_of(self, who: str) -> str:
        """The bot names people by their display name, which is their localpart here."""
        return self.people[who].user_id.removeprefix("@").split(":")[0]

    def press(self, who: str, card: str, answer: str) -> None:
        self.people[who].react(self.room, card, answer)

    def shown(self) -> list[Shown]:
        """The bot's messages in the room, read from Synapse (not through the proxy)."""
        events = self.people["Alice"].events(self.room)
        messages: dict[str, Shown] = {}
        for event in events:
            if event.get("type") != "m.room.message" or event["sender"] != self.bot.user_id:
                continue
            content = event.get("content") or {}
            relation = content.get("m.relates_to") or {}
            if relation.get("rel_type") == "m.replace":
                earlier = messages.get(relation.get("event_id", ""))
                if earlier is not None:
                    now = (content.get("m.new_content") or {}).get("formatted_body", "")
                    messages[earlier.ref] = dataclasses.replace(earlier, now=_lines(now))
                continue
            body = _lines(content.get("formatted_body", ""))
            messages[event["event_id"]] = Shown(event["event_id"], body, body)
        return list(messages.values())

    def call_soon(self, fn: Callable[[], None]) -> None:
        self.bot.loop.call_soon_threadsafe(fn)

    def reactions(self, card: str) -> dict[str, list[str]]:
        """Who reacted how on the card (the bot seeds one of each answer)."""
        shown = self.people["Alice"].bot_messages(self.room, self.bot.user_id)
        return next(m["reactions"] for m in shown if m["event_id"] == card)


# -- reading the bot's store ---------------------------------------------------------------


def rows(side: Side) -> list[OutboxItem]:
    with side.db.unit_of_work(write=False) as uow:
        found = list(uow.session.scalars(select(OutboxItem).order_by(OutboxItem.id)))
        uow.session.expunge_all()
        return found


def cards(side: Side) -> dict[str, Card]:
    with side.db.unit_of_work(write=False) as uow:
        found = {c.subject: c for c in uow.session.scalars(select(Card))}
        uow.session.expunge_all()
        return found


def count(side: Side, what: Any) -> int:
    with side.db.unit_of_work(write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(what)) or 0)


def overdue(side: Side) -> int:
    """Proposals whose phase should have closed by the bot's clock and has not yet."""
    with side.db.unit_of_work(write=False) as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(Proposal)
                .where(Proposal.phase_closes_at <= side.clock.now())
            )
            or 0
        )


def phase_of_p1(side: Side) -> str | None:
    with side.db.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(Proposal.phase).where(Proposal.id == 1))


def delivered(side: Side) -> bool:
    """Nothing left to send or edit."""
    if any(r.state != "sent" for r in rows(side)):
        return False
    return all(c.shown_version >= c.version and c.message_ref for c in cards(side).values())


def deadlines_fall_due(side: Side) -> None:
    """An hour passes: the engine's clock moves and the bot's alarm rings, as it does when
    real time reaches a deadline; the bot closes the phases itself."""
    side.clock.advance(HOUR)
    side.call_soon(side.app.alarm.ring)
    wait_for(lambda: overdue(side) == 0, f"{side.name}: the deadlines to be carried out", 60)


# -- the story -----------------------------------------------------------------------------


@dataclasses.dataclass
class Outcome:
    """What one platform's run came to (asserted on, and recorded as figures)."""

    due: int  # outbox rows committed during the window
    delivered: int
    duplicated: int
    lost_answers: int  # sends carried out whose answer never came back
    retries: int  # requests of the bot the platform failed during the window
    drained_after: float  # seconds from the window's end until everything was delivered


def before_the_window(side: Side) -> str:
    """A group with one proposal in its consent round (its card on screen), people known
    to the bot; the card's platform id."""
    p = side.prefix
    side.say("Alice", f"{p}settings consent_hours 1")
    side.say("Alice", f"{p}settings amendment_hours 0")
    side.say("Alice", f"{p}propose Bikes stay in the yard.")
    wait_for(lambda: count(side, Proposal) == 1, f"{side.name}: P1", 30)
    side.say("Alice", f"{p}settings amendment_hours 1")
    for who in ("Bob", "Carol", "Dave"):  # known to the bot: no look-ups in the window
        side.say(who, f"{p}status")
    side.say("Carol", f"{p}consent P1")
    wait_for(lambda: count(side, Position) == 1, f"{side.name}: Carol's position", 30)
    wait_for(lambda: delivered(side), f"{side.name}: the messages before the window", 30)
    card = cards(side)["P1"].message_ref
    assert card is not None
    if isinstance(side, MatrixSide):  # the answers seeded on the card, before the window
        wait_for(lambda: len(side.reactions(card)) == 4, "the answers seeded on P1's card", 30)
    return card


def in_the_window(side: Side, card: str) -> None:
    """What people do while the platform fails, and two hours of deadlines."""
    p = side.prefix
    side.press("Bob", card, "✅")
    side.press("Dave", card, "➖")
    side.say("Alice", f"{p}propose Quiet after ten.")
    side.say("Bob", f"{p}propose A shared shelf for tools.")
    side.say("Carol", f"{p}propose Guests sign the book.")
    side.say("Dave", f"{p}status")
    wait_for(lambda: count(side, Proposal) == 4, f"{side.name}: P2-P4", 60)
    wait_for(lambda: count(side, Position) == 3, f"{side.name}: the presses on P1", 60)
    deadlines_fall_due(side)  # P1 closes; P2-P4 go to their consent rounds
    for who, text in (
        ("Bob", "consent P2"),
        ("Carol", "concern P2 too loud"),
        ("Alice", "object P3 not now"),
        ("Carol", "consent P3"),
        ("Dave", "consent P4"),
        ("Alice", "consent P4"),
        ("Bob", "abstain P4"),
    ):
        side.say(who, p + text)
    wait_for(lambda: count(side, Position) == 10, f"{side.name}: the positions", 60)
    deadlines_fall_due(side)  # P2 and P4 adopted, P3 objected
    side.say("Bob", f"{p}propose Lights off at midnight.")
    side.say("Carol", f"{p}status")
    wait_for(lambda: count(side, Proposal) == 5, f"{side.name}: P5", 60)


def expected_once(side: Side) -> list[str]:
    """Announcements the story owes, each exactly once (how their plain text starts)."""
    said = [
        f"{side.name_of(who)} on {p}"
        for who, p in (
            ("Bob", "P2"),
            ("Carol", "P2"),
            ("Alice", "P3"),
            ("Carol", "P3"),
            ("Dave", "P4"),
            ("Alice", "P4"),
            ("Bob", "P4"),
        )
    ]
    closed = [f"The amendment phase of P{n} is closed." for n in (2, 3, 4)]
    ended = ["P1 adopted", "P2 adopted", "P3 is not adopted", "P4 adopted"]
    return [*closed, *said, *ended]


CARDS_NOW = {  # how each card reads at the end
    "P1": "P1 · new clause · adopted",
    "P2": "P2 · new clause · adopted",
    "P3": "P3 · new clause · objected",
    "P4": "P4 · new clause · adopted",
    "P5": "P5 · new clause · amendment phase",
}


def check(side: Side, sent_before: int, lost: list[str]) -> tuple[int, int, int]:
    """Everything arrived once and in order; (rows due in the window, of them delivered,
    duplicates)."""
    all_rows = rows(side)
    shown = side.shown()
    by_ref = {m.ref: m for m in shown}
    assert len(by_ref) == len(shown)
    due = all_rows[sent_before:]
    arrived = [r for r in due if r.state == "sent" and r.message_ref in by_ref]
    assert [r.id for r in all_rows if r.state != "sent"] == []  # none pending, none failed
    for subject, card in cards(side).items():
        assert card.shown_version >= card.version, subject

    # Each message is one row's delivery, or a copy of one whose answer was lost.
    refs = [r.message_ref for r in all_rows]
    assert None not in refs and len(set(refs)) == len(refs)
    extra = [m for m in shown if m.ref not in set(refs)]
    assert sorted(m.ref for m in extra) == sorted(lost)
    assert set(refs) <= set(by_ref)
    for row in all_rows:
        if row.purpose != "card":
            assert by_ref[row.message_ref].first == row.text, row.id
    subjects = set(cards(side))
    seen = collections.Counter(_what(m, subjects) for m in shown)
    for copy in extra:  # a copy of a row's text, or of a card (worded when it was sent)
        assert seen[_what(copy, subjects)] >= 2, copy

    # In commit order: the platform's order of the messages is the rows' order.
    position = {m.ref: i for i, m in enumerate(shown)}
    assert [position[r.message_ref] for r in all_rows] == sorted(
        position[r.message_ref] for r in all_rows
    )

    # What people did owes these, once each; and the cards show how things ended.
    plain = [_plain(m.first) for m in shown]
    for needle in expected_once(side):
        assert sum(t.startswith(needle) for t in plain) == 1 + sum(
            _plain(c.first).startswith(needle) for c in extra
        ), (needle, [t[:50] for t in plain])
    assert sum(t.startswith("Open proposals") for t in plain) == 5  # five asked for it
    now = {s: _plain(by_ref[c.message_ref].now) for s, c in cards(side).items() if c.message_ref}
    for subject, start in CARDS_NOW.items():
        assert now[subject].startswith(start), (subject, now[subject][:80])
    return len(due), len(arrived), len(extra)


def _what(message: Shown, subjects: set[str]) -> str:
    """What a message is: a card's subject ("P3"), or else its text."""
    subject = _plain(message.first).split(" · ", 1)[0]
    return subject if subject in subjects else message.first


def _plain(html: str) -> str:
    return plain_text(html)


def _lines(formatted_body: str) -> str:
    """The bot's HTML as it wrote it: the Matrix adapter turns its newlines into ``<br>``."""
    return formatted_body.replace("<br>", "\n")


def run_story(
    side: Side,
    open_window: Callable[[], Any],
    failed: Callable[[Any], int],
    doubled: Callable[[Any], list[str]],
) -> Outcome:
    card = before_the_window(side)
    sent_before = len(rows(side))
    window = open_window()
    opened = time.monotonic()
    in_the_window(side, card)
    assert time.monotonic() - opened < WINDOW, "the story outlasted the window"
    time.sleep(max(0.0, opened + WINDOW - time.monotonic()))
    ended = time.monotonic()
    wait_for(lambda: delivered(side), f"{side.name}: everything delivered", DRAIN)
    drained_after = time.monotonic() - ended
    due, arrived, duplicated = check(side, sent_before, doubled(window))
    return Outcome(
        due=due,
        delivered=arrived,
        duplicated=duplicated,
        lost_answers=len(window.lost),
        retries=failed(window),
        drained_after=drained_after,
    )


# -- the two platforms ---------------------------------------------------------------------


def telegram_run(tmp_path: Path) -> Outcome:
    with FakeBotApi.in_thread(**FAST_FAKE) as api:
        alice, *others = TG_PEOPLE.values()
        fake_group(api, GROUP, alice, others)
        with _MIGRATING:
            running = RunningBot(api, f"sqlite:///{tmp_path}/telegram.db")
        with running as bot:
            side = TelegramSide(bot)

            def failed(window: Any) -> int:
                return sum(
                    n
                    for (method, kind), n in window.served.items()
                    if method in ("sendMessage", "editMessageText") and kind != "pass"
                )

            outcome = run_story(
                side,
                lambda: api.fault_window(WINDOW, TELEGRAM_FAULTS, retry_after=TELEGRAM_RETRY_AFTER),
                failed,
                lambda window: [str(m["message_id"]) for m in window.lost],
            )
            assert api.flood_violations == []  # every retry_after obeyed
            return outcome


@contextlib.contextmanager
def matrix_room(
    tmp_path: Path, synapse: Synapse, loop: Loop, request_timeout: float
) -> Iterator[tuple[FaultProxy, RunningMatrixBot, dict[str, Person], str]]:
    """The bot behind the fault proxy, and a room Alice made with it and the others."""

    def user(name: str) -> MatrixUser:
        localpart = f"{name.lower()}-{next(_synapse_users)}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        user_id, token = synapse.register(localpart, password)
        return MatrixUser(user_id, token, localpart, password)

    with FaultProxy.in_thread(synapse.url) as proxy:
        with _MIGRATING:
            bot = RunningMatrixBot(
                synapse,
                f"sqlite:///{tmp_path}/matrix.db",
                user("charterbot"),
                request_timeout=request_timeout,
            )
        bot.matrix_config = dataclasses.replace(bot.matrix_config, homeserver=proxy.url)
        people = {name: Person(loop, synapse, user(name)) for name in NAMES}
        try:
            bot.start()
            room = meeting(bot, people["Alice"], *(people[n] for n in ("Bob", "Carol", "Dave")))
            yield proxy, bot, people, room
        finally:
            bot.close()
            for person in people.values():
                person.close()


def matrix_run(tmp_path: Path, synapse: Synapse, loop: Loop) -> Outcome:
    with matrix_room(tmp_path, synapse, loop, MATRIX_REQUEST_TIMEOUT) as (proxy, bot, people, room):

        def failed(window: Any) -> int:
            return sum(
                n
                for (which, kind), n in window.served.items()
                if which == "send" and kind != "pass"
            )

        return run_story(
            MatrixSide(bot, people, room),
            lambda: proxy.fault_window(WINDOW, MATRIX_FAULTS, retry_after_ms=MATRIX_RETRY_AFTER_MS),
            failed,
            lambda window: [],  # a resent transaction is the event Synapse already made
        )


@pytest.fixture(scope="module")
def homeserver() -> Iterator[Synapse]:
    with Synapse(ensure_synapse()) as server:
        yield server


def test_a_minute_of_platform_failures_delays_announcements_but_loses_and_doubles_none(
    tmp_path: Path, homeserver: Synapse
) -> None:
    people_loop = Loop()
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            telegram = pool.submit(telegram_run, tmp_path)
            matrix = pool.submit(matrix_run, tmp_path, homeserver, people_loop)
            results = {"telegram": telegram.exception(), "matrix": matrix.exception()}
            failures = {k: e for k, e in results.items() if e is not None}
            if failures:
                raise ExceptionGroup("a platform run failed", list(failures.values()))
            outcomes = {"telegram": telegram.result(), "matrix": matrix.result()}
    finally:
        people_loop.close()

    for name, o in outcomes.items():
        record(
            f"429/5xx/timeouts for 60 s, {name}",
            "announcements due / delivered / duplicated / retries",
            f"{o.due} / {o.delivered} / {o.duplicated} / {o.retries}"
            + (
                f" (each double a send Telegram carried out whose answer was lost:"
                f" {o.lost_answers}; no idempotency key)"
                if name == "telegram"
                else f" ({o.lost_answers} answers lost; resent transactions not doubled)"
            )
            + f"; all delivered {o.drained_after:.0f} s after the window",
        )
    tg, mx = outcomes["telegram"], outcomes["matrix"]
    assert tg.due >= 20 and mx.due >= 20  # the bot owed many messages during the window
    assert mx.duplicated == 0  # Synapse deduplicates resent transactions
    assert tg.retries > 0 and mx.retries > 0


def test_a_matrix_card_whose_post_was_answered_too_late_still_shows_its_latest_state(
    tmp_path: Path, homeserver: Synapse
) -> None:
    """A card's post reaches Synapse but its answer is lost; before the retry gets through,
    the proposal moves on. The retry carries the same transaction id, so Synapse answers it
    with the event the first try made, worded as the card was then. The bot must not take
    that for the card's new wording: an edit has to follow. (Found by the test above: a
    card stayed in its consent phase after its proposal was adopted.)"""
    people_loop = Loop()
    try:
        with matrix_room(tmp_path, homeserver, people_loop, 2.0) as (proxy, bot, people, room):
            side = MatrixSide(bot, people, room)
            side.say("Alice", "!settings amendment_hours 1")
            wait_for(lambda: delivered(side) and rows(side), "the settings answer", 30)
            window = proxy.fault_window(6.0, {"send": ("lost",)})
            side.say("Alice", "!propose Bikes stay in the yard.")
            wait_for(lambda: window.lost, "the card's post to reach Synapse, unanswered", 30)
            side.say("Alice", "!next P1")  # the card now owes its consent phase
            wait_for(lambda: phase_of_p1(side) == "consent", "P1's consent phase", 30)
            wait_for(lambda: not window.open() and delivered(side), "everything delivered", 60)
            card = cards(side)["P1"].message_ref
            shown = [m for m in side.shown() if _plain(m.first).startswith("P1 · ")]
            assert [m.ref for m in shown] == [card]  # posted once
            assert _plain(shown[0].first).startswith("P1 · new clause · amendment phase")
            assert _plain(shown[0].now).startswith("P1 · new clause · consent phase")
    finally:
        people_loop.close()
