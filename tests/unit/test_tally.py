"""Decision rules (SPEC section 2): counts, quorum and the three rules, with exact fractions."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from deliberation.commands import Stance
from deliberation.tally import Rule, Tally, Verdict, decide, quorum_met

counts = st.integers(min_value=0, max_value=60)
tallies = st.builds(Tally, consent=counts, concern=counts, object=counts, abstain=counts)
quorums = st.fractions(min_value=Fraction(1, 100), max_value=1, max_denominator=100)
quorum_mins = st.integers(min_value=1, max_value=30)
eligibles = st.integers(min_value=0, max_value=400)
rules = st.sampled_from(list(Rule))

# A quorum that any non-empty tally meets: the rule alone decides.
ANY_QUORUM = {"quorum": Fraction(1, 1000), "quorum_min": 1, "eligible": 1}


def plus(tally: Tally, stance: Stance, n: int = 1) -> Tally:
    return replace(tally, **{stance.value: getattr(tally, stance.value) + n})


# -- counting ---------------------------------------------------------------------------


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.sampled_from(list(Stance))))
def test_a_tally_counts_each_person_once(positions: dict[str, Stance]) -> None:
    tally = Tally.of(positions.values())
    for stance in Stance:
        assert getattr(tally, stance.value) == sum(1 for s in positions.values() if s is stance)
    assert tally.stated == len(positions)
    assert tally.agreeing == tally.consent + tally.concern
    assert tally.sided == tally.stated - tally.abstain


@given(st.dictionaries(st.text(max_size=5), st.sampled_from([s.value for s in Stance])))
def test_a_tally_reads_stances_given_as_strings(positions: dict[str, str]) -> None:
    assert Tally.of(positions.values()) == Tally.of(Stance(s) for s in positions.values())


def test_a_tally_refuses_an_unknown_stance() -> None:
    with pytest.raises(ValueError):
        Tally.of(["consent", "maybe"])


@given(tallies)
def test_as_dict_round_trips(tally: Tally) -> None:
    assert Tally(**tally.as_dict()) == tally
    assert sum(tally.as_dict().values()) == tally.stated


# -- the consent rule ------------------------------------------------------------------


@given(tallies, quorums, quorum_mins, eligibles)
def test_an_objection_never_turns_a_refusal_into_adoption(
    tally: Tally, quorum: Fraction, quorum_min: int, eligible: int
) -> None:
    before = decide(tally, Rule.CONSENT, quorum, quorum_min, eligible)
    after = decide(plus(tally, Stance.OBJECT), Rule.CONSENT, quorum, quorum_min, eligible)
    if before is not Verdict.ADOPTED:
        assert after is not Verdict.ADOPTED


@given(tallies, quorums, quorum_mins, eligibles)
def test_any_objection_blocks_under_consent(
    tally: Tally, quorum: Fraction, quorum_min: int, eligible: int
) -> None:
    objected = plus(tally, Stance.OBJECT)
    assert decide(objected, Rule.CONSENT, quorum, quorum_min, eligible) is not Verdict.ADOPTED


@given(tallies, quorums, quorum_mins, eligibles)
def test_consent_rule_verdicts(
    tally: Tally, quorum: Fraction, quorum_min: int, eligible: int
) -> None:
    verdict = decide(tally, Rule.CONSENT, quorum, quorum_min, eligible)
    met = quorum_met(tally, quorum, quorum_min, max(eligible, tally.stated))
    if not met:
        assert verdict is Verdict.NO_QUORUM
    elif tally.object:
        assert verdict is Verdict.OBJECTED
    else:
        assert verdict is Verdict.ADOPTED


@given(tallies, rules, quorums, quorum_mins, eligibles)
def test_only_the_consent_rule_answers_objected(
    tally: Tally, rule: Rule, quorum: Fraction, quorum_min: int, eligible: int
) -> None:
    verdict = decide(tally, rule, quorum, quorum_min, eligible)
    if rule is not Rule.CONSENT:
        assert verdict is not Verdict.OBJECTED
    else:
        assert verdict is not Verdict.RULE_NOT_MET


def test_consent_examples() -> None:
    half = Fraction(1, 2)
    assert decide(Tally(consent=5), "consent", half, 2, 10) is Verdict.ADOPTED
    assert decide(Tally(consent=4), "consent", half, 2, 10) is Verdict.NO_QUORUM
    assert decide(Tally(consent=4, object=1), "consent", half, 2, 10) is Verdict.OBJECTED
    # Concerns and abstentions do not block.
    assert decide(Tally(concern=3, abstain=2), "consent", half, 2, 10) is Verdict.ADOPTED
    # Abstentions alone meet the quorum and adopt under consent (no objection stands).
    assert decide(Tally(abstain=5), "consent", half, 2, 10) is Verdict.ADOPTED


# -- quorum ----------------------------------------------------------------------------


@given(tallies, st.sampled_from(list(Stance)), quorums, quorum_mins, eligibles)
def test_quorum_is_monotonic(
    tally: Tally, extra: Stance, quorum: Fraction, quorum_min: int, eligible: int
) -> None:
    """One more stated position (same eligible members) never loses a quorum that was met."""
    more = plus(tally, extra)
    if quorum_met(tally, quorum, quorum_min, eligible):
        assert quorum_met(more, quorum, quorum_min, eligible)
    for rule in Rule:
        if decide(tally, rule, quorum, quorum_min, eligible) is not Verdict.NO_QUORUM:
            assert decide(more, rule, quorum, quorum_min, eligible) is not Verdict.NO_QUORUM


@given(tallies, quorums, quorum_mins, eligibles)
def test_quorum_definition(tally: Tally, quorum: Fraction, quorum_min: int, eligible: int) -> None:
    expected = tally.stated >= quorum_min and Fraction(tally.stated, 1) >= quorum * eligible
    assert quorum_met(tally, quorum, quorum_min, eligible) is expected


@given(tallies, quorums, quorum_mins)
def test_eligible_never_counts_below_those_who_stated(
    tally: Tally, quorum: Fraction, quorum_min: int
) -> None:
    """People who voted and left still count: a smaller eligible is read as ``stated``."""
    for rule in Rule:
        assert decide(tally, rule, quorum, quorum_min, 0) == decide(
            tally, rule, quorum, quorum_min, tally.stated
        )


def test_quorum_examples() -> None:
    half = Fraction(1, 2)
    assert quorum_met(Tally(consent=5), half, 2, 10)
    assert not quorum_met(Tally(consent=4, concern=0), half, 2, 10)
    # Abstentions count as stated.
    assert quorum_met(Tally(consent=1, abstain=1), half, 2, 4)
    # quorum_min binds even in a tiny group.
    assert not quorum_met(Tally(consent=1), half, 2, 1)
    assert not quorum_met(Tally(consent=2), half, 3, 3)
    assert quorum_met(Tally(consent=3), half, 3, 3)
    # Exact fractions: 1/3 of 9 is 3, no rounding either way.
    assert quorum_met(Tally(consent=3), Fraction(1, 3), 1, 9)
    assert not quorum_met(Tally(consent=2), Fraction(1, 3), 1, 9)
    # A quorum read from the stored decimal string.
    assert quorum_met(Tally(consent=33), Fraction("0.33"), 1, 100)
    assert not quorum_met(Tally(consent=32), Fraction("0.33"), 1, 100)
    assert quorum_met(Tally(consent=10), Fraction("1"), 1, 10)
    assert not quorum_met(Tally(consent=9), Fraction("1"), 1, 10)


def test_no_positions_never_adopt() -> None:
    for rule in Rule:
        assert decide(Tally(), rule, Fraction(1, 100), 1, 0) is Verdict.NO_QUORUM
        assert decide(Tally(), rule, Fraction(1, 100), 1, 5) is Verdict.NO_QUORUM


# -- majority and supermajority --------------------------------------------------------


@given(counts, counts, counts, counts)
def test_majority_boundary_is_exact(
    consent: int, concern: int, objected: int, abstain: int
) -> None:
    tally = Tally(consent, concern, objected, abstain)
    assume(tally.stated > 0)
    sided = consent + concern + objected
    adopted = sided > 0 and Fraction(consent + concern, sided) > Fraction(1, 2)
    verdict = decide(tally, Rule.MAJORITY, **ANY_QUORUM)
    assert verdict is (Verdict.ADOPTED if adopted else Verdict.RULE_NOT_MET)


@given(counts, counts, counts, counts)
def test_supermajority_boundary_is_exact(
    consent: int, concern: int, objected: int, abstain: int
) -> None:
    tally = Tally(consent, concern, objected, abstain)
    assume(tally.stated > 0)
    sided = consent + concern + objected
    adopted = sided > 0 and Fraction(consent + concern, sided) >= Fraction(2, 3)
    verdict = decide(tally, Rule.SUPERMAJORITY, **ANY_QUORUM)
    assert verdict is (Verdict.ADOPTED if adopted else Verdict.RULE_NOT_MET)


@given(tallies, quorums, quorum_mins, eligibles)
def test_the_rules_are_nested(
    tally: Tally, quorum: Fraction, quorum_min: int, eligible: int
) -> None:
    """Whatever consent adopts, supermajority adopts; whatever supermajority adopts, majority."""
    adopted = {
        rule: decide(tally, rule, quorum, quorum_min, eligible) is Verdict.ADOPTED for rule in Rule
    }
    if tally.sided:
        assert adopted[Rule.CONSENT] <= adopted[Rule.SUPERMAJORITY] <= adopted[Rule.MAJORITY]


@given(tallies, rules, quorums, quorum_mins, eligibles)
def test_more_agreement_never_hurts(
    tally: Tally, rule: Rule, quorum: Fraction, quorum_min: int, eligible: int
) -> None:
    if decide(tally, rule, quorum, quorum_min, eligible) is Verdict.ADOPTED:
        for stance in (Stance.CONSENT, Stance.CONCERN):
            assert decide(plus(tally, stance), rule, quorum, quorum_min, eligible) is (
                Verdict.ADOPTED
            )


@pytest.mark.parametrize(
    ("agree", "objected", "majority", "supermajority"),
    [
        (1, 0, True, True),
        (1, 1, False, False),  # exactly half is not more than half
        (2, 1, True, True),  # exactly two thirds is enough
        (3, 2, True, False),
        (200, 100, True, True),
        (199, 100, True, False),  # 199/299 < 2/3
        (67, 33, True, True),
        (66, 34, True, False),
        (50, 50, False, False),
        (51, 49, True, False),
        (0, 1, False, False),
    ],
)
def test_majority_examples(agree: int, objected: int, majority: bool, supermajority: bool) -> None:
    for split in (Tally(consent=agree, object=objected), Tally(concern=agree, object=objected)):
        assert (decide(split, "majority", **ANY_QUORUM) is Verdict.ADOPTED) is majority
        assert (decide(split, "supermajority", **ANY_QUORUM) is Verdict.ADOPTED) is supermajority


def test_abstentions_alone_do_not_make_a_majority() -> None:
    """With nobody taking a side there is no majority to speak of (0 of 0 is not > 1/2)."""
    tally = Tally(abstain=5)
    assert decide(tally, "majority", **ANY_QUORUM) is Verdict.RULE_NOT_MET
    assert decide(tally, "supermajority", **ANY_QUORUM) is Verdict.RULE_NOT_MET


def test_abstentions_do_not_count_against_a_majority() -> None:
    tally = Tally(consent=2, object=1, abstain=10)
    assert decide(tally, "majority", **ANY_QUORUM) is Verdict.ADOPTED
    assert decide(tally, "supermajority", **ANY_QUORUM) is Verdict.ADOPTED


def test_quorum_comes_before_the_rule() -> None:
    tally = Tally(consent=1)
    for rule in Rule:
        assert decide(tally, rule, Fraction(1, 2), 2, 10) is Verdict.NO_QUORUM


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError):
        decide(Tally(consent=3), "unanimity", Fraction(1, 2), 1, 3)
