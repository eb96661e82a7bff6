"""Encrypted rooms: with ``encryption = true`` the bot deliberates in them and its keys
survive a restart; without it, it says once that it cannot read the room."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.fakes.synapse import Synapse
from tests.matrix.conftest import MatrixUser
from tests.matrix.harness import (
    EncryptedPerson,
    Loop,
    RunningMatrixBot,
    meeting,
    wait_for,
)

ENCRYPTED = [
    {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
]


def keys(tmp_path: Path, name: str) -> str:
    """A directory for someone's encryption keys."""
    path = tmp_path / name
    path.mkdir()
    return str(path)


def body(message: dict | None) -> str:
    return "" if message is None else message["content"].get("body", "")


def test_deliberation_in_an_encrypted_room_across_a_restart(
    synapse: Synapse,
    file_database_url: str,
    register_user: Callable[..., MatrixUser],
    loop: Loop,
    tmp_path: Path,
) -> None:
    alice = EncryptedPerson(loop, synapse, register_user("alice"), keys(tmp_path, "alice"))
    bob = EncryptedPerson(loop, synapse, register_user("bob"), keys(tmp_path, "bob"))
    account = register_user("charterbot")
    store = tmp_path / "bot-keys"
    store.mkdir()
    bot = RunningMatrixBot(synapse, file_database_url, account, encryption_store=str(store))
    try:
        bot.start()
        room = meeting(bot, alice, bob, initial_state=ENCRYPTED)
        alice.say(room, "!propose We keep the garden secret.")
        card = wait_for(lambda: alice.find(room, bot.user_id, "garden secret"), "the card")
        raw = [e for e in alice.events(room) if e.get("event_id") == card["event_id"]]
        assert raw and raw[0].get("type") == "m.room.message"  # decrypted for Alice
        alice.say(room, "!next P1")
        wait_for(
            lambda: (
                len((alice.find(room, bot.user_id, "garden secret") or {}).get("reactions", {}))
                == 4
            ),
            "the seeded answers",
        )
        bob.react(room, card["event_id"], "✅")
        wait_for(lambda: "✅ 1" in body(alice.find(room, bot.user_id, "garden secret")), "Bob's ✅")

        bot.restart()  # the keys are in the store: the bot reads and writes as before
        alice.say(room, "!consent P1")
        wait_for(
            lambda: "✅ 2" in body(alice.find(room, bot.user_id, "garden secret")), "Alice's ✅"
        )
        assert list(store.iterdir()), "the bot's key store is on disk"
    finally:
        bot.close()
        alice.close()
        bob.close()


def test_without_encryption_the_bot_says_once_that_it_cannot_read(
    synapse: Synapse,
    file_database_url: str,
    register_user: Callable[..., MatrixUser],
    loop: Loop,
    tmp_path: Path,
) -> None:
    alice = EncryptedPerson(loop, synapse, register_user("alice"), keys(tmp_path, "alice"))
    with RunningMatrixBot(synapse, file_database_url, register_user("charterbot")) as bot:
        try:
            room = meeting(bot, alice, initial_state=ENCRYPTED)
            notice = wait_for(
                lambda: alice.find(room, bot.user_id, "encrypted"), "the bot's notice"
            )
            assert notice["content"]["msgtype"] == "m.notice"
            alice.say(room, "!propose Is anyone there?")
            alice.say(room, "!status")
            bot.restart()
            time.sleep(2)  # a few sync rounds: nothing more is said
            messages = [m for m in alice.bot_messages(room, bot.user_id) if "encrypted" in body(m)]
            assert len(messages) == 1
        finally:
            alice.close()
