"""Wording: every refusal has its own sentence in every shipped language, and user text
is escaped wherever the platform reads markup."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot import render
from bot.i18n import available_locales, get_translator
from deliberation import events as e
from deliberation.errors import CODES, DomainError
from deliberation.tally import Tally, Verdict

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <b>'

PARAMS = {
    "bad_id": {"kind": "P", "given": "X1"},
    "no_such_proposal": {"number": 3},
    "no_such_amendment": {"number": 3},
    "no_such_clause": {"number": 3},
    "not_in_group": {"kind": "P", "number": 3},
    "ambiguous_proposal": {"phase": ("consent",), "numbers": (1, 2)},
    "no_open_proposal": {"phase": ("amendment",)},
    "wrong_phase": {"number": 3, "phase": "amendment", "expected": ("consent",)},
    "not_mediator": {"command": "next"},
    "not_member": {},
    "not_author": {"kind": "P", "number": 3},
    "not_objector": {"number": 3},
    "no_position": {"number": 3},
    "reason_required": {"command": "object"},
    "text_required": {"command": "propose"},
    "text_too_long": {"limit": 3000, "length": 4000},
    "passage_not_found": {"passage": HOSTILE},
    "passage_ambiguous": {"passage": "a", "count": 2},
    "passage_same": {},
    "amendment_closed": {"number": 3, "status": "applied"},
    "own_amendment": {"number": 3},
    "clause_not_active": {"number": 3, "status": "repealed"},
    "unknown_setting": {"key": HOSTILE, "known": ("rule", "quorum")},
    "bad_setting_value": {"key": "rule", "expected": "consent | majority"},
    "bad_language": {"language": "xx", "known": ("en", "es")},
    "already_mediator": {"person": "bob"},
    "not_a_mediator": {"person": "bob"},
    "stale": {},
    "group_only": {},
    "private_only": {"command": "remind"},
    "bad_button": {},
    "bad_time": {"reason": "past", "text": "yesterday", "timezone": "Europe/Madrid"},
    "bad_duration": {"text": "forever"},
    "nothing_scheduled": {"number": 3},
    "renewal_open": {"clause": 2, "proposal": 7},
    "no_such_meeting": {"number": 3},
    "meeting_over": {"number": 3, "status": "held"},
    "no_alliance": {},
    "which_alliance": {"numbers": (1, 2)},
    "no_such_alliance": {"number": 3},
    "not_in_alliance": {"number": 3},
    "bad_invite": {},
    "already_in_alliance": {"number": 3, "name": HOSTILE},
    "bad_alliance_setting": {"key": "min_parties", "expected": "all, 1-50"},
}


def reader(locale: str = "en", html: bool = False) -> render.Reader:
    markup = render.HtmlMarkup() if html else render.Markup()
    return render.Reader(tr=get_translator(locale), timezone="UTC", now=NOW, markup=markup)


def test_every_error_code_has_parameters_here() -> None:
    assert set(PARAMS) == set(CODES)


@pytest.mark.parametrize("locale", available_locales())
@pytest.mark.parametrize("code", sorted(CODES))
def test_every_error_has_its_own_sentence(code: str, locale: str) -> None:
    fallback = render.error(reader(locale), DomainError("stale"))
    text = render.error(reader(locale), DomainError(code, **PARAMS[code]))
    assert text and "{" not in text
    if code != "stale":
        assert text != fallback


EVENTS: list[e.Event] = [
    e.ProposalOpened("g", 1, "new", HOSTILE, HOSTILE, "amendment", NOW + timedelta(days=2)),
    e.ProposalOpened("g", 2, "repeal", HOSTILE, HOSTILE, "consent", NOW, clause=1, reason=HOSTILE),
    e.AmendmentProposed("g", 1, 1, HOSTILE, HOSTILE, HOSTILE, None),
    e.AmendmentProposed("g", 2, 1, HOSTILE, None, None, HOSTILE),
    e.AmendmentVoted("g", 1, 1, HOSTILE, True, 1, 0),
    e.AmendmentAccepted("g", 1, 1, HOSTILE, 2, HOSTILE),
    e.ConsentOpened(
        "g",
        1,
        1,
        "new",
        HOSTILE,
        2,
        NOW,
        applied=(e.AppliedAmendment(1, HOSTILE, 2),),
        conflicts=(e.ConflictingAmendment(2, HOSTILE, "passage_missing"),),
        not_passed=(3,),
    ),
    e.PositionStated("g", 1, HOSTILE, "object", HOSTILE, "consent", Tally(1, 0, 1, 0)),
    e.Decided(
        "g",
        1,
        "new",
        Verdict.ADOPTED,
        Tally(2, 1, 0, 0),
        3,
        "consent",
        concerns=(e.Statement(HOSTILE, HOSTILE),),
        clause=1,
        clause_version=1,
        next_review=date(2027, 11, 24),
        chain_head="ab" * 32,
    ),
    e.Decided(
        "g",
        1,
        "new",
        Verdict.OBJECTED,
        Tally(1, 0, 1, 0),
        3,
        "consent",
        objections=(e.Statement(HOSTILE, HOSTILE),),
    ),
    e.Decided("g", 1, "new", Verdict.NO_QUORUM, Tally(1, 0, 0, 0), 9, "consent"),
    e.Resolved("g", 1, 2, (HOSTILE,), NOW, HOSTILE),
    e.ObjectionWithdrawn("g", 1, HOSTILE, 0),
    e.ProposalEnded("g", 1, "withdrawn", HOSTILE),
    e.SettingChanged("g", "rule", HOSTILE),
    e.MediatorChanged("g", HOSTILE, True, HOSTILE),
    e.MeetingAnnounced("g", 1, NOW + timedelta(days=2), HOSTILE, HOSTILE, (NOW,)),
    e.MeetingReminder("g", 1, NOW + timedelta(hours=1), HOSTILE, late=True),
    e.MeetingCancelled("g", 1, HOSTILE, NOW + timedelta(days=2), HOSTILE),
    e.AllianceCreated("g", 1, HOSTILE, HOSTILE, NOW + timedelta(days=7)),
    e.InviteCreated("g", 1, HOSTILE, HOSTILE, NOW + timedelta(days=7)),
    e.InvitesRevoked("g", 1, HOSTILE, 2),
    e.AllianceJoined("g", 1, HOSTILE, HOSTILE, "matrix", (HOSTILE, HOSTILE)),
    e.AllianceLeft("g", 1, HOSTILE, HOSTILE, (HOSTILE,), (3,)),
    e.AllianceSettingChanged("g", 1, HOSTILE, "rule", "majority", HOSTILE),
    e.ProposalOpened(
        "g", 3, "new", HOSTILE, HOSTILE, "amendment", NOW, alliance=HOSTILE, parties=(HOSTILE,)
    ),
    e.AmendmentProposed("g", 4, 3, HOSTILE, None, None, HOSTILE, origin=HOSTILE),
    e.ConsentOpened("g", 3, 1, "new", HOSTILE, 1, NOW, alliance=HOSTILE),
    e.Decided(
        "g",
        3,
        "new",
        Verdict.OBJECTED,
        Tally(1, 0, 1, 0),
        3,
        "consent",
        alliance=e.AllianceOutcome(
            1,
            HOSTILE,
            "objected",
            2,
            (
                e.PartyOutcome(
                    HOSTILE, "objected", Tally(1, 0, 1, 0), (e.Statement(HOSTILE, HOSTILE),)
                ),
            ),
        ),
    ),
]


@pytest.mark.parametrize("locale", available_locales())
@pytest.mark.parametrize("event", EVENTS, ids=lambda ev: type(ev).__name__)
def test_user_text_is_escaped_for_html_platforms(event: e.Event, locale: str) -> None:
    html = render.event(reader(locale, html=True), event)
    plain = render.event(reader(locale), event)
    assert "<script>" not in html
    # Wherever the user's text appears, plain platforms show it exactly as written and
    # HTML platforms show it escaped.
    assert ("&lt;script&gt;" in html) == ("<script>" in plain)


def test_unnamed_groups_show_no_name_in_position_replies() -> None:
    event = e.PositionStated("g", 1, "bob", "object", "why", None, None, named=False)
    text = render.event(reader(), event)
    assert "bob" not in text and "P1" in text


def test_hidden_counts_are_not_shown() -> None:
    event = e.PositionStated("g", 1, "bob", "consent", None, None, None)
    assert "Tally" not in render.event(reader(), event)


def test_a_private_reminder_names_the_group_and_escapes_user_text() -> None:
    event = e.ConsentReminder(
        "telegram:-100", 4, NOW + timedelta(hours=1), 1, 3, 2, title=HOSTILE, text=HOSTILE
    )
    html = render.private_reminder(reader(html=True), event)
    assert "<script>" not in html and "&lt;script&gt;" in html
    plain = render.private_reminder(reader(), event)
    assert plain.splitlines()[0] == (
        f"⏰ Reminder: the consent round on P4 in {HOSTILE} closes in 1 hour "
        "(Nov 24, 2026, 1:00\u202fPM), and you have not stated a position yet."
    )
    unnamed = render.private_reminder(reader(), e.ConsentReminder("g", 4, NOW, 1, 3, 2, title="g"))
    assert "in one of your groups" in unnamed and "“" not in unnamed


def test_reminders_set_is_confirmed() -> None:
    on = render.event(reader(), e.RemindersSet("telegram:12", "bob", True))
    off = render.event(reader(), e.RemindersSet("telegram:12", "bob", False))
    assert "/remind off" in on and on != off
