"""Clauses after adoption: change, renewal, repeal, the chain entries they write."""

from __future__ import annotations

from datetime import date, timedelta, timezone

import pytest

from deliberation import charter as chain
from deliberation import commands as c
from deliberation import events as e
from deliberation import queries
from deliberation.model import ChainEntry, Clause, ClauseVersion, Proposal
from deliberation.services import MAX_REASON, Deliberation
from deliberation.settings import Defaults
from deliberation.store.db import Database
from deliberation.tally import Verdict
from deliberation.timers import ManualClock
from tests.service.conftest import GROUP, START, Chat, chain_rows

TEXT = "We meet on the first Monday of each month"


def actions(chat: Chat) -> list[tuple[str, int]]:
    return [(r.action, r.clause_id) for r in chat.rows(ChainEntry, order_by=ChainEntry.seq)]


def verified(chat: Chat) -> None:
    assert chain.verify(chain_rows(chat.db)) is None
    with chat.db.unit_of_work(write=False) as uow:
        assert queries.verify(uow.session).problem is None


def test_a_change_makes_version_two(chat: Chat) -> None:
    first = chat.adopt(TEXT)
    chat.clock.advance(timedelta(days=40))
    opened = chat.do("bob", c.Propose("We meet on the first Saturday", c.ProposalKind.CHANGE, 1))
    assert len(opened) == 1 and opened[0].kind == "change" and opened[0].clause == 1
    assert opened[0].phase == "amendment"
    number = opened[0].proposal
    consent = chat.next(number)
    assert consent.kind == "change" and consent.clause == 1
    chat.state(number, alice="consent", bob="consent")
    decided = chat.next(number)
    assert decided.verdict is Verdict.ADOPTED
    assert (decided.clause, decided.clause_version) == (1, 2)
    assert decided.next_review == date(2028, 1, 3)  # 12 months after this adoption
    clause = chat.get(Clause, 1)
    assert (clause.version, clause.text, clause.status) == (
        2,
        "We meet on the first Saturday",
        "active",
    )
    assert clause.adopted_at == START + timedelta(days=40)
    versions = chat.rows(ClauseVersion, order_by=ClauseVersion.version)
    assert [(v.version, v.text, v.proposal_id) for v in versions] == [
        (1, TEXT, first.proposal),
        (2, "We meet on the first Saturday", number),
    ]
    assert len(chat.rows(Clause)) == 1  # no new clause number
    assert actions(chat) == [("adopt", 1), ("change", 1)]
    verified(chat)


def test_renewal_moves_the_next_review(chat: Chat) -> None:
    chat.adopt(TEXT)
    assert chat.get(Clause, 1).next_review == date(2027, 11, 24)
    chat.clock.advance(timedelta(days=300))
    opened = chat.do("bob", c.Renew(1))
    assert len(opened) == 1
    renewal = opened[0]
    assert (renewal.kind, renewal.phase, renewal.clause, renewal.text) == (
        "renewal",
        "consent",
        1,
        TEXT,
    )
    assert renewal.closes_at == START + timedelta(days=300, hours=72)
    chat.state(renewal.proposal, alice="consent", bob="consent")
    decided = chat.next(renewal.proposal)
    assert decided.verdict is Verdict.ADOPTED and decided.kind == "renewal"
    assert decided.clause == 1 and decided.clause_version == 1  # no new version
    assert decided.next_review == date(2028, 9, 20)  # 2027-09-20 + 12 months
    clause = chat.get(Clause, 1)
    assert clause.next_review == date(2028, 9, 20)
    assert clause.version == 1 and clause.text == TEXT and clause.status == "active"
    assert len(chat.rows(ClauseVersion)) == 1
    assert actions(chat) == [("adopt", 1), ("renew", 1)]
    verified(chat)


def test_a_renewal_not_adopted_leaves_the_clause(chat: Chat) -> None:
    chat.adopt(TEXT)
    renewal = chat.do("bob", c.Renew(1))[0].proposal
    chat.state(renewal, alice="consent", bob="object:outdated")
    assert chat.next(renewal).verdict is Verdict.OBJECTED
    clause = chat.get(Clause, 1)
    assert clause.status == "active" and clause.next_review == date(2027, 11, 24)
    assert chat.get(Proposal, renewal).phase == "objected"


def test_repeal_marks_the_clause_repealed(chat: Chat) -> None:
    chat.adopt(TEXT)
    chat.refused("bob", c.Repeal(1, "   "), "text_required")
    chat.refused("bob", c.Repeal(1, "r" * (MAX_REASON + 1)), "text_too_long")
    opened = chat.do("bob", c.Repeal(1, "  We no longer meet  "))
    repeal = opened[0]
    assert (repeal.kind, repeal.phase, repeal.clause, repeal.reason) == (
        "repeal",
        "consent",
        1,
        "We no longer meet",
    )
    chat.state(repeal.proposal, alice="consent", bob="consent")
    decided = chat.next(repeal.proposal)
    assert decided.verdict is Verdict.ADOPTED and decided.kind == "repeal"
    assert decided.next_review is None
    clause = chat.get(Clause, 1)
    assert clause.status == "repealed" and clause.next_review is None
    assert clause.text == TEXT
    assert actions(chat) == [("adopt", 1), ("repeal", 1)]
    assert chain_rows(chat.db)[-1].entry["reason"] == "We no longer meet"
    verified(chat)
    # A repealed clause can be neither renewed, repealed nor changed.
    error = chat.refused("bob", c.Renew(1), "clause_not_active")
    assert error.params == {"number": 1, "status": "repealed"}
    chat.refused("bob", c.Repeal(1, "again"), "clause_not_active")
    chat.refused("bob", c.Propose("New text", c.ProposalKind.CHANGE, 1), "clause_not_active")


