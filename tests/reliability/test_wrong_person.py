"""Every mediator-only and member-only action, tried by the wrong person on each platform:
refused with a short reply in the sender's language, and the store unchanged.

The rights are read from the code, not restated by hand: ``deliberation.commands.
MEDIATOR_ONLY`` and the engine's member check (``services._Work.handle``), the router's
check before the ✋ prompt, the card buttons (``bot.buttons``) and the grammar's command
table (``bot.grammar.COMMANDS``, ``MEDIATOR_COMMANDS``). ``test_every_command_and_button_is_
classified`` fails when a command, a command class or a button form is added without being
put in one of the classes below, so a new action cannot slip past this suite untried.

Who is the wrong person, per platform:

- a member who is no mediator: a console name not in ``[console] mediators``; a Telegram
  member who is no administrator (and speaks Spanish: the refusal comes in Spanish); a
  Matrix member at power level 49, one below ``mediator_power_level``; and an appointed
  mediator of one group acting in another;
- a member who is not the author (or objector) of what they withdraw or accept;
- a non-member: a console name left out by ``:members``; on Telegram, where only members can
  post in a group, a member who wrote and then left (told only by the ``left_chat_member``
  service message, as a bot that is no administrator is) pressing the card buttons (forged
  callback data), and typing in a private chat; on Matrix, where only joined users can send,
  bots the config excludes (``other_bots``: not counted as members), one of them at power
  level 50, typing and reacting (reactions are Matrix's buttons), and a member in a direct
  chat.

The existing rights tests (tests/telegram/test_rights_and_input.py, tests/matrix/
test_matrix_rights_and_input.py, the service tests) check some refusals one at a time; here
every action is tried on all three platforms. On Telegram and Matrix the attempts go in at
once, so the bot handles them in batches (each refused in its own savepoint while the
others run); then the store is compared table by table with what it was before.
"""

from __future__ import annotations

import asyncio
import re
import time
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nio import ErrorResponse
from sqlalchemy import func, select

from bot import buttons, grammar, render
from bot.i18n import get_translator
from deliberation import commands as c
from deliberation.errors import DomainError
from deliberation.model import (
    Alliance,
    Amendment,
    Base,
    Card,
    Clause,
    Meeting,
    OutboxItem,
    Proposal,
)
from deliberation.store.db import Database
from tests.console.conftest import START, Console
from tests.fakes.bot_api import FakeBotApi, Json
from tests.fakes.synapse import Synapse
from tests.matrix.fixtures import MatrixUser
from tests.matrix.harness import Loop, Person, RunningMatrixBot, direct_chat, meeting, wait_for
from tests.reliability.figures import record
from tests.telegram.conftest import bot_api_factory  # noqa: F401 - a fixture
from tests.telegram.harness import FAST_FAKE, RunningBot, answers_to, find

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"),
]

# -- the classification --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Try:
    """One action as typed, without the prefix; ``{name}`` fields are filled per platform
    with the numbers, people and codes the set-up made (``Targets``)."""

    word: str
    text: str


MEDIATOR_ONLY: tuple[Try, ...] = (
    Try("resolve", "resolve P{objected}"),
    Try("next", "next P{amending}"),
    Try("next", "next P{consent}"),
    Try("close", "close P{amending}"),
    Try("schedule", "schedule P{amending} consent tomorrow 18:00"),
    Try("schedule", "schedule P{amending} cancel"),
    Try("meeting", "meeting tomorrow 19:00 Another talk"),
    Try("meeting", "meeting cancel M{meeting}"),
    Try("settings", "settings rule majority"),
    Try("timezone", "timezone Europe/Paris"),
    Try("grouplang", "grouplang en es"),
    Try("mediator", "mediator add {member}"),
    Try("mediator", "mediator remove {mediator}"),
    Try("alliance", "alliance create Upstream"),
    Try("alliance", "alliance invite L{alliance}"),
    Try("alliance", "alliance revoke L{alliance}"),
    Try("alliance", "alliance join {code}"),
    Try("alliance", "alliance leave L{alliance}"),
    Try("alliance", "alliance settings L{alliance} min_parties 1"),
)
"""Mediators of the group only (``commands.MEDIATOR_ONLY``): refused with ``not_mediator``
naming the command, to a member who is none."""

