"""A proposal's whole life in a Matrix room: three people, the bot, a real Synapse."""

from __future__ import annotations

from collections.abc import Callable

from tests.matrix.harness import Person, RunningMatrixBot, meeting, wait_for


def test_a_proposal_from_first_word_to_adoption(
    bot: RunningMatrixBot, person: Callable[[str], Person]
) -> None:
    alice, bob, carol = person("alice"), person("bob"), person("carol")
    room = meeting(bot, alice, bob, carol)

    def card() -> dict:
        found = alice.find(room, bot.user_id, "We share the kitchen.")
        assert found is not None
        return found

    alice.say(room, "!propose We share the kitchen.")
    wait_for(lambda: alice.find(room, bot.user_id, "We share the kitchen."), "the card")
    assert card()["content"]["msgtype"] == "m.notice"
    assert card()["content"]["body"].startswith("P1 · new clause · amendment phase")
    assert card()["reactions"] == {}

    alice.say(room, "!next P1")  # the room's creator is a mediator
    wait_for(lambda: len(card()["reactions"]) == 4, "the answers seeded on the card")
    assert set(card()["reactions"]) == {"✅", "⚠️", "✋", "➖"}

    bob.react(room, card()["event_id"], "✅")
    carol.react(room, card()["event_id"], "⚠")  # without the variation selector
    wait_for(lambda: "✅ 1" in _body(card()) and "⚠️ 1" in _body(card()), "the tally")
    changed = carol.react(room, card()["event_id"], "➖")
    wait_for(lambda: "⚠️ 0" in _body(card()) or "➖ 1" in _body(card()), "Carol's change")
    carol.redact(room, changed)  # back to her concern, still shown under her reaction
    wait_for(lambda: "⚠️ 1" in _body(card()) and "➖ 0" in _body(card()), "the removal")

    objection = alice.react(room, card()["event_id"], "✋🏽")
    prompt = wait_for(
        lambda: alice.find(room, bot.user_id, "reason for your objection"), "the prompt"
    )
    assert alice.user_id in prompt["content"]["m.mentions"]["user_ids"]
    assert f"https://matrix.to/#/{alice.user_id}" in prompt["content"]["formatted_body"]
    alice.say(room, "Not the garden <b>too</b>.", reply_to=prompt["event_id"])
    wait_for(lambda: "Not the garden <b>too</b>." in _body(card()), "the objection")
    assert "&lt;b&gt;too&lt;/b&gt;" in card()["content"]["formatted_body"]

    alice.redact(room, objection)  # she takes her objection back
    carol.say(room, "!consent P1")
    wait_for(lambda: "✋ 0" in _body(card()) and "✅ 2" in _body(card()), "the new tally")
    alice.say(room, "!next P1")
    wait_for(lambda: _body(card()).startswith("P1 · new clause · adopted"), "the adoption")
    assert alice.find(room, bot.user_id, "adopted") is not None


def _body(message: dict) -> str:
    return message["content"].get("body", "")


def test_a_reaction_added_and_taken_back_while_the_bot_was_away_counts_for_nothing(
    bot: RunningMatrixBot, person: Callable[[str], Person]
) -> None:
    alice, bob = person("alice"), person("bob")
    room = meeting(bot, alice, bob)
    alice.say(room, "!propose Bikes in the hall.")
    alice.say(room, "!next P1")
    card = wait_for(
        lambda: (c := alice.find(room, bot.user_id, "Bikes in the hall.")) and c["reactions"] and c,
        "the seeded card",
    )
    bob.react(room, card["event_id"], "⚠️")
    wait_for(lambda: "⚠️ 1" in _body(alice.find(room, bot.user_id, "Bikes")), "Bob's concern")
    bot.stop()
    second = bob.react(room, card["event_id"], "✅")
    bob.redact(room, second)  # both reach the bot in one sync
    bot.start()
    bob.say(room, "!status P1")
    wait_for(lambda: alice.find(room, bot.user_id, "P1 · new clause · consent"), "the status")

    def shown() -> str:
        return _body(alice.find(room, bot.user_id, "Bikes"))

    # (Synapse may hand the restarted bot the sync answer its stopped long poll was given,
    # with the ✅ in it: then it counts for a moment, and the redaction restores the ⚠️.)
    wait_for(lambda: "⚠️ 1" in shown() and "✅ 0" in shown(), "Bob's concern, unchanged")
