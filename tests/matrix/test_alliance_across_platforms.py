"""An alliance across platforms, end to end (SPEC section 5): one Telegram group (through
the loopback Bot API), one Matrix room (through a real Synapse) and, later, one console
group, all served by ONE charterbot ``App`` on one SQLite file, as ``charterbot run`` with
every adapter enabled would serve them.

People act only through their platform (Telegram updates, Matrix events, console lines)
and the assertions are about what each chat shows, then about the store and the export.
The Matrix room speaks Spanish (``!grouplang es``), the Telegram group English; expected
Spanish wording is read from the shipped catalog, so the test follows its translators.

Quorum: every group keeps the default ``quorum = 0.5`` and ``quorum_min = 2``, so two
people state a position in each group (Telegram: Alice and Bob; Matrix: Mateo and Nora,
the bot not counted; console: dora and emil).

It lives under tests/matrix because it needs the session's Synapse fixture.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import select

from adapters.console import ConsoleAdapter
from adapters.matrix import MatrixAdapter
from adapters.telegram import TelegramAdapter
from bot.app import App
from bot.config import Config, ConsoleConfig, DatabaseConfig, MatrixConfig, TelegramConfig
from bot.i18n import get_translator
from deliberation import public
from deliberation.model import ChainEntry, Clause, ClauseVersion
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from deliberation.timers import ManualClock
from tests.app_thread import AppThread
from tests.fakes.bot_api import MAX_TEXT_UTF16, FakeBotApi, Json, utf16_len
from tests.fakes.synapse import Synapse
from tests.matrix.conftest import MatrixUser
from tests.matrix.harness import Person, joined, wait_for
from tests.telegram.harness import FAST, FAST_FAKE, answers_to, buttons_of, fake_group, find

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

T = TypeVar("T")
START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

TG_CHAT = -1001000000777
TG_TITLE = "Kitchen collective"  # fake_group's title
ALICE = FakeBotApi.make_user(71, "Alice", language_code="en")  # the group's creator
BOB = FakeBotApi.make_user(72, "Bob", language_code="en")
MX_TITLE = "Garden room"
CONSOLE_GROUP = "Allotment"  # the console group's name is its title
CONSOLE_ID = f"console:{CONSOLE_GROUP}"
TG_ID = f"telegram:{TG_CHAT}"

ES = get_translator("es")
EN = get_translator("en")


def es(msgid: str, **values: Any) -> str:
    """What the Spanish catalog makes of ``msgid`` (the English text where untranslated)."""
    return ES.gettext(msgid).format(**values)


def es_head(msgid: str, **values: Any) -> str:
    """The Spanish text of ``msgid`` up to its ``{when}`` (a date we need not spell)."""
    return ES.gettext(msgid).partition("{when}")[0].format(**values)


class Everywhere:
    """charterbot with the Telegram, Matrix and console adapters in one ``App``, in a
    background thread (``AppThread``), against the fake Bot API and the test Synapse."""

    def __init__(self, api: FakeBotApi, synapse: Synapse, account: MatrixUser, db_url: str):
        self.api = api
        self.user_id = account.user_id
        self.clock = ManualClock(START)
        self.out = io.StringIO()
        config = dataclasses.replace(
            Config(),
            database=DatabaseConfig(url=db_url),
            console=ConsoleConfig(enabled=True, mediators=("dora",)),
            telegram=TelegramConfig(enabled=True, token=api.token, base_url=api.base_url),
            matrix=MatrixConfig(
                enabled=True,
                homeserver=synapse.url,
                user_id=account.user_id,
                password=account.password,
                allowed_inviters=("*:localhost",),
            ),
        )
        self.db = Database(db_url)
        upgrade(self.db.engine)
        self.app = App.build(config, self.clock, self.db)
        self.telegram: TelegramAdapter = self.app.add_telegram(limits=FAST, poll_timeout=1)
        self.matrix: MatrixAdapter = self.app.add_matrix(sync_timeout_ms=1000)
        self.console: ConsoleAdapter = self.app.add_console(self.out)
        self._runner = AppThread(self.app)

    def __enter__(self) -> Everywhere:
        self._runner.start()
        wait_for(lambda: self.telegram.ready and self.matrix.ready, "the adapters to start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._runner.stop()
        self.db.engine.dispose()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return self._runner.call(coro, timeout)

    def advance(self, delta: timedelta) -> None:
        """Move the bot's manual clock (carrying out what falls due on the way)."""
        self.call(self.app.advance(delta))

    # -- Telegram ------------------------------------------------------------------------

    def tg_say(self, user: Json, text: str) -> None:
        self.api.user_message(TG_CHAT, user, text)

    def tg_wait(self, needle: str, what: str | None = None) -> Json:
        """The bot's last Telegram message (as it reads now) containing ``needle``."""
        return wait_for(lambda: find(self.api, TG_CHAT, needle), what or f"Telegram: {needle!r}")

    def tg_card_shows(self, message_id: int, *needles: str) -> None:
        """Wait until the Telegram card ``message_id``, edited in place, shows all ``needles``
        (each group's count there tells that its positions reached the bot)."""
        wait_for(
            lambda: all(n in self.api.message(TG_CHAT, message_id)["text"] for n in needles),
            f"the Telegram card {message_id} to show {needles}",
        )

    def tg_texts(self) -> list[str]:
        return [m["plain_text"] for m in self.api.sent_to(TG_CHAT)]

    # -- Matrix --------------------------------------------------------------------------

    def room(self, creator: Person, *others: Person, name: str) -> str:
        """A named room ``creator`` made, with the bot and ``others`` joined."""
        room = creator.create_room(invite=[self.user_id, *(o.user_id for o in others)], name=name)
        for other in others:
            other.join(room)
        wait_for(lambda: self.user_id in joined(creator, room), "the bot to accept the invite")
        return room

    def mx_wait(
        self, reader: Person, room: str, head: str, needle: str = "", seeded: str = ""
    ) -> Json:
        """The bot's last Matrix message, as ``reader``'s client shows it (latest edit,
        reactions), that begins with ``head`` and contains ``needle`` (and, for a card,
        carries the reaction ``seeded``)."""

        def found() -> Json | None:
            for message in reversed(reader.bot_messages(room, self.user_id)):
                body = message["content"].get("body", "")
                shown = not seeded or seeded in message["reactions"]
                if body.startswith(head) and needle in body and shown:
                    return message
            return None

        return wait_for(found, f"Matrix: {head!r} with {needle!r}")

    def mx_texts(self, reader: Person, room: str) -> list[str]:
        return [m["content"].get("body", "") for m in reader.bot_messages(room, self.user_id)]

    # -- console -------------------------------------------------------------------------

    def console_say(self, line: str) -> None:
        """A console line, handled (and its answers delivered everywhere) in the bot's loop."""
        self.call(self.console.line(line))

    def console_text(self) -> str:
        prefix = f"bot@{CONSOLE_GROUP}: "
        lines = self.out.getvalue().splitlines()
        return "\n".join(line.removeprefix(prefix) for line in lines if line.startswith(prefix))