MEMBER_ONLY: tuple[Try, ...] = (
    Try("propose", "propose Outsiders decide."),
    Try("propose", "propose --change C{clause} Clause one, changed."),
    Try("propose", "propose --alliance L{alliance} Allied text."),
    Try("amend", "amend P{amending} Quiet after eleven."),
    Try("amend", 'amend P{amending} replace "ten" with "eight"'),
    Try("support", "support A{amendment}"),
    Try("oppose", "oppose A{amendment}"),
    Try("accept", "accept A{amendment}"),
    Try("consent", "consent P{consent}"),
    Try("concern", "concern P{consent} the noise"),
    Try("object", "object P{consent} too strict"),
    Try("abstain", "abstain P{consent}"),
    Try("withdraw", "withdraw P{amending}"),
    Try("withdraw", "withdraw P{objected}"),
    Try("renew", "renew C{clause}"),
    Try("repeal", "repeal C{clause} outdated"),
    Try("translate", "translate P{amending} es Silencio después de las diez."),
)
"""Members of the group only (the engine's ``not_member``); a non-member is refused the
mediator-only actions in the same words, being no mediator of a group they are not in."""

AUTHOR_ONLY: tuple[tuple[Try, str, str], ...] = (
    (Try("accept", "accept A{amendment}"), "not_author", "amending"),
    (Try("withdraw", "withdraw P{amending}"), "not_author", "amending"),
    (Try("withdraw", "withdraw P{objected}"), "not_objector", "objected"),
)
"""The proposal's author (or, for an objected one, an objector) only: (try, refusal, the
proposal it names)."""

IN_ANOTHER_GROUP: tuple[Try, ...] = (
    Try("settings", "settings rule majority"),
    Try("grouplang", "grouplang en es"),
    Try("meeting", "meeting tomorrow 19:00 Another talk"),
    Try("alliance", "alliance invite L{their}"),
    Try("alliance", "alliance settings L{their} min_parties 1"),
    Try("alliance", "alliance leave L{their}"),
)
"""Tried in the other group by an appointed mediator of the first one (Dave): appointment
is per group."""

OPEN_TO_ANYONE: dict[str, str] = {
    "status": "reads the group's proposals",
    "charter": "reads the charters (public on the web page too)",
    "clause": "reads a clause",
    "export": "reads the group's charter",
    "help": "help",
    "start": "the welcome, or the private menu",
    "lang": "the person's own language",
    "remind": "the person's own private reminders (in a private chat)",
    "settings": "without a key and value: reads the settings",
    "meeting": "without arguments: lists the meetings to come",
    "alliance": "without an action, or `settings L<n>` alone: reads the alliances",
    "timezone": "in a private chat: the person's own time zone",
}
"""Command words (or forms of them) that need no right, and why; not tried."""

NO_COMMAND: dict[type, str] = {
    c.Register: "no command of its own: records who asked a read-only question",
    c.SetLanguage: "one's own language (`/lang`, or the private menu's button)",
    c.SetReminders: "one's own private reminders (`/remind`)",
    c.RetractPosition: "only by taking back one's own reaction on a card (Matrix); a "
    "reaction removed by someone else is forgotten and the answer stands",
}
"""Command classes that are no right of a mediator or member, and why."""

CARD_BUTTONS: tuple[str, ...] = (
    "v{consent}:c",
    "v{consent}:k",
    "v{consent}:o",  # ✋: asks for the reason (the router checks membership first)
    "v{consent}:a",
    "a{amendment}:+",
    "a{amendment}:-",
)
"""The card buttons (member-only): on Telegram forged callback data, on Matrix the
reactions that stand for them."""

PRIVATE_MENU_BUTTONS: dict[type, str] = {
    c.SetLanguage: "the private menu: one's own language",
    buttons.MyRounds: "the private menu: one's own open rounds",
}


