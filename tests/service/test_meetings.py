"""``/meeting`` (SPEC section 3): a mediator announces a live negotiation session; the group
is reminded a day and an hour before it (those reminders still ahead), unless it is called
off. A reminder found late after downtime is sent while at least half its lead time is
left, marked late; otherwise it is dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deliberation import commands as c
from deliberation import events as e
from deliberation.model import Meeting, Timer
from deliberation.services import Deliberation
from deliberation.settings import Defaults
from deliberation.store.db import Database
from deliberation.timers import MEETING_REMINDERS, REMIND_MEETING, ManualClock
from tests.service.conftest import GROUP, OTHER, START, Chat

AT = datetime(2026, 11, 25, 18, tzinfo=UTC)  # "tomorrow 18:00" in a UTC group, 30 h ahead
DAY_BEFORE, HOUR_BEFORE = AT - timedelta(days=1), AT - timedelta(hours=1)
TOPIC = "Budget talk"


def announce(chat: Chat, text: str = f"tomorrow 18:00 {TOPIC}", by: str = "alice") -> int:
    return chat.one(by, c.AnnounceMeeting(text), e.MeetingAnnounced).meeting


def timers(chat: Chat, meeting: int) -> list[tuple[datetime, str]]:
    """The meeting's reminder timers in due order: (due, "pending" | "done" | "cancelled")."""
    rows = chat.rows(Timer, Timer.meeting_id == meeting, order_by=Timer.due_at)
    assert all(t.kind == REMIND_MEETING and t.proposal_id is None for t in rows)
    return [(t.due_at, t.claimed_by or ("done" if t.done_at else "pending")) for t in rows]


def reminder(meeting: int = 1, late: bool = False, **kw: object) -> e.MeetingReminder:
    return e.MeetingReminder(
        group=GROUP, meeting=meeting, at=kw.pop("at", AT), topic=kw.pop("topic", TOPIC), late=late
    )


def test_the_leads_are_a_day_and_an_hour() -> None:
    assert (timedelta(days=1), timedelta(hours=1)) == MEETING_REMINDERS


def test_a_mediator_announces_a_meeting(chat: Chat) -> None:
    announced = chat.one("alice", c.AnnounceMeeting(f"tomorrow 18:00 {TOPIC}"), e.MeetingAnnounced)
    assert announced == e.MeetingAnnounced(
        group=GROUP,
        meeting=1,
        at=AT,
        topic=TOPIC,
        by="alice",
        reminders=(DAY_BEFORE, HOUR_BEFORE),
    )
    meeting = chat.get(Meeting, 1)
    assert (meeting.group_id, meeting.at, meeting.topic) == (GROUP, AT, TOPIC)
    assert (meeting.created_by, meeting.created_at, meeting.cancelled_at) == (
        "console:alice",
        START,
        None,
    )
    assert timers(chat, 1) == [(DAY_BEFORE, "pending"), (HOUR_BEFORE, "pending")]


def test_reminded_a_day_and_an_hour_before_the_meeting(chat: Chat) -> None:
    announce(chat)
    assert chat.advance(hours=5, minutes=59) == []
    assert chat.advance(minutes=1) == [reminder()]  # AT - 24 h
    assert chat.advance(hours=22, minutes=59) == []
    assert chat.advance(minutes=1) == [reminder()]  # AT - 1 h
    assert chat.advance(days=30) == []


def test_the_group_time_zone_and_languages_read_the_time(db: Database, clock: ManualClock) -> None:
    engine = Deliberation(db, clock, Defaults(locale="es", timezone="Europe/Madrid"))
    chat = Chat(engine, db, clock)
    announced = chat.one(
        "alice", c.AnnounceMeeting("mañana a las 18:00 Derechos de pesca"), e.MeetingAnnounced
    )
    at = datetime(2026, 11, 25, 17, tzinfo=UTC)  # 18:00 in Madrid
    assert (announced.at, announced.topic) == (at, "Derechos de pesca")
    assert chat.advance(hours=5) == [reminder(at=at, topic="Derechos de pesca")]


def test_a_link_is_a_topic(chat: Chat) -> None:
    number = announce(chat, "2026-12-01 18:00 https://meet.example.org/x")
    meeting = chat.get(Meeting, number)
    assert (meeting.at, meeting.topic) == (
        datetime(2026, 12, 1, 18, tzinfo=UTC),
        "https://meet.example.org/x",
    )


def test_a_meeting_soon_gets_only_the_reminders_still_ahead(chat: Chat) -> None:
    announced = chat.one("alice", c.AnnounceMeeting("in 2h Fishing rights"), e.MeetingAnnounced)
    soon = START + timedelta(hours=2)
    assert announced.reminders == (soon - timedelta(hours=1),)
    assert timers(chat, announced.meeting) == [(soon - timedelta(hours=1), "pending")]
    assert chat.advance(hours=1) == [reminder(announced.meeting, at=soon, topic="Fishing rights")]
    very_soon = chat.one("alice", c.AnnounceMeeting("in 30 min Quick check"), e.MeetingAnnounced)
    assert very_soon.reminders == () and timers(chat, very_soon.meeting) == []


