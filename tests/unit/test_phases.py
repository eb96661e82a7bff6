"""The phase table (SPEC section 2): every transition in it, and nothing else."""

from __future__ import annotations

import itertools

import pytest

from deliberation.phases import (
    FINAL,
    OPEN,
    OPEN_PHASES,
    TRANSITIONS,
    Action,
    InvalidTransition,
    Phase,
    advance,
    allowed_from,
    mermaid,
)

EXPECTED = {
    (Phase.AMENDMENT, Action.CLOSE_AMENDMENT): Phase.CONSENT,
    (Phase.CONSENT, Action.ADOPT): Phase.ADOPTED,
    (Phase.CONSENT, Action.OBJECT): Phase.OBJECTED,
    (Phase.CONSENT, Action.REJECT): Phase.NOT_ADOPTED,
    (Phase.OBJECTED, Action.RESOLVE): Phase.AMENDMENT,
    (Phase.OBJECTED, Action.REOPEN): Phase.CONSENT,  # a consent round a mediator scheduled
    (Phase.OBJECTED, Action.OBJECTIONS_WITHDRAWN): Phase.ADOPTED,
    (Phase.OBJECTED, Action.EXPIRE): Phase.EXPIRED,
    (Phase.AMENDMENT, Action.WITHDRAW): Phase.WITHDRAWN,
    (Phase.CONSENT, Action.WITHDRAW): Phase.WITHDRAWN,
    (Phase.OBJECTED, Action.WITHDRAW): Phase.WITHDRAWN,
    (Phase.AMENDMENT, Action.CLOSE): Phase.CLOSED,
    (Phase.CONSENT, Action.CLOSE): Phase.CLOSED,
    (Phase.OBJECTED, Action.CLOSE): Phase.CLOSED,
}

NOT_IN_TABLE = [pair for pair in itertools.product(Phase, Action) if pair not in TRANSITIONS]


def test_the_table_is_the_life_of_a_proposal() -> None:
    assert TRANSITIONS == EXPECTED


@pytest.mark.parametrize(("source", "action"), list(TRANSITIONS))
def test_every_transition_in_the_table(source: Phase, action: Action) -> None:
    assert advance(source, action) is TRANSITIONS[(source, action)]
    assert advance(source.value, action) is TRANSITIONS[(source, action)]  # stored as a string


@pytest.mark.parametrize(("source", "action"), NOT_IN_TABLE)
def test_every_other_pair_is_refused(source: Phase, action: Action) -> None:
    with pytest.raises(InvalidTransition) as caught:
        advance(source, action)
    assert caught.value.phase is source
    assert caught.value.action is action
    assert str(action) in str(caught.value) and str(source) in str(caught.value)


def test_the_refused_pairs_are_all_the_rest() -> None:
    assert len(NOT_IN_TABLE) + len(TRANSITIONS) == len(Phase) * len(Action)
    assert NOT_IN_TABLE  # the table is not total


@pytest.mark.parametrize("phase", sorted(FINAL))
def test_final_phases_have_no_way_out(phase: Phase) -> None:
    for action in Action:
        with pytest.raises(InvalidTransition):
            advance(phase, action)


def test_open_and_final_split_the_phases() -> None:
    assert frozenset(Phase) == OPEN | FINAL
    assert not OPEN & FINAL
    assert set(OPEN_PHASES) == OPEN == {Phase.AMENDMENT, Phase.CONSENT, Phase.OBJECTED}
    assert {
        Phase.ADOPTED,
        Phase.NOT_ADOPTED,
        Phase.WITHDRAWN,
        Phase.EXPIRED,
        Phase.CLOSED,
    } == FINAL


def test_every_phase_is_reachable_and_every_open_phase_can_end() -> None:
    reachable = {Phase.AMENDMENT, Phase.CONSENT}  # a proposal starts in one of these
    while True:
        more = {target for (source, _), target in TRANSITIONS.items() if source in reachable}
        if more <= reachable:
            break
        reachable |= more
    assert reachable == set(Phase)
    for phase in OPEN:
        assert (phase, Action.WITHDRAW) in TRANSITIONS
        assert (phase, Action.CLOSE) in TRANSITIONS


def test_only_the_resolve_action_leads_back() -> None:
    backwards = {pair for pair, target in TRANSITIONS.items() if target is Phase.AMENDMENT}
    assert backwards == {(Phase.OBJECTED, Action.RESOLVE)}


def test_an_unknown_phase_is_refused() -> None:
    with pytest.raises(ValueError):
        advance("limbo", Action.CLOSE)


@pytest.mark.parametrize("action", list(Action))
def test_allowed_from_lists_the_source_phases(action: Action) -> None:
    expected = tuple(source for (source, a) in TRANSITIONS if a is action)
    assert allowed_from(action) == expected
    assert expected  # every action is possible somewhere
    for phase in Phase:
        assert (phase in expected) is ((phase, action) in TRANSITIONS)


def test_allowed_from_examples() -> None:
    assert allowed_from(Action.WITHDRAW) == OPEN_PHASES
    assert allowed_from(Action.CLOSE) == OPEN_PHASES
    assert allowed_from(Action.RESOLVE) == (Phase.OBJECTED,)
    assert allowed_from(Action.EXPIRE) == (Phase.OBJECTED,)


def test_the_diagram_draws_every_transition() -> None:
    diagram = mermaid()
    for (source, action), target in TRANSITIONS.items():
        assert f"    {source} --> {target}: {action}" in diagram
    for phase in FINAL:
        assert f"    {phase} --> [*]" in diagram
    for phase in OPEN:
        assert f"    {phase} --> [*]" not in diagram