@pytest.fixture
def everywhere(
    tmp_path: Path, synapse: Synapse, register_user: Callable[..., MatrixUser]
) -> Iterator[Everywhere]:
    with FakeBotApi.in_thread(**FAST_FAKE) as api:
        fake_group(api, TG_CHAT, ALICE, [BOB])  # (the fake counts the bot as a member)
        db_url = f"sqlite:///{tmp_path / 'alliance.db'}"
        with Everywhere(api, synapse, register_user("charterbot"), db_url) as running:
            yield running


def named(person: Person, display_name: str) -> Person:
    """Give the Matrix account a display name (before it joins rooms): what the bot calls it."""
    person.client.user_id = person.user_id  # (nio knows it from a login only)
    person._ok(person.loop.run(person.client.set_displayname(display_name)))
    return person


def card_head_es(number: int, kind: str, phase: str, round_no: int) -> str:
    """The first line of a proposal's card in Spanish."""
    return es(
        "P{n} · {kind} · {phase} · round {k}",
        n=number,
        kind=ES.gettext(kind),
        phase=ES.gettext(phase),
        k=round_no,
    )


def invite_code(text: str) -> str:
    match = re.search(r"\b([A-Z0-9]{5}-[A-Z0-9]{5})\b", text)
    assert match, text
    return match.group(1)


def spanish_room(world: Everywhere, mateo: Person, nora: Person) -> str:
    """The Matrix room, named, with Spanish as its language (Mateo made it: a mediator)."""
    room = world.room(mateo, nora, name=MX_TITLE)
    mateo.say(room, "!grouplang es")
    wait_for(lambda: world.mx_texts(mateo, room), "the answer to !grouplang")
    return room


