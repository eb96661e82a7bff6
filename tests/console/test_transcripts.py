"""The console group end to end: what people type, what the bot answers."""

from __future__ import annotations

import json

from sqlalchemy import select

from deliberation import queries
from deliberation.model import Base, Clause, Proposal

from .conftest import Console


def dump(console: Console) -> dict[str, list[tuple]]:
    """Every row of every table except the inbox and outbox (which record the exchange)."""
    skip = {"inbox", "outbox"}
    with console.db.unit_of_work(write=False) as uow:
        return {
            t.name: sorted(tuple(map(str, row)) for row in uow.session.execute(select(t)).all())
            for t in Base.metadata.sorted_tables
            if t.name not in skip
        }


LIFE = """
alice: /propose We meet on the first Monday of each month
bob: /amend P1 replace "first Monday" with "first Saturday"
carol: /support A1
alice: /next P1
bob: /consent P1
carol: /concern P1 Saturdays are hard for parents
dave: /consent
alice: /next P1
"""


def test_the_whole_life_of_a_proposal(console: Console) -> None:
    out = console.text(LIFE)
    assert "P1: new clause proposed by alice:" in out
    assert "A1 to P1 by bob: replace “first Monday” with “first Saturday”" in out
    assert "Applied: A1 by bob (version 2)." in out
    assert "We meet on the first Saturday of each month" in out
    assert "P1 adopted: clause C1, version 1, is in the charter." in out
    assert "⚠️ carol: Saturdays are hard for parents" in out
    assert all(line.startswith("bot: ") for line in out.splitlines())
    charter = console.text("erin: /charter")
    assert "C1 · version 1 · in force" in charter
    assert "We meet on the first Saturday of each month" in charter
    with console.db.unit_of_work(write=False) as uow:
        assert queries.verify(uow.session).problem is None


def test_deadlines_pass_with_advance(console: Console) -> None:
    console.say("alice: /propose Shared tools are kept in the red shed")
    out = console.text(":advance 2d")
    assert "The amendment phase of P1 is closed." in out
    console.say("bob: /consent P1\ncarol: /consent P1")
    out = console.text(":advance 3d")
    assert "P1 adopted: clause C1" in out


def test_spanish_replies_after_lang(console: Console) -> None:
    console.say("alice: /propose Compartimos la barca")
    out = console.text("bob: /lang es\nbob: /status P1")
    assert "español" in out.lower() or "Escribiré" in out
    assert "fase de enmiendas" in out


def test_mediator_only_commands_refuse_others(console: Console) -> None:
    console.say("alice: /propose Text")
    before = dump(console)
    for line in (
        "bob: /next P1",
        "bob: /close P1",
        "bob: /settings rule majority",
        "bob: /mediator add carol",
    ):
        out = console.text(line)
        assert "Only a mediator of this group can use" in out, line
    assert dump(console) == before


def test_appointed_mediator_may_act(console: Console) -> None:
    console.say("alice: /propose Text")
    assert "bob is now a mediator" in console.text("alice: /mediator add bob")
    assert "The amendment phase of P1 is closed." in console.text("bob: /next P1")
    assert "bob is no longer a mediator" in console.text("alice: /mediator remove bob")
    assert "Only a mediator" in console.text("bob: /next P1")


def test_non_members_are_refused(console: Console) -> None:
    console.say(":members main alice bob\nalice: /propose Text")
    before = dump(console)
    out = console.text("mallory: /amend P1 Something else")
    assert "Only members of this group" in out
    assert dump(console) == before


def test_bad_input_is_explained_and_changes_nothing(console: Console) -> None:
    # bob's first /status records him as a member: being seen in the group is not a change.
    console.say("alice: /propose We share the boat\nbob: /status")
    before = dump(console)
    cases = {
        "bob: /frobnicate": "I do not know the command /frobnicate",
        "bob: /support": "Usage: /support A<n>",
        "bob: /support X1": "is not a valid id",
        "bob: /consent P1": "P1 is amendment phase; this needs the consent phase",
        "bob: /consent P9": "There is no proposal P9",
        'bob: /amend P1 replace "boat" with': "Usage:",
        'bob: /amend P1 replace "car" with "bus"': "is not in the current text",
        "bob: /object P1": "An objection needs a reason",
        "bob: /clause C4": "There is no clause C4",
        "bob: /propose " + "x" * 3001: "at most 3,000 are allowed",
        "alice: /settings rule unanimous": "expected consent | majority | supermajority",
        "alice: /settings colour blue": "There is no setting “colour”",
        "bob: /lang xx": "I do not speak “xx”",
        "bob: /support A1": "There is no amendment A1",
    }
    for line, expected in cases.items():
        assert expected in console.text(line), line
    assert dump(console) == before


def test_objection_needs_a_reason_and_can_be_resolved(console: Console) -> None:
    console.say("alice: /settings amendment_hours 0\nalice: /propose Meetings start at 7")
    assert "An objection needs a reason" in console.text("bob: /object P1")
    console.say("bob: /object P1 Too early for shift workers\ncarol: /consent P1")
    out = console.text("alice: /next P1")
    assert "P1 is not adopted yet: objections stand." in out
    assert "✋ bob: Too early for shift workers" in out
    out = console.text("alice: /resolve P1")
    assert "bob: you are invited to propose amendments" in out
    console.say('bob: /amend P1 replace "7" with "8"\ncarol: /support A1\nalice: /next P1')
    console.say("bob: /consent P1\ncarol: /consent P1")
    out = console.text("alice: /next P1")
    assert "P1 adopted: clause C1" in out
    assert "Meetings start at 8" in console.text("alice: /clause C1")


def test_user_text_is_kept_verbatim(console: Console) -> None:
    out = console.text("alice: /propose <b>Bold</b> & *stars* {braces}")
    assert "<b>Bold</b> & *stars* {braces}" in out


def test_multiline_text_with_continuation(console: Console) -> None:
    out = console.text("alice: /propose First line\\\nSecond line")
    assert "bot:   First line" in out.splitlines()
    assert "bot:   Second line" in out.splitlines()


def test_queries(console: Console) -> None:
    console.say(LIFE)
    assert "/propose <text>" in console.text("bob: /help")
    assert "No proposal is open" in console.text("bob: /status")
    clause = console.text("bob: /clause C1")
    assert "Versions:" in clause and "v1 · adopted" in clause
    settings = console.text("bob: /settings")
    assert "rule = consent" in settings and "quorum = 0.5" in settings
    exported = console.say("bob: /export json")
    data = json.loads("\n".join(line.removeprefix("bot: ") for line in exported))
    assert (
        data["charters"][0]["clauses"][0]["text"] == "We meet on the first Saturday of each month"
    )
    assert "# Charter:" in console.text("bob: /export md")


def test_a_second_console_group(console: Console) -> None:
    out = console.say("alice@coast: /propose Nets are mended together")
    assert out[0].startswith("bot@coast: P1:")
    with console.db.unit_of_work(write=False) as uow:
        assert uow.session.scalars(select(Proposal.group_id)).all() == ["console:coast"]
        assert uow.session.scalars(select(Clause)).all() == []


def test_a_group_without_amendment_phase_goes_straight_to_consent(console: Console) -> None:
    assert (
        console.text("alice: /settings amendment_hours 0")
        == "bot: Setting amendment_hours is now 0."
    )
    out = console.text("alice: /propose Boats are shared")
    assert "Amendment phase" not in out and "amendment phase" not in out
    assert "Consent round 1 on P1 (version 1), until" in out
    assert out.count("Boats are shared") == 1
