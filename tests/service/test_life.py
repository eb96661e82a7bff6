"""The life of a proposal (SPEC section 2), end to end through ``Deliberation.handle``."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from deliberation import charter as chain
from deliberation import commands as c
from deliberation import events as e
from deliberation import queries
from deliberation.model import (
    Amendment,
    ChainEntry,
    Clause,
    ClauseVersion,
    Position,
    PositionChange,
    Proposal,
    Round,
    TextVersion,
)
from deliberation.tally import Tally, Verdict
from tests.service.conftest import GROUP, START, Chat, chain_rows

TEXT = "We meet on the first Monday of each month"
AMENDED = "We meet on the first Saturday of each month"


def test_the_example_from_proposal_to_clause(chat: Chat) -> None:
    opened = chat.do("alice", c.Propose(TEXT))
    assert opened == [
        e.ProposalOpened(
            group=GROUP,
            proposal=1,
            kind="new",
            author="alice",
            text=TEXT,
            phase="amendment",
            closes_at=START + timedelta(hours=48),
        )
    ]

    proposed = chat.one(
        "bob", c.Amend(1, passage="first Monday", replacement="first Saturday"), e.AmendmentProposed
    )
    assert (proposed.amendment, proposed.proposal, proposed.author) == (1, 1, "bob")
    voted = chat.one("carol", c.VoteAmendment(1, True), e.AmendmentVoted)
    assert (voted.supporters, voted.opposers, voted.voter) == (1, 0, "carol")

    consent = chat.next(1)
    assert isinstance(consent, e.ConsentOpened)
    assert consent.text == AMENDED
    assert consent.version == 2
    assert consent.round == 1
    assert consent.applied == (e.AppliedAmendment(amendment=1, author="bob", version=2),)
    assert consent.conflicts == () and consent.not_passed == ()
    assert consent.closes_at == START + timedelta(hours=72)

    chat.state(1, bob="consent", carol="concern:Saturdays are busy", alice="consent")
    decided = chat.next(1)
    assert isinstance(decided, e.Decided)
    assert decided.verdict is Verdict.ADOPTED
    assert decided.tally == Tally(consent=2, concern=1)
    assert decided.eligible == 3  # alice, bob and carol: the members seen
    assert decided.rule == "consent"
    assert decided.clause == 1 and decided.clause_version == 1
    assert decided.next_review == date(2027, 11, 24)
    assert decided.concerns == (e.Statement("carol", "Saturdays are busy"),)
    assert decided.objections == ()

    proposal = chat.get(Proposal, 1)
    assert proposal.phase == "adopted" and proposal.ended_at == START
    assert proposal.outcome["clause"] == 1

    clause = chat.get(Clause, 1)
    assert (clause.status, clause.version, clause.text) == ("active", 1, AMENDED)
    assert clause.parties == [GROUP]
    assert clause.next_review == date(2027, 11, 24)
    version = chat.get(ClauseVersion, (1, 1))
    assert version.text == AMENDED and version.proposal_id == 1
    assert version.tally == {"consent": 2, "concern": 1, "object": 0, "abstain": 0}
    assert version.concerns == [{"name": "carol", "reason": "Saturdays are busy"}]

    texts = chat.rows(TextVersion, TextVersion.proposal_id == 1, order_by=TextVersion.version)
    assert [(t.version, t.text, t.author_id, t.amendment_id) for t in texts] == [
        (1, TEXT, "console:alice", None),
        (2, AMENDED, "console:bob", 1),
    ]
    assert chat.get(Amendment, 1).status == "applied"
    assert chat.get(Amendment, 1).applied_version == 2

    entries = chain_rows(chat.db)
    assert len(entries) == 1 and entries[0].entry["action"] == "adopt"
    assert entries[0].hash == decided.chain_head
    assert entries[0].entry["text"] == AMENDED
    assert chain.verify(entries) is None
    with chat.db.unit_of_work(write=False) as uow:
        assert queries.verify(uow.session).problem is None


def test_amendment_hours_zero_opens_consent_at_once(chat: Chat) -> None:
    chat.one("alice", c.ChangeSetting("amendment_hours", "0"), e.SettingChanged)
    opened, consent = chat.do("bob", c.Propose(TEXT))
    assert isinstance(opened, e.ProposalOpened)
    assert isinstance(consent, e.ConsentOpened)
    assert consent.version == 1 and consent.applied == ()
    assert consent.closes_at == START + timedelta(hours=72)
    assert chat.get(Proposal, opened.proposal).phase == "consent"
    chat.refused("carol", c.Amend(opened.proposal, text="Another text"), "wrong_phase")


def test_positions_one_per_person_changeable_with_history(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    first = chat.one("bob", c.StatePosition(number, c.Stance.CONSENT), e.PositionStated)
    assert first.previous is None and first.tally == Tally(consent=1)
    chat.clock.advance(timedelta(minutes=1))
    second = chat.one(
        "bob", c.StatePosition(number, c.Stance.OBJECT, "  not on Mondays  "), e.PositionStated
    )
    assert second.previous == "consent"
    assert second.reason == "not on Mondays"
    assert second.tally == Tally(object=1)
    third = chat.one("bob", c.StatePosition(number, c.Stance.CONCERN), e.PositionStated)
    assert third.tally == Tally(concern=1) and third.reason is None
    chat.state(number, carol="abstain")

    positions = chat.rows(Position)
    assert sorted((p.person_id, p.stance) for p in positions) == [
        ("console:bob", "concern"),
        ("console:carol", "abstain"),
    ]
    history = chat.rows(PositionChange, order_by=PositionChange.id)
    assert [(h.person_id, h.stance, h.reason) for h in history] == [
        ("console:bob", "consent", None),
        ("console:bob", "object", "not on Mondays"),
        ("console:bob", "concern", None),
        ("console:carol", "abstain", None),
    ]
    decided = chat.next(number)
    assert isinstance(decided, e.Decided) and decided.tally == Tally(concern=1, abstain=1)


def test_an_omitted_proposal_is_the_only_one_in_the_phase(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    amended = chat.one("bob", c.Amend(None, text="We meet weekly"), e.AmendmentProposed)
    assert amended.proposal == number
    chat.next(number)
    stated = chat.one("bob", c.StatePosition(None, c.Stance.CONSENT), e.PositionStated)
    assert stated.proposal == number
    other = chat.propose("alice", "We keep minutes")
    # Next looks in both open-for-work phases: now there are two.
    error = chat.refused("alice", c.Next(None), "ambiguous_proposal")
    assert error.params["numbers"] == (number, other)
    chat.refused("bob", c.Resolve(None), "not_mediator")
    error = chat.refused("alice", c.Resolve(None), "no_open_proposal")
    assert error.params["phase"] == ("objected",)


def test_deadlines_close_each_phase(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    chat.support(chat.amend("bob", number, passage="Monday", replacement="Saturday"), "carol")
    assert chat.advance(hours=47, minutes=59) == []
    (consent,) = chat.advance(minutes=1)
    assert isinstance(consent, e.ConsentOpened)
    assert consent.late is False and consent.text == AMENDED
    assert consent.closes_at == START + timedelta(hours=48 + 72)
    chat.state(number, alice="consent", bob="consent")
    reminders = chat.advance(hours=71)  # 24 h and 1 h before the close: carol is silent
    assert reminders and all(isinstance(r, e.ConsentReminder) for r in reminders)
    assert [r.not_responded for r in reminders] == [1] * len(reminders)
    (decided,) = chat.advance(hours=1)
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.ADOPTED
    assert decided.late is False
    # nothing else was set but the clause's review a year later (its reminders, passed
    # over in one jump, are dropped; the renewal round opens, late)
    assert [type(ev) for ev in chat.advance(days=400)] == [e.ProposalOpened]


def test_deadlines_missed_while_down_are_carried_out_late(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    (consent,) = chat.advance(days=5)
    assert isinstance(consent, e.ConsentOpened) and consent.late is True
    # The consent round is counted from when it really opened.
    assert consent.closes_at == START + timedelta(days=5, hours=72)
    (decided,) = chat.advance(days=5)
    assert isinstance(decided, e.Decided) and decided.late is True
    assert decided.verdict is Verdict.NO_QUORUM
    assert chat.get(Proposal, number).phase == "not_adopted"


def test_a_timer_made_obsolete_by_next_does_nothing(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    chat.clock.advance(timedelta(hours=1))
    consent = chat.next(number)
    assert isinstance(consent, e.ConsentOpened)
    assert consent.closes_at == START + timedelta(hours=73)
    chat.state(number, alice="consent", bob="consent")
    # The amendment phase's own deadline (48 h) passes: nothing happens.
    assert chat.advance(hours=47) == []
    assert chat.get(Proposal, number).phase == "consent"
    decided = chat.next(number)
    assert isinstance(decided, e.Decided)
    # The consent round's deadline (73 h) passes after /next closed it: nothing either.
    assert chat.advance(hours=30) == []
    assert chat.get(Proposal, number).phase == "adopted"
    assert len(chat.rows(Clause)) == 1


def test_withdrawn_and_closed_proposals_ignore_their_deadlines(chat: Chat) -> None:
    first = chat.propose("alice", TEXT)
    second = chat.propose("bob", "We keep minutes")
    ended = chat.one("bob", c.Withdraw(second), e.ProposalEnded)
    assert (ended.how, ended.by) == ("withdrawn", "bob")
    closed = chat.one("alice", c.Close(first), e.ProposalEnded)
    assert (closed.how, closed.by) == ("closed", "alice")
    assert chat.advance(days=30) == []
    assert chat.get(Proposal, first).phase == "closed"
    assert chat.get(Proposal, second).phase == "withdrawn"
    assert chat.get(Proposal, second).ended_at == START


def test_the_author_withdraws_in_every_open_phase(chat: Chat) -> None:
    in_amendment = chat.propose("bob", "one")
    in_consent = chat.consent_open("bob", "two")
    objected = chat.consent_open("bob", "three")
    chat.state(objected, alice="consent", carol="object:no")
    assert chat.next(objected).verdict is Verdict.OBJECTED
    for number in (in_amendment, in_consent, objected):
        ended = chat.one("bob", c.Withdraw(number), e.ProposalEnded)
        assert ended.how == "withdrawn"
        assert chat.get(Proposal, number).phase == "withdrawn"
        chat.refused("bob", c.Withdraw(number), "wrong_phase")
        chat.refused("alice", c.Close(number), "wrong_phase")
    assert chat.advance(days=30) == []  # the expiry of the objected one does nothing


def test_the_author_cannot_withdraw_after_adoption(chat: Chat) -> None:
    decided = chat.adopt(TEXT)
    chat.refused("alice", c.Withdraw(decided.proposal), "wrong_phase")
    chat.refused("alice", c.Close(decided.proposal), "wrong_phase")
    chat.refused("alice", c.Next(decided.proposal), "wrong_phase")


def test_a_mediator_closes_in_every_open_phase(chat: Chat) -> None:
    in_amendment = chat.propose("bob", "one")
    in_consent = chat.consent_open("bob", "two")
    objected = chat.consent_open("bob", "three")
    chat.state(objected, alice="consent", carol="object:no")
    chat.next(objected)
    for number in (in_amendment, in_consent, objected):
        chat.refused("bob", c.Close(number), "not_mediator")
        closed = chat.one("alice", c.Close(number), e.ProposalEnded)
        assert (closed.how, closed.by, closed.proposal) == ("closed", "alice", number)
        proposal = chat.get(Proposal, number)
        assert proposal.phase == "closed" and proposal.phase_closes_at is None
    assert chat.rows(Clause) == []


def test_rounds_are_recorded(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    chat.next(number)
    chat.state(number, alice="consent", bob="object:no")
    chat.next(number)
    rounds = chat.rows(Round, Round.proposal_id == number, order_by=Round.id)
    assert [(r.number, r.phase) for r in rounds] == [(1, "amendment"), (1, "consent")]
    assert rounds[0].closed_at == START and rounds[1].closed_at == START
    assert rounds[1].verdict == "objected"
    assert rounds[1].tally == {"consent": 1, "concern": 0, "object": 1, "abstain": 0}
    assert rounds[1].eligible == 2


def test_the_chain_grows_and_verifies(chat: Chat) -> None:
    heads = [chat.adopt(f"Clause number {n}").chain_head for n in range(1, 4)]
    entries = chain_rows(chat.db)
    assert [entry.seq for entry in entries] == [1, 2, 3]
    assert [entry.hash for entry in entries] == heads
    assert entries[0].prev_hash == chain.GENESIS
    assert chain.verify(entries) is None
    # Tampering with a stored payload is found at that entry.
    with chat.db.unit_of_work() as uow:
        row = uow.session.get(ChainEntry, 2)
        row.payload = row.payload.replace("Clause number 2", "Clause number 9")
        uow.commit()
    altered = chain.Problem(2, "hash", key="seq=2", fields=("payload",))
    assert chain.verify(chain_rows(chat.db)) == altered
    with chat.db.unit_of_work(write=False) as uow:
        assert queries.verify(uow.session).problem == altered
        assert uow.session.scalar(select(ChainEntry.seq).order_by(ChainEntry.seq.desc())) == 3
