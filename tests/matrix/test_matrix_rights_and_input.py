"""Who may do what in a Matrix room, and input the bot must not trust."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select

from deliberation.model import OutboxItem, Position
from tests.fakes.synapse import Synapse
from tests.matrix.conftest import MatrixUser
from tests.matrix.harness import (
    Person,
    RunningMatrixBot,
    joined,
    meeting,
    wait_for,
)

Make = Callable[[str], Person]


def body(message: dict | None) -> str:
    return "" if message is None else message["content"].get("body", "")


def answer_after(someone: Person, room: str, bot: RunningMatrixBot, count: int) -> dict:
    """The bot's first message after its first ``count`` ones."""
    return wait_for(
        lambda: (m := someone.bot_messages(room, bot.user_id))[count:] and m[count],
        "the bot's answer",
    )


def said(someone: Person, room: str, bot: RunningMatrixBot, text: str) -> dict:
    """``someone`` writes ``text``; the bot's next message."""
    before = len(someone.bot_messages(room, bot.user_id))
    someone.say(room, text)
    return answer_after(someone, room, bot, before)


def settle(bot: RunningMatrixBot) -> None:
    """Wait until the bot has delivered everything it queued."""

    def idle() -> bool:
        with bot.db.unit_of_work(write=False) as uow:
            return not uow.session.scalar(
                select(OutboxItem.id).where(OutboxItem.state == "pending").limit(1)
            )

    wait_for(idle, "the outbox to drain")


def positions(bot: RunningMatrixBot) -> int:
    with bot.db.unit_of_work(write=False) as uow:
        return uow.session.scalar(select(func.count()).select_from(Position)) or 0


def test_mediators_are_creators_power_levels_and_appointed(
    bot: RunningMatrixBot, person: Make
) -> None:
    alice, bob, carol = person("alice"), person("bob"), person("carol")
    room = meeting(bot, alice, bob, carol)
    said(alice, room, bot, "!propose Dishes are done by whoever cooked.")
    refused = said(bob, room, bot, "!next P1")
    assert body(refused) == "Only a mediator of this group can use !next."
    assert "consent" not in body(alice.find(room, bot.user_id, "P1 ·"))

    alice.power(room, {bob.user_id: 50})  # a moderator in clients' terms
    opened = said(bob, room, bot, "!next P1")
    assert "Consent round 1 on P1" in body(opened)

    appointed = said(alice, room, bot, f"!mediator add {carol.user_id}")
    assert "is now a mediator" in body(appointed)
    closed = said(carol, room, bot, "!next P1")  # closes the consent round
    assert "Only a mediator" not in body(closed) and "P1" in body(closed)