def test_cancelling_stops_the_reminders(chat: Chat) -> None:
    number = announce(chat)
    assert chat.advance(hours=6) == [reminder()]
    cancelled = chat.one("alice", c.CancelMeeting(number), e.MeetingCancelled)
    assert cancelled == e.MeetingCancelled(
        group=GROUP, meeting=number, by="alice", at=AT, topic=TOPIC
    )
    assert chat.get(Meeting, number).cancelled_at == START + timedelta(hours=6)
    assert timers(chat, number) == [(DAY_BEFORE, "done"), (HOUR_BEFORE, "cancelled")]
    assert chat.advance(days=2) == []
    refused = chat.refused("alice", c.CancelMeeting(number), "meeting_over")
    assert refused.params == {"number": number, "status": "cancelled"}


def test_a_meeting_that_began_cannot_be_called_off(chat: Chat) -> None:
    number = announce(chat)
    chat.advance(hours=30)
    refused = chat.refused("alice", c.CancelMeeting(number), "meeting_over")
    assert refused.params == {"number": number, "status": "held"}


def test_only_a_mediator_announces_or_cancels(chat: Chat) -> None:
    refused = chat.refused("bob", c.AnnounceMeeting(f"tomorrow 18:00 {TOPIC}"), "not_mediator")
    assert refused.params == {"command": "meeting"}
    number = announce(chat)
    refused = chat.refused("bob", c.CancelMeeting(number), "not_mediator")
    assert refused.params == {"command": "meeting"}
    chat.one("alice", c.AddMediator("console:bob", "bob"), e.MediatorChanged)
    chat.one("bob", c.CancelMeeting(number), e.MeetingCancelled)


@pytest.mark.parametrize(
    ("text", "reason", "read"),
    [
        ("whenever we can talk", "unreadable", "whenever we can"),
        ("Budget talk tomorrow 18:00", "unreadable", "Budget talk tomorrow"),
        ("yesterday 18:00 Budget talk", "past", "yesterday 18:00"),
        ("2025-01-01 10:00 Budget talk", "past", "2025-01-01 10:00"),
    ],
)
def test_a_time_unreadable_or_past_is_refused(
    chat: Chat, text: str, reason: str, read: str
) -> None:
    refused = chat.refused("alice", c.AnnounceMeeting(text), "bad_time")
    assert refused.params == {"reason": reason, "text": read, "timezone": "UTC"}


def test_a_topic_is_required_and_at_most_1000_characters(chat: Chat) -> None:
    for text in ["tomorrow 18:00", "tomorrow", "", "in 2h  "]:
        refused = chat.refused("alice", c.AnnounceMeeting(text), "text_required")
        assert refused.params == {"command": "meeting"}
    refused = chat.refused(
        "alice", c.AnnounceMeeting("tomorrow 18:00 " + "x" * 1001), "text_too_long"
    )
    assert refused.params == {"limit": 1000, "length": 1001}
    announce(chat, "tomorrow 18:00 " + "x" * 1000)


def test_a_meeting_of_another_group_or_none(chat: Chat, other: Chat) -> None:
    theirs = announce(other, by="erin")
    refused = chat.refused("alice", c.CancelMeeting(theirs), "not_in_group")
    assert refused.params == {"kind": "M", "number": theirs}
    refused = chat.refused("alice", c.CancelMeeting(99), "no_such_meeting")
    assert refused.params == {"number": 99}
    assert other.get(Meeting, theirs).group_id == OTHER


def test_after_long_downtime_the_day_reminder_is_dropped_and_the_hour_one_sent_late(
    chat: Chat,
) -> None:
    announce(chat)
    # the bot was down from before the day reminder until 2 hours before the meeting:
    # 2 of the 24 hours left, less than half: dropped, and done
    assert chat.advance(hours=28) == []
    assert timers(chat, 1) == [(DAY_BEFORE, "done"), (HOUR_BEFORE, "pending")]
    # down again over the hour reminder, back 10 minutes after it: 50 of 60 minutes left
    assert chat.advance(hours=1, minutes=10) == [reminder(late=True)]
    assert chat.advance(days=1) == []


@pytest.mark.parametrize(
    ("back", "sent"),
    [
        (HOUR_BEFORE + timedelta(minutes=30), True),  # half the hour left: still sent, late
        (HOUR_BEFORE + timedelta(minutes=31), False),  # less than half
        (AT, False),  # the meeting has begun
        (AT + timedelta(hours=2), False),
    ],
)
def test_the_hour_reminder_needs_half_its_lead_left(chat: Chat, back: datetime, sent: bool) -> None:
    announce(chat)
    assert chat.advance(hours=6) == [reminder()]
    chat.clock.set(back)  # the bot was down over the hour reminder
    assert chat.engine.run_due_timers() == ([reminder(late=True)] if sent else [])
    assert timers(chat, 1) == [(DAY_BEFORE, "done"), (HOUR_BEFORE, "done")]
