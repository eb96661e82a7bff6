"""The Matrix adapter across restarts: of the bot, of the homeserver, and its very first start.

Every test runs on SQLite and on PostgreSQL (``file_database_url``, through ``bot`` or a
``RunningMatrixBot`` of its own): what is at stake is that the sync token is stored in the
same commit as the batch's effects, and both stores must keep that promise.

The tests look at what people see (the bot's messages in the room, the card's tally) and at
the rows behind it: one ``positions`` row per person, their ``position_history`` (a command
carried out twice would be there twice) and the ``inbox`` (exactly the events people sent).
Beneath that, ``handed`` records every event the adapter hands to the router: each of
people's events exactly once and in the order they were sent, across restarts. (The inbox
would absorb an event handed twice, so the room alone could not tell.)

"Nothing left to come" is checked with a sentinel: after everything else, one more command.
The room's messages go out in order, so once its answer is there, any doubled answer to an
earlier event would be there too.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from nio import AsyncClient, JoinError
from sqlalchemy import func, select

from adapters.matrix import CURSOR, JOIN_TRIES, MatrixAdapter
from bot.messages import Cursor, Inbound
from bot.router import Router
from deliberation.model import (
    InboxItem,
    OutboxItem,
    Position,
    PositionChange,
    Proposal,
    StreamCursor,
)
from tests.fakes.synapse import Synapse
from tests.matrix.conftest import MatrixUser
from tests.matrix.harness import START, Loop, Person, RunningMatrixBot, wait_for

Json = dict[str, Any]
TEXT = "We share the kitchen."
TALLY = re.compile("✅ (\\d+) · ⚠\ufe0f? (\\d+) · ✋ (\\d+) · ➖ (\\d+)")
STATUS = "Open proposals:"


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The dedupe keys (event ids) of every update handed to the router, in order."""
    keys: list[str] = []
    handle_batch = Router.handle_batch

    def record(self: Router, batch: Sequence[Inbound], cursor: Cursor | None = None) -> Any:
        keys.extend(item.dedupe_key for item in batch)
        return handle_batch(self, batch, cursor)

    monkeypatch.setattr(Router, "handle_batch", record)
    return keys


# -- what people see -------------------------------------------------------------------


def name(someone: Person) -> str:
    """The name the bot calls someone by: the display name, here the localpart."""
    return someone.user_id[1:].split(":")[0]


def bodies(viewer: Person, room: str, bot: RunningMatrixBot) -> list[str]:
    """The bot's messages in the room, oldest first, as shown (edits applied)."""
    return [m["content"].get("body", "") for m in viewer.bot_messages(room, bot.user_id)]


def ids(viewer: Person, room: str, bot: RunningMatrixBot) -> list[str]:
    """The event ids of the bot's messages in the room, oldest first."""
    return [m["event_id"] for m in viewer.bot_messages(room, bot.user_id)]


def card(viewer: Person, room: str, bot: RunningMatrixBot) -> Json:
    for message in viewer.bot_messages(room, bot.user_id):
        if message["content"].get("body", "").startswith("P1 · "):
            return message
    raise AssertionError("no card for P1")


def tally(message: Json) -> tuple[int, ...] | None:
    found = TALLY.search(message["content"].get("body", ""))
    return tuple(int(n) for n in found.groups()) if found else None


def answers(texts: list[str]) -> list[str]:
    """The bot's answers to people, in order: not the card, not the round's news. Of the
    answer to ``!status`` only its first line (the rest says how many stated)."""
    return [
        STATUS if t.startswith(STATUS) else t
        for t in texts
        if not t.startswith(("P1 · ", "The amendment phase of P1 is closed."))
    ]


def joined(viewer: Person, room: str) -> set[str]:
    """Who is joined to the room, as ``viewer`` sees its history."""
    return {
        e["state_key"]
        for e in viewer.events(room)
        if e.get("type") == "m.room.member" and (e.get("content") or {}).get("membership") == "join"
    }


def meeting(bot: RunningMatrixBot, creator: Person, *others: Person) -> str:
    """A room ``creator`` made, with the bot and ``others`` joined; its id."""
    room = creator.create_room(invite=[bot.user_id, *(o.user_id for o in others)])
    for other in others:
        other.join(room)
    wait_for(lambda: bot.user_id in joined(creator, room), "the bot to accept the invite")
    return room