def test_an_alliance_of_telegram_and_matrix_agrees_and_renews_with_a_console_group(
    everywhere: Everywhere, person: Callable[[str], Person]
) -> None:
    world, api = everywhere, everywhere.api
    mateo, nora = named(person("mateo"), "Mateo"), named(person("nora"), "Nora")
    room = spanish_room(world, mateo, nora)
    mx_id = f"matrix:{room}"

    def mx_wait(head: str, needle: str = "", seeded: str = "") -> Json:
        return world.mx_wait(mateo, room, head, needle, seeded)

    def mx_body(head: str, needle: str = "") -> str:
        return str(mx_wait(head, needle)["content"]["body"])

    two_es = ES.format_list([TG_TITLE, MX_TITLE])  # "Kitchen collective y Garden room"
    assert two_es != EN.format_list([TG_TITLE, MX_TITLE])

    # -- the alliance: created on Telegram, joined from Matrix ----------------------------
    world.tg_say(ALICE, "/alliance create Neighbours")
    created = world.tg_wait("Invite code for another group:")["plain_text"]
    assert created.startswith("Alliance L1 Neighbours is created, with this group in it.")
    world.advance(timedelta(minutes=10))  # (people take a moment: groups join in an order)
    mateo.say(room, f"!alliance join {invite_code(created)}")
    joined_tg = world.tg_wait("joined alliance L1 Neighbours")["plain_text"]
    assert joined_tg == (
        f"{MX_TITLE} (Matrix) joined alliance L1 Neighbours. Its groups: {TG_TITLE} and {MX_TITLE}."
    )
    mx_wait(MX_TITLE, two_es)  # the same news in the room, in Spanish

    # -- an alliance proposal from Telegram, announced in both, each in its language -------
    text = "Members lend each other tools for free.\nTools go back clean."
    world.tg_say(ALICE, f"/propose --alliance {text}")
    tg_card = world.tg_wait("Tools go back clean.")
    assert tg_card["plain_text"].startswith("P1 · new clause · amendment phase · round 1")
    assert "An alliance proposal of L1 Neighbours." in tg_card["plain_text"]
    assert "By Alice · text version 1" in tg_card["plain_text"]
    mx_head = card_head_es(1, "new clause", "amendment phase", 1)
    assert mx_head != "P1 · new clause · amendment phase · round 1"  # it is Spanish
    mx_card = mx_wait(mx_head, "Tools go back clean.")
    assert (
        es("By {author} · text version {version}", author="Alice", version=1)
        in (mx_card["content"]["body"])
    )
    assert (
        es("An alliance proposal of L{a} {name}.", a=1, name="Neighbours")
        in (mx_card["content"]["body"])
    )

    # -- consent round 1: Telegram adopts, Matrix objects ---------------------------------
    world.tg_say(ALICE, "/next P1")
    world.tg_wait("Consent round 1 on P1 (version 1)")
    mx_wait(
        es("The amendment phase of P{n} is closed.", n=1),
        es_head("Consent round {k} on P{n} (version {v}), until {when}:", k=1, n=1, v=1),
    )
    world.tg_say(ALICE, "/consent P1")
    world.tg_wait("Alice on P1: ✅")
    consent_tg = world.tg_wait("P1 · new clause · consent phase · round 1")
    (consent_data,) = [data for label, data in buttons_of(consent_tg) if label.startswith("✅")]
    api.press_button(TG_CHAT, BOB, tg_card["message_id"], consent_data)  # Bob: the card's ✅
    wait_for(lambda: answers_to(api, BOB), "the note to Bob")
    card_mx = mx_wait(card_head_es(1, "new clause", "consent phase", 1), seeded="✅")
    assert card_mx["event_id"] == mx_card["event_id"]  # the same card, edited in place
    mateo.react(room, card_mx["event_id"], "✅")  # Mateo: the card's ✅ reaction
    reason = "Nobody says who cleans a tool."
    nora.say(room, f"!object P1 {reason}")
    world.tg_card_shows(
        tg_card["message_id"],
        "consent phase · round 1",
        f"{TG_TITLE}: 2 responded",
        f"{MX_TITLE}: 2 responded",  # Matrix's positions, on the Telegram card
    )
    world.tg_say(ALICE, "/next P1")

    objected_tg = world.tg_wait("P1 is not adopted yet: objections stand.")["plain_text"]
    assert "Alliance L1 Neighbours: 2 groups had to adopt it; 1 of 2 did." in objected_tg
    assert f"{TG_TITLE} (this group): adopted" in objected_tg
    assert f"{MX_TITLE}: objections stand" in objected_tg
    assert f"Nora: {reason}" in objected_tg  # the objection, with its reason, relayed
    objected_mx = mx_body(es("P{n} is not adopted yet: objections stand.", n=1))
    assert f"Nora: {reason}" in objected_mx

    # -- resolved from Matrix by an amendment made on Telegram, supported from Matrix ----
    mateo.say(room, "!resolve P1")  # a mediator of the objecting group
    resolved_tg = world.tg_wait("opened round 2 of P1")["plain_text"]
    assert resolved_tg.startswith("Mateo opened round 2 of P1 to resolve the objections.")
    assert "Nora: you are invited to propose amendments with /amend P1." in resolved_tg
    mx_wait(
        es_head(
            "{by} opened round {k} of P{n} to resolve the objections. Amendments until {when}.",
            by="Mateo",
            k=2,
            n=1,
        )
    )
    new = "Whoever borrows a tool cleans it before giving it back."
    world.tg_say(BOB, f'/amend P1 replace "Tools go back clean." with "{new}"')
    amendment_tg = world.tg_wait("A1 to P1 by Bob")
    assert amendment_tg["plain_text"].startswith(
        f"A1 to P1 by Bob: replace “Tools go back clean.” with “{new}”"
    )
    amendment_head_es = es(  # relayed: it says which group it came from
        "A{a} to P{n} by {author} from {origin}: {change}",
        a=1,
        n=1,
        author="Bob",
        origin=TG_TITLE,
        change=es("replace {old} with {new}", old="“Tools go back clean.”", new=f"“{new}”"),
    )
    amendment_mx = mx_wait(amendment_head_es, seeded="👍")  # relayed, with 👍 and 👎
    nora.react(room, amendment_mx["event_id"], "👍")  # the objector supports it from Matrix
    world.tg_card_shows(amendment_tg["message_id"], "Support 1, opposition 0.")
    mateo.say(room, "!next P1")  # a mediator of any group closes the amendment round
    consent_tg_text = world.tg_wait("Consent round 2 on P1 (version 2)")["plain_text"]
    assert "Applied: A1 by Bob (version 2)." in consent_tg_text
    assert new in consent_tg_text and "Tools go back clean." not in consent_tg_text
    mx_wait(
        es("The amendment phase of P{n} is closed.", n=1),
        es("Applied: A{a} by {author} (version {v}).", a=1, author="Bob", v=2),
    )

    # -- consent round 2: both adopt ------------------------------------------------------
    for user in (ALICE, BOB):
        world.tg_say(user, "/consent P1")
    for someone in (mateo, nora):
        someone.say(room, "!consent P1")
    world.tg_card_shows(
        tg_card["message_id"],
        "consent phase · round 2",
        f"{TG_TITLE}: 2 responded",
        f"{MX_TITLE}: 2 responded",
    )
    world.tg_say(ALICE, "/next P1")
    adopted_tg = world.tg_wait("P1 adopted: clause C1, version 1, is in the charter.")
    parties_en = f"Parties: {TG_TITLE} and {MX_TITLE}"
    assert parties_en in adopted_tg["plain_text"]
    assert (
        "Alliance L1 Neighbours: 2 groups had to adopt it; 2 of 2 did."
        in (adopted_tg["plain_text"])
    )
    adopted_mx = mx_body(
        es("P{n} adopted: clause C{c}, version {v}, is in the charter.", n=1, c=1, v=1)
    )
    assert es("Parties: {parties}", parties=two_es) in adopted_mx

    world.tg_say(BOB, "/clause C1")
    clause_tg = world.tg_wait("C1 · version 1 · in force")["plain_text"]
    assert new in clause_tg and parties_en in clause_tg
    nora.say(room, "!clause C1")
    clause_mx = mx_body(es("C{n} · version {v} · {status}", n=1, v=1, status=es("in force")))
    assert new in clause_mx
    assert es("Parties: {parties}", parties=two_es) in clause_mx

    with world.db.unit_of_work(write=False) as uow:
        clause = uow.session.get(Clause, 1)
        assert clause is not None and clause.charter_id == "alliance:1"
        assert clause.parties == [TG_ID, mx_id]
        (version,) = uow.session.scalars(select(ClauseVersion)).all()
        assert version.parties == [TG_ID, mx_id]
        exported = public.export_json(uow.session)
    (charter,) = [c for c in exported["charters"] if c["id"] == "alliance:1"]
    assert charter["name"] == "Neighbours"
    assert sorted(charter["parties"]) == sorted([TG_ID, mx_id])
    (exported_clause,) = charter["clauses"]
    assert exported_clause["parties"] == [TG_ID, mx_id]
    assert exported_clause["text"] == text.replace("Tools go back clean.", new)
    assert exported["groups"][TG_ID] == {"title": TG_TITLE, "platform": "telegram"}
    assert exported["groups"][mx_id] == {"title": MX_TITLE, "platform": "matrix"}

    # -- a month later a console group joins, and takes part in the renewal -----------------
    world.advance(timedelta(days=30))
    world.tg_say(ALICE, "/alliance invite")
    code = invite_code(world.tg_wait("New invite code for alliance L1 Neighbours")["plain_text"])
    world.console_say(f":members {CONSOLE_GROUP} dora emil")
    world.console_say(f"dora@{CONSOLE_GROUP}: /alliance join {code}")
    three_en = EN.format_list([TG_TITLE, MX_TITLE, CONSOLE_GROUP])  # "A, B, and C"
    joined_console = (
        f"{CONSOLE_GROUP} (console) joined alliance L1 Neighbours. Its groups: {three_en}."
    )
    assert joined_console in world.console_text()
    world.tg_wait(joined_console)
    three_es = ES.format_list([TG_TITLE, MX_TITLE, CONSOLE_GROUP])
    mx_wait(CONSOLE_GROUP, three_es)

    world.console_say(f"dora@{CONSOLE_GROUP}: /renew C1")
    renewal_console = world.console_text()
    assert "P2: renewal of C1, opened by dora. Does this clause stay in force?" in renewal_console
    assert "An alliance proposal of L1 Neighbours: each of its groups holds its own " in (
        renewal_console
    )
    renewal_tg = world.tg_wait("P2 · renewal · consent phase · round 1")
    assert "An alliance proposal of L1 Neighbours." in renewal_tg["plain_text"]
    assert new in renewal_tg["plain_text"]
    mx_wait(card_head_es(2, "renewal", "consent phase", 1), new)
    for name in ("dora", "emil"):
        world.console_say(f"{name}@{CONSOLE_GROUP}: /consent P2")
    for user in (ALICE, BOB):
        world.tg_say(user, "/consent P2")
    for someone in (mateo, nora):
        someone.say(room, "!consent P2")
    world.tg_card_shows(
        renewal_tg["message_id"],
        *(f"{title}: 2 responded" for title in (TG_TITLE, MX_TITLE, CONSOLE_GROUP)),
    )
    world.console_say(f"dora@{CONSOLE_GROUP}: /next P2")

    renewed_console = world.console_text()
    assert "P2 adopted: C1 is renewed." in renewed_console
    assert "Alliance L1 Neighbours: 3 groups had to adopt it; 3 of 3 did." in renewed_console
    assert f"Parties: {three_en}" in renewed_console
    renewed_tg = world.tg_wait("P2 adopted: C1 is renewed.")["plain_text"]
    assert f"Parties: {three_en}" in renewed_tg
    renewed_mx = mx_body(es("P{n} adopted: C{c} is renewed.", n=2, c=1))
    assert es("Parties: {parties}", parties=three_es) in renewed_mx

    with world.db.unit_of_work(write=False) as uow:
        entries = uow.session.scalars(select(ChainEntry).order_by(ChainEntry.seq)).all()
        payloads = [json.loads(entry.payload) for entry in entries]
        exported = public.export_json(uow.session)
    assert [p["parties"] for p in payloads] == [[TG_ID, mx_id], [TG_ID, mx_id, CONSOLE_ID]]
    assert (payloads[-1]["proposal"], payloads[-1]["clause"]) == (2, 1)
    (charter,) = [c for c in exported["charters"] if c["id"] == "alliance:1"]
    assert sorted(charter["parties"]) == sorted([TG_ID, mx_id, CONSOLE_ID])
    (renewed,) = charter["clauses"]
    assert renewed["parties"] == [TG_ID, mx_id, CONSOLE_ID]  # the renewal binds all three
    assert exported["groups"][CONSOLE_ID] == {"title": CONSOLE_GROUP, "platform": "console"}