def test_a_repeal_not_adopted_leaves_the_clause_active(chat: Chat) -> None:
    chat.adopt(TEXT)
    repeal = chat.do("bob", c.Repeal(1, "obsolete"))[0].proposal
    chat.state(repeal, bob="consent")
    chat.engine.register(chat.actor("carol"))
    chat.engine.register(chat.actor("dave"))
    assert chat.next(repeal).verdict is Verdict.NO_QUORUM
    assert chat.get(Clause, 1).status == "active"


def test_renewals_and_repeals_may_be_withdrawn_and_closed(chat: Chat) -> None:
    chat.adopt(TEXT)
    renewal = chat.do("bob", c.Renew(1))[0].proposal
    repeal = chat.do("carol", c.Repeal(1, "obsolete"))[0].proposal
    assert chat.one("bob", c.Withdraw(renewal), e.ProposalEnded).how == "withdrawn"
    assert chat.one("alice", c.Close(repeal), e.ProposalEnded).how == "closed"
    assert chat.get(Clause, 1).status == "active"
    assert chat.advance(days=10) == []


def test_clauses_of_another_group_are_not_yours(chat: Chat, other: Chat) -> None:
    theirs = other.adopt("Their clause", author="erin", voters=("erin", "frank"))
    error = chat.refused("bob", c.Renew(theirs.clause), "not_in_group")
    assert error.params == {"kind": "C", "number": theirs.clause}
    chat.refused("bob", c.Repeal(theirs.clause, "x"), "not_in_group")
    chat.refused("bob", c.Propose("x", c.ProposalKind.CHANGE, theirs.clause), "not_in_group")
    chat.refused("bob", c.Renew(999), "no_such_clause")
    chat.refused("bob", c.Propose("x", c.ProposalKind.CHANGE, 999), "no_such_clause")


def test_each_group_has_its_own_charter_and_one_chain(chat: Chat, other: Chat) -> None:
    ours = chat.adopt(TEXT)
    theirs = other.adopt("Their clause", author="erin", voters=("erin", "frank"))
    assert (ours.clause, theirs.clause) == (1, 2)
    assert chat.get(Clause, 1).charter_id == f"group:{GROUP}"
    assert chat.get(Clause, 2).charter_id == f"group:{other.group}"
    assert chat.get(Clause, 2).parties == [other.group]
    entries = chain_rows(chat.db)
    assert [x.entry["charter"] for x in entries] == [f"group:{GROUP}", f"group:{other.group}"]
    assert entries[1].prev_hash == entries[0].hash
    verified(chat)


@pytest.mark.parametrize("defaults", [Defaults(timezone="Pacific/Auckland")])
def test_the_review_date_is_on_the_groups_calendar(chat: Chat, defaults: Defaults) -> None:
    chat.clock.advance(timedelta(hours=11, minutes=30))  # 23:30 UTC, 12:30 next day in Auckland
    decided = chat.adopt(TEXT)
    assert decided.next_review == date(2027, 11, 25)


@pytest.mark.parametrize("defaults", [Defaults(review_months=1)])
def test_the_review_months_setting(chat: Chat, defaults: Defaults) -> None:
    chat.clock.set(START.replace(year=2027, month=1, day=31))
    assert chat.adopt(TEXT).next_review == date(2027, 2, 28)
    chat.one("alice", c.ChangeSetting("review_months", "24"), e.SettingChanged)
    assert chat.adopt("Another").next_review == date(2029, 1, 31)


def test_a_repeal_ends_the_open_proposals_on_its_clause(chat: Chat) -> None:
    """A change or renewal still open when its clause is repealed is closed with it, so the
    repealed clause never gets a new version or review date."""
    chat.adopt(TEXT)
    change = chat.do("bob", c.Propose("We meet weekly", c.ProposalKind.CHANGE, 1))[0].proposal
    repeal = chat.do("carol", c.Repeal(1, "obsolete"))[0].proposal
    chat.state(repeal, alice="consent", bob="consent")
    events = chat.do("alice", c.Next(repeal))
    assert events[0].verdict is Verdict.ADOPTED
    assert events[1] == e.ProposalEnded(
        group=events[0].group, proposal=change, how="superseded", clause=1
    )
    assert chat.get(Proposal, change).phase == "closed"
    clause = chat.get(Clause, 1)
    assert clause.status == "repealed"
    assert (clause.version, clause.text, clause.next_review) == (1, TEXT, None)


def test_a_clock_in_another_offset_keeps_the_chain_verifiable(
    db: Database, defaults: Defaults
) -> None:
    """The engine works in UTC whatever the clock's offset (the chain's "at" included)."""
    plus_two = ManualClock(START.astimezone(timezone(timedelta(hours=2))))
    chat = Chat(Deliberation(db, plus_two, defaults), db, plus_two)
    decided = chat.adopt(TEXT)
    assert chain_rows(db)[0].entry["at"] == "2026-11-24T12:00:00+00:00"
    assert chat.get(ClauseVersion, (decided.clause, 1)).adopted_at == START
    verified(chat)
