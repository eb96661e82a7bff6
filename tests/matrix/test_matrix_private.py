"""Direct chats with the bot on Matrix: its private chats (SPEC sections 3, 4 and 6).

A person opens one as clients do (a room created with ``is_direct``, the bot invited);
there ``!remind on``, ``!start``, ``!lang`` and ``!status`` work as in a Telegram private
chat, and private reminders of consent rounds come there. The bot keeps its direct chats in
its ``m.direct`` account data, read here with the bot account's own token.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from deliberation.model import OutboxItem, Person
from tests.fakes.synapse import Synapse
from tests.matrix.conftest import MatrixUser
from tests.matrix.harness import (
    Person as Someone,
)
from tests.matrix.harness import (
    RunningMatrixBot,
    direct_chat,
    joined,
    meeting,
    wait_for,
)

Make = Callable[[str], Someone]
CONFIRMED = (
    "I will remind you here before a consent round of your groups closes, if you have not "
    "stated a position yet. !remind off stops it."
)
NO_ROUNDS = "No consent round of your groups is open."
SPANISH_NO_ROUNDS = "Ninguna ronda de consentimiento de tus grupos está abierta."


def bodies(viewer: Someone, room: str, bot: RunningMatrixBot) -> list[str]:
    return [m["content"].get("body", "") for m in viewer.bot_messages(room, bot.user_id)]


def ask(viewer: Someone, room: str, bot: RunningMatrixBot, text: str, needle: str) -> str:
    """``viewer`` says ``text`` in ``room``; the bot's new message there containing ``needle``."""
    before = len(bodies(viewer, room, bot))
    viewer.say(room, text)

    def answer() -> str | None:
        return next((b for b in bodies(viewer, room, bot)[before:] if needle in b), None)

    return str(wait_for(answer, f"{needle!r} after {text!r}"))


def idle(bot: RunningMatrixBot) -> bool:
    with bot.db.unit_of_work(write=False) as uow:
        return not uow.session.scalars(
            select(OutboxItem.id).where(OutboxItem.state == "pending")
        ).first()


def direct_rooms(synapse: Synapse, account: MatrixUser) -> dict[str, Any]:
    """The bot's ``m.direct`` account data, as the homeserver keeps it."""
    return synapse.request(
        "GET",
        f"/_matrix/client/v3/user/{account.user_id}/account_data/m.direct",
        access_token=account.access_token,
    )


def test_private_reminders_in_direct_chats_go_only_to_those_who_have_not_responded(
    bot: RunningMatrixBot, person: Make, synapse: Synapse
) -> None:
    alice, bob, carol = person("alice"), person("bob"), person("carol")
    room = meeting(bot, alice, bob, carol)
    for someone in (bob, carol):  # members: seen in the group
        ask(someone, room, bot, "!status", "!propose")
    refused = ask(bob, room, bot, "!remind on", "private chat")
    assert refused == "!remind works in a private chat with me: write to me there."

    bobs, carols = direct_chat(bot, bob), direct_chat(bot, carol)
    assert direct_rooms(synapse, bot.account) == {bob.user_id: [bobs], carol.user_id: [carols]}
    for someone, chat in ((bob, bobs), (carol, carols)):
        assert ask(someone, chat, bot, "!remind on", "remind you") == CONFIRMED
    welcome = ask(bob, bobs, bot, "!start", "Welcome")
    assert "Send !lang <code> to choose a language, or !status to see the rounds" in welcome
    assert "Send !remind on to be reminded here" in welcome
    [shown] = [m for m in bob.bot_messages(bobs, bot.user_id) if "Welcome" in m["content"]["body"]]
    assert shown["content"]["msgtype"] == "m.notice" and shown["reactions"] == {}
    assert ask(bob, bobs, bot, "!propose Not here.", "group") == (
        "This works in a group. Here you can use !start, !help, !lang and !status."
    )
    with bot.db.unit_of_work(write=False) as uow:
        chats = {p.id: p.remind_chat for p in uow.session.scalars(select(Person))}
    assert chats[f"matrix:{bob.user_id}"] == f"matrix:{bobs}"
    assert chats[f"matrix:{carol.user_id}"] == f"matrix:{carols}"

    alice.say(room, "!propose Quiet after ten.")
    wait_for(lambda: alice.find(room, bot.user_id, "Quiet after ten."), "the card")
    ask(alice, room, bot, "!next P1", "Consent round 1 on P1")
    ask(carol, room, bot, "!consent P1", "on P1")
    assert ask(bob, bobs, bot, "!status", "P1").startswith("Your open rounds:")

    bot.advance(timedelta(hours=48))  # a day before the round closes
    wait_for(lambda: alice.find(room, bot.user_id, "Reminder"), "the group's reminder")
    reminded = wait_for(lambda: bob.find(bobs, bot.user_id, "Reminder"), "Bob's reminder")
    assert reminded["content"]["msgtype"] == "m.notice"
    assert reminded["content"]["body"].splitlines()[1:] == [
        "“Quiet after ten.”",
        "State your position in the group: ✅ !consent P1 · ⚠️ !concern P1 [reason] · "
        "✋ !object P1 <reason> · ➖ !abstain P1",
        "!remind off stops these reminders.",
    ]
    wait_for(lambda: idle(bot), "the outbox to drain")
    assert not [b for b in bodies(carol, carols, bot) if "Reminder" in b]  # she consented


def test_only_people_who_share_a_room_with_the_bot_can_open_a_direct_chat(
    synapse: Synapse, file_database_url: str, register_user: Callable[..., MatrixUser], person: Make
) -> None:
    alice, bob, mallory = person("alice"), person("bob"), person("mallory")
    account = register_user("charterbot")
    with RunningMatrixBot(
        synapse, file_database_url, account, allowed_inviters=(alice.user_id,)
    ) as bot:
        meeting(bot, alice, bob)  # Bob may not invite the bot into a group, but he is in one
        theirs = mallory.create_room(invite=[bot.user_id], is_direct=True)
        bobs = direct_chat(bot, bob)
        assert ask(bob, bobs, bot, "!status", NO_ROUNDS) == NO_ROUNDS
        wait_for(
            lambda: any(
                e.get("type") == "m.room.member"
                and e.get("state_key") == bot.user_id
                and e["content"].get("membership") == "leave"
                for e in mallory.events(theirs)
            ),
            "the bot to decline Mallory's direct chat",
        )
        assert bot.user_id not in joined(mallory, theirs)
        assert direct_rooms(synapse, account) == {bob.user_id: [bobs]}


def test_a_direct_chat_outlives_a_restart_and_ends_when_its_person_leaves(
    bot: RunningMatrixBot, person: Make, synapse: Synapse
) -> None:
    alice, bob = person("alice"), person("bob")
    room = meeting(bot, alice, bob)
    bobs = direct_chat(bot, bob)
    ask(bob, bobs, bot, "!lang es", "español")

    bot.restart()
    assert ask(bob, bobs, bot, "!status", "ronda") == SPANISH_NO_ROUNDS
    assert ask(bob, room, bot, "!status", "!propose")  # the group's, in the group

    bob.leave(bobs)
    wait_for(lambda: not direct_rooms(synapse, bot.account), "the direct chat forgotten")
    rooms = synapse.request(
        "GET", "/_matrix/client/v3/joined_rooms", access_token=bot.account.access_token
    )
    assert rooms["joined_rooms"] == [room]  # the bot left the direct chat too