def test_a_long_proposal_from_matrix_fits_telegram_and_reads_in_each_groups_language(
    everywhere: Everywhere, person: Callable[[str], Person]
) -> None:
    world, api = everywhere, everywhere.api
    mateo, nora = named(person("mateo"), "Mateo"), named(person("nora"), "Nora")
    room = spanish_room(world, mateo, nora)

    mateo.say(room, "!alliance create Riverside")
    code = invite_code(world.mx_wait(mateo, room, "", "alliance join")["content"]["body"])
    world.advance(timedelta(minutes=10))
    world.tg_say(ALICE, f"/alliance join {code}")
    world.tg_wait(f"{TG_TITLE} (Telegram) joined alliance L1 Riverside")

    # 3,000 characters (the longest text a proposal may have), one emoji per seedling:
    # each emoji is two UTF-16 code units, so the text alone is longer than Telegram's
    # 4,096-unit message limit, which the fake Bot API enforces ("message is too long").
    long_text = _planting_plan(3000)
    assert len(long_text) == 3000 and utf16_len(long_text) > MAX_TEXT_UTF16
    lines = long_text.splitlines()
    mateo.say(room, f"!propose --alliance {long_text}")

    # Matrix (Spanish): the whole text on the card.
    mx_card = world.mx_wait(mateo, room, card_head_es(1, "new clause", "amendment phase", 1))
    body = mx_card["content"]["body"]
    assert all(line in body for line in lines)
    assert es("By {author} · text version {version}", author="Mateo", version=1) in body

    # Telegram (English): the card, cut down to one message, pointing to /status.
    tg_card = world.tg_wait("P1 · new clause · amendment phase · round 1")["plain_text"]
    assert "An alliance proposal of L1 Riverside." in tg_card
    assert "By Mateo · text version 1" in tg_card
    assert tg_card.rstrip().endswith("Shortened to fit one message; everything: /status P1")
    assert lines[0] in tg_card and lines[-1] not in tg_card
    assert utf16_len(tg_card) <= MAX_TEXT_UTF16

    # Everything, on Telegram: /status P1 and the consent round's announcement come in
    # parts that each fit, and together hold the whole text.
    world.tg_say(ALICE, "/status P1")
    status_parts = wait_for(
        lambda: _parts_until(world, "By Mateo · text version 1", lines[-1]),
        "the status of P1, in parts",
    )
    assert len(status_parts) >= 2
    assert all("  " + line in "\n".join(status_parts) for line in lines)

    mateo.say(room, "!next P1")
    announced = wait_for(
        lambda: _parts_until(world, "Consent round 1 on P1 (version 1)", lines[-1]),
        "the consent round's announcement, in parts",
    )
    assert len(announced) >= 2
    assert all("  " + line in "\n".join(announced) for line in lines)
    announced_mx = world.mx_wait(
        mateo,
        room,
        es("The amendment phase of P{n} is closed.", n=1),
        es_head("Consent round {k} on P{n} (version {v}), until {when}:", k=1, n=1, v=1),
    )
    assert all(line in announced_mx["content"]["body"] for line in lines)  # one message
    world.mx_wait(mateo, room, card_head_es(1, "new clause", "consent phase", 1), seeded="✅")

    for record in api.sent_to(TG_CHAT):
        assert utf16_len(record["plain_text"]) <= MAX_TEXT_UTF16
    refused = [
        (method, status)
        for method, params, status in api.requests
        if status != 200 and params.get("chat_id") in (TG_CHAT, str(TG_CHAT))
    ]
    assert refused == []  # nothing was too long (nor refused for any other reason)


