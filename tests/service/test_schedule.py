"""Scheduled rounds (SPEC section 3, ``/schedule <P> <amendment|consent> <when> [for <d>]``).

A consent round scheduled during the amendment phase opens at that time (the amendment
phase lasts until then); after objections a mediator schedules a new amendment or consent
round. Scheduling again moves it; ``cancel`` drops it. Times are read in the group's time
zone and languages.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deliberation import commands as c
from deliberation import events as e
from deliberation.settings import Defaults
from deliberation.tally import Verdict
from tests.service.conftest import START, Chat

TEXT = "We share the boat on Sundays"


def schedule(chat: Chat, number: int, phase: str | None, when: str = "", **kw: str) -> e.Event:
    (event,) = chat.do("alice", c.Schedule(number, phase, when, kw.get("duration")))
    return event


def objected(chat: Chat) -> int:
    """A proposal whose consent round closed on an objection (at START + 72 h)."""
    number = chat.consent_open("alice", TEXT)
    chat.state(number, bob="object:not on Sundays", carol="consent")
    (decided,) = chat.advance(hours=72)
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.OBJECTED
    return number


def test_a_consent_round_opens_when_scheduled_for_as_long_as_asked(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)  # the amendment phase would close at START + 48 h
    amendment = chat.amend("bob", number, text=TEXT + ", from noon")
    chat.support(amendment, "carol")
    event = schedule(chat, number, "consent", "2026-11-25 18:00", duration="24h")
    opens = datetime(2026, 11, 25, 18, tzinfo=UTC)
    assert event == e.RoundScheduled(
        group=chat.group,
        proposal=number,
        phase="consent",
        opens_at=opens,
        closes_at=opens + timedelta(hours=24),
        by="alice",
    )
    assert chat.advance(hours=29, minutes=59) == []
    (opened,) = chat.advance(minutes=1)
    assert isinstance(opened, e.ConsentOpened) and not opened.late
    assert opened.closes_at == opens + timedelta(hours=24)
    assert [a.amendment for a in opened.applied] == [amendment]  # amendments closed then
    chat.state(number, bob="consent", carol="consent")
    (decided,) = chat.advance(hours=24)  # the old close (START + 48 h) passed unnoticed
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.ADOPTED
    assert chat.advance(days=10) == []


def test_scheduling_again_moves_the_round(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    schedule(chat, number, "consent", "in 2h")
    moved = schedule(chat, number, "consent", "in 5h")
    assert isinstance(moved, e.RoundScheduled) and moved.opens_at == START + timedelta(hours=5)
    assert chat.advance(hours=4, minutes=59) == []
    (opened,) = chat.advance(minutes=1)
    assert isinstance(opened, e.ConsentOpened)
    assert opened.closes_at == START + timedelta(hours=5 + 72)  # the group's consent hours


def test_scheduling_back_to_a_time_used_before_works(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    schedule(chat, number, "consent", "in 2h")
    schedule(chat, number, "consent", "in 3h")
    schedule(chat, number, "consent", "in 2h")
    (opened,) = chat.advance(hours=2)
    assert isinstance(opened, e.ConsentOpened)


def test_cancelling_gives_the_amendment_phase_its_own_length_back(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    schedule(chat, number, "consent", "in 4 days")
    cancelled = schedule(chat, number, None)
    assert cancelled == e.ScheduleCancelled(
        group=chat.group,
        proposal=number,
        phase="consent",
        by="alice",
        closes_at=START + timedelta(hours=48),
    )
    (opened,) = chat.advance(hours=48)
    assert isinstance(opened, e.ConsentOpened)
    later = chat.advance(days=2)  # the cancelled time passes: only the round's reminder
    assert [type(ev) for ev in later] == [e.ConsentReminder]


def test_cancelling_after_the_own_length_passed_closes_the_phase_now(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    schedule(chat, number, "consent", "in 4 days")
    assert chat.advance(hours=50) == []
    cancelled = schedule(chat, number, None)
    assert isinstance(cancelled, e.ScheduleCancelled)
    assert cancelled.closes_at == START + timedelta(hours=50)
    (opened,) = chat.advance(seconds=0)
    assert isinstance(opened, e.ConsentOpened)


def test_a_new_amendment_round_after_objections_opens_as_scheduled(chat: Chat) -> None:
    number = objected(chat)
    schedule(chat, number, "amendment", "in 2 days", duration="24h")
    assert chat.advance(days=1, hours=23) == []
    (resolved,) = chat.advance(hours=1)
    assert resolved == e.Resolved(
        group=chat.group,
        proposal=number,
        round=2,
        objectors=("bob",),
        closes_at=chat.clock.now() + timedelta(hours=24),
        by=None,
    )
    chat.amend("bob", number, text=TEXT + ", from noon")


def test_a_new_consent_round_after_objections_opens_as_scheduled(chat: Chat) -> None:
    number = objected(chat)
    schedule(chat, number, "consent", "in 1 day", duration="48h")
    (opened,) = chat.advance(days=1)
    assert isinstance(opened, e.ConsentOpened)
    assert (opened.round, opened.reopened, opened.text) == (2, True, TEXT)
    chat.state(number, bob="consent", carol="consent")
    (decided,) = chat.advance(hours=48)
    assert isinstance(decided, e.Decided) and decided.verdict is Verdict.ADOPTED


def test_a_scheduled_round_holds_off_expiry_and_cancelling_restores_it(chat: Chat) -> None:
    number = objected(chat)  # would expire 14 days after the objection
    schedule(chat, number, "consent", "in 20 days")
    assert chat.advance(days=15) == []
    schedule(chat, number, None)
    (ended,) = chat.advance(seconds=0)
    assert isinstance(ended, e.ProposalEnded) and ended.how == "expired"
    assert chat.advance(days=10) == []  # the cancelled round does not open


def test_resolving_by_hand_drops_the_scheduled_round(chat: Chat) -> None:
    number = objected(chat)
    schedule(chat, number, "consent", "in 3 days")
    (resolved,) = chat.do("alice", c.Resolve(number))
    assert isinstance(resolved, e.Resolved) and resolved.by == "alice"
    (opened,) = chat.advance(days=3)  # the amendment round's own close, not the schedule
    assert isinstance(opened, e.ConsentOpened) and not opened.reopened


def test_an_omitted_id_means_the_one_proposal_that_can_be_scheduled(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    event = schedule(chat, None, "consent", "in 1h")  # type: ignore[arg-type]
    assert isinstance(event, e.RoundScheduled) and event.proposal == number


@pytest.mark.parametrize(
    ("who", "command", "code"),
    [
        ("bob", c.Schedule(1, "consent", "in 2h"), "not_mediator"),
        ("alice", c.Schedule(1, "consent", "yesterday 10:00"), "bad_time"),
        ("alice", c.Schedule(1, "consent", "2020-01-01 10:00"), "bad_time"),
        ("alice", c.Schedule(1, "consent", "when the cows come home"), "bad_time"),
        ("alice", c.Schedule(1, "consent", "in 2h", "forever"), "bad_duration"),
        ("alice", c.Schedule(1, "consent", "in 2h", "400d"), "bad_duration"),
        ("alice", c.Schedule(1, "amendment", "in 2h"), "wrong_phase"),  # amendments are open
        ("alice", c.Schedule(1, None), "nothing_scheduled"),
        ("alice", c.Schedule(9, "consent", "in 2h"), "no_such_proposal"),
    ],
)
def test_refused_and_nothing_changes(chat: Chat, who: str, command: c.Schedule, code: str) -> None:
    assert chat.propose("alice", TEXT) == 1
    refusal = chat.refused(who, command, code)
    if code == "bad_time":
        assert refusal.params["timezone"] == "UTC"


def test_a_running_consent_round_cannot_be_scheduled(chat: Chat) -> None:
    number = chat.consent_open("alice", TEXT)
    chat.refused("alice", c.Schedule(number, "consent", "in 2h"), "wrong_phase")


@pytest.fixture
def defaults(request: pytest.FixtureRequest) -> Defaults:
    locale, zone = getattr(request, "param", ("en", "UTC"))
    return Defaults(locale=locale, timezone=zone)


@pytest.mark.parametrize(
    ("defaults", "when", "local"),
    [
        (("es", "Europe/Madrid"), "mañana a las 18:00", datetime(2026, 11, 25, 18)),
        (("fr", "Europe/Paris"), "demain à 18h00", datetime(2026, 11, 25, 18)),
        (("de", "Europe/Berlin"), "morgen um 18:00", datetime(2026, 11, 25, 18)),
        (("pt", "America/Sao_Paulo"), "amanhã às 18:00", datetime(2026, 11, 25, 18)),
        (("ru", "Europe/Moscow"), "завтра в 18:00", datetime(2026, 11, 25, 18)),
        (("en", "Asia/Tokyo"), "tomorrow 18:00", datetime(2026, 11, 25, 18)),
        (("en", "America/New_York"), "2026-12-01 18:00", datetime(2026, 12, 1, 18)),
    ],
    indirect=["defaults"],
)
def test_times_in_the_groups_language_and_zone(
    chat: Chat, defaults: Defaults, when: str, local: datetime
) -> None:
    from zoneinfo import ZoneInfo

    number = chat.propose("alice", TEXT)
    event = schedule(chat, number, "consent", when)
    assert isinstance(event, e.RoundScheduled)
    assert event.opens_at == local.replace(tzinfo=ZoneInfo(defaults.timezone)).astimezone(UTC)


@pytest.mark.parametrize("defaults", [("en", "Europe/Madrid")], indirect=True)
def test_daylight_saving_in_madrid(chat: Chat, defaults: Defaults) -> None:
    """2027-03-28 02:30 does not exist in Madrid (clocks go 02:00 -> 03:00): it is 03:30
    CEST. "in 2h" is elapsed time whatever the clocks do."""
    number = chat.propose("alice", TEXT)
    skipped = schedule(chat, number, "consent", "2027-03-28 02:30")
    assert isinstance(skipped, e.RoundScheduled)
    assert skipped.opens_at == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    chat.clock.set(datetime(2027, 3, 28, 0, 30, tzinfo=UTC))  # 01:30 CET, before the change
    elapsed = schedule(chat, number, "consent", "in 2h")
    assert isinstance(elapsed, e.RoundScheduled)
    assert elapsed.opens_at == datetime(2027, 3, 28, 2, 30, tzinfo=UTC)  # 04:30 CEST