def test_every_command_and_button_is_classified() -> None:
    """A command, command class or button form added without a class here fails."""
    tried = {t.word for t in (*MEDIATOR_ONLY, *MEMBER_ONLY)}
    assert tried | set(OPEN_TO_ANYONE) == set(grammar.COMMANDS), "classify the new command"
    assert {t.word for t in MEDIATOR_ONLY} == grammar.MEDIATOR_COMMANDS
    # A word both tried and open to anyone is a mediator command with a reading form.
    assert not tried & set(OPEN_TO_ANYONE) - grammar.MEDIATOR_COMMANDS
    assert {t for t, _, _ in AUTHOR_ONLY} <= set(MEMBER_ONLY)
    assert {t.word for t in IN_ANOTHER_GROUP} <= grammar.MEDIATOR_COMMANDS

    def parsed(t: Try) -> type:
        filled = t.text.format_map(_Any())
        request = grammar.parse("/" + filled)
        if isinstance(request, grammar.MediatorRequest):
            return c.AddMediator if request.add else c.RemoveMediator
        return type(request)

    mediator_classes = {parsed(t) for t in MEDIATOR_ONLY}
    assert mediator_classes == set(c.MEDIATOR_ONLY), "try each mediator-only command"
    member_classes = {parsed(t) for t in MEMBER_ONLY}
    everything = set(typing.get_args(c.Command))
    assert member_classes | mediator_classes | set(NO_COMMAND) == everything
    assert not member_classes & set(c.MEDIATOR_ONLY)

    pressed = {type(buttons.parse(data.format_map(_Any()))) for data in CARD_BUTTONS}
    assert pressed | set(PRIVATE_MENU_BUTTONS) == set(typing.get_args(buttons.Pressed))
    assert {data.rpartition(":")[2] for data in CARD_BUTTONS} == set("ckoa+-")


class _Any(dict[str, str]):
    """Fills every template field with a valid id, for parsing the templates."""

    def __missing__(self, key: str) -> str:
        return "ABCDE-FGHIJ" if key == "code" else ("bob" if key in ("member", "mediator") else "1")


# -- what a refusal says -------------------------------------------------------------------

NEEDS = {
    "not_mediator": "Only a mediator of this group",
    "not_member": "Only members of this group",
    "not_author": "Only the author of",
    "not_objector": "no standing objection",
    "group_only": "This works in a group",
}
"""What each refusal must say in English: what is needed."""


def refusal(err: DomainError, lang: str, prefix: str) -> str:
    """The refusal as the sender reads it (plain text)."""
    reader = render.Reader(tr=get_translator(lang), timezone="UTC", now=START, prefix=prefix)
    return " ".join(render.error(reader, err).split())


def check_reply(reply: str, err: DomainError, lang: str, prefix: str) -> None:
    """A short reply, in the sender's language, that names what is needed (and the command
    that needs it)."""
    reply = " ".join(reply.split())
    assert reply == refusal(err, lang, prefix), (reply, err)
    assert len(reply) <= 200
    english = refusal(err, "en", prefix)
    assert NEEDS[err.code] in english
    if lang != "en":
        assert reply != english  # translated
    if err.code == "not_mediator":
        assert f"{prefix}{err.params['command']}" in reply


def match_replies(attempts: list[Attempt], replies: list[str], prefix: str) -> int:
    """Pair each attempt with its refusal among ``replies`` (sent at once, they may come in
    any order); every reply is one attempt's refusal. The number refused."""
    left = [" ".join(reply.split()) for reply in replies]
    for attempt in attempts:
        wanted = refusal(attempt.refusal, attempt.lang, prefix)
        assert wanted in left, (attempt, left)
        left.remove(wanted)
        check_reply(wanted, attempt.refusal, attempt.lang, prefix)
    assert left == [], left
    return len(attempts)


@dataclass
class Attempt:
    """One wrong-person attempt and the refusal it must get."""

    who: str
    action: str  # the command typed, or the button pressed
    refusal: DomainError
    lang: str = "en"


def mediator_attempts(who: str, values: dict[str, str], lang: str = "en") -> list[Attempt]:
    return [
        Attempt(who, t.text.format_map(values), DomainError("not_mediator", command=t.word), lang)
        for t in MEDIATOR_ONLY
    ]


def author_attempts(who: str, values: dict[str, str], lang: str = "en") -> list[Attempt]:
    made = []
    for t, code, named in AUTHOR_ONLY:
        number = int(values[named])
        err = (
            DomainError(code, kind="P", number=number)
            if code == "not_author"
            else DomainError(code, number=number)
        )
        made.append(Attempt(who, t.text.format_map(values), err, lang))
    return made


