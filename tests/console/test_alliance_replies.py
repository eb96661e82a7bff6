"""``/alliance`` through the router: the listing, one alliance, and refusals in words."""

from __future__ import annotations

from collections.abc import Callable

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


def code_in(lines: list[str]) -> str:
    (line,) = [x for x in lines if "Invite code for another group:" in x]
    return line.rsplit(" ", 1)[1]


def test_two_groups_make_an_agreement_and_both_charters_show_it(
    make_console: Callable[..., Console],
) -> None:
    """main and coast (console groups, mediators alice and erin) adopt one clause; each
    sees it in /charter with both parties, and the people's charter lists it once."""
    console = make_console({"CHARTERBOT_CONSOLE_MEDIATORS": "alice,erin"})
    refused = console.say(":members coast erin frank\nfrank@coast: /alliance join AAAAA-BBBBB")
    assert refused == ["bot@coast: Only a mediator of this group can use /alliance."]
    console.say(":members main alice bob\n:members coast erin frank")
    code = code_in(console.say("alice: /alliance create Coastal Fishers"))
    assert console.say(f"erin@coast: /alliance join {code}") == [
        "bot: coast (console) joined alliance L1 Coastal Fishers. Its groups: main and coast.",
        "bot@coast: coast (console) joined alliance L1 Coastal Fishers. Its groups: main and "
        "coast.",
    ]
    opened = console.text("bob: /propose --alliance We share the harbour")
    assert "bot@coast: P1: new clause proposed by bob:" in opened
    assert "bot@coast: Proposed in main." in opened
    console.say("alice: /next P1")
    status = console.say("frank@coast: /status P1")
    assert "bot@coast: Proposed in main." in status  # and the card says so too
    assert "bot: Proposed in main." not in console.say("bob: /status P1")
    console.say(
        "alice: /consent P1\nbob: /consent P1\nerin@coast: /consent P1\nfrank@coast: /consent P1"
    )
    decided = console.text("erin@coast: /next P1")
    assert "bot@coast: Parties: main and coast" in decided
    assert "bot@coast: ✅ coast (this group): adopted · ✅ 2 · ⚠️ 0 · ✋ 0 · ➖ 0" in decided
    for prefix, who in (("", "bob"), ("@coast", "frank@coast")):
        charter = console.say(f"{who}: /charter")
        assert f"bot{prefix}: Charter: Coastal Fishers" in charter
        assert f"bot{prefix}: Parties: main and coast" in charter
    everyone = console.say("bob: /charter all")
    assert everyone.count("bot: Charter: Coastal Fishers") == 1
    assert "bot@coast: Parties: main and coast" in console.say("frank@coast: /clause C1")
