"""Amendments in the engine: support, order, conflicts, /accept."""

from __future__ import annotations

from deliberation import commands as c
from deliberation import events as e
from deliberation.model import Amendment, AmendmentVote, Proposal, TextVersion
from deliberation.services import MAX_TEXT
from tests.service.conftest import Chat

TEXT = "We meet on the first Monday of each month"


def statuses(chat: Chat) -> dict[int, str]:
    return {a.id: a.status for a in chat.rows(Amendment)}


def test_supported_amendments_apply_in_order_of_net_support(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    a1 = chat.amend("bob", number, passage="We meet", replacement="We all meet")
    a2 = chat.amend("carol", number, passage="each month", replacement="every month")
    a3 = chat.amend("dave", number, passage="first", replacement="second")
    chat.support(a1, "carol", "dave", "erin")  # 3 for, 1 against: net 2
    chat.support(a1, "frank", support=False)
    chat.support(a2, "bob", "dave", "erin")  # 3 for: net 3
    chat.support(a3, "bob", "carol")  # 2 for: net 2, a tie with A1 -> A1 first
    consent = chat.next(number)
    assert isinstance(consent, e.ConsentOpened)
    assert consent.applied == (
        e.AppliedAmendment(a2, "carol", 2),
        e.AppliedAmendment(a1, "bob", 3),
        e.AppliedAmendment(a3, "dave", 4),
    )
    assert consent.text == "We all meet on the second Monday of every month"
    assert consent.version == 4
    texts = chat.rows(TextVersion, TextVersion.proposal_id == number, order_by=TextVersion.version)
    assert [(t.version, t.author_id, t.amendment_id) for t in texts] == [
        (1, "console:alice", None),
        (2, "console:carol", a2),
        (3, "console:bob", a1),
        (4, "console:dave", a3),
    ]
    proposal = chat.get(Proposal, number)
    assert (proposal.text, proposal.text_version) == (consent.text, 4)


def test_amendments_without_more_support_do_not_pass(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    tie = chat.amend("bob", number, passage="Monday", replacement="Friday")
    unsupported = chat.amend("carol", number, passage="each month", replacement="every week")
    opposed = chat.amend("dave", number, text="We never meet")
    chat.support(tie, "carol")
    chat.support(tie, "dave", support=False)
    chat.support(opposed, "bob", "carol", support=False)
    consent = chat.next(number)
    assert consent.applied == () and consent.conflicts == ()
    assert consent.not_passed == (tie, unsupported, opposed)
    assert consent.text == TEXT and consent.version == 1
    assert set(statuses(chat).values()) == {"not_passed"}


def test_a_vote_can_change_and_counts_once(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    amendment = chat.amend("bob", number, passage="Monday", replacement="Friday")
    chat.support(amendment, "carol")
    voted = chat.one("carol", c.VoteAmendment(amendment, True), e.AmendmentVoted)
    assert (voted.supporters, voted.opposers) == (1, 0)
    voted = chat.one("carol", c.VoteAmendment(amendment, False), e.AmendmentVoted)
    assert (voted.supporters, voted.opposers) == (0, 1)
    assert len(chat.rows(AmendmentVote)) == 1
    assert chat.next(number).not_passed == (amendment,)


def test_the_proposal_author_may_vote_on_amendments(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    amendment = chat.amend("bob", number, passage="Monday", replacement="Friday")
    chat.support(amendment, "alice")
    assert chat.next(number).text == "We meet on the first Friday of each month"


def test_authors_cannot_vote_on_their_own_amendment(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    amendment = chat.amend("bob", number, passage="Monday", replacement="Friday")
    error = chat.refused("bob", c.VoteAmendment(amendment, True), "own_amendment")
    assert error.params == {"number": amendment}
    chat.refused("bob", c.VoteAmendment(amendment, False), "own_amendment")
    # Their support is not counted: with no other vote the amendment does not pass.
    assert chat.next(number).not_passed == (amendment,)


def test_a_passage_gone_by_the_close_is_conflicting_and_reported(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    winner = chat.amend("bob", number, passage="first Monday", replacement="first Saturday")
    loser = chat.amend("carol", number, passage="first Monday", replacement="last Monday")
    chat.support(winner, "alice", "dave")
    chat.support(loser, "dave")
    consent = chat.next(number)
    assert consent.applied == (e.AppliedAmendment(winner, "bob", 2),)
    assert consent.conflicts == (e.ConflictingAmendment(loser, "carol", "passage_missing"),)
    assert consent.text == "We meet on the first Saturday of each month"
    assert statuses(chat) == {winner: "applied", loser: "conflicting"}


def test_a_passage_made_ambiguous_by_the_close_is_conflicting(chat: Chat) -> None:
    number = chat.propose("alice", "Meet on Monday at noon.")
    doubling = chat.amend("bob", number, passage="noon", replacement="noon, or Monday evening")
    later = chat.amend("carol", number, passage="Monday", replacement="Friday")
    chat.support(doubling, "alice", "dave")
    chat.support(later, "dave")
    consent = chat.next(number)
    assert consent.conflicts == (e.ConflictingAmendment(later, "carol", "passage_ambiguous"),)
    assert consent.text == "Meet on Monday at noon, or Monday evening."


def test_a_whole_text_written_against_an_older_version_is_conflicting(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    first = chat.amend("bob", number, text="We meet every Friday")
    second = chat.amend("carol", number, text="We meet every Sunday")
    passage = chat.amend("dave", number, passage="Monday", replacement="Tuesday")
    chat.support(first, "alice", "carol", "dave")
    chat.support(second, "alice", "bob")
    chat.support(passage, "alice")
    consent = chat.next(number)
    assert consent.applied == (e.AppliedAmendment(first, "bob", 2),)
    # Both were written against version 1; the passage no longer occurs either.
    assert consent.conflicts == (
        e.ConflictingAmendment(second, "carol", "text_changed"),
        e.ConflictingAmendment(passage, "dave", "passage_missing"),
    )
    assert consent.text == "We meet every Friday"
    assert statuses(chat) == {first: "applied", second: "conflicting", passage: "conflicting"}


def test_a_passage_amendment_must_match_exactly_once_when_made(chat: Chat) -> None:
    number = chat.propose("alice", "the the the end")
    error = chat.refused(
        "bob", c.Amend(number, passage="missing", replacement="x"), "passage_not_found"
    )
    assert error.params == {"passage": "missing"}
    error = chat.refused(
        "bob", c.Amend(number, passage="the", replacement="a"), "passage_ambiguous"
    )
    assert error.params["count"] == 3
    # Overlapping occurrences are two occurrences.
    chat.refused("bob", c.Amend(number, passage="the the", replacement="a"), "passage_ambiguous")
    chat.refused("bob", c.Amend(number, passage="end", replacement="end"), "passage_same")
    assert chat.amend("bob", number, passage="end", replacement="finish")


def test_the_author_accepts_an_amendment_at_once(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    passage = chat.amend("bob", number, passage="first Monday", replacement="first Saturday")
    whole = chat.amend("carol", number, text="We meet weekly")
    chat.refused("bob", c.AcceptAmendment(passage), "not_author")
    chat.refused("carol", c.AcceptAmendment(passage), "not_author")
    accepted = chat.one("alice", c.AcceptAmendment(passage), e.AmendmentAccepted)
    assert accepted == e.AmendmentAccepted(
        group=chat.group,
        amendment=passage,
        proposal=number,
        author="bob",
        version=2,
        text="We meet on the first Saturday of each month",
    )
    assert chat.get(Amendment, passage).status == "accepted"
    texts = chat.rows(TextVersion, TextVersion.proposal_id == number, order_by=TextVersion.version)
    assert [(t.version, t.author_id, t.amendment_id) for t in texts][-1] == (
        2,
        "console:bob",
        passage,
    )
    # An accepted amendment is closed to votes and to a second accept.
    error = chat.refused("dave", c.VoteAmendment(passage, True), "amendment_closed")
    assert error.params["status"] == "accepted"
    chat.refused("alice", c.AcceptAmendment(passage), "amendment_closed")
    # The whole text was written against version 1: it no longer fits, and nothing changes.
    chat.refused("alice", c.AcceptAmendment(whole), "amendment_closed")
    assert chat.get(Amendment, whole).status == "open"
    # A new whole text against version 2 fits.
    newer = chat.amend("dave", number, text="We meet weekly, on Saturdays")
    chat.support(whole, "alice", "bob")
    chat.support(newer, "alice")
    consent = chat.next(number)
    assert consent.applied == (e.AppliedAmendment(newer, "dave", 3),)
    assert consent.conflicts == (e.ConflictingAmendment(whole, "carol", "text_changed"),)
    assert consent.text == "We meet weekly, on Saturdays"


def test_accepting_a_passage_that_is_gone_is_refused(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    first = chat.amend("bob", number, passage="first Monday", replacement="first Saturday")
    second = chat.amend("carol", number, passage="Monday", replacement="Friday")
    chat.one("alice", c.AcceptAmendment(first), e.AmendmentAccepted)
    error = chat.refused("alice", c.AcceptAmendment(second), "passage_not_found")
    assert error.params == {"passage": "Monday"}
    assert chat.get(Amendment, second).status == "open"
    chat.support(second, "dave")
    assert chat.next(number).conflicts == (
        e.ConflictingAmendment(second, "carol", "passage_missing"),
    )


def test_amendments_only_in_the_amendment_phase(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    amendment = chat.amend("bob", number, passage="Monday", replacement="Friday")
    chat.next(number)
    error = chat.refused("carol", c.Amend(number, text="We meet weekly"), "wrong_phase")
    assert error.params == {"number": number, "phase": "consent", "expected": ("amendment",)}
    chat.refused("carol", c.VoteAmendment(amendment, True), "wrong_phase")
    chat.refused("alice", c.AcceptAmendment(amendment), "wrong_phase")


def test_amendment_texts_are_limited(chat: Chat) -> None:
    number = chat.propose("alice", "x" * (MAX_TEXT - 10) + " end")
    chat.refused("bob", c.Amend(number, text="y" * (MAX_TEXT + 1)), "text_too_long")
    chat.refused("bob", c.Amend(number, passage="end", replacement="e" * 20), "text_too_long")
    chat.refused(
        "bob", c.Amend(number, passage="end", replacement="z" * (MAX_TEXT + 1)), "text_too_long"
    )
    chat.refused("bob", c.Amend(number, passage="", replacement="a"), "text_required")
    chat.refused("bob", c.Amend(number, passage="  ", replacement="a"), "text_required")
    chat.refused("bob", c.Amend(number, text="   "), "text_required")
    chat.refused("bob", c.Amend(number), "text_required")
    assert chat.amend("bob", number, passage="end", replacement="e" * 8)  # just fits
    assert chat.amend("bob", number, text="y" * MAX_TEXT)


def test_a_whole_text_equal_to_the_current_text_is_refused(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    chat.refused("bob", c.Amend(number, text=TEXT), "passage_same")
    chat.refused("bob", c.Amend(number, text=f"  {TEXT}\n"), "passage_same")


def test_amendments_that_together_exceed_the_limit_conflict(chat: Chat) -> None:
    """Each fits when made; applied together the text would pass MAX_TEXT: the later one
    (by net support) is conflicting, never applied."""
    number = chat.propose("alice", "a" + "x" * (MAX_TEXT - 20) + "b")
    first = chat.amend("bob", number, passage="a", replacement="A" * 15)
    second = chat.amend("carol", number, passage="b", replacement="B" * 15)
    chat.support(first, "dave", "erin")
    chat.support(second, "dave")
    consent = chat.next(number)
    assert consent.applied == (e.AppliedAmendment(first, "bob", 2),)
    assert consent.conflicts == (e.ConflictingAmendment(second, "carol", "too_long"),)
    assert len(consent.text) == MAX_TEXT - 4
    assert chat.get(Amendment, second).status == "conflicting"


def test_accepting_what_would_exceed_the_limit_is_refused(chat: Chat) -> None:
    number = chat.propose("alice", "a" + "x" * (MAX_TEXT - 20) + "b")
    first = chat.amend("bob", number, passage="a", replacement="A" * 15)
    second = chat.amend("carol", number, passage="b", replacement="B" * 15)
    chat.one("alice", c.AcceptAmendment(first), e.AmendmentAccepted)
    error = chat.refused("alice", c.AcceptAmendment(second), "text_too_long")
    assert error.params == {"limit": MAX_TEXT, "length": MAX_TEXT + 10}


def test_accepting_a_passage_made_ambiguous_says_so(chat: Chat) -> None:
    number = chat.propose("alice", "one two")
    doubling = chat.amend("bob", number, passage="two", replacement="two one")
    later = chat.amend("carol", number, passage="one", replacement="three")
    chat.one("alice", c.AcceptAmendment(doubling), e.AmendmentAccepted)
    error = chat.refused("alice", c.AcceptAmendment(later), "passage_ambiguous")
    assert error.params == {"passage": "one", "count": 2}


def test_the_reported_length_of_a_too_long_passage_amendment_is_the_results(chat: Chat) -> None:
    number = chat.propose("alice", "x" * (MAX_TEXT - 10) + " end")
    error = chat.refused(
        "bob", c.Amend(number, passage="end", replacement="e" * 20), "text_too_long"
    )
    assert error.params == {"limit": MAX_TEXT, "length": MAX_TEXT + 11}