def member_attempts(who: str, values: dict[str, str], code: str = "not_member") -> list[Attempt]:
    """Everything a member may try (mediator-only actions too), by ``who``; in a private
    chat (``group_only``) except setting one's own time zone, which works there."""
    tries = [*MEMBER_ONLY, *MEDIATOR_ONLY]
    if code == "group_only":
        tries = [t for t in tries if t.word != "timezone"]
    return [Attempt(who, t.text.format_map(values), DomainError(code)) for t in tries]


def other_group_attempts(who: str, values: dict[str, str], lang: str = "en") -> list[Attempt]:
    return [
        Attempt(who, t.text.format_map(values), DomainError("not_mediator", command=t.word), lang)
        for t in IN_ANOTHER_GROUP
    ]


def button_attempts(who: str, values: dict[str, str], code: str) -> list[Attempt]:
    return [Attempt(who, data.format_map(values), DomainError(code)) for data in CARD_BUTTONS]


# -- the store -----------------------------------------------------------------------------

BOOKKEEPING = {
    "inbox": "records that the attempt was seen, so a redelivery is not handled twice",
    "outbox": "holds the refusal on its way to the chat, and its delivery state",
    "outbox_leases": "which process delivers a chat's messages, renewed as it sends",
    "cursors": "the platform's update stream (Telegram offset, Matrix next_batch) moves on",
}
"""Tables a refused attempt legitimately changes; every other table must stay as it was."""


def snapshot(db: Database) -> dict[str, list[str]]:
    """Every row of every table but the bookkeeping ones."""
    with db.unit_of_work(write=False) as uow:
        return {
            table.name: sorted(repr(tuple(row)) for row in uow.session.execute(select(table)))
            for table in Base.metadata.sorted_tables
            if table.name not in BOOKKEEPING
        }


def changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def settled(db: Database) -> bool:
    """Nothing left to deliver: no message waiting, no card behind its changes."""
    with db.unit_of_work(write=False) as uow:
        waiting = select(OutboxItem.id).where(OutboxItem.state == "pending").limit(1)
        behind = select(Card.subject).where(Card.shown_version < Card.version).limit(1)
        return uow.session.scalars(waiting).first() is None and (
            uow.session.scalars(behind).first() is None
        )


def last_outbox_id(db: Database) -> int:
    with db.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(func.max(OutboxItem.id))) or 0


def delivered_since(db: Database, last: int) -> int:
    """Messages queued after outbox row ``last``, once none of them waits any more."""
    with db.unit_of_work(write=False) as uow:
        states = uow.session.scalars(select(OutboxItem.state).where(OutboxItem.id > last)).all()
    return 0 if "pending" in states else len(states)


def exists(db: Database, statement: Any) -> bool:
    with db.unit_of_work(write=False) as uow:
        return uow.session.scalars(statement.limit(1)).first() is not None


def targets(db: Database, group: str, other: str) -> dict[str, str]:
    """The numbers the set-up made: one proposal per phase, the amendment, the clause."""
    with db.unit_of_work(write=False) as uow:
        s = uow.session

        def one(statement: Any) -> str:
            (found,) = s.scalars(statement).all()
            return str(found)

        def in_phase(phase: str) -> str:
            return one(
                select(Proposal.id).where(Proposal.group_id == group, Proposal.phase == phase)
            )

        values = {
            "consent": in_phase("consent"),
            "amending": in_phase("amendment"),
            "objected": in_phase("objected"),
            "amendment": one(select(Amendment.id)),
            "clause": one(select(Clause.id).where(Clause.charter_id == f"group:{group}")),
        }
        for key, owner in (("alliance", group), ("their", other)):
            found = s.scalars(select(Alliance.id).where(Alliance.created_by == owner)).first()
            if found is not None:
                values[key] = str(found)
        meetings = s.scalars(select(Meeting.id).where(Meeting.group_id == group)).all()
        if meetings:
            values["meeting"] = str(meetings[0])
        return values


