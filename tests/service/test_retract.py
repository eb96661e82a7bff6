"""Retracting one's position in a consent round (a removed reaction on Matrix)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import render
from bot.i18n import get_translator
from deliberation import commands as c
from deliberation import events as e
from deliberation.model import Position, PositionChange, Round
from deliberation.tally import Tally, Verdict
from tests.service.conftest import Chat

TEXT = "We meet on the first Monday of each month"


def counted(chat: Chat, number: int) -> tuple[Tally, Tally]:
    """The running counts on the round row, and a count of the positions table."""
    (round_,) = chat.rows(Round, Round.proposal_id == number, Round.phase == "consent")
    running = Tally(round_.n_consent, round_.n_concern, round_.n_object, round_.n_abstain)
    stances = [p.stance for p in chat.rows(Position, Position.round_id == round_.id)]
    return running, Tally(**{s.value: stances.count(s.value) for s in c.Stance})


def test_retract_after_consent(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    chat.state(number, bob="consent", carol="concern:too soon")
    retracted = chat.one("bob", c.RetractPosition(number), e.PositionRetracted)
    assert retracted == e.PositionRetracted(
        group=chat.group,
        proposal=number,
        person="bob",
        previous="consent",
        tally=Tally(concern=1),
        named=True,
    )
    assert [(p.person_id, p.stance) for p in chat.rows(Position)] == [("console:carol", "concern")]
    history = chat.rows(PositionChange, order_by=PositionChange.id)
    assert [(h.person_id, h.stance, h.reason) for h in history][-1] == (
        "console:bob",
        "retract",
        None,
    )
    assert counted(chat, number) == (Tally(concern=1), Tally(concern=1))


def test_retract_then_state_again(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    chat.state(number, bob="object:not on Mondays")
    chat.one("bob", c.RetractPosition(number), e.PositionRetracted)
    again = chat.one("bob", c.StatePosition(number, c.Stance.CONSENT), e.PositionStated)
    assert again.previous is None and again.tally == Tally(consent=1)
    history = chat.rows(PositionChange, order_by=PositionChange.id)
    assert [h.stance for h in history] == ["object", "retract", "consent"]
    decided = chat.next(number)
    assert isinstance(decided, e.Decided)
    assert decided.tally == Tally(consent=1) and decided.objections == ()


def test_a_retracted_objection_no_longer_blocks(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    chat.state(number, alice="consent", bob="object:no", carol="consent")
    chat.one("bob", c.RetractPosition(number), e.PositionRetracted)
    decided = chat.next(number)
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.ADOPTED
    assert decided.tally == Tally(consent=2)


def test_no_position_is_refused_and_changes_nothing(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    chat.state(number, carol="consent")
    refusal = chat.refused("bob", c.RetractPosition(number), "no_position")
    assert refusal.params == {"number": number}
    chat.state(number, bob="abstain")
    chat.one("bob", c.RetractPosition(number), e.PositionRetracted)
    chat.refused("bob", c.RetractPosition(number), "no_position")  # twice: nothing left


def test_a_position_of_an_earlier_round_is_not_retractable(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    chat.state(number, alice="consent", bob="object:no")
    decided = chat.next(number)
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.OBJECTED
    chat.refused("bob", c.RetractPosition(number), "wrong_phase")
    chat.one("alice", c.Resolve(number), e.Resolved)
    chat.refused("bob", c.RetractPosition(number), "wrong_phase")  # amendment phase
    chat.next(number)  # consent, round 2: bob has stated nothing in it yet
    chat.refused("bob", c.RetractPosition(number), "no_position")


def test_refusals_like_stating_a_position(chat: Chat, other: Chat) -> None:
    amending = chat.propose("alice", TEXT)
    chat.refused("bob", c.RetractPosition(amending), "wrong_phase")
    chat.refused("bob", c.RetractPosition(amending + 50), "no_such_proposal")
    theirs = other.consent_open("erin", "Another group's text")
    other.state(theirs, frank="consent")
    chat.refused("frank", c.RetractPosition(theirs), "not_in_group")
    number = chat.consent_open("alice", TEXT)
    chat.state(number, bob="consent")
    chat.refused("bob", c.RetractPosition(number), "not_member", member=False)
    adopted = chat.next(number)
    assert isinstance(adopted, e.Decided)
    chat.refused("bob", c.RetractPosition(number), "wrong_phase")  # after the close


def test_hidden_tally_and_names_follow_the_group_settings(chat: Chat) -> None:
    chat.one("alice", c.ChangeSetting("show_tally", "after_close"), e.SettingChanged)
    chat.one("alice", c.ChangeSetting("named_votes", "off"), e.SettingChanged)
    number = chat.consent_open("alice", TEXT)
    chat.state(number, bob="concern")
    retracted = chat.one("bob", c.RetractPosition(number), e.PositionRetracted)
    assert retracted.tally is None and retracted.named is False


def test_counts_stay_equal_to_the_positions_through_a_script(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    script = [
        ("bob", "consent"),
        ("carol", "object:no"),
        ("bob", None),
        ("dave", "abstain"),
        ("bob", "concern"),
        ("carol", None),
        ("erin", "object:neither"),
        ("dave", None),
        ("carol", "consent"),
        ("erin", "concern"),
    ]
    for name, spec in script:
        if spec is None:
            chat.one(name, c.RetractPosition(number), e.PositionRetracted)
        else:
            chat.state(number, **{name: spec})
        running, table = counted(chat, number)
        assert running == table
    assert running == Tally(consent=1, concern=2)
    decided = chat.next(number)
    assert isinstance(decided, e.Decided) and decided.tally == running


def test_a_batch_refuses_a_retraction_alone(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    outcomes = chat.engine.handle_many(
        [
            (chat.actor("bob"), c.StatePosition(number, c.Stance.CONSENT)),
            (chat.actor("carol"), c.RetractPosition(number)),  # nothing to retract
            (chat.actor("bob"), c.RetractPosition(number)),
            (chat.actor("dave"), c.StatePosition(number, c.Stance.ABSTAIN)),
        ]
    )
    assert [type(o).__name__ for o in outcomes] == ["list", "DomainError", "list", "list"]
    assert counted(chat, number) == (Tally(abstain=1), Tally(abstain=1))


NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("locale", "named", "expected"),
    [
        (
            "en",
            True,
            "<b> withdrew their position on P1 (was ✅ consent).\n"
            "Tally so far: ✅ 2 · ⚠️ 0 · ✋ 0 · ➖ 1",
        ),
        ("en", False, "A position on P1 was withdrawn.\nTally so far: ✅ 2 · ⚠️ 0 · ✋ 0 · ➖ 1"),
        (
            "es",
            True,
            "<b> retiró su posición sobre P1 (antes: ✅ consentimiento).\n"
            "Recuento hasta ahora: ✅ 2 · ⚠️ 0 · ✋ 0 · ➖ 1",
        ),
    ],
)
def test_the_reply_is_worded_like_a_stated_position(
    locale: str, named: bool, expected: str
) -> None:
    reader = render.Reader(tr=get_translator(locale), timezone="UTC", now=NOW)
    event = e.PositionRetracted("g", 1, "<b>", "consent", Tally(2, 0, 0, 1), named=named)
    assert render.event(reader, event) == expected
    html = render.Reader(
        tr=get_translator(locale), timezone="UTC", now=NOW, markup=render.HtmlMarkup()
    )
    assert "<b>" not in render.event(html, event)
    hidden = e.PositionRetracted("g", 1, "bob", "consent", None)
    assert "\n" not in render.event(reader, hidden)


def test_no_position_is_worded() -> None:
    from deliberation.errors import DomainError

    reader = render.Reader(tr=get_translator("en"), timezone="UTC", now=NOW)
    text = render.error(reader, DomainError("no_position", number=4))
    assert text == "You have no position on P4 to withdraw."