def open_round(
    bot: RunningMatrixBot, creator: Person, *others: Person
) -> tuple[str, str, list[str]]:
    """A room with P1 in its consent round, the answers seeded on the card:
    (room, the card's event id, the events sent)."""
    room = meeting(bot, creator, *others)
    sent = [creator.say(room, f"!propose {TEXT}")]
    wait_for(lambda: creator.find(room, bot.user_id, TEXT), "the card")
    sent.append(creator.say(room, "!next P1"))  # the room's creator is a mediator
    wait_for(lambda: len(card(creator, room, bot)["reactions"]) == 4, "the answers seeded")
    return room, card(creator, room, bot)["event_id"], sent


# -- what the store holds --------------------------------------------------------------


def pid(someone: Person) -> str:
    return f"matrix:{someone.user_id}"


def positions(bot: RunningMatrixBot) -> dict[str, str]:
    """Person id -> stance, asserting one row per person."""
    with bot.db.unit_of_work(write=False) as uow:
        rows = uow.session.execute(select(Position.person_id, Position.stance)).all()
    people = [row[0] for row in rows]
    assert len(people) == len(set(people)), rows
    return {person: str(stance) for person, stance in rows}


def history(bot: RunningMatrixBot) -> dict[str, list[str]]:
    """Person id -> every position they gave, in order."""
    changes: dict[str, list[str]] = {}
    with bot.db.unit_of_work(write=False) as uow:
        rows = uow.session.execute(
            select(PositionChange.person_id, PositionChange.stance).order_by(PositionChange.id)
        ).all()
    for person, stance in rows:
        changes.setdefault(person, []).append(str(stance))
    return changes


def inbox(bot: RunningMatrixBot) -> list[str]:
    with bot.db.unit_of_work(write=False) as uow:
        return sorted(uow.session.scalars(select(InboxItem.dedupe_key)))


def cursor(bot: RunningMatrixBot) -> str | None:
    with bot.db.unit_of_work(write=False) as uow:
        row = uow.session.get(StreamCursor, CURSOR)
        return row.value if row else None


def delivery_failures(bot: RunningMatrixBot) -> int:
    with bot.db.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(func.coalesce(func.sum(OutboxItem.attempts), 0))) or 0


# -- 1. the bot restarts mid-round -----------------------------------------------------


def test_a_restart_mid_round_loses_nothing_and_doubles_nothing(
    handed: list[str], bot: RunningMatrixBot, person: Callable[[str], Person]
) -> None:
    alice, bob, carol, dave, erin, frank = (
        person(n) for n in ("alice", "bob", "carol", "dave", "erin", "frank")
    )
    room, card_id, sent = open_round(bot, alice, bob, carol, dave, erin, frank)

    sent.append(bob.react(room, card_id, "✅"))
    sent.append(carol.say(room, "!consent P1"))
    wait_for(lambda: tally(card(alice, room, bot)) == (2, 0, 0, 0), "the tally before")
    wait_for(lambda: len(answers(bodies(alice, room, bot))) == 1, "Carol's answer")
    before = ids(alice, room, bot)

    bot.stop()
    stored = cursor(bot)
    assert stored is not None
    sent.append(dave.react(room, card_id, "✅"))
    sent.append(dave.react(room, card_id, "➖"))  # he changes his mind: the later one counts
    sent.append(erin.say(room, "!object P1 Not on Sundays."))
    sent.append(frank.say(room, "!concern P1"))
    sent.append(carol.say(room, "!abstain P1"))  # she changes hers
    sent.append(alice.say(room, "!status"))
    bot.start()

    wait_for(lambda: tally(card(alice, room, bot)) == (1, 1, 1, 2), "the tally after")
    wait_for(lambda: len(answers(bodies(alice, room, bot))) == 5, "the answers after")
    assert cursor(bot) != stored

    bot.restart()  # once more: the stored token is past all of it
    sent.append(bob.say(room, "!status"))  # the sentinel
    wait_for(lambda: len(answers(bodies(alice, room, bot))) == 6, "the sentinel's answer")

    shown = bodies(alice, room, bot)
    assert ids(alice, room, bot)[: len(before)] == before
    assert answers(shown) == [
        f"{name(carol)} on P1: ✅ consent.\nTally so far: ✅ 2 · ⚠️ 0 · ✋ 0 · ➖ 0",
        # Dave's two reactions came first: ✅ 2 (Bob, Carol) and his ➖ 1
        f"{name(erin)} on P1: ✋ objection. Reason: Not on Sundays.\n"
        "Tally so far: ✅ 2 · ⚠️ 0 · ✋ 1 · ➖ 1",
        f"{name(frank)} on P1: ⚠️ concern.\nTally so far: ✅ 2 · ⚠️ 1 · ✋ 1 · ➖ 1",
        f"{name(carol)} changed their position on P1: ➖ stand aside (was ✅ consent).\n"
        "Tally so far: ✅ 1 · ⚠️ 1 · ✋ 1 · ➖ 2",
        STATUS,
        STATUS,
    ]
    assert len(shown) == len(before) + 5  # no other message, none twice
    assert tally(card(alice, room, bot)) == (1, 1, 1, 2)
    assert positions(bot) == {
        pid(bob): "consent",
        pid(carol): "abstain",
        pid(dave): "abstain",
        pid(erin): "object",
        pid(frank): "concern",
    }
    assert history(bot) == {
        pid(bob): ["consent"],
        pid(carol): ["consent", "abstain"],
        pid(dave): ["consent", "abstain"],
        pid(erin): ["object"],
        pid(frank): ["concern"],
    }
    assert handed == sent
    assert inbox(bot) == sorted(sent)