# The set-up every platform runs, by the group's first mediator (alice) and a member (bob):
# a clause C, a proposal objected, one in its consent round and one in its amendment phase
# with an amendment by bob.
SETUP_PROPOSALS = (
    ("alice", "settings quorum 0.1"),
    ("alice", "settings quorum_min 1"),
    ("alice", "settings amendment_hours 0"),
    ("alice", "propose Clause one text."),
    ("bob", "consent"),
    ("alice", "next"),
    ("alice", "propose Objected text."),
    ("bob", "object too loud"),
    ("alice", "next"),
    ("alice", "propose Consent text."),
    ("alice", "settings amendment_hours 48"),
    ("alice", "propose Quiet after ten."),
    ("bob", 'amend replace "ten" with "nine"'),
)
# Then what the mediator-only actions act on: a scheduled round, a meeting, an appointed
# mediator (dave), an alliance of the group.
SETUP_TARGETS = (
    ("alice", "schedule P{amending} consent tomorrow 18:00"),
    ("alice", "meeting tomorrow 18:00 Budget talk"),
    ("alice", "mediator add {mediator}"),
    ("alice", "alliance create Neighbours"),
)
# In the other group its mediator makes an alliance whose invite code is tried.
SETUP_OTHER = "alliance create Riverside"
CODE = re.compile(r"alliance join (\S+)")


def code_in(text: str) -> str:
    found = CODE.search(text)
    assert found is not None, text
    return found.group(1)


def tally(platform: str, attempts: int, refused: int, before: Any, after: Any) -> None:
    changes = changed(before, after)
    record(
        f"wrong person, {platform}",
        "attempts / refused / tables changed",
        f"{attempts} / {refused} / {len(changes)}",
    )
    assert changes == [], changes
    assert refused == attempts


# -- console -------------------------------------------------------------------------------


class ConsoleGroup:
    """The console groups ``main`` and ``garden``; alice is the configured mediator."""

    prefix = "/"

    def __init__(self) -> None:
        self.con = Console()

    def say(self, who: str, text: str, group: str = "main") -> str:
        """``who`` writes ``text`` in ``group``; the bot's answer, label stripped."""
        at = "" if group == "main" else f"@{group}"
        label = "bot: " if group == "main" else f"bot@{group}: "
        lines = self.con.say(f"{who}{at}: {self.prefix}{text}")
        return "\n".join(line.removeprefix(label) for line in lines)


def test_console_wrong_person() -> None:
    console = ConsoleGroup()
    console.con.say(":members main alice bob carol dave")  # erin is no member
    for who, text in SETUP_PROPOSALS:
        console.say(who, text)
    values = targets(console.con.db, "console:main", "console:garden")
    values |= {"member": "bob", "mediator": "dave"}
    for who, text in SETUP_TARGETS:
        console.say(who, text.format_map(values))
    console.say("dave", "status", group="garden")  # dave is in the other group too
    values["code"] = code_in(console.say("alice", SETUP_OTHER, group="garden"))
    values = targets(console.con.db, "console:main", "console:garden") | values

    attempts = [
        *mediator_attempts("carol", values),
        *author_attempts("carol", values),
        *member_attempts("erin", values),
    ]
    elsewhere = other_group_attempts("dave", values)
    before = snapshot(console.con.db)
    refused = 0
    for attempt in attempts:
        reply = console.say(attempt.who, attempt.action)
        check_reply(reply, attempt.refusal, "en", "/")
        refused += 1
    for attempt in elsewhere:
        reply = console.say(attempt.who, attempt.action, group="garden")
        check_reply(reply, attempt.refusal, "en", "/")
        refused += 1
    tally("console", len(attempts) + len(elsewhere), refused, before, snapshot(console.con.db))


# -- Telegram ------------------------------------------------------------------------------

GROUP = -1009000000001
OTHER = -1009000000002
ALICE = FakeBotApi.make_user(31, "Alice", language_code="en")  # creates GROUP
BOB = FakeBotApi.make_user(32, "Bob", language_code="en")
CAROL = FakeBotApi.make_user(33, "Carol", language_code="es")  # a member, no admin
DAVE = FakeBotApi.make_user(34, "Dave", language_code="en")  # appointed; a member of OTHER
ERIN = FakeBotApi.make_user(35, "Erin", language_code="en")  # writes, then leaves GROUP
MALLORY = FakeBotApi.make_user(36, "Mallory", language_code="en")  # creates OTHER
TELEGRAM_PEOPLE = {u["first_name"].lower(): u for u in (ALICE, BOB, CAROL, DAVE, ERIN, MALLORY)}


