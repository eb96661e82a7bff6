"""Renewal (SPEC section 3): a clause comes up for renewal ``review_months`` after its
adoption; the group is reminded 30, 7 and 1 days before; on the date a renewal round opens
by itself, listing the concerns recorded at the last adoption. Renewed, the next review is
set; not renewed, the clause lapses or stays in force, as the charter says; both are
written to the hash chain. ``/renew`` starts early."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from deliberation import charter as chain
from deliberation import commands as c
from deliberation import events as e
from deliberation.model import Clause, Timer
from deliberation.services import SYSTEM_PERSON
from deliberation.settings import Defaults
from deliberation.tally import Verdict
from deliberation.timers import REMIND_RENEWAL, REVIEW
from tests.service.conftest import Chat, chain_rows

TEXT = "We share the boat on Sundays"
ADOPTED = datetime(2026, 11, 27, 12, tzinfo=UTC)  # START + 72 h: the consent round's close
REVIEW_AT = datetime(2027, 11, 27, 12, tzinfo=UTC)  # a year later, at the same hour


def adopted(chat: Chat, concern: bool = True) -> int:
    """A clause adopted by its consent round's close, bob with a concern."""
    number = chat.consent_open("alice", TEXT)
    chat.state(number, alice="consent", bob="concern:mind the tide" if concern else "consent")
    (decided,) = chat.advance(hours=72)
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.ADOPTED
    assert decided.next_review == date(2027, 11, 27)
    assert decided.clause is not None
    return decided.clause


def until(chat: Chat, moment: datetime) -> list[e.Event]:
    chat.clock.set(moment)
    events = chat.engine.run_due_timers()
    chat.log.extend(events)
    return events


def pending(chat: Chat, clause: int) -> list[tuple[str, datetime]]:
    rows = chat.rows(Timer, Timer.clause_id == clause, Timer.done_at.is_(None))
    return sorted(((t.kind, t.due_at) for t in rows), key=lambda row: row[1])


def test_adoption_sets_the_review_and_its_reminders(chat: Chat) -> None:
    clause = adopted(chat)
    assert pending(chat, clause) == [
        (REMIND_RENEWAL, REVIEW_AT - timedelta(days=30)),
        (REMIND_RENEWAL, REVIEW_AT - timedelta(days=7)),
        (REMIND_RENEWAL, REVIEW_AT - timedelta(days=1)),
        (REVIEW, REVIEW_AT),
    ]


def test_reminded_then_the_renewal_opens_by_itself_and_renews(chat: Chat) -> None:
    clause = adopted(chat)
    for lead in (30, 7, 1):
        assert until(chat, REVIEW_AT - timedelta(days=lead, seconds=1)) == []
        assert until(chat, REVIEW_AT - timedelta(days=lead)) == [
            e.RenewalReminder(group=chat.group, clause=clause, review_at=REVIEW_AT, text=TEXT)
        ]
    (opened,) = until(chat, REVIEW_AT)
    assert isinstance(opened, e.ProposalOpened)
    assert (opened.kind, opened.clause, opened.phase, opened.automatic, opened.text) == (
        "renewal",
        clause,
        "consent",
        True,
        TEXT,
    )
    assert opened.author == "charterbot"
    assert opened.concerns == (e.Statement("bob", "mind the tide"),)
    assert opened.closes_at == REVIEW_AT + timedelta(hours=72)
    chat.state(opened.proposal, alice="consent", bob="consent")
    (renewed,) = chat.advance(hours=72)
    assert isinstance(renewed, e.Decided) and renewed.verdict is Verdict.ADOPTED
    assert renewed.next_review == date(2028, 11, 30)
    chain_entries = chain_rows(chat.db)
    assert [entry.entry["action"] for entry in chain_entries] == ["adopt", "renew"]
    assert chain.verify(chain_entries) is None
    assert [kind for kind, _ in pending(chat, clause)] == [REMIND_RENEWAL] * 3 + [REVIEW]


def test_not_renewed_the_clause_lapses(chat: Chat) -> None:
    clause = adopted(chat)
    (opened,) = [ev for ev in until(chat, REVIEW_AT) if isinstance(ev, e.ProposalOpened)]
    chat.state(opened.proposal, alice="consent")  # one of two: the quorum of 2 is missed
    decided, lapsed = chat.advance(hours=72)
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.NO_QUORUM
    assert isinstance(lapsed, e.NotRenewed)
    assert (lapsed.clause, lapsed.lapsed, lapsed.next_review) == (clause, True, None)
    row = chat.get(Clause, clause)
    assert (row.status, row.next_review) == ("lapsed", None)
    entries = chain_rows(chat.db)
    assert [entry.entry["action"] for entry in entries] == ["adopt", "lapse"]
    assert entries[-1].hash == lapsed.chain_head
    assert chain.verify(entries) is None
    assert pending(chat, clause) == []
    chat.refused("alice", c.Renew(clause), "clause_not_active")


