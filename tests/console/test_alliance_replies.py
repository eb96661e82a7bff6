"""``/alliance`` through the router: the listing, one alliance, and refusals in words."""

from __future__ import annotations

from .conftest import Console


def test_a_group_in_no_alliance_is_told_how_to_make_or_join_one(console: Console) -> None:
    console.say(":members main alice bob")
    assert console.say("bob: /alliance") == [
        "bot: This group is in no alliance. A mediator creates one with /alliance create "
        "<name>, or joins one with /alliance join <code>.",
    ]
    assert console.say("bob: /alliance settings L2") == [
        "bot: This group is not in alliance L2. /alliance lists its alliances.",
    ]
    assert console.text("bob: /alliance frobnicate").startswith(
        "bot: Usage: /alliance  ·  /alliance create <name>"
    )


def test_the_listing_after_creating_one(console: Console) -> None:
    console.say(":members main alice bob")
    created = console.say("alice: /alliance create Coastal Fishers")
    assert created[0] == "bot: Alliance L1 Coastal Fishers is created, with this group in it."
    listing = console.say("bob: /alliance")
    assert listing[:2] == ["bot: L1 · Coastal Fishers", "bot:   main · console · English"]
    assert "bot: 1 invite code is open." in listing
    assert console.say("bob: /alliance L1") == listing
    assert console.say("bob: /alliance settings") == listing