class TelegramGroups:
    prefix = "/"

    def __init__(self, bot: RunningBot) -> None:
        self.bot = bot
        self.api = bot.api

    def say(self, who: str, text: str, chat: int = GROUP) -> Json:
        """``who`` writes ``text``; the bot's first new message there, once it came."""
        before = len(self.api.sent_to(chat))
        self.api.user_message(chat, TELEGRAM_PEOPLE[who], self.prefix + text)
        self.bot.wait_for(lambda: len(self.api.sent_to(chat)) > before, f"an answer to {text}")
        return self.api.sent_to(chat)[before]

    def shown(self, chat: int, needle: str) -> Json:
        """The bot's message in ``chat`` containing ``needle``, once it came."""
        return self.bot.wait_for(lambda: find(self.api, chat, needle), repr(needle))

    def settle(self) -> None:
        self.bot.wait_for(lambda: settled(self.bot.db), "the outbox to drain")


def telegram_group(api: FakeBotApi, members: list[Json]) -> None:
    api.add_chat(GROUP, "Kitchen", creator=ALICE, members=members)


def leaves_quietly(api: FakeBotApi, user: Json) -> None:
    """``user`` leaves GROUP as Telegram tells a bot that is no administrator: with the
    ``left_chat_member`` service message, and no ``chat_member`` update."""
    telegram_group(api, [BOB, CAROL, DAVE])
    chat = {"id": GROUP, "type": "supergroup", "title": "Kitchen"}
    service = {
        "message_id": 1_000_000,
        "from": user,
        "chat": chat,
        "date": int(time.time()),
        "left_chat_member": user,
    }
    api._in_loop(lambda: api._push_update("message", service))  # noqa: SLF001 - no helper


@pytest.fixture
def telegram(bot_api_factory: Callable[..., FakeBotApi], tmp_path: Path) -> Iterator[RunningBot]:  # noqa: F811
    api = bot_api_factory(**FAST_FAKE)
    telegram_group(api, [BOB, CAROL, DAVE, ERIN])
    api.add_chat(OTHER, "Garden", creator=MALLORY, members=[DAVE])
    with RunningBot(api, f"sqlite:///{tmp_path / 'bot.db'}") as bot:
        yield bot