# -- 2. the very first start -----------------------------------------------------------


def test_the_first_start_does_not_act_on_history(
    handed: list[str],
    synapse: Synapse,
    file_database_url: str,
    register_user: Callable[..., MatrixUser],
    loop: Loop,
    person: Callable[[str], Person],
) -> None:
    account = register_user("charterbot")
    bot = RunningMatrixBot(synapse, file_database_url, account)  # not started yet
    alice, bob, carol, dave = (person(n) for n in ("alice", "bob", "carol", "dave"))
    try:
        # invited before the bot ever synced, and talked in meanwhile
        invited = alice.create_room(invite=[bot.user_id, bob.user_id])
        bob.join(invited)
        alice.say(invited, "!propose Old idea, invited.")
        bob.say(invited, "!status")
        # the account already in the room (joined by another client: a lost database)
        inside = carol.create_room(invite=[bot.user_id])
        other_client = Person(loop, synapse, account)
        other_client.join(inside)
        other_client.close()
        carol.say(inside, "!propose Old idea, inside.")
        # a room that invites the bot only once it runs
        later = dave.create_room(invite=[])
        dave.say(later, "!propose Old idea, later.")

        bot.start()
        assert cursor(bot) is not None  # the first, empty batch is stored
        wait_for(lambda: bot.user_id in joined(alice, invited), "the bot to accept")
        dave.loop.run(dave.client.room_invite(later, bot.user_id))
        wait_for(lambda: bot.user_id in joined(dave, later), "the bot to accept, later")

        new = {
            invited: (alice, alice.say(invited, "!propose New idea, invited.")),
            inside: (carol, carol.say(inside, "!propose New idea, inside.")),
            later: (dave, dave.say(later, "!propose New idea, later.")),
        }
        for room, (someone, _event) in new.items():
            # The room's messages go out in order: an answer to an old command would come
            # before the new card.
            wait_for(lambda r=room, s=someone: bodies(s, r, bot), "the new card")
            shown = bodies(someone, room, bot)
            assert len(shown) == 1, shown  # the card, and no answer to an old command
            assert re.match(r"P\d · new clause · amendment phase", shown[0]), shown
            assert "New idea" in shown[0]
        with bot.db.unit_of_work(write=False) as uow:
            texts = sorted(uow.session.scalars(select(Proposal.text)))
        assert texts == ["New idea, inside.", "New idea, invited.", "New idea, later."]
        events = sorted(event for _someone, event in new.values())
        assert sorted(handed) == events  # the old ones were not even handed on
        assert inbox(bot) == events
    finally:
        bot.close()


