"""Reminders before a consent round closes (SPEC section 3, ``reminders_before_close``).

With the default 72-hour consent round the group is reminded 24 hours and 1 hour before the
close, with the number of eligible members who have not stated a position yet.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from deliberation import commands as c
from deliberation import events as e
from deliberation.model import Group, Person, Timer
from deliberation.settings import Defaults, lead_times
from deliberation.tally import Verdict
from deliberation.timers import REMIND_CONSENT
from tests.service.conftest import START, Chat

TEXT = "We meet on the first Monday of each month"
CLOSE = START + timedelta(hours=72)  # a consent round opened at START by /next


def members(chat: Chat, *names: str) -> None:
    """Members the engine has seen (no platform count): alice and these."""
    for name in names:
        chat.engine.register(chat.actor(name))


def settle(chat: Chat, **settings: str) -> None:
    for key, value in settings.items():
        chat.one("alice", c.ChangeSetting(key, value), e.SettingChanged)


def reminders(chat: Chat, number: int) -> list[tuple[int | None, object, object]]:
    """The proposal's reminder timers: (round, due, claimed_by) in due order."""
    rows = chat.rows(Timer, Timer.kind == REMIND_CONSENT, Timer.proposal_id == number)
    return sorted(((t.round_no, t.due_at, t.claimed_by) for t in rows), key=lambda t: t[1::-1])


def pending(chat: Chat, number: int) -> list[object]:
    """When the proposal's reminders still to come fall due."""
    rows = chat.rows(Timer, Timer.kind == REMIND_CONSENT, Timer.proposal_id == number)
    return sorted(t.due_at for t in rows if t.done_at is None)


def reminder(
    chat: Chat, number: int, missing: int, eligible: int, late: bool = False
) -> e.ConsentReminder:
    return e.ConsentReminder(
        group=chat.group,
        proposal=number,
        closes_at=CLOSE,
        responded=eligible - missing,
        eligible=eligible,
        not_responded=missing,
        title=chat.group,  # a console group's name is its id
        text=TEXT,
        late=late,
    )


def test_the_default_leads_are_a_day_and_an_hour() -> None:
    assert (timedelta(hours=24), timedelta(hours=1)) == lead_times(
        Defaults().reminders_before_close
    )


def test_reminded_a_day_and_an_hour_before_the_close(chat: Chat) -> None:
    members(chat, "bob", "carol", "dave", "erin", "frank")  # six with alice
    number = chat.consent_open("alice", TEXT)
    assert reminders(chat, number) == [
        (1, CLOSE - timedelta(hours=24), None),
        (1, CLOSE - timedelta(hours=1), None),
    ]
    chat.state(number, bob="consent", carol="object:not on Mondays")
    assert chat.advance(hours=47, minutes=59) == []
    assert chat.advance(minutes=1) == [reminder(chat, number, missing=4, eligible=6)]
    chat.state(number, dave="abstain", carol="concern")  # carol changes: still one position
    assert chat.advance(hours=22, minutes=59) == []
    assert chat.advance(minutes=1) == [reminder(chat, number, missing=3, eligible=6)]
    (decided,) = chat.advance(hours=1)
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.ADOPTED
    assert chat.advance(days=30) == []