def test_telegram_wrong_person(telegram: RunningBot) -> None:
    bot, api = telegram, telegram.api
    groups = TelegramGroups(bot)
    group, other = f"telegram:{GROUP}", f"telegram:{OTHER}"
    # The set-up goes in at once too: the bot handles updates in order.
    for who, text in SETUP_PROPOSALS:
        api.user_message(GROUP, TELEGRAM_PEOPLE[who], "/" + text)
    bot.wait_for(lambda: exists(bot.db, select(Amendment.id)), "the set-up's proposals")
    values = targets(bot.db, group, other) | {"member": str(BOB["id"]), "mediator": str(DAVE["id"])}
    for who, text in SETUP_TARGETS:
        api.user_message(GROUP, TELEGRAM_PEOPLE[who], "/" + text.format_map(values))
    api.user_message(OTHER, DAVE, "/status")
    api.user_message(OTHER, MALLORY, "/" + SETUP_OTHER)
    values["code"] = code_in(groups.shown(OTHER, "alliance join")["plain_text"])
    mine = select(Alliance.id).where(Alliance.created_by == group)
    bot.wait_for(lambda: exists(bot.db, mine), "the group's alliance")
    values = targets(bot.db, group, other) | values
    # Erin takes part, then leaves the group; her private chat with the bot stays.
    api.user_message(GROUP, ERIN, "/status")
    welcome_id = int(groups.say("erin", "start", chat=ERIN["id"])["message_id"])
    leaves_quietly(api, ERIN)
    groups.say("alice", "charter")  # answered after the leave
    consent_card = int(groups.shown(GROUP, "Consent text.")["message_id"])
    amendment_card = int(
        groups.shown(GROUP, f"A{values['amendment']} to P{values['amending']}")["message_id"]
    )
    groups.settle()

    in_group = [*mediator_attempts("carol", values, "es"), *author_attempts("carol", values, "es")]
    in_other = other_group_attempts("dave", values)
    presses = button_attempts("erin", values, "not_member")
    private = member_attempts("erin", values, "group_only")
    private_presses = button_attempts("erin", values, "group_only")
    before = snapshot(bot.db)
    counts = {chat: len(api.sent_to(chat)) for chat in (GROUP, OTHER, ERIN["id"])}
    answered = len(answers_to(api, ERIN))
    # All at once: the bot fetches them in one or a few batches.
    for attempt in in_group:
        api.user_message(GROUP, CAROL, "/" + attempt.action)
    for attempt in in_other:
        api.user_message(OTHER, DAVE, "/" + attempt.action)
    for k, attempt in enumerate(presses):
        api.press_button(GROUP, ERIN, consent_card if k < 4 else amendment_card, attempt.action)
    for attempt in private:
        api.user_message(ERIN["id"], ERIN, "/" + attempt.action)
    for attempt in private_presses:
        api.press_button(ERIN["id"], ERIN, welcome_id, attempt.action)

    expected = {GROUP: in_group, OTHER: in_other, ERIN["id"]: private}
    bot.wait_for(
        lambda: (
            all(len(api.sent_to(chat)) >= counts[chat] + len(a) for chat, a in expected.items())
            and len(answers_to(api, ERIN)) >= answered + len(presses) + len(private_presses)
        ),
        "every refusal",
        timeout=30,
    )
    groups.settle()
    refused = 0
    for chat, attempts in expected.items():
        replies = [m["plain_text"] for m in api.sent_to(chat)[counts[chat] :]]
        assert len(replies) == len(attempts), (chat, replies)
        for attempt, reply in zip(attempts, replies, strict=True):
            check_reply(reply, attempt.refusal, attempt.lang, "/")
            refused += 1
    notes = answers_to(api, ERIN)[answered:]
    assert len(notes) == len(presses) + len(private_presses)
    for attempt, note in zip([*presses, *private_presses], notes, strict=True):
        check_reply(note or "", attempt.refusal, "en", "/")
        refused += 1
    assert api._open_queries == {}  # noqa: SLF001 - every press answered
    attempts = len(in_group) + len(in_other) + len(private) + len(presses) + len(private_presses)
    tally("telegram", attempts, refused, before, snapshot(bot.db))


# -- Matrix --------------------------------------------------------------------------------

REACTIONS = {"c": "✅", "k": "⚠️", "o": "✋", "a": "➖", "+": "👍", "-": "👎"}


def said(attempt: Attempt) -> tuple[str, Json]:
    """The event that types ``attempt``'s command."""
    return "m.room.message", {"msgtype": "m.text", "body": "!" + attempt.action}


async def send_all(sends: list[tuple[Person, str, str, Json]]) -> None:
    """Send the events at once (a few at a time each): the homeserver persists a room's
    concurrent events together, which one by one it would not. Their order is not kept."""
    gate = asyncio.Semaphore(16)

    async def send(someone: Person, room: str, kind: str, content: Json) -> None:
        async with gate:
            response = await someone.client.room_send(room, kind, content)
        assert not isinstance(response, ErrorResponse), response

    await asyncio.gather(*(send(*each) for each in sends))


def bodies(someone: Person, room: str, bot: RunningMatrixBot) -> list[str]:
    return [m["content"].get("body", "") for m in someone.bot_messages(room, bot.user_id)]


def matrix_say(someone: Person, room: str, bot: RunningMatrixBot, text: str) -> str:
    """``someone`` writes ``text``; the bot's next message."""
    before = len(bodies(someone, room, bot))
    someone.say(room, "!" + text)
    return wait_for(
        lambda: (b := bodies(someone, room, bot))[before:] and b[before], f"an answer to {text}"
    )


