"""Group settings, mediators, and the numbers P/A/C."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from deliberation import commands as c
from deliberation import events as e
from deliberation.model import Group, Mediator
from deliberation.settings import SETTINGS, lead_times
from tests.service.conftest import START, Chat

# key -> (value typed, value stored on the group, value shown in the event)
GOOD = {
    "rule": [("majority", "majority", "majority"), (" supermajority ", "supermajority", None)],
    "quorum": [("0.25", "0.25", "0.25"), ("75%", "0.75", "0.75"), ("1", "1", "1")],
    "quorum_min": [("1", 1, "1"), ("100000", 100000, "100000")],
    "amendment_hours": [("0", 0.0, "0"), ("12.5", 12.5, "12.5"), ("8760", 8760.0, "8760")],
    "consent_hours": [("0.1", 0.1, "0.1"), ("24", 24.0, "24")],
    "review_months": [("1", 1, "1"), ("120", 120, "120")],
    "on_expiry": [("keep", "keep", "keep"), ("lapse", "lapse", "lapse")],
    "expire_days": [("1", 1, "1"), ("3650", 3650, "3650")],
    "named_votes": [("off", False, "off"), ("YES", True, "on"), ("0", False, "off")],
    "show_tally": [("after_vote", "after_vote", None), ("after_close", "after_close", None)],
    "public": [("on", True, "on"), ("false", False, "off")],
    "timezone": [
        ("Europe/Madrid", "Europe/Madrid", None),
        ("america/sao_paulo", "America/Sao_Paulo", None),
    ],
    "reminders_before_close": [
        ("48h 2h", "48h 2h", None),
        ("1h, 24h", "24h 1h", None),  # longest first
        ("90 min 1 day", "1d 90m", None),
        ("2w 3d 1d 12h 30m", "14d 3d 1d 12h 30m", None),
        ("none", "none", None),
        ("Off", "none", None),
    ],
    "renewal_reminders": [("30d, 7d, 1d", "30d 7d 1d", None), ("60d", "60d", None)],
    # the engine keeps the form; which languages ship is the router's check (/grouplang)
    "languages": [("en ja", "en ja", None), ("es, pt_BR", "es pt_BR", None)],
}

BAD = {
    "rule": ["unanimity", "", "Majority"],
    "quorum": ["0", "-0.5", "1.5", "150%", "half", "2/3", "nan", "inf", ""],
    "quorum_min": ["0", "-1", "1.5", "100001", "two", ""],
    "amendment_hours": ["-1", "8761", "nan", "inf", "soon"],
    "consent_hours": ["0", "0.09", "8761", "-inf"],
    "review_months": ["0", "121", "6.5"],
    "on_expiry": ["delete", "Keep"],
    "expire_days": ["0", "3651", "1e3"],
    "named_votes": ["maybe", "2", ""],
    "show_tally": ["never", "LIVE"],
    "public": ["public", ""],
    "timezone": ["Mars/Olympus", "../etc/passwd", "CET+1", ""],
    "languages": ["", "en en", "en es fr de it ja", "en <b>", "x" * 17],
    "reminders_before_close": [
        "soon",
        "1h 1h",  # the same lead twice
        "60m 1h",  # the same lead, written two ways
        "6h 5h 4h 3h 2h 1h",  # more than five
        "0h",
        "30s",  # less than a minute
        "400d",  # more than a year
        "none 1h",
        "",
    ],
    "renewal_reminders": ["monthly", "7d 7d", "-1d"],
}


def test_every_setting_is_covered() -> None:
    assert set(GOOD) == set(SETTINGS) == set(BAD)


@pytest.mark.parametrize(
    ("key", "typed", "stored", "shown"),
    [(key, *value) for key, values in GOOD.items() for value in values],
)
def test_a_good_value_is_stored(
    chat: Chat, key: str, typed: str, stored: object, shown: str | None
) -> None:
    changed = chat.one("alice", c.ChangeSetting(key, typed), e.SettingChanged)
    assert changed.key == key
    assert changed.value == (shown if shown is not None else str(stored))
    assert getattr(chat.get(Group, chat.group), key) == stored


def test_keys_are_read_case_insensitively(chat: Chat) -> None:
    changed = chat.one("alice", c.ChangeSetting(" Rule ", "majority"), e.SettingChanged)
    assert changed.key == "rule"


@pytest.mark.parametrize(
    ("key", "value"), [(key, value) for key, values in BAD.items() for value in values]
)
def test_a_bad_value_is_refused(chat: Chat, key: str, value: str) -> None:
    chat.engine.register(chat.actor("alice"))
    error = chat.refused("alice", c.ChangeSetting(key, value), "bad_setting_value")
    assert error.params == {"key": key, "expected": SETTINGS[key][1]}


@pytest.mark.parametrize("key", ["colour", "", "member_count", "id", "title"])
def test_an_unknown_key_is_refused(chat: Chat, key: str) -> None:
    chat.engine.register(chat.actor("alice"))
    error = chat.refused("alice", c.ChangeSetting(key, "1"), "unknown_setting")
    assert error.params["known"] == tuple(SETTINGS)


def test_settings_apply_to_phases_opened_afterwards(chat: Chat) -> None:
    before = chat.propose("alice", "one")
    chat.one("alice", c.ChangeSetting("amendment_hours", "1"), e.SettingChanged)
    chat.one("alice", c.ChangeSetting("consent_hours", "2"), e.SettingChanged)
    after = chat.do("alice", c.Propose("two"))[0]
    assert after.closes_at == START + timedelta(hours=1)
    (consent,) = chat.advance(hours=1)
    assert consent.proposal == after.proposal and consent.closes_at == START + timedelta(hours=3)
    (decided,) = chat.advance(hours=2)
    assert isinstance(decided, e.Decided) and decided.proposal == after.proposal
    (consent,) = chat.advance(hours=45)  # the first keeps its 48 h
    assert consent.proposal == before and consent.closes_at == START + timedelta(hours=50)


def test_settings_are_per_group(chat: Chat, other: Chat) -> None:
    chat.one("alice", c.ChangeSetting("rule", "majority"), e.SettingChanged)
    other.engine.register(other.actor("erin"))
    assert chat.get(Group, chat.group).rule == "majority"
    assert chat.get(Group, other.group).rule == "consent"


# -- mediators -------------------------------------------------------------------------


def test_a_mediator_appoints_and_removes_mediators(chat: Chat) -> None:
    number = chat.propose("carol", "We meet weekly")
    chat.refused("bob", c.Next(number), "not_mediator")
    added = chat.one("alice", c.AddMediator("console:bob", "bob"), e.MediatorChanged)
    assert added == e.MediatorChanged(group=chat.group, person="bob", added=True, by="alice")
    mediator = chat.get(Mediator, (chat.group, "console:bob"))
    assert mediator.appointed_by == "console:alice" and mediator.appointed_at == START
    # An appointed mediator has every mediator right, appointing others too.
    assert isinstance(chat.next(number, by="bob"), e.ConsentOpened)
    chat.one("bob", c.AddMediator("console:dave", "dave"), e.MediatorChanged)
    chat.one("bob", c.ChangeSetting("rule", "majority"), e.SettingChanged)
    chat.refused("alice", c.AddMediator("console:bob", "bob"), "already_mediator")

    removed = chat.one("dave", c.RemoveMediator("console:bob", "bob"), e.MediatorChanged)
    assert removed == e.MediatorChanged(group=chat.group, person="bob", added=False, by="dave")
    chat.refused("bob", c.Close(number), "not_mediator")
    error = chat.refused("alice", c.RemoveMediator("console:bob", "bob"), "not_a_mediator")
    assert error.params == {"person": "bob"}
    assert [m.person_id for m in chat.rows(Mediator)] == ["console:dave"]


def test_a_person_not_seen_yet_may_be_appointed(chat: Chat) -> None:
    chat.one("alice", c.AddMediator("console:zoe", "zoe"), e.MediatorChanged)
    assert chat.one("zoe", c.ChangeSetting("public", "on"), e.SettingChanged).value == "on"


def test_a_mediator_of_one_group_is_not_one_of_another(chat: Chat, other: Chat) -> None:
    chat.one("alice", c.AddMediator("console:bob", "bob"), e.MediatorChanged)
    number = other.propose("erin", "Their text")
    other.refused("bob", c.Next(number), "not_mediator")
    other.refused("alice", c.Next(number), "not_mediator", admin=False)


def test_platform_admins_are_mediators_without_appointment(chat: Chat) -> None:
    number = chat.propose("bob", "text")
    assert isinstance(chat.next(number, by="alice"), e.ConsentOpened)
    assert chat.rows(Mediator) == []
    chat.refused("alice", c.Close(number), "not_mediator", admin=False)


# -- numbers ---------------------------------------------------------------------------


def test_numbers_are_unique_in_the_store_and_per_kind(chat: Chat, other: Chat) -> None:
    p1 = chat.propose("alice", "We meet weekly")
    p2 = other.propose("erin", "We meet monthly")
    p3 = chat.propose("bob", "We keep minutes")
    assert (p1, p2, p3) == (1, 2, 3)
    a1 = chat.amend("bob", p1, text="We meet every week")
    a2 = other.amend("frank", p2, text="We meet every month")
    assert (a1, a2) == (1, 2)
    c1 = other.adopt("Their clause", author="erin", voters=("erin", "frank")).clause
    c2 = chat.adopt("Our clause").clause
    assert (c1, c2) == (1, 2)


def test_refused_requests_use_up_no_number(chat: Chat) -> None:
    first = chat.propose("alice", "one")
    chat.refused("alice", c.Propose(""), "text_required")
    chat.refused("bob", c.Amend(first, passage="two", replacement="three"), "passage_not_found")
    assert chat.propose("alice", "two") == first + 1
    assert chat.amend("bob", first, text="uno") == 1


def test_numbers_are_never_reused_even_after_a_row_is_gone(chat: Chat) -> None:
    """AUTOINCREMENT: deleting the newest row (say by hand in the database) frees no number."""
    number = chat.propose("alice", "one")
    amendment = chat.amend("bob", number, text="uno")
    with chat.db.unit_of_work() as uow:
        uow.session.execute(text("DELETE FROM amendments WHERE id = :id"), {"id": amendment})
        uow.commit()
    assert chat.amend("carol", number, text="eins") == amendment + 1
    clause = chat.adopt("A clause").clause
    with chat.db.unit_of_work() as uow:
        for table in ("charter_entries", "clause_versions"):
            uow.session.execute(text(f"DELETE FROM {table} WHERE clause_id = :id"), {"id": clause})
        uow.session.execute(text("UPDATE proposals SET outcome = NULL"))
        uow.session.execute(text("DELETE FROM clauses WHERE id = :id"), {"id": clause})
        uow.commit()
    assert chat.adopt("Another clause").clause == clause + 1


# -- reminder lead times (SPEC section 3) -----------------------------------------------


def test_lead_times_are_read_longest_first() -> None:
    assert lead_times("24h 1h") == (timedelta(hours=24), timedelta(hours=1))
    assert lead_times("1d, 7d , 30d") == (timedelta(days=30), timedelta(days=7), timedelta(days=1))
    assert lead_times("90 min") == (timedelta(minutes=90),)
    assert lead_times("none") == lead_times("OFF") == ()
    for bad in ("", "1h 1h", "1h 60 min", "a b c", "1h 2h 3h 4h 5h 6h", "367d", "1h none"):
        with pytest.raises(ValueError):
            lead_times(bad)


def test_new_groups_take_the_default_lead_times(chat: Chat) -> None:
    chat.engine.register(chat.actor("alice"))
    group = chat.get(Group, chat.group)
    assert (group.reminders_before_close, group.renewal_reminders) == ("24h 1h", "30d 7d 1d")