@pytest.mark.parametrize("defaults", [Defaults(on_expiry="keep")])
def test_not_renewed_under_keep_the_clause_stays_until_a_next_review(
    chat: Chat, defaults: Defaults
) -> None:
    clause = adopted(chat)
    (opened,) = [ev for ev in until(chat, REVIEW_AT) if isinstance(ev, e.ProposalOpened)]
    (ended,) = chat.do("alice", c.Close(opened.proposal))[:1]
    assert isinstance(ended, e.ProposalEnded)
    (kept,) = [ev for ev in chat.log if isinstance(ev, e.NotRenewed)]
    assert (kept.lapsed, kept.next_review) == (False, date(2028, 11, 27))
    row = chat.get(Clause, clause)
    assert (row.status, row.next_review) == ("active", date(2028, 11, 27))
    assert [entry.entry["action"] for entry in chain_rows(chat.db)] == ["adopt", "keep"]
    assert pending(chat, clause)[-1] == (REVIEW, datetime(2028, 11, 27, 12, tzinfo=UTC))


def test_an_objected_renewal_that_expires_lapses(chat: Chat) -> None:
    clause = adopted(chat)
    (opened,) = [ev for ev in until(chat, REVIEW_AT) if isinstance(ev, e.ProposalOpened)]
    chat.state(opened.proposal, alice="consent", bob="object:the tide changed")
    (objected,) = chat.advance(hours=72)
    assert isinstance(objected, e.Decided) and objected.verdict is Verdict.OBJECTED
    ended, lapsed = chat.advance(days=14)
    assert isinstance(ended, e.ProposalEnded) and ended.how == "expired"
    assert isinstance(lapsed, e.NotRenewed) and lapsed.lapsed and lapsed.clause == clause


def test_renew_early_moves_the_review_and_the_old_date_passes_quietly(chat: Chat) -> None:
    clause = adopted(chat)
    chat.clock.set(datetime(2027, 6, 1, 9, tzinfo=UTC))
    (opened,) = chat.do("bob", c.Renew(clause))
    assert isinstance(opened, e.ProposalOpened) and not opened.automatic
    chat.refused("alice", c.Renew(clause), "renewal_open")
    chat.state(opened.proposal, alice="consent", bob="consent")
    (renewed,) = chat.advance(hours=72)
    assert isinstance(renewed, e.Decided) and renewed.next_review == date(2028, 6, 4)
    assert until(chat, REVIEW_AT + timedelta(days=1)) == []  # no reminders, no round


def test_an_early_renewal_that_fails_changes_nothing(chat: Chat) -> None:
    clause = adopted(chat)
    chat.clock.set(datetime(2027, 6, 1, 9, tzinfo=UTC))
    (opened,) = chat.do("bob", c.Renew(clause))
    chat.do("alice", c.Close(opened.proposal))
    assert not [ev for ev in chat.log if isinstance(ev, e.NotRenewed)]
    assert chat.get(Clause, clause).status == "active"
    (reminder,) = until(chat, REVIEW_AT - timedelta(days=30))
    assert isinstance(reminder, e.RenewalReminder)


def test_after_downtime_old_reminders_are_dropped_and_the_round_opens_late(chat: Chat) -> None:
    clause = adopted(chat)
    events = until(chat, REVIEW_AT + timedelta(hours=3))  # down for the whole month
    assert [type(ev) for ev in events] == [e.ProposalOpened]
    (opened,) = events
    assert isinstance(opened, e.ProposalOpened) and opened.late and opened.clause == clause


def test_a_reminder_a_little_late_is_sent_marked_late(chat: Chat) -> None:
    adopted(chat)
    (reminder,) = until(chat, REVIEW_AT - timedelta(days=7) + timedelta(hours=2))
    assert isinstance(reminder, e.RenewalReminder) and reminder.late


def test_repeal_ends_the_review(chat: Chat) -> None:
    clause = adopted(chat)
    (opened,) = chat.do("bob", c.Repeal(clause, "no boat any more"))
    chat.state(opened.proposal, alice="consent", bob="consent")
    chat.advance(hours=72)
    assert chat.get(Clause, clause).status == "repealed"
    assert pending(chat, clause) == []
    assert until(chat, REVIEW_AT + timedelta(days=1)) == []


def test_the_renewal_card_lists_earlier_concerns(chat: Chat) -> None:
    from deliberation import queries

    adopted(chat)
    (opened,) = until(chat, REVIEW_AT)
    assert isinstance(opened, e.ProposalOpened)
    with chat.db.unit_of_work(write=False) as uow:
        view = queries.proposal(uow.session, chat.group, opened.proposal, None)
    assert [(p.name, p.reason) for p in view.earlier_concerns] == [("bob", "mind the tide")]
    assert SYSTEM_PERSON.startswith("system:")