def test_matrix_wrong_person(
    synapse: Synapse,  # noqa: F811
    register_user: Callable[..., MatrixUser],  # noqa: F811
    person: Callable[[str], Person],  # noqa: F811
    loop: Loop,  # noqa: F811
    tmp_path: Path,
) -> None:
    alice, bob, carol, dave = (person(n) for n in ("alice", "bob", "carol", "dave"))
    helpers = [person("helperbot") for _ in range(4)]  # bots the config excludes
    excluded = tuple(h.user_id for h in helpers)
    with RunningMatrixBot(
        synapse,
        f"sqlite:///{tmp_path / 'bot.db'}",
        register_user("charterbot"),
        other_bots=excluded,
    ) as bot:
        room = meeting(bot, alice, bob, carol, dave, *helpers)
        garden = meeting(bot, alice, dave)
        # Carol one level below the mediators' 50; the first helper bot at 50.
        alice.power(room, {carol.user_id: 49, helpers[0].user_id: 50})
        group, other = f"matrix:{room}", f"matrix:{garden}"
        # The set-up goes in at once too: the bot handles a room's events in order.
        for who, text in SETUP_PROPOSALS:
            (alice if who == "alice" else bob).say(room, "!" + text)
        wait_for(lambda: exists(bot.db, select(Amendment.id)), "the set-up's proposals")
        values = targets(bot.db, group, other) | {
            "member": bob.user_id,
            "mediator": dave.user_id,
        }
        for _who, text in SETUP_TARGETS:
            alice.say(room, "!" + text.format_map(values))
        dave.say(garden, "!status")
        alice.say(garden, "!" + SETUP_OTHER)
        created = wait_for(lambda: alice.find(garden, bot.user_id, "alliance join"), "a code")
        values["code"] = code_in(created["content"]["body"])
        mine = select(Alliance.id).where(Alliance.created_by == group)
        wait_for(lambda: exists(bot.db, mine), "the group's alliance")
        values = targets(bot.db, group, other) | values
        private = direct_chat(bot, bob)
        matrix_say(bob, private, bot, "help")

        def card(needle: str) -> str:
            found = wait_for(
                lambda: (m := alice.find(room, bot.user_id, needle)) and m["reactions"] and m,
                f"the card {needle!r} with its reactions",
            )
            return str(found["event_id"])

        consent_card = card("Consent text.")
        amendment_card = card(f"A{values['amendment']} to P{values['amending']}")
        wait_for(lambda: settled(bot.db), "the outbox to drain")

        in_room = [
            *mediator_attempts("carol", values),
            *author_attempts("carol", values),
            *member_attempts("helper", values),
        ]
        in_garden = other_group_attempts("dave", values)
        reactions = button_attempts("helpers", values, "not_member")
        in_private = member_attempts("bob", values, "group_only")
        reader = {room: alice, garden: alice, private: bob}
        before = snapshot(bot.db)
        counts = {r: len(bodies(someone, r, bot)) for r, someone in reader.items()}
        queued = last_outbox_id(bot.db)
        people = {"carol": carol, "helper": helpers[0], "dave": dave, "bob": bob}
        sends: list[tuple[Person, str, str, Json]] = [
            *((people[a.who], room, *said(a)) for a in in_room),
            *((dave, garden, *said(a)) for a in in_garden),
            *((bob, private, *said(a)) for a in in_private),
        ]
        # Each helper reacts once per card: a refused reaction is explained once per person
        # and card, so each reaction here gets its own explanation.
        cards = [consent_card] * 4 + [amendment_card] * 2
        for k, (attempt, event_id) in enumerate(zip(reactions, cards, strict=True)):
            key = REACTIONS[attempt.action.rpartition(":")[2]]
            relation = {"rel_type": "m.annotation", "event_id": event_id, "key": key}
            sends.append((helpers[k % 4], room, "m.reaction", {"m.relates_to": relation}))
        loop.run(send_all(sends), timeout=120)

        expected = {
            room: [*in_room, *reactions],
            garden: in_garden,
            private: in_private,
        }
        total = sum(len(a) for a in expected.values())
        # Waiting on the store, not on the homeserver: reading three rooms' history again
        # and again would slow the very server the bot sends its refusals through.
        wait_for(lambda: delivered_since(bot.db, queued) >= total, "every refusal", timeout=90)
        wait_for(lambda: settled(bot.db), "the cards to be up to date")
        refused = 0
        for r, attempts in expected.items():
            replies = bodies(reader[r], r, bot)[counts[r] :]
            for k, reply in enumerate(replies):
                name, colon, rest = reply.partition(": ")
                if colon and name.startswith("helperbot"):  # "<name>: <refusal>", once
                    replies[k] = rest
            refused += match_replies(attempts, replies, "!")
        tally("matrix", total, refused, before, snapshot(bot.db))