# -- helpers ---------------------------------------------------------------------------


def _planting_plan(length: int) -> str:
    """A proposal text of exactly ``length`` characters, one emoji per seedling."""
    crops = ["🌱", "🥕", "🍅", "🥬", "🧅", "🌻"]
    lines = ["Planting plan for the shared beds, one emoji per seedling:"]
    ending = "Compost goes to the last bed."
    bed = 1
    while True:
        used = sum(len(line) + 1 for line in lines) + len(ending)
        label = f"Bed {bed}: "
        room = length - used - len(label) - 1  # the seedlings that still fit on this bed
        if room <= 0:
            break
        lines.append(label + crops[bed % len(crops)] * min(40, room))
        bed += 1
    text = "\n".join([*lines, ending])
    return text + "." * (length - len(text))  # (at most a few dots short of the length)


def _parts_until(world: Everywhere, first: str, last: str) -> list[str] | None:
    """The Telegram messages from the last one containing ``first`` up to the first one
    from there containing ``last`` (a long message sent in parts), or None yet."""
    texts = world.tg_texts()
    starts = [k for k, t in enumerate(texts) if first in t]
    if not starts:
        return None
    for end in range(starts[-1], len(texts)):
        if last in texts[end]:
            return texts[starts[-1] : end + 1]
    return None
