"""Matrix events into the bot's vocabulary, and what a room's state says about its people."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.matrix_events import (
    Encrypted,
    StateChanged,
    normalise_key,
    strip_reply_fallback,
    translate,
)
from adapters.matrix_rooms import DirectRooms, read_state, still_private
from bot import buttons
from bot.messages import MessageIn, Reaction

ROOM = "!kitchen:localhost"
BOT = "@charterbot:localhost"


def event(kind: str, content: dict[str, Any], sender: str = "@ann:localhost", **extra: Any):
    return {
        "type": kind,
        "sender": sender,
        "event_id": "$e1",
        "origin_server_ts": 1,
        "content": content,
        **extra,
    }


def test_a_text_message() -> None:
    got = translate(event("m.room.message", {"msgtype": "m.text", "body": "!status"}), ROOM, BOT)
    assert got == MessageIn(
        platform="matrix",
        dedupe_key="$e1",
        chat="matrix:!kitchen:localhost",
        sender="matrix:@ann:localhost",
        sender_name="@ann:localhost",
        text="!status",
    )


def test_a_reply_names_the_event_and_loses_its_quoted_fallback() -> None:
    content = {
        "msgtype": "m.text",
        "body": "> <@charterbot:localhost> P1: reason?\n> more\n\nThe garden is not ours.",
        "m.relates_to": {"m.in_reply_to": {"event_id": "$prompt"}},
    }
    got = translate(event("m.room.message", content), ROOM, BOT)
    assert isinstance(got, MessageIn)
    assert (got.reply_to, got.text) == ("$prompt", "The garden is not ours.")


def test_edits_the_bots_own_events_and_other_msgtypes_are_nothing() -> None:
    edit = {
        "msgtype": "m.text",
        "body": "* !propose x",
        "m.relates_to": {"rel_type": "m.replace", "event_id": "$old"},
    }
    assert translate(event("m.room.message", edit), ROOM, BOT) is None
    own = event("m.room.message", {"msgtype": "m.text", "body": "hi"}, sender=BOT)
    assert translate(own, ROOM, BOT) is None
    image = {"msgtype": "m.image", "body": "cat.png", "url": "mxc://x/y"}
    assert translate(event("m.room.message", image), ROOM, BOT) is None
    assert translate({"type": "m.room.message"}, ROOM, BOT) is None  # malformed


@pytest.mark.parametrize(
    ("key", "normal"),
    [("✅", "✅"), ("⚠️", "⚠"), ("⚠", "⚠"), ("✋🏽", "✋"), ("✋", "✋"), ("👍🏿", "👍")],
)
def test_reaction_keys_are_normalised(key: str, normal: str) -> None:
    assert normalise_key(key) == normal
    content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$card", "key": key}}
    got = translate(event("m.reaction", content), ROOM, BOT)
    assert isinstance(got, Reaction)
    assert (got.key, got.message_ref, got.reaction_ref, got.removed) == (
        normal,
        "$card",
        "$e1",
        False,
    )


def test_a_redaction_is_a_removal_in_old_and_new_room_versions() -> None:
    new = translate(event("m.room.redaction", {"redacts": "$r1"}), ROOM, BOT)
    old = translate(event("m.room.redaction", {}, redacts="$r2"), ROOM, BOT)
    assert isinstance(new, Reaction) and isinstance(old, Reaction)
    assert (new.removed, new.reaction_ref, old.reaction_ref) == (True, "$r1", "$r2")


def test_state_and_encrypted_events() -> None:
    member = event("m.room.member", {"membership": "leave"}, state_key="@bob:localhost")
    assert translate(member, ROOM, BOT) == StateChanged(
        "matrix:!kitchen:localhost", "m.room.member", "@bob:localhost", "leave"
    )
    levels = event("m.room.power_levels", {"users": {}}, state_key="")
    assert isinstance(translate(levels, ROOM, BOT), StateChanged)
    secret = event("m.room.encrypted", {"algorithm": "m.megolm.v1.aes-sha2"})
    assert translate(secret, ROOM, BOT) == Encrypted("matrix:!kitchen:localhost", "$e1")


def test_reply_fallback_only_cut_when_there_is_one() -> None:
    assert strip_reply_fallback("plain text") == "plain text"
    assert strip_reply_fallback("> quoted\n\nanswer") == "answer"


def test_room_state_mediators_creators_and_counted_members() -> None:
    state = [
        event("m.room.create", {"room_version": "12"}, sender="@ann:localhost", state_key=""),
        event(
            "m.room.power_levels",
            {"users": {"@mod:localhost": 50, "@low:localhost": 10}, "users_default": 0},
            state_key="",
        ),
        *(
            event("m.room.member", {"membership": "join", "displayname": name}, state_key=user)
            for user, name in [
                ("@ann:localhost", "Ann"),
                ("@mod:localhost", "Mo"),
                ("@low:localhost", "Lo"),
                (BOT, "charterbot"),
                ("@other-bot:localhost", "reminders"),
            ]
        ),
        event("m.room.member", {"membership": "leave"}, state_key="@gone:localhost"),
    ]
    people = read_state(state)
    assert people.is_mediator("@ann:localhost", 50)  # creator, in no power levels
    assert people.is_mediator("@mod:localhost", 50)
    assert not people.is_mediator("@low:localhost", 50)
    assert people.names["@mod:localhost"] == "Mo" and "@gone:localhost" not in people.names
    assert people.counted(frozenset([BOT, "@other-bot:localhost"])) == 3


def test_creators_rule_only_from_room_version_12() -> None:
    state = [event("m.room.create", {"room_version": "10"}, state_key="")]
    assert not read_state(state).is_mediator("@ann:localhost", 50)


def test_reactions_stand_for_the_cards_buttons() -> None:
    assert buttons.reaction_for("v12:c") == "✅" and buttons.reaction_for("a5:-") == "👎"
    assert buttons.reaction_for("l:es") is None
    assert buttons.from_reaction("P12", normalise_key("⚠️")) == "v12:k"
    assert buttons.from_reaction("P12", "✋") == "v12:o"
    assert buttons.from_reaction("A5", "👍") == "a5:+"
    assert buttons.from_reaction("A5", "✅") is None  # not a button of an amendment's card
    assert buttons.from_reaction("P12", "🎉") is None


def member(user: str, membership: str) -> dict[str, Any]:
    return event("m.room.member", {"membership": membership}, sender=user, state_key=user)


def test_direct_rooms_round_trip_through_m_direct_and_ignore_junk() -> None:
    content = {
        "@ann:localhost": ["!a:localhost", "!b:localhost", 7],
        "@bob:localhost": "!c:localhost",  # not a list: not ours to read
        5: ["!d:localhost"],
    }
    rooms = DirectRooms.from_account_data(content)
    assert rooms.person == {"!a:localhost": "@ann:localhost", "!b:localhost": "@ann:localhost"}
    more = rooms.with_room("!e:localhost", "@cy:localhost").without({"!a:localhost"})
    assert more.account_data() == {
        "@ann:localhost": ["!b:localhost"],
        "@cy:localhost": ["!e:localhost"],
    }
    assert DirectRooms.from_account_data(None).person == {}


def test_a_direct_room_is_private_while_only_its_person_and_the_bot_are_in_it() -> None:
    ann = "@ann:localhost"
    assert still_private([member(ann, "join"), member(BOT, "join")], ann, BOT)
    assert still_private([member("@cy:localhost", "invite")], ann, BOT)  # not joined (yet)
    assert not still_private([member(ann, "leave")], ann, BOT)
    assert not still_private([member(ann, "ban")], ann, BOT)
    assert not still_private([member("@cy:localhost", "join")], ann, BOT)
    assert still_private([member(ann, "leave"), member(ann, "join")], ann, BOT)