def test_html_and_markup_in_user_text_are_shown_as_text(
    bot: RunningMatrixBot, person: Make
) -> None:
    alice, bob = person("alice"), person("bob")
    room = meeting(bot, alice, bob)
    text = '<script>alert(1)</script> & <a href="https://evil.example">**x**</a> @room'
    card = said(alice, room, bot, f"!propose {text}")
    content = card["content"]
    assert text in content["body"]
    assert "<script>" not in content["formatted_body"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;a href=" in content["formatted_body"]
    assert content["m.mentions"] == {}  # "@room" in a proposal pings no one
    assert content["format"] == "org.matrix.custom.html"


def test_bad_input_gets_a_short_answer_and_changes_nothing(
    bot: RunningMatrixBot, person: Make
) -> None:
    alice, bob = person("alice"), person("bob")
    room = meeting(bot, alice, bob)
    assert "I do not know the command !frobnicate" in body(said(bob, room, bot, "!frobnicate"))
    assert "P7" in body(said(bob, room, bot, "!consent P7"))
    long = said(alice, room, bot, "!propose " + "x" * 5000)
    assert body(long) == "That text has 5,000 characters; at most 3,000 are allowed."
    assert alice.find(room, bot.user_id, "P1 ·") is None
    assert positions(bot) == 0


def test_reactions_from_non_members_and_on_closed_rounds_are_explained_once(
    synapse: Synapse,
    file_database_url: str,
    register_user: Callable[..., MatrixUser],
    person: Make,
) -> None:
    alice, bob, helper = person("alice"), person("bob"), person("helperbot")
    account = register_user("charterbot")
    with RunningMatrixBot(synapse, file_database_url, account, other_bots=(helper.user_id,)) as bot:
        room = meeting(bot, alice, bob, helper)
        said(alice, room, bot, "!propose Quiet after ten.")
        said(alice, room, bot, "!next P1")
        card = wait_for(
            lambda: (
                (c := alice.find(room, bot.user_id, "Quiet after ten.")) and c["reactions"] and c
            ),
            "the seeded card",
        )
        before = len(alice.bot_messages(room, bot.user_id))
        helper.react(room, card["event_id"], "✅")
        explained = answer_after(alice, room, bot, before)
        assert body(explained).startswith("helperbot")
        assert "Only members of this group" in body(explained)
        helper.react(room, card["event_id"], "➖")  # a second try: not explained again
        bob.react(room, card["event_id"], "✅")
        wait_for(lambda: positions(bot) == 1, "Bob's position")
        said(alice, room, bot, "!next P1")  # closes the round (one voice: below the quorum)
        wait_for(
            lambda: "not adopted" in body(alice.find(room, bot.user_id, "Quiet after ten.")),
            "the outcome on the card",
        )
        settle(bot)
        count = len(alice.bot_messages(room, bot.user_id))
        bob.react(room, card["event_id"], "⚠️")
        closed = answer_after(alice, room, bot, count)
        assert body(closed).endswith("P1 is not adopted; this needs the consent phase.")
        bob.react(room, card["event_id"], "➖")
        time.sleep(1.5)  # two sync rounds: nothing more is said
        settle(bot)
        messages = alice.bot_messages(room, bot.user_id)
        assert len(messages) == count + 1
        assert sum("Only members" in body(m) for m in messages) == 1
        assert positions(bot) == 1


def test_invites_only_from_allowed_inviters(
    synapse: Synapse,
    file_database_url: str,
    register_user: Callable[..., MatrixUser],
    person: Make,
) -> None:
    alice, mallory = person("alice"), person("mallory")
    account = register_user("charterbot")
    with RunningMatrixBot(
        synapse, file_database_url, account, allowed_inviters=(alice.user_id,)
    ) as bot:
        theirs = mallory.create_room(invite=[bot.user_id])
        ours = meeting(bot, alice)
        wait_for(
            lambda: any(
                e.get("type") == "m.room.member"
                and e.get("state_key") == bot.user_id
                and e["content"].get("membership") == "leave"
                for e in mallory.events(theirs)
            ),
            "the bot to decline Mallory's invite",
        )
        assert bot.user_id not in joined(mallory, theirs)
        assert bot.user_id in joined(alice, ours)


@pytest.fixture
def slow_bot(
    synapse: Synapse, file_database_url: str, register_user: Callable[..., MatrixUser]
) -> Iterator[RunningMatrixBot]:
    """The bot held to 2 messages a second by the homeserver (Synapse's own rate limiter,
    set for its account through the admin API), as on a server with default limits."""
    admin = register_user("admin", admin=True)
    account = register_user("charterbot")
    synapse.request(
        "POST",
        f"/_synapse/admin/v1/users/{account.user_id}/override_ratelimit",
        {"messages_per_second": 2, "burst_count": 1},
        access_token=admin.access_token,
    )
    with RunningMatrixBot(synapse, file_database_url, account) as running:
        yield running


def test_rate_limited_sends_are_retried_until_all_are_delivered(
    slow_bot: RunningMatrixBot, person: Make
) -> None:
    alice, bob = person("alice"), person("bob")
    room = meeting(slow_bot, alice, bob)
    for number in range(6):
        bob.say(room, f"!status P{number + 1}")  # six refusals: six answers
    settle(slow_bot)
    answers = [body(m) for m in alice.bot_messages(room, slow_bot.user_id)]
    assert sorted(a for a in answers if "P" in a) == sorted(
        a for a in answers if any(f"P{n}" in a for n in range(1, 7))
    )
    assert sum(any(f"P{n}" in a for n in range(1, 7)) for a in answers) == 6
    with slow_bot.db.unit_of_work(write=False) as uow:
        # (a flood wait sets a row's not_before; it is not counted among its failed attempts)
        waited = uow.session.scalar(select(func.count()).where(OutboxItem.not_before.is_not(None)))
    assert waited  # the homeserver did say "wait" (429), and we waited
