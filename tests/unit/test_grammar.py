"""Tests for bot.grammar: every command form, prefixes, @botname, quotes, and robustness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import grammar as g
from bot.grammar import (
    COMMANDS,
    MEDIATOR_COMMANDS,
    Export,
    Help,
    MediatorRequest,
    ShowCharter,
    ShowClause,
    ShowSettings,
    ShowStatus,
    Start,
    UnknownCommand,
    UsageError,
    parse,
)
from deliberation.commands import (
    AcceptAmendment,
    AllianceSetting,
    Amend,
    AnnounceMeeting,
    CancelMeeting,
    ChangeSetting,
    Close,
    CreateAlliance,
    InviteToAlliance,
    JoinAlliance,
    LeaveAlliance,
    Next,
    ProposalKind,
    Propose,
    Renew,
    Repeal,
    Resolve,
    RevokeInvites,
    SetLanguage,
    SetReminders,
    Stance,
    StatePosition,
    Translate,
    VoteAmendment,
    Withdraw,
)
from deliberation.errors import DomainError


def usage(text: str, prefix: str = "/") -> str:
    with pytest.raises(UsageError) as info:
        parse(text, prefix)
    return info.value.command


def bad_id(text: str) -> dict:
    with pytest.raises(DomainError) as info:
        parse(text)
    assert info.value.code == "bad_id"
    return info.value.params


# -- not a command ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "   ", "hello", "hello /help", "/", "  /  ", "/ help", "//", "!!!", "/@bot", "/-x", "/1"],
)
def test_not_a_command(text: str) -> None:
    assert parse(text) is None


def test_other_prefix_is_plain_text() -> None:
    assert parse("/help", "!") is None
    assert parse("!help") is None


def test_leading_whitespace_and_case() -> None:
    assert parse("  \n /HELP") == Help()
    assert parse("/Charter") == ShowCharter()


def test_unknown_command() -> None:
    with pytest.raises(UnknownCommand) as info:
        parse("/frobnicate now")
    assert info.value.name == "frobnicate"
    with pytest.raises(UnknownCommand) as info:
        parse("!Frobnicate", "!")
    assert info.value.name == "frobnicate"


# -- prefixes and @botname -------------------------------------------------------------------


def test_matrix_prefix() -> None:
    assert parse("!propose Be kind", "!") == Propose("Be kind")
    assert parse("!consent P3", "!") == StatePosition(3, Stance.CONSENT)
    assert parse("!", "!") is None


def test_multi_character_prefix() -> None:
    assert parse("!!status P2", "!!") == ShowStatus(2)
    assert parse("!status", "!!") is None


def test_botname_rules() -> None:
    assert parse("/help@CharterBot", bot_username="charterbot") == Help()
    assert parse("/help@charterbot", bot_username="@CharterBot") == Help()
    assert parse("/help@otherbot", bot_username="charterbot") is None
    assert parse("/frobnicate@otherbot", bot_username="charterbot") is None
    assert parse("/help@anybot") == Help()
    assert parse("/propose@charterbot Be kind", bot_username="charterbot") == Propose("Be kind")
    with pytest.raises(UnknownCommand) as info:
        parse("/frob@charterbot", bot_username="charterbot")
    assert info.value.name == "frob"


# -- propose ---------------------------------------------------------------------------------


def test_propose() -> None:
    assert parse("/propose We meet on Mondays.") == Propose("We meet on Mondays.")
    assert parse("/propose --change C3 Meet on Tuesdays") == Propose(
        "Meet on Tuesdays", kind=ProposalKind.CHANGE, clause=3
    )
    assert parse("/propose --change 3 x") == Propose("x", kind=ProposalKind.CHANGE, clause=3)
    assert parse("/propose \u2014change C3 x") == Propose("x", kind=ProposalKind.CHANGE, clause=3)
    assert parse("/propose \u2014 a dash first") == Propose("\u2014 a dash first")
    assert parse("/propose \u2014Everyone helps") == Propose("\u2014Everyone helps")


def test_propose_multiline_keeps_inner_newlines() -> None:
    text = "/propose\n  First line.\n\nSecond paragraph.\n  "
    assert parse(text) == Propose("First line.\n\nSecond paragraph.")
    assert parse("/propose --change C2\nline one\nline two") == Propose(
        "line one\nline two", kind=ProposalKind.CHANGE, clause=2
    )


@pytest.mark.parametrize(
    "text",
    ["/propose", "/propose   \n ", "/propose --change C3", "/propose --change",
     "/propose --frobnicate x", "/propose --frobnicate=x y", "/propose --change=", "/propose --alliance",
     "/propose --alliance   ", "/propose --alliance L2", "/propose --alliance=L2",
     "/propose --alliance=", "/propose --alliance= text", "/propose --alliance --change C3 x",
     "/propose --alliance=L2 --change C3 x", "/propose \u2014alliance"],
)  # fmt: skip
def test_propose_usage(text: str) -> None:
    assert usage(text) == "propose"


def test_propose_change_bad_clause_id() -> None:
    assert bad_id("/propose --change P3 text") == {"kind": "C", "given": "P3"}
    assert bad_id("/propose --change=P3 text") == {"kind": "C", "given": "P3"}


def test_propose_change_with_equals() -> None:
    assert parse("/propose --change=C3 Meet on Tuesdays") == Propose(
        "Meet on Tuesdays", kind=ProposalKind.CHANGE, clause=3
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/propose --alliance We all agree", Propose("We all agree", allied=True)),
        ("/propose --Alliance We all agree", Propose("We all agree", allied=True)),
        ("/propose \u2014alliance We all agree", Propose("We all agree", allied=True)),
        ("/propose --alliance=L2 We all agree", Propose("We all agree", allied=True, alliance=2)),
        ("/propose --alliance=l2 We all agree", Propose("We all agree", allied=True, alliance=2)),
        ("/propose --alliance=2 We all agree", Propose("We all agree", allied=True, alliance=2)),
        ("/propose --alliance L2 We all agree", Propose("We all agree", allied=True, alliance=2)),
        ("/propose --alliance L2: We all agree", Propose("We all agree", allied=True, alliance=2)),
        ("/propose --alliance l12\nline one\nline two",
         Propose("line one\nline two", allied=True, alliance=12)),
        # a plain number after --alliance is the text's: only L<n> names an alliance there
        ("/propose --alliance 2 boats per family", Propose("2 boats per family", allied=True)),
        ("/propose --alliance L2x is a name", Propose("L2x is a name", allied=True)),
        ("!propose --alliance=L3 Be kind", Propose("Be kind", allied=True, alliance=3)),
    ],
)  # fmt: skip
def test_propose_to_an_alliance(text: str, expected: Propose) -> None:
    assert parse(text, text[0]) == expected


def test_propose_to_an_alliance_bad_id() -> None:
    assert bad_id("/propose --alliance=P2 text") == {"kind": "L", "given": "P2"}
    assert bad_id("/propose --alliance=Coastal text") == {"kind": "L", "given": "Coastal"}


# -- amend -----------------------------------------------------------------------------------


def test_amend_full_text() -> None:
    assert parse("/amend P12 We meet on Tuesdays.") == Amend(12, text="We meet on Tuesdays.")
    assert parse("/amend 12 line1\nline2") == Amend(12, text="line1\nline2")
    assert parse("/amend We meet on Tuesdays.") == Amend(None, text="We meet on Tuesdays.")
    assert parse("/amend P12: new text") == Amend(12, text="new text")


def test_amend_replace() -> None:
    assert parse('/amend P12 replace "Mondays" with "Tuesdays"') == Amend(
        12, passage="Mondays", replacement="Tuesdays"
    )
    assert parse('/amend REPLACE "Mondays" WITH "Tuesdays"') == Amend(
        None, passage="Mondays", replacement="Tuesdays"
    )
    assert parse('/amend 4 replace " very" with ""') == Amend(4, passage=" very", replacement="")
    assert parse('/amend 4 replace "a\nb" with "c\nd"') == Amend(
        4, passage="a\nb", replacement="c\nd"
    )
    assert parse('/amend 4 replace "say "hi"" with "say "hello""') == Amend(
        4, passage='say "hi"', replacement='say "hello"'
    )


@pytest.mark.parametrize(
    ("text", "passage", "replacement"),
    [
        ("/amend 1 replace \u201cMondays\u201d with \u201cTuesdays\u201d", "Mondays", "Tuesdays"),
        ("/amend 1 replace \u201eMontag\u201c with \u201eDienstag\u201c", "Montag", "Dienstag"),
        ("/amend 1 replace \u00ablundi\u00bb with \u00abmardi\u00bb", "lundi", "mardi"),
        ("/amend 1 replace \u00ab lundi \u00bb with \u00ab mardi \u00bb", "lundi", "mardi"),
        ("/amend 1 replace \u00ab\u00a0lundi\u00a0\u00bb with \u00ab\u00bb", "lundi", ""),
        ("/amend 1 replace \u201ea\u201d with \u201db\u201d", "a", "b"),
    ],
)
def test_amend_typographic_quotes(text: str, passage: str, replacement: str) -> None:
    assert parse(text) == Amend(1, passage=passage, replacement=replacement)


@pytest.mark.parametrize(
    "text",
    ["/amend", "/amend P12", "/amend 12  \n", '/amend P12 replace "Mondays"',
     '/amend P12 replace "Mondays" by "Tuesdays"', '/amend replace "a" with "b" please',
     '/amend 1 replace "" with "x"', '/amend 1 replace "a" with "', '/amend 1 replace "'],
)  # fmt: skip
def test_amend_usage(text: str) -> None:
    assert usage(text) == "amend"


def test_amend_text_mentioning_replace_is_a_full_text() -> None:
    assert parse("/amend 2 replace the chair every year") == Amend(
        2, text="replace the chair every year"
    )


# -- amendments: support, oppose, accept -----------------------------------------------------


def test_votes_on_amendments() -> None:
    assert parse("/support A3") == VoteAmendment(3, support=True)
    assert parse("/support 3") == VoteAmendment(3, support=True)
    assert parse("/oppose a7") == VoteAmendment(7, support=False)
    assert parse("/accept A9") == AcceptAmendment(9)


@pytest.mark.parametrize("command", ["support", "oppose", "accept"])
def test_amendment_usage_and_bad_id(command: str) -> None:
    assert usage(f"/{command}") == command
    assert usage(f"/{command} A3 great") == command
    assert bad_id(f"/{command} P3") == {"kind": "A", "given": "P3"}
    assert bad_id(f"/{command} three")["kind"] == "A"


# -- positions -------------------------------------------------------------------------------


def test_positions() -> None:
    assert parse("/consent P12") == StatePosition(12, Stance.CONSENT)
    assert parse("/consent") == StatePosition(None, Stance.CONSENT)
    assert parse("/abstain 4") == StatePosition(4, Stance.ABSTAIN)
    assert parse("/concern P2") == StatePosition(2, Stance.CONCERN)
    assert parse("/concern P2 it is costly") == StatePosition(2, Stance.CONCERN, "it is costly")
    assert parse("/concern it is costly") == StatePosition(None, Stance.CONCERN, "it is costly")
    assert parse("/object P2 unsafe\nand unfair") == StatePosition(
        2, Stance.OBJECT, "unsafe\nand unfair"
    )
    assert parse("/object unsafe") == StatePosition(None, Stance.OBJECT, "unsafe")
    assert parse("/object P2") == StatePosition(2, Stance.OBJECT, None)
    assert parse("/object") == StatePosition(None, Stance.OBJECT, None)
    assert parse("/object P2: unsafe") == StatePosition(2, Stance.OBJECT, "unsafe")


@pytest.mark.parametrize("command", ["consent", "abstain"])
def test_positions_without_reason_refuse_more_words(command: str) -> None:
    assert usage(f"/{command} P12 because") == command
    assert usage(f"/{command} yes") == command
    assert bad_id(f"/{command} A12") == {"kind": "P", "given": "A12"}


# -- proposal commands -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "cls"),
    [("withdraw", Withdraw), ("resolve", Resolve), ("next", Next), ("close", Close)],
)
def test_proposal_commands(command: str, cls: type) -> None:
    assert parse(f"/{command} P5") == cls(5)
    assert parse(f"/{command} 5") == cls(5)
    assert parse(f"/{command}") == cls(None)
    assert usage(f"/{command} P5 now") == command
    assert bad_id(f"/{command} C5")["kind"] == "P"


# -- clauses ---------------------------------------------------------------------------------


def test_renew_and_repeal() -> None:
    assert parse("/renew C4") == Renew(4)
    assert parse("/renew 4") == Renew(4)
    assert usage("/renew") == "renew"
    assert bad_id("/renew P4")["kind"] == "C"
    assert parse("/repeal C4 no longer needed\nat all") == Repeal(4, "no longer needed\nat all")
    assert usage("/repeal C4") == "repeal"
    assert usage("/repeal") == "repeal"
    assert bad_id("/repeal A4 why")["kind"] == "C"


# -- read-only requests ----------------------------------------------------------------------


def test_queries() -> None:
    assert parse("/status") == ShowStatus()
    assert parse("/status P3") == ShowStatus(3)
    assert usage("/status P3 now") == "status"
    assert parse("/charter") == ShowCharter()
    assert parse("/charter all") == ShowCharter(everyone=True)  # the people's charter
    assert usage("/charter everything") == "charter"
    assert parse("/clause C2") == ShowClause(2)
    assert parse("/clause 2") == ShowClause(2)
    assert usage("/clause") == "clause"
    assert bad_id("/clause P2")["kind"] == "C"
    assert parse("/start") == Start()
    assert parse("/start deep-link-payload") == Start()


def test_help() -> None:
    assert parse("/help") == Help()
    assert parse("/help amend") == Help("amend")
    assert parse("/help /AMEND") == Help("amend")
    assert parse("!help !amend", "!") == Help("amend")
    assert parse("/help amend@charterbot") == Help("amend")
    assert parse("/help frobnicate") == Help("frobnicate")


def test_export() -> None:
    assert parse("/export") == Export("md")
    assert parse("/export md") == Export("md")
    assert parse("/export JSON") == Export("json")
    assert usage("/export html") == "export"
    assert usage("/export json md") == "export"


# -- settings, mediators, language -----------------------------------------------------------


def test_settings() -> None:
    assert parse("/settings") == ShowSettings()
    assert parse("/settings quorum 0.5") == ChangeSetting("quorum", "0.5")
    assert parse("/settings Rule supermajority") == ChangeSetting("rule", "supermajority")
    assert parse("/settings quorum=0.5") == ChangeSetting("quorum", "0.5")
    assert parse("/settings on_expiry  close  it ") == ChangeSetting("on_expiry", "close  it")
    # a value of several words, also after "="
    assert parse("/settings reminders_before_close 48h 2h") == ChangeSetting(
        "reminders_before_close", "48h 2h"
    )
    assert parse("/settings reminders_before_close=48h, 2h") == ChangeSetting(
        "reminders_before_close", "48h, 2h"
    )
    assert parse("/settings quorum= 0.5") == ChangeSetting("quorum", "0.5")
    assert usage("/settings quorum") == "settings"
    assert usage("/settings quorum=") == "settings"


def test_remind() -> None:
    assert parse("/remind on") == SetReminders(True)
    assert parse("/remind OFF") == SetReminders(False)
    for wrong in ("/remind", "/remind yes", "/remind on please", "/remind P1"):
        assert usage(wrong) == "remind", wrong


def test_mediator() -> None:
    assert parse("/mediator add @alice") == MediatorRequest(add=True, user="@alice")
    assert parse("/mediator REMOVE Bob Smith") == MediatorRequest(add=False, user="Bob Smith")
    assert parse("!mediator add @bob:example.org", "!") == MediatorRequest(
        add=True, user="@bob:example.org"
    )
    # no name: the person whose message this one replies to (the router checks there is one)
    assert parse("/mediator add") == MediatorRequest(add=True, user="")
    for text in ["/mediator", "/mediator list", "/mediator promote @a"]:
        assert usage(text) == "mediator"


def test_lang() -> None:
    assert parse("/lang es") == SetLanguage("es")
    assert parse("/lang pt_BR") == SetLanguage("pt_BR")
    assert parse("/lang xx-nonsense") == SetLanguage("xx-nonsense")
    assert usage("/lang") == "lang"
    assert usage("/lang es fr") == "lang"


def test_meeting() -> None:
    # the time and the topic are told apart by the engine (the group's zone and languages)
    assert parse("/meeting tomorrow 18:00 Budget talk") == AnnounceMeeting(
        "tomorrow 18:00 Budget talk"
    )
    assert parse("/meeting  in 2h  Fishing\nrights ") == AnnounceMeeting("in 2h  Fishing\nrights")
    assert parse("/meeting") == g.ListMeetings()
    assert parse("/meeting cancel M3") == CancelMeeting(3)
    assert parse("/MEETING Cancel 3") == CancelMeeting(3)
    assert "meeting" in MEDIATOR_COMMANDS
    for text in ["/meeting cancel", "/meeting cancel M3 now", "/meeting tomorrow"]:
        assert usage(text) == "meeting"
    with pytest.raises(DomainError) as refused:
        parse("/meeting cancel P3")
    assert refused.value.params == {"kind": "M", "given": "P3"}


# -- alliances ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/alliance", g.ShowAlliances()),
        ("/alliance   ", g.ShowAlliances()),
        ("/ALLIANCE", g.ShowAlliances()),
        ("/alliance L2", g.ShowAlliances(2)),
        ("/alliance settings", g.ShowAlliances()),
        ("/alliance Settings l3", g.ShowAlliances(3)),
        ("/alliance settings 3", g.ShowAlliances(3)),
        ("/alliance create Coastal Fishers", CreateAlliance("Coastal Fishers")),
        ("/alliance CREATE  Coastal\n Fishers ", CreateAlliance("Coastal Fishers")),
        ("/alliance invite", InviteToAlliance()),
        ("/alliance invite L2", InviteToAlliance(2)),
        ("/alliance invite 2", InviteToAlliance(2)),
        ("/alliance invite 2d", InviteToAlliance(None, "2d")),
        ("/alliance invite 2 days", InviteToAlliance(None, "2 days")),
        ("/alliance invite L2 48h", InviteToAlliance(2, "48h")),
        ("/alliance invite l2 2 days", InviteToAlliance(2, "2 days")),
        ("/alliance invite 2 3d", InviteToAlliance(2, "3d")),
        ("/alliance revoke", RevokeInvites()),
        ("/alliance revoke L2", RevokeInvites(2)),
        ("/alliance revoke 2", RevokeInvites(2)),
        ("/alliance join K3x9-ab", JoinAlliance("K3x9-ab")),
        ("/alliance join `K3x9-ab`", JoinAlliance("K3x9-ab")),
        ("/alliance join \u201cK3x9-ab\u201d", JoinAlliance("K3x9-ab")),
        ("/alliance leave", LeaveAlliance()),
        ("/alliance leave L2", LeaveAlliance(2)),
        ("/alliance leave l2.", LeaveAlliance(2)),
        ("/alliance leave 2", LeaveAlliance(2)),
        ("/alliance settings min_parties 2", AllianceSetting("min_parties", "2")),
        ("/alliance settings Rule own", AllianceSetting("rule", "own")),
        ("/alliance settings min_parties=all", AllianceSetting("min_parties", "all")),
        ("/alliance settings L2 rule majority", AllianceSetting("rule", "majority", 2)),
        ("/alliance settings l2 rule=majority", AllianceSetting("rule", "majority", 2)),
        ("/alliance settings 2 min_parties 3", AllianceSetting("min_parties", "3", 2)),
        ("!alliance join K3x9", JoinAlliance("K3x9")),
    ],
)
def test_alliance(text: str, expected: object) -> None:
    assert parse(text, text[0]) == expected


@pytest.mark.parametrize(
    "text",
    ["/alliance create", "/alliance create   \n", "/alliance join", "/alliance join a b",
     "/alliance join ``", "/alliance leave now", "/alliance leave L2 now", "/alliance revoke all",
     "/alliance revoke L2 L3", "/alliance settings rule", "/alliance settings L2 rule",
     "/alliance settings rule=", "/alliance frobnicate", "/alliance list", "/alliance L2 now",
     "/alliance Coastal Fishers"],
)  # fmt: skip
def test_alliance_usage(text: str) -> None:
    assert usage(text) == "alliance"


@pytest.mark.parametrize(
    ("text", "given"),
    [("/alliance leave P2", "P2"), ("/alliance revoke C3", "C3"), ("/alliance invite A2 2d", "A2"),
     ("/alliance settings M1 rule own", "M1")],
)  # fmt: skip
def test_alliance_bad_id(text: str, given: str) -> None:
    assert bad_id(text) == {"kind": "L", "given": given}


def test_alliance_is_a_mediator_command() -> None:
    assert "alliance" in COMMANDS and "alliance" in MEDIATOR_COMMANDS


# -- the command list ------------------------------------------------------------------------


def test_command_list() -> None:
    assert len(set(COMMANDS)) == len(COMMANDS)
    assert tuple(g._HANDLERS) == COMMANDS
    assert {"resolve", "next", "close", "schedule", "settings", "mediator", "timezone"} <= (
        MEDIATOR_COMMANDS
    )
    assert set(COMMANDS) >= MEDIATOR_COMMANDS


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_known(name: str) -> None:
    try:
        parse(f"/{name}")
    except UnknownCommand:  # pragma: no cover - the failure
        pytest.fail(f"{name} is not known")
    except (UsageError, DomainError):
        pass


# -- robustness ------------------------------------------------------------------------------

ALLOWED = (UnknownCommand, UsageError, DomainError)
REQUEST_TYPES = (
    Propose, Amend, VoteAmendment, AcceptAmendment, StatePosition, Withdraw, Resolve, Next,
    Close, Renew, Repeal, ChangeSetting, SetLanguage, SetReminders,
    Help, Start, ShowStatus, ShowCharter, ShowClause, ShowSettings, Export, MediatorRequest,
    AnnounceMeeting, CancelMeeting, g.ListMeetings, Translate, g.ShowAlliances, CreateAlliance,
    InviteToAlliance, RevokeInvites, JoinAlliance, LeaveAlliance, AllianceSetting,
)  # fmt: skip


def check(text: str, prefix: str = "/") -> None:
    try:
        result = parse(text, prefix)
    except ALLOWED:
        return
    assert result is None or isinstance(result, REQUEST_TYPES)


ARG_PIECES = st.sampled_from(
    ["P1", "A2", "C3", "12", "1234567890", "P", "--change", "--alliance", "\u2014change",
     "replace", "with", '"', "\u201c", "\u201d", "\u201e", "\u00ab", "\u00bb", "\n", " ", "=",
     "@bot", "add", "remove", "json", "md", "x", "", ":", "L2", "l1", "--alliance=L2",
     "--alliance=", "create", "invite", "revoke", "join", "leave", "settings", "2d", "days"]
)  # fmt: skip


@settings(max_examples=300)
@given(st.text())
def test_any_text_never_crashes(text: str) -> None:
    check(text)
    check(text, "!")


@settings(max_examples=500)
@given(
    st.sampled_from((*COMMANDS, "frob")),
    st.lists(st.one_of(ARG_PIECES, st.text(max_size=5)), max_size=10),
    st.sampled_from(["/", "!"]),
)
def test_command_with_any_arguments_never_crashes(
    name: str, pieces: list[str], prefix: str
) -> None:
    check(f"{prefix}{name} " + " ".join(pieces), prefix)
    check(f"{prefix}{name}" + "".join(pieces), prefix)


def test_long_replace_input_is_fast() -> None:
    text = '/amend 1 replace "' + '" with "x' * 20_000
    check(text)  # linear: no catastrophic backtracking


def test_timezone_is_a_setting_of_the_group() -> None:
    assert parse("/timezone Europe/Madrid") == ChangeSetting("timezone", "Europe/Madrid")
    for bad in ("/timezone", "/timezone Europe/Madrid now"):
        with pytest.raises(UsageError):
            parse(bad)


def test_schedule_reads_proposal_phase_time_and_duration() -> None:
    from deliberation.commands import Schedule

    assert parse("/schedule P4 consent tomorrow 18:00 for 48h") == Schedule(
        4, "consent", "tomorrow 18:00", "48h"
    )
    assert parse("/schedule 4 Consent 2026-12-01 18:00") == Schedule(
        4, "consent", "2026-12-01 18:00", None
    )
    assert parse("/schedule amendment mañana a las 18:00 FOR 2d") == Schedule(
        None, "amendment", "mañana a las 18:00", "2d"
    )
    assert parse("/schedule P4 cancel") == Schedule(4, None)
    assert parse("/schedule cancel") == Schedule(None, None)
    for bad in (
        "/schedule",
        "/schedule P4",
        "/schedule P4 consent",
        "/schedule P4 vote tomorrow",
        "/schedule P4 cancel now",
    ):
        with pytest.raises(UsageError):
            parse(bad)
