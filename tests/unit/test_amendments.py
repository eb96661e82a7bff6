"""Applying amendments: passages that must match exactly once, whole texts tied to a version,
and the order of net support."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from deliberation.amendments import (
    Change,
    Fit,
    apply,
    check_passage,
    occurrences,
    order_by_support,
)
from deliberation.errors import DomainError

TEXT = "We meet on the first Monday of each month"


def passage(passage: str, replacement: str | None, base_version: int = 1) -> Change:
    return Change(passage=passage, replacement=replacement, text=None, base_version=base_version)


def whole(text: str | None, base_version: int) -> Change:
    return Change(passage=None, replacement=None, text=text, base_version=base_version)


def refused(text: str, passage_: str, replacement: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check_passage(text, passage_, replacement)
    return caught.value


# -- check_passage (at /amend time) ----------------------------------------------------


def test_a_passage_found_once_is_accepted() -> None:
    assert check_passage(TEXT, "first Monday", "first Saturday") is None
    assert check_passage(TEXT, "each month", "") is None  # a deletion
    assert check_passage(TEXT, TEXT, "Something else") is None  # the whole text as a passage


def test_a_passage_equal_to_its_replacement_is_refused() -> None:
    assert refused(TEXT, "first Monday", "first Monday").code == "passage_same"
    # checked first: even a passage that is not there is "the same"
    assert refused(TEXT, "nowhere", "nowhere").code == "passage_same"


def test_a_missing_passage_is_refused() -> None:
    error = refused(TEXT, "second Monday", "third Monday")
    assert error.code == "passage_not_found"
    assert error.params == {"passage": "second Monday"}


def test_matching_is_exact() -> None:
    assert refused(TEXT, "First Monday", "x").code == "passage_not_found"  # case
    assert refused(TEXT, "first  Monday", "x").code == "passage_not_found"  # spacing
    assert refused(TEXT, "first Monday.", "x").code == "passage_not_found"


def test_an_ambiguous_passage_is_refused_with_its_count() -> None:
    error = refused("a cat and a cat and a cat", "a cat", "a dog")
    assert error.code == "passage_ambiguous"
    assert error.params == {"passage": "a cat", "count": 3}


def test_overlapping_occurrences_make_a_passage_ambiguous() -> None:
    """ "the the" starts at two places of "the the the": replacing "the first" is a guess."""
    error = refused("the the the end", "the the", "a")
    assert error.code == "passage_ambiguous"
    assert error.params["count"] == 2
    assert refused("aaa", "aa", "b").code == "passage_ambiguous"


def test_an_empty_passage_is_ambiguous() -> None:
    assert refused(TEXT, "", "x").code == "passage_ambiguous"


@pytest.mark.parametrize(
    ("text", "passage_", "count"),
    [
        ("", "a", 0),
        ("abc", "abc", 1),
        ("abcabc", "abc", 2),
        ("aaaa", "aa", 3),
        ("abababa", "aba", 3),
        ("abc", "", 4),
        ("", "", 1),
    ],
)
def test_occurrences(text: str, passage_: str, count: int) -> None:
    assert occurrences(text, passage_) == count


@given(st.text(alphabet="ab ", max_size=30), st.text(alphabet="ab ", min_size=1, max_size=4))
def test_occurrences_counts_every_start(text: str, passage_: str) -> None:
    starts = [i for i in range(len(text)) if text.startswith(passage_, i)]
    assert occurrences(text, passage_) == len(starts)
    assert occurrences(text, passage_) >= text.count(passage_)


# -- apply (at the close of the amendment phase, or /accept) ---------------------------


def test_a_passage_is_replaced() -> None:
    fit, text = apply(TEXT, 1, passage("first Monday", "first Saturday"))
    assert fit is Fit.OK
    assert text == "We meet on the first Saturday of each month"


def test_a_passage_applies_to_whatever_version_holds_it() -> None:
    """Passage amendments are not tied to the version they were written against."""
    fit, text = apply(TEXT, 7, passage("each month", "every month", base_version=1))
    assert fit is Fit.OK
    assert text == "We meet on the first Monday of every month"


def test_a_passage_with_no_replacement_is_deleted() -> None:
    assert apply(TEXT, 1, passage(" of each month", None)) == (
        Fit.OK,
        "We meet on the first Monday",
    )
    assert apply(TEXT, 1, passage(" of each month", "")) == (Fit.OK, "We meet on the first Monday")


def test_a_missing_passage_does_not_fit_and_the_text_stays() -> None:
    assert apply(TEXT, 2, passage("first Friday", "last Friday")) == (
        Fit.PASSAGE_MISSING,
        TEXT,
    )


def test_an_ambiguous_passage_does_not_fit_and_the_text_stays() -> None:
    text = "Monday or Monday"
    assert apply(text, 1, passage("Monday", "Friday")) == (Fit.PASSAGE_AMBIGUOUS, text)
    overlapping = "the the the end"
    assert apply(overlapping, 1, passage("the the", "a")) == (Fit.PASSAGE_AMBIGUOUS, overlapping)


def test_a_replacement_may_contain_its_passage() -> None:
    fit, text = apply(TEXT, 1, passage("Monday", "Monday and Tuesday"))
    assert (fit, text) == (Fit.OK, "We meet on the first Monday and Tuesday of each month")
    # ... and a later passage amendment on "Monday" still fits; one that doubles it makes
    # the passage ambiguous for the next.
    fit, text = apply(text, 2, passage("Monday", "Monday or Monday"))
    assert fit is Fit.OK and text.count("Monday") == 2
    assert apply(text, 3, passage("Monday", "Friday")) == (Fit.PASSAGE_AMBIGUOUS, text)


def test_a_whole_text_applies_to_its_own_version_only() -> None:
    assert apply(TEXT, 3, whole("We meet weekly", 3)) == (Fit.OK, "We meet weekly")
    assert apply(TEXT, 3, whole("We meet weekly", 2)) == (Fit.TEXT_CHANGED, TEXT)
    assert apply(TEXT, 3, whole("We meet weekly", 4)) == (Fit.TEXT_CHANGED, TEXT)


def test_a_whole_text_without_text_gives_the_empty_text() -> None:
    assert apply(TEXT, 1, whole(None, 1)) == (Fit.OK, "")


@given(
    st.text(max_size=20),
    st.text(min_size=1, max_size=8),
    st.text(max_size=20),
    st.text(max_size=8),
)
def test_a_passage_found_once_is_replaced_there_and_nowhere_else(
    before: str, passage_: str, after: str, replacement: str
) -> None:
    text = before + passage_ + after
    assume(occurrences(text, passage_) == 1)
    fit, result = apply(text, 1, passage(passage_, replacement))
    assert fit is Fit.OK
    assert result == before + replacement + after


@given(st.text(max_size=30), st.text(max_size=6), st.text(max_size=6), st.integers(1, 5))
def test_apply_agrees_with_check_passage(
    text: str, passage_: str, replacement: str, version: int
) -> None:
    """What /amend accepts applies at once; what it refuses does not fit (text unchanged)."""
    assume(passage_ != replacement)
    fit, result = apply(text, version, passage(passage_, replacement))
    try:
        check_passage(text, passage_, replacement)
    except DomainError as error:
        assert (
            fit
            is {
                "passage_not_found": Fit.PASSAGE_MISSING,
                "passage_ambiguous": Fit.PASSAGE_AMBIGUOUS,
            }[error.code]
        )
        assert result == text
    else:
        assert fit is Fit.OK
        assert len(result) == len(text) - len(passage_) + len(replacement)


# -- order_by_support ------------------------------------------------------------------


def test_only_more_support_than_opposition_passes() -> None:
    assert order_by_support([(1, 0, 0), (2, 1, 1), (3, 1, 2), (4, 1, 0)]) == [4]
    assert order_by_support([]) == []
    assert order_by_support([(1, 0, 0)]) == []


def test_the_order_is_by_net_support_not_by_support() -> None:
    # A1: 10 for, 9 against (net 1); A2: 2 for (net 2); A3: 5 for, 1 against (net 4)
    assert order_by_support([(1, 10, 9), (2, 2, 0), (3, 5, 1)]) == [3, 2, 1]


def test_ties_go_to_the_lower_number() -> None:
    assert order_by_support([(7, 3, 1), (5, 2, 0), (6, 4, 2)]) == [5, 6, 7]
    assert order_by_support([(9, 1, 0), (2, 1, 0)]) == [2, 9]


vote_lists = st.lists(
    st.tuples(st.integers(0, 30), st.integers(0, 30)),
    max_size=12,
).map(lambda votes: [(n + 1, s, o) for n, (s, o) in enumerate(votes)])


@given(vote_lists.flatmap(st.permutations))
def test_order_by_support_properties(items: list[tuple[int, int, int]]) -> None:
    order = order_by_support(items)
    net = {n: s - o for n, s, o in items}
    assert sorted(order) == sorted(n for n, s, o in items if s > o)
    assert len(set(order)) == len(order)
    for first, second in zip(order, order[1:], strict=False):
        assert net[first] > net[second] or (net[first] == net[second] and first < second)
    # The input's order never matters.
    assert order_by_support(sorted(items)) == order


def test_a_result_over_the_limit_does_not_fit() -> None:
    text = "a" * 8 + "b"
    assert apply(text, 1, passage("b", "bc"), limit=10) == (Fit.OK, text + "c")
    assert apply(text, 1, passage("b", "bcd"), limit=10) == (Fit.TOO_LONG, text)
    assert apply(text, 1, whole("x" * 11, 1), limit=10) == (Fit.TOO_LONG, text)
    assert apply(text, 1, whole("x" * 10, 1), limit=10) == (Fit.OK, "x" * 10)
    # Other misfits are reported before the length.
    assert apply(text, 1, whole("x" * 11, 2), limit=10) == (Fit.TEXT_CHANGED, text)
    assert apply(text, 1, passage("z", "z" * 20), limit=10) == (Fit.PASSAGE_MISSING, text)
    # No limit, no length check.
    assert apply(text, 1, passage("b", "b" * 100)) == (Fit.OK, "a" * 8 + "b" * 100)


@given(
    st.text(max_size=20), st.text(min_size=1, max_size=4), st.text(max_size=10), st.integers(0, 30)
)
def test_a_limited_apply_never_exceeds_the_limit(
    text: str, passage_: str, replacement: str, limit: int
) -> None:
    fit, result = apply(text, 1, passage(passage_, replacement), limit=limit)
    if fit is Fit.OK:
        assert len(result) <= limit
        assert apply(text, 1, passage(passage_, replacement)) == (fit, result)
    else:
        assert result == text
