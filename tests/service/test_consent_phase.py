"""The close of a consent round: rules, quorum, eligible members; objections after it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from deliberation import commands as c
from deliberation import events as e
from deliberation.model import Amendment, Position, PositionChange, Proposal, Round, Timer
from deliberation.tally import Tally, Verdict
from tests.service.conftest import START, Chat

TEXT = "We meet on the first Monday of each month"


def settle(chat: Chat, **settings: str) -> None:
    for key, value in settings.items():
        chat.one("alice", c.ChangeSetting(key, value), e.SettingChanged)


def close(chat: Chat, members: int | None = None, **stances: str) -> e.Decided:
    """A proposal through to the close of its consent round with these positions.

    ``members``: the member count the platform reports (with every command), else none.
    """
    extra = {} if members is None else {"member_count": members}
    opened = chat.do("alice", c.Propose(TEXT), **extra)[0]
    chat.do("alice", c.Next(opened.proposal), **extra)
    for name, spec in stances.items():
        stance, _, reason = spec.partition(":")
        chat.do(name, c.StatePosition(opened.proposal, c.Stance(stance), reason or None), **extra)
    decided = chat.do("alice", c.Next(opened.proposal), **extra)[0]
    assert isinstance(decided, e.Decided)
    return decided


# -- the consent rule ------------------------------------------------------------------


def test_consent_adopts_with_quorum_and_no_objection(chat: Chat) -> None:
    decided = close(
        chat, members=10, a1="consent", a2="consent", a3="concern", a4="abstain", a5="consent"
    )
    assert decided.verdict is Verdict.ADOPTED
    assert decided.eligible == 10
    assert decided.tally == Tally(consent=3, concern=1, abstain=1)


def test_consent_objected_when_objections_stand(chat: Chat) -> None:
    decided = close(chat, members=4, bob="consent", carol="object:too early", dave="object:no")
    assert decided.verdict is Verdict.OBJECTED
    assert decided.objections == (
        e.Statement("carol", "too early"),
        e.Statement("dave", "no"),
    )
    proposal = chat.get(Proposal, decided.proposal)
    assert proposal.phase == "objected" and proposal.ended_at is None
    assert proposal.outcome == {
        "verdict": "objected",
        "tally": {"consent": 1, "concern": 0, "object": 2, "abstain": 0},
        "eligible": 4,
    }


def test_consent_not_adopted_when_quorum_missed(chat: Chat) -> None:
    decided = close(
        chat, members=10, bob="consent", carol="consent", dave="consent", erin="consent"
    )
    assert decided.verdict is Verdict.NO_QUORUM
    proposal = chat.get(Proposal, decided.proposal)
    assert proposal.phase == "not_adopted" and proposal.ended_at == START
    assert chat.rows(Timer, Timer.kind == "expire") == []


def test_quorum_missed_with_objections_is_not_adopted(chat: Chat) -> None:
    decided = close(chat, members=10, bob="object:no")
    assert decided.verdict is Verdict.NO_QUORUM
    assert chat.get(Proposal, decided.proposal).phase == "not_adopted"


def test_quorum_min_binds_in_a_small_group(chat: Chat) -> None:
    settle(chat, quorum_min="3")
    # Three members seen (alice, bob, carol): two stated is two thirds, but fewer than 3.
    decided = close(chat, members=3, alice="consent", bob="consent")
    assert decided.verdict is Verdict.NO_QUORUM
    decided = close(chat, members=3, alice="consent", bob="consent", carol="abstain")
    assert decided.verdict is Verdict.ADOPTED


def test_abstentions_count_for_the_quorum(chat: Chat) -> None:
    decided = close(chat, members=4, bob="consent", carol="abstain")
    assert decided.verdict is Verdict.ADOPTED
    assert decided.tally == Tally(consent=1, abstain=1)


@pytest.mark.parametrize(
    ("quorum", "needed"), [("0.5", 5), ("50%", 5), ("0.3", 3), ("1", 10), ("2/3", None)]
)
def test_the_quorum_setting(chat: Chat, quorum: str, needed: int | None) -> None:
    if needed is None:
        chat.refused("alice", c.ChangeSetting("quorum", quorum), "bad_setting_value")
        return
    settle(chat, quorum=quorum)
    names = [f"m{i}" for i in range(needed)]
    short = close(chat, members=10, **dict.fromkeys(names[:-1], "consent"))
    assert short.verdict is Verdict.NO_QUORUM
    enough = close(chat, members=10, **dict.fromkeys(names, "consent"))
    assert enough.verdict is Verdict.ADOPTED


# -- eligible members ------------------------------------------------------------------


def test_eligible_is_the_members_seen_without_a_platform_count(chat: Chat) -> None:
    for name in ("bob", "carol", "dave", "erin", "frank"):
        chat.engine.register(chat.actor(name))
    # alice + 5 registered = 6 members seen: 3 is exactly half.
    decided = close(chat, bob="consent", carol="consent")
    assert decided.eligible == 6 and decided.verdict is Verdict.NO_QUORUM
    decided = close(chat, bob="consent", carol="consent", dave="consent")
    assert decided.eligible == 6 and decided.verdict is Verdict.ADOPTED


def test_non_members_are_not_counted_as_seen(chat: Chat) -> None:
    chat.engine.register(chat.actor("bob"))
    chat.engine.register(chat.actor("visitor", member=False))
    decided = close(chat, bob="consent")
    assert decided.eligible == 2  # alice and bob


def test_eligible_is_the_platform_count_when_given(chat: Chat) -> None:
    for name in ("bob", "carol", "dave"):
        chat.engine.register(chat.actor(name))
    decided = close(chat, members=20, bob="consent", carol="consent", dave="consent")
    assert decided.eligible == 20 and decided.verdict is Verdict.NO_QUORUM


def test_eligible_is_never_below_those_who_stated(chat: Chat) -> None:
    decided = close(chat, members=2, bob="consent", carol="consent", dave="consent")
    assert decided.eligible == 3 and decided.verdict is Verdict.ADOPTED
    rounds = chat.rows(Round, Round.proposal_id == decided.proposal, Round.phase == "consent")
    assert rounds[0].eligible == 3


# -- majority and supermajority --------------------------------------------------------


def test_majority(chat: Chat) -> None:
    settle(chat, rule="majority")
    adopted = close(chat, members=4, bob="consent", carol="concern", dave="object:no")
    assert adopted.verdict is Verdict.ADOPTED and adopted.rule == "majority"
    assert adopted.objections == ()  # an adopted proposal lists no objections
    tied = close(chat, members=4, bob="consent", carol="object:no")
    assert tied.verdict is Verdict.RULE_NOT_MET
    assert chat.get(Proposal, tied.proposal).phase == "not_adopted"
    assert tied.objections == (e.Statement("carol", "no"),)
    abstaining = close(chat, members=4, bob="abstain", carol="abstain")
    assert abstaining.verdict is Verdict.RULE_NOT_MET
    short = close(chat, members=10, bob="consent", carol="consent")
    assert short.verdict is Verdict.NO_QUORUM


def test_supermajority(chat: Chat) -> None:
    settle(chat, rule="supermajority")
    two_thirds = close(chat, members=3, bob="consent", carol="concern", dave="object:no")
    assert two_thirds.verdict is Verdict.ADOPTED
    three_fifths = close(
        chat, members=5, b="consent", c="consent", d="consent", e="object:x", f="object:y"
    )
    assert three_fifths.verdict is Verdict.RULE_NOT_MET
    assert chat.get(Proposal, three_fifths.proposal).phase == "not_adopted"


# -- objections after the close --------------------------------------------------------


def objected(chat: Chat, *objectors: str) -> int:
    stances = {"alice": "consent", **{name: f"object:{name} says no" for name in objectors}}
    decided = close(chat, **stances)
    assert decided.verdict is Verdict.OBJECTED
    return decided.proposal


def test_withdrawing_the_last_objection_adopts(chat: Chat) -> None:
    number = objected(chat, "bob", "carol")
    first = chat.do("bob", c.Withdraw(number))
    assert first == [
        e.ObjectionWithdrawn(group=chat.group, proposal=number, person="bob", remaining=1)
    ]
    assert chat.get(Proposal, number).phase == "objected"
    chat.refused("bob", c.Withdraw(number), "not_objector")  # no longer an objector
    chat.clock.advance(timedelta(hours=2))
    withdrawn, decided = chat.do("carol", c.Withdraw(number))
    assert withdrawn == e.ObjectionWithdrawn(
        group=chat.group, proposal=number, person="carol", remaining=0
    )
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.ADOPTED
    assert decided.tally == Tally(consent=1, abstain=2)
    assert decided.clause == 1
    assert chat.get(Proposal, number).phase == "adopted"
    # The objections are kept in the history; the positions are now abstentions.
    positions = {p.person_id: p.stance for p in chat.rows(Position)}
    assert positions == {
        "console:alice": "consent",
        "console:bob": "abstain",
        "console:carol": "abstain",
    }
    history = [
        (h.person_id, h.stance, h.reason)
        for h in chat.rows(PositionChange, order_by=PositionChange.id)
    ]
    assert history[-2:] == [
        ("console:bob", "objection_withdrawn", "bob says no"),
        ("console:carol", "objection_withdrawn", "carol says no"),
    ]
    # The expiry deadline that was set does nothing now.
    assert chat.advance(days=30) == []


def test_only_objectors_and_the_author_may_withdraw_when_objected(chat: Chat) -> None:
    number = objected(chat, "bob")
    chat.refused("carol", c.Withdraw(number), "not_objector")
    chat.refused("dave", c.Withdraw(None), "not_objector")
    ended = chat.one("alice", c.Withdraw(number), e.ProposalEnded)
    assert ended.how == "withdrawn"


def test_an_objected_proposal_expires_after_expire_days(chat: Chat) -> None:
    settle(chat, expire_days="3")
    number = objected(chat, "bob")
    timers = chat.rows(Timer, Timer.kind == "expire")
    assert [(t.proposal_id, t.round_no, t.due_at) for t in timers] == [
        (number, 1, START + timedelta(days=3))
    ]
    assert chat.advance(days=2, hours=23, minutes=59) == []
    (ended,) = chat.advance(minutes=1)
    assert ended == e.ProposalEnded(group=chat.group, proposal=number, how="expired", late=False)
    proposal = chat.get(Proposal, number)
    assert proposal.phase == "expired" and proposal.ended_at == START + timedelta(days=3)
    chat.refused("bob", c.Withdraw(number), "wrong_phase")
    chat.refused("alice", c.Resolve(number), "wrong_phase")


def test_expiry_carried_out_late_says_so(chat: Chat) -> None:
    number = objected(chat, "bob")  # expire_days = 14 by default
    (ended,) = chat.advance(days=20)
    assert ended.how == "expired" and ended.late is True
    assert chat.get(Proposal, number).phase == "expired"


def test_resolve_opens_new_rounds_with_fresh_positions(chat: Chat) -> None:
    number = objected(chat, "bob", "carol")
    chat.clock.advance(timedelta(days=1))
    chat.refused("bob", c.Resolve(number), "not_mediator")
    resolved = chat.one("alice", c.Resolve(number), e.Resolved)
    assert resolved == e.Resolved(
        group=chat.group,
        proposal=number,
        round=2,
        objectors=("bob", "carol"),
        closes_at=START + timedelta(days=1, hours=48),
        by="alice",
    )
    proposal = chat.get(Proposal, number)
    assert (proposal.phase, proposal.round_no) == ("amendment", 2)

    # The objectors amend in round 2.
    amendment = chat.amend("bob", number, passage="first Monday", replacement="first Saturday")
    assert chat.get(Amendment, amendment).round_no == 2
    chat.support(amendment, "carol")
    (consent,) = chat.advance(hours=48)
    assert isinstance(consent, e.ConsentOpened)
    assert consent.round == 2 and consent.text == "We meet on the first Saturday of each month"

    # Nobody's round-1 position carries over.
    stated = chat.one("bob", c.StatePosition(number, c.Stance.CONSENT), e.PositionStated)
    assert stated.previous is None and stated.tally == Tally(consent=1)
    chat.state(number, carol="consent")
    (decided,) = chat.advance(hours=72)
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.ADOPTED
    assert decided.tally == Tally(consent=2)

    rounds = chat.rows(Round, Round.proposal_id == number, order_by=Round.id)
    assert [(r.number, r.phase, r.verdict) for r in rounds] == [
        (1, "amendment", None),
        (1, "consent", "objected"),
        (2, "amendment", None),
        (2, "consent", "adopted"),
    ]
    # The expiry set in round 1 (14 days) is obsolete.
    assert chat.advance(days=30) == []
    assert chat.get(Proposal, number).phase == "adopted"


def test_objected_again_after_resolve_expires_on_the_new_deadline(chat: Chat) -> None:
    number = objected(chat, "bob")
    chat.one("alice", c.Resolve(number), e.Resolved)
    chat.next(number)
    chat.state(number, alice="consent", bob="object:still no")
    decided = chat.next(number)
    assert decided.verdict is Verdict.OBJECTED
    expiries = chat.rows(Timer, Timer.kind == "expire", order_by=Timer.id)
    assert [t.round_no for t in expiries] == [1, 2]
    chat.clock.advance(timedelta(days=14))
    (ended,) = chat.engine.run_due_timers()  # both are due: only round 2's acts
    assert ended.how == "expired"


def test_resolve_with_no_amendment_hours_uses_the_consent_hours(chat: Chat) -> None:
    settle(chat, amendment_hours="0", consent_hours="24")
    opened, consent = chat.do("alice", c.Propose(TEXT))
    chat.state(opened.proposal, alice="consent", bob="object:no")
    assert chat.next(opened.proposal).verdict is Verdict.OBJECTED
    resolved = chat.one("alice", c.Resolve(opened.proposal), e.Resolved)
    assert resolved.closes_at == START + timedelta(hours=24)
    assert chat.get(Proposal, opened.proposal).phase == "amendment"


def test_positions_only_in_the_consent_phase(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    error = chat.refused("bob", c.StatePosition(number, c.Stance.CONSENT), "wrong_phase")
    assert error.params == {"number": number, "phase": "amendment", "expected": ("consent",)}
    chat.next(number)
    chat.state(number, bob="object:no")
    chat.next(number)
    chat.refused("bob", c.StatePosition(number, c.Stance.CONSENT), "wrong_phase")


def test_named_votes_off_hides_names(chat: Chat) -> None:
    settle(chat, named_votes="off")
    number = chat.consent_open("alice", TEXT)
    stated = chat.one("bob", c.StatePosition(number, c.Stance.OBJECT, "no"), e.PositionStated)
    assert stated.named is False
    chat.state(number, carol="concern:hmm")
    decided = chat.next(number)
    assert decided.objections == (e.Statement(None, "no"),)
    assert decided.concerns == (e.Statement(None, "hmm"),)


def test_show_tally_after_close_hides_the_live_tally(chat: Chat) -> None:
    settle(chat, show_tally="after_close")
    number = chat.consent_open("alice", TEXT)
    stated = chat.one("bob", c.StatePosition(number, c.Stance.CONSENT), e.PositionStated)
    assert stated.tally is None
    chat.state(number, alice="consent")
    assert chat.next(number).tally == Tally(consent=2)