def test_an_invite_whose_join_failed_is_accepted_on_the_next_try(
    handed: list[str],
    synapse: Synapse,
    file_database_url: str,
    register_user: Callable[..., MatrixUser],
    person: Callable[[str], Person],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Synapse sends an invite down /sync once: a join refused for a moment (rate limit, a
    proxy's 502) must not leave the room unserved, nor a hopeless one hold up the others.
    The refusals are simulated on the bot's client: the test homeserver does not limit joins.
    """
    bot = RunningMatrixBot(synapse, file_database_url, register_user("charterbot"))
    tries: list[str] = []
    hopeless: set[str] = set()
    join = AsyncClient.join

    async def flaky(self: AsyncClient, room_id: str) -> Any:
        if self.user != bot.user_id:
            return await join(self, room_id)
        tries.append(room_id)
        if room_id in hopeless or tries.count(room_id) == 1:
            return JoinError("Too Many Requests", "M_LIMIT_EXCEEDED", retry_after_ms=50)
        return await join(self, room_id)

    monkeypatch.setattr(AsyncClient, "join", flaky)
    alice = person("alice")
    try:
        before = alice.create_room(invite=[bot.user_id])
        bot.start()  # the invite comes with the first sync
        wait_for(lambda: bot.user_id in joined(alice, before), "the first invite accepted")

        lost = alice.create_room(invite=[])
        hopeless.add(lost)
        alice.loop.run(alice.client.room_invite(lost, bot.user_id))
        wait_for(lambda: tries.count(lost) == JOIN_TRIES, "the bot to give up")
        after = alice.create_room(invite=[bot.user_id])  # the others are served meanwhile
        wait_for(lambda: bot.user_id in joined(alice, after), "the later invite accepted")
        assert tries == [before, before, *[lost] * JOIN_TRIES, after, after]

        sent = [alice.say(room, f"!propose {TEXT}") for room in (before, after)]
        for room in (before, after):
            wait_for(lambda r=room: alice.find(r, bot.user_id, TEXT), "the card")
        assert sorted(handed) == sorted(sent)
    finally:
        bot.close()


# -- 3. a gap after downtime -----------------------------------------------------------


def test_a_gap_after_downtime_is_filled_in_order(
    handed: list[str],
    synapse: Synapse,
    file_database_url: str,
    register_user: Callable[..., MatrixUser],
    person: Callable[[str], Person],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    filled: list[int] = []
    fill_gap = MatrixAdapter._fill_gap

    async def counted(self: MatrixAdapter, room_id: str, prev_batch: str) -> list[Json]:
        events = await fill_gap(self, room_id, prev_batch)
        filled.append(len(events))
        return events

    monkeypatch.setattr(MatrixAdapter, "_fill_gap", counted)
    alice = person("alice")
    people = [person(f"p{n}") for n in range(1, 9)]
    p1, p2, p3, p4, p5, p6, p7, p8 = people
    with RunningMatrixBot(
        synapse, file_database_url, register_user("charterbot"), timeline_limit=5
    ) as bot:
        room, card_id, sent = open_round(bot, alice, *people)

        bot.stop()
        # 12 events, the limit 5: the sync brings the last 5, the others come from the gap
        sent.append(p1.react(room, card_id, "✅"))
        sent.append(p1.say(room, "!concern P1 On second thought."))  # after his ✅: counts
        sent.append(p2.say(room, "!consent P1"))
        sent.append(alice.say(room, "!status"))
        keys = ["⚠", "➖", "✅", "⚠️", "➖", "✅", "✅"]  # p2 takes her consent back to ⚠️
        for someone, key in zip(people[1:], keys, strict=True):
            sent.append(someone.react(room, card_id, key))
        sent.append(p3.say(room, "!object P1 Too late."))  # after his ➖: counts
        filled.clear()
        bot.start()

        wait_for(lambda: tally(card(alice, room, bot)) == (3, 3, 1, 1), "the tally")
        bot.restart()  # the stored token is past all of it
        sent.append(alice.say(room, "!status"))  # the sentinel
        wait_for(lambda: answers(bodies(alice, room, bot)).count(STATUS) == 2, "the sentinel")

        # The gap was there and took more than one page of /messages. (Not always 7 events:
        # the stopped bot's last long poll may still be answered by Synapse with the first
        # one, and the restarted bot, asking the same, gets that answer from its cache.)
        assert sum(filled) > 5, filled
        assert answers(bodies(alice, room, bot)) == [
            f"{name(p1)} changed their position on P1: ⚠️ concern (was ✅ consent). "
            "Reason: On second thought.\nTally so far: ✅ 0 · ⚠️ 1 · ✋ 0 · ➖ 0",
            f"{name(p2)} on P1: ✅ consent.\nTally so far: ✅ 1 · ⚠️ 1 · ✋ 0 · ➖ 0",
            STATUS,
            f"{name(p3)} changed their position on P1: ✋ objection (was ➖ stand aside). "
            "Reason: Too late.\nTally so far: ✅ 3 · ⚠️ 3 · ✋ 1 · ➖ 1",
            STATUS,
        ]
        assert tally(card(alice, room, bot)) == (3, 3, 1, 1)
        assert history(bot) == {
            pid(p1): ["consent", "concern"],
            pid(p2): ["consent", "concern"],
            pid(p3): ["abstain", "object"],
            pid(p4): ["consent"],
            pid(p5): ["concern"],
            pid(p6): ["abstain"],
            pid(p7): ["consent"],
            pid(p8): ["consent"],
        }
        assert positions(bot) == {someone: said[-1] for someone, said in history(bot).items()}
        assert handed == sent
        assert inbox(bot) == sorted(sent)


# -- 4. the homeserver restarts mid-round ----------------------------------------------


def test_the_homeserver_restarting_mid_round(
    handed: list[str], bot: RunningMatrixBot, person: Callable[[str], Person], synapse: Synapse
) -> None:
    alice, bob, carol, dave = (person(n) for n in ("alice", "bob", "carol", "dave"))
    room = meeting(bot, alice, bob, carol, dave)
    sent = [alice.say(room, f"!propose {TEXT}")]
    wait_for(lambda: alice.find(room, bot.user_id, TEXT), "the card")

    sent.append(bob.say(room, "!status"))
    try:
        # Right after Bob's command: the bot answers it before or after, but once.
        synapse.stop()
        # The amendment phase ends while the homeserver is down: the news and the card's
        # change wait in the outbox; their delivery is tried and fails.
        bot.clock.set(START + timedelta(days=2, minutes=1))
        run = asyncio.run_coroutine_threadsafe(bot.app.router.run_timers(), bot.loop)
        assert run.result(10) > 0
        wait_for(lambda: delivery_failures(bot) > 0, "a delivery tried while down")
    finally:
        if not synapse.running:  # the server is shared by all tests: always leave it up
            synapse.start()

    def consent_card() -> bool:
        shown = card(alice, room, bot)
        return " · consent phase · " in shown["content"]["body"] and len(shown["reactions"]) == 4

    wait_for(consent_card, "the card in its consent round, answers seeded", timeout=40)
    wait_for(lambda: STATUS in answers(bodies(alice, room, bot)), "Bob's answer")
    card_id = card(alice, room, bot)["event_id"]
    sent.append(carol.react(room, card_id, "✅"))  # the sync loop is back
    sent.append(dave.say(room, "!concern P1 Noisy."))
    wait_for(lambda: tally(card(alice, room, bot)) == (1, 1, 0, 0), "the tally")
    sent.append(alice.say(room, "!status"))  # the sentinel
    wait_for(lambda: answers(bodies(alice, room, bot)).count(STATUS) == 2, "the sentinel")

    shown = bodies(alice, room, bot)
    assert answers(shown) == [
        STATUS,
        f"{name(dave)} on P1: ⚠️ concern. Reason: Noisy.\nTally so far: ✅ 1 · ⚠️ 1 · ✋ 0 · ➖ 0",
        STATUS,
    ]
    news = [t for t in shown if t.startswith("The amendment phase of P1 is closed.")]
    assert len(news) == 1 and len(shown) == 5, shown  # the card, the news, 3 answers
    assert positions(bot) == {pid(carol): "consent", pid(dave): "concern"}
    assert history(bot) == {pid(carol): ["consent"], pid(dave): ["concern"]}
    assert handed == sent
    assert inbox(bot) == sorted(sent)
    with bot.db.unit_of_work(write=False) as uow:
        states = list(uow.session.scalars(select(OutboxItem.state)))
    assert set(states) == {"sent"}, states