def test_the_platform_member_count_is_the_eligible_count(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    chat.do("bob", c.StatePosition(number, c.Stance.CONSENT), member_count=10)
    assert chat.advance(hours=48) == [reminder(chat, number, missing=9, eligible=10)]


def test_a_short_round_gets_only_the_reminders_still_ahead(chat: Chat) -> None:
    settle(chat, consent_hours="12")
    number = chat.consent_open("alice", TEXT)
    close = START + timedelta(hours=12)
    assert reminders(chat, number) == [(1, close - timedelta(hours=1), None)]
    (sent,) = chat.advance(hours=11)
    assert isinstance(sent, e.ConsentReminder) and sent.closes_at == close
    (decided,) = chat.advance(hours=1)
    assert isinstance(decided, e.Decided)


def test_a_round_shorter_than_an_hour_gets_none(chat: Chat) -> None:
    settle(chat, consent_hours="1")
    number = chat.consent_open("alice", TEXT)
    assert reminders(chat, number) == []  # the 1-hour reminder would fall on the opening


def test_everyone_responded_no_reminder(chat: Chat) -> None:
    members(chat, "bob")
    number = chat.consent_open("alice", TEXT)
    chat.state(number, alice="consent", bob="abstain")
    assert chat.advance(hours=71) == []
    (decided,) = chat.advance(hours=1)
    assert isinstance(decided, e.Decided)


@pytest.mark.parametrize(
    ("name", "command"),
    [("alice", c.Next), ("alice", c.Close), ("alice", c.Withdraw)],
    ids=["next", "close", "withdraw"],
)
def test_no_reminder_after_the_round_ended_early(chat: Chat, name: str, command: type) -> None:
    members(chat, "bob", "carol")
    number = chat.consent_open("alice", TEXT)
    chat.state(number, bob="consent", alice="consent")
    chat.clock.advance(timedelta(hours=1))
    chat.do(name, command(number))
    # The pending reminders were set aside in the same transaction as the close.
    assert reminders(chat, number) == [
        (1, CLOSE - timedelta(hours=24), "cancelled"),
        (1, CLOSE - timedelta(hours=1), "cancelled"),
    ]
    assert chat.advance(days=5) == []


def test_a_pending_reminder_finds_its_round_closed_and_says_nothing(chat: Chat) -> None:
    """Even if a reminder stayed pending (a close that did not set it aside), it checks its
    round when it falls due."""
    members(chat, "bob", "carol")
    number = chat.consent_open("alice", TEXT)
    chat.next(number)
    with chat.db.unit_of_work() as uow:
        for timer in uow.session.query(Timer).filter(Timer.kind == REMIND_CONSENT):
            timer.done_at = timer.claimed_at = timer.claimed_by = None
        uow.commit()
    assert chat.advance(hours=48) == []
    assert chat.advance(hours=23) == []


def test_a_reminder_long_past_is_dropped(chat: Chat) -> None:
    members(chat, "bob", "carol")
    number = chat.consent_open("alice", TEXT)
    # The bot was down from before the 24-hour reminder until 10 minutes before the close:
    # both reminders are past their moment (the 1-hour one by 50 minutes).
    chat.clock.set(CLOSE - timedelta(minutes=10))
    assert chat.engine.run_due_timers() == []
    assert all(t.done_at for t in chat.rows(Timer, Timer.kind == REMIND_CONSENT))
    assert len(reminders(chat, number)) == 2
    (decided,) = chat.advance(minutes=10)
    assert isinstance(decided, e.Decided)


def test_a_reminder_slightly_late_is_sent_and_the_earlier_one_dropped(chat: Chat) -> None:
    members(chat, "bob", "carol")
    number = chat.consent_open("alice", TEXT)
    # Back up 10 minutes after the 1-hour reminder's moment: the 24-hour one, 23 h late,
    # says nothing; the 1-hour one is sent, with 50 minutes to go, marked late.
    chat.clock.set(CLOSE - timedelta(minutes=50))
    assert chat.engine.run_due_timers() == [
        reminder(chat, number, missing=3, eligible=3, late=True)
    ]


def test_reminders_after_the_close_are_dropped_and_the_close_is_late(chat: Chat) -> None:
    members(chat, "bob", "carol")
    number = chat.consent_open("alice", TEXT)
    chat.clock.set(CLOSE + timedelta(hours=2))
    (decided,) = chat.engine.run_due_timers()
    assert isinstance(decided, e.Decided) and decided.late is True
    assert decided.proposal == number


# -- every way a consent round opens sets its reminders -------------------------------------


def test_after_the_amendment_phase_closes_by_itself(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    (consent,) = chat.advance(hours=48)
    assert isinstance(consent, e.ConsentOpened)
    close = START + timedelta(hours=48 + 72)
    assert consent.closes_at == close
    assert reminders(chat, number) == [
        (1, close - timedelta(hours=24), None),
        (1, close - timedelta(hours=1), None),
    ]
    (sent,) = chat.advance(hours=48)
    assert isinstance(sent, e.ConsentReminder) and sent.closes_at == close


def test_with_no_amendment_phase(chat: Chat) -> None:
    settle(chat, amendment_hours="0")
    opened, consent = chat.do("alice", c.Propose(TEXT))
    assert isinstance(consent, e.ConsentOpened) and consent.skipped
    assert reminders(chat, opened.proposal) == [
        (1, CLOSE - timedelta(hours=24), None),
        (1, CLOSE - timedelta(hours=1), None),
    ]


def test_a_new_round_after_objections(chat: Chat) -> None:
    members(chat, "bob", "carol")
    number = chat.consent_open("alice", TEXT)
    chat.state(number, alice="consent", bob="object:no")
    assert chat.next(number).verdict is Verdict.OBJECTED
    chat.one("alice", c.Resolve(number), e.Resolved)
    chat.next(number)  # round 2's consent round opens now, at START
    assert reminders(chat, number) == [
        (1, CLOSE - timedelta(hours=24), "cancelled"),
        (2, CLOSE - timedelta(hours=24), None),
        (1, CLOSE - timedelta(hours=1), "cancelled"),
        (2, CLOSE - timedelta(hours=1), None),
    ]
    chat.state(number, bob="consent")
    # Round 2 counts afresh: alice's round-1 position does not carry over.
    (sent,) = chat.advance(hours=48)
    assert sent == reminder(chat, number, missing=2, eligible=3)


def test_a_renewal_round(chat: Chat) -> None:
    decided = chat.adopt(TEXT)
    assert decided.clause is not None
    opened = chat.one("alice", c.Renew(decided.clause), e.ProposalOpened)
    assert opened.phase == "consent"
    assert reminders(chat, opened.proposal) == [
        (1, CLOSE - timedelta(hours=24), None),
        (1, CLOSE - timedelta(hours=1), None),
    ]


# -- the group's lead times (``reminders_before_close``) -----------------------------------


def test_the_groups_own_lead_times(chat: Chat) -> None:
    settle(chat, reminders_before_close="30 min, 2h")
    number = chat.consent_open("alice", TEXT)
    assert reminders(chat, number) == [
        (1, CLOSE - timedelta(hours=2), None),
        (1, CLOSE - timedelta(minutes=30), None),
    ]
    assert chat.advance(hours=69, minutes=59) == []
    (sent,) = chat.advance(minutes=1)
    assert isinstance(sent, e.ConsentReminder)
    (sent,) = chat.advance(hours=1, minutes=30)
    assert isinstance(sent, e.ConsentReminder)


def test_no_reminders_when_the_group_wants_none(chat: Chat) -> None:
    settle(chat, reminders_before_close="none")
    number = chat.consent_open("alice", TEXT)
    assert reminders(chat, number) == []
    (decided,) = chat.advance(hours=72)
    assert isinstance(decided, e.Decided)


def test_new_lead_times_apply_to_the_round_open_now(chat: Chat) -> None:
    members(chat, "bob")
    number = chat.consent_open("alice", TEXT)
    (given,) = chat.advance(hours=48)  # the 24-hour reminder is given
    assert isinstance(given, e.ConsentReminder)
    settle(chat, reminders_before_close="36h 12h 2h")  # 36 h has passed: not set
    assert pending(chat, number) == [CLOSE - timedelta(hours=12), CLOSE - timedelta(hours=2)]
    assert (1, CLOSE - timedelta(hours=1), "cancelled") in reminders(chat, number)
    settle(chat, reminders_before_close="12h 1h")  # the 1-hour one is wanted again
    assert pending(chat, number) == [CLOSE - timedelta(hours=12), CLOSE - timedelta(hours=1)]
    assert [type(ev) for ev in chat.advance(hours=12)] == [e.ConsentReminder]
    assert [type(ev) for ev in chat.advance(hours=11)] == [e.ConsentReminder]
    assert [type(ev) for ev in chat.advance(hours=1)] == [e.Decided]


# -- private reminders (``/remind on`` in a private chat) --------------------------------

PRIVATE = {name: f"console:dm-{name}" for name in ("bob", "carol", "dave", "erin")}


def remind(chat: Chat, name: str, on: bool = True) -> e.RemindersSet:
    return chat.one(name, c.SetReminders(on), e.RemindersSet, group=PRIVATE[name], private=True)


def test_remind_on_and_off_in_a_private_chat(chat: Chat) -> None:
    assert remind(chat, "bob") == e.RemindersSet(group=PRIVATE["bob"], person="bob", on=True)
    assert chat.get(Person, "console:bob").remind_chat == PRIVATE["bob"]
    assert remind(chat, "bob", on=False).on is False
    assert chat.get(Person, "console:bob").remind_chat is None


def test_remind_in_a_group_is_refused(chat: Chat) -> None:
    members(chat, "bob")
    error = chat.refused("bob", c.SetReminders(True), "private_only")
    assert error.params == {"command": "remind"}


def test_only_members_who_asked_and_have_not_responded_are_reminded_privately(
    chat: Chat, other: Chat
) -> None:
    members(chat, "bob", "carol", "dave", "frank")
    other.engine.register(other.actor("erin"))  # a member of the other group only
    for name in ("bob", "carol", "dave", "erin"):
        remind(chat, name)
    remind(chat, "dave", on=False)
    number = chat.consent_open("alice", TEXT)
    chat.state(number, carol="consent")
    (sent,) = chat.advance(hours=48)
    assert isinstance(sent, e.ConsentReminder)
    assert sent.remind == (("console:bob", PRIVATE["bob"]),)
    assert (sent.title, sent.text, sent.not_responded) == (chat.group, TEXT, 4)
    # A position taken back is no position: carol is reminded again.
    chat.do("carol", c.RetractPosition(number))
    chat.state(number, bob="abstain")
    (sent,) = chat.advance(hours=23)
    assert sent.remind == (("console:carol", PRIVATE["carol"]),)


def test_the_group_name_is_carried_for_the_private_reminder(chat: Chat) -> None:
    members(chat, "bob")
    remind(chat, "bob")
    with chat.db.unit_of_work() as uow:
        uow.session.get(Group, chat.group).title = "Kitchen collective"
        uow.commit()
    chat.consent_open("alice", TEXT)
    (sent,) = chat.advance(hours=48)
    assert sent.title == "Kitchen collective"
