"""Alliances in the shell's words: the alliance events and refusals, an alliance proposal's
outcome, ``/alliance`` and ``/status`` of an alliance proposal, in English."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta

import pytest

from bot import render
from bot.bidi import FSI, PDI, RLM
from bot.i18n import get_translator
from deliberation import events as e
from deliberation import queries as q
from deliberation.errors import DomainError
from deliberation.tally import Tally, Verdict

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <b>'


def reader(locale: str = "en", html: bool = False, prefix: str = "/") -> render.Reader:
    markup = render.HtmlMarkup() if html else render.Markup()
    return render.Reader(get_translator(locale), "UTC", NOW, prefix, markup)


def word(ev: e.Event, **kwargs: object) -> str:
    return render.event(reader(**kwargs), ev)  # type: ignore[arg-type]


def refusal(code: str, **params: object) -> str:
    return render.error(reader(), DomainError(code, **params))


# -- events -------------------------------------------------------------------------------


def test_alliance_created_shows_the_code_and_how_to_join() -> None:
    ev = e.AllianceCreated("g", 1, "Coastal Fishers", "K3X9-AB2C", NOW + timedelta(days=7))
    assert word(ev).splitlines() == [
        "Alliance L1 Coastal Fishers is created, with this group in it.",
        "Invite code for another group: K3X9-AB2C",
        "It works once, until Dec 1, 2026, 12:00\u202fPM (in 1 week): a mediator of the other "
        "group sends /alliance join K3X9-AB2C there.",
        "/alliance revoke L1 cancels the codes not yet used.",
    ]
    matrix = word(ev, prefix="!")
    assert "!alliance join K3X9-AB2C" in matrix and "/alliance" not in matrix


def test_an_invite_code_is_shown_verbatim_and_escaped_for_html() -> None:
    ev = e.AllianceCreated("g", 1, "Fishers <&>", "a<b>&c", NOW + timedelta(days=7))
    html = word(ev, html=True)
    assert html.startswith("<b>Alliance L1 Fishers &lt;&amp;&gt; is created")
    assert "Invite code for another group: <code>a&lt;b&gt;&amp;c</code>" in html
    assert "/alliance join <code>a&lt;b&gt;&amp;c</code>" in html
    assert "a<b>&c" in word(ev)  # plain platforms: exactly as it is


def test_invite_created() -> None:
    ev = e.InviteCreated("g", 2, "Coastal Fishers", "K3X9", NOW + timedelta(days=2))
    assert word(ev).splitlines() == [
        "New invite code for alliance L2 Coastal Fishers: K3X9",
        "It works once, until Nov 26, 2026, 12:00\u202fPM (in 2 days): a mediator of the other "
        "group sends /alliance join K3X9 there.",
        "/alliance revoke L2 cancels the codes not yet used.",
    ]


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "Alliance L1 Coastal Fishers has no open invite code to revoke."),
        (1, "1 open invite code of alliance L1 Coastal Fishers was revoked."),
        (3, "3 open invite codes of alliance L1 Coastal Fishers were revoked."),
    ],
)
def test_invites_revoked(count: int, expected: str) -> None:
    assert word(e.InvitesRevoked("g", 1, "Coastal Fishers", count)) == expected


def test_alliance_joined() -> None:
    ev = e.AllianceJoined("g", 1, "Coastal Fishers", "Bay", "matrix", ("Harbour", "Cove", "Bay"))
    assert word(ev) == (
        "Bay (Matrix) joined alliance L1 Coastal Fishers. Its groups: Harbour, Cove, and Bay."
    )
    console = e.AllianceJoined("g", 1, "Coastal Fishers", "main", "console", ("main",))
    assert word(console).startswith("main (console) joined")


def test_alliance_left() -> None:
    ev = e.AllianceLeft("g", 1, "Coastal Fishers", "Bay", ("Harbour", "Cove"), (3, 5))
    assert word(ev) == (
        "Bay left alliance L1 Coastal Fishers. Still in it: Harbour and Cove. "
        "The open alliance proposals P3 and P5 are decided without it."
    )
    one = e.AllianceLeft("g", 1, "Coastal Fishers", "Bay", ("Harbour",), (3,))
    assert word(one).endswith("The open alliance proposal P3 is decided without it.")
    last = e.AllianceLeft("g", 1, "Coastal Fishers", "Bay", ())
    assert word(last) == "Bay left alliance L1 Coastal Fishers; no group is in it any more."


@pytest.mark.parametrize(
    ("key", "value", "explained"),
    [
        ("min_parties", "2", "An alliance proposal is adopted when at least 2 groups adopt it."),
        ("min_parties", "1", "An alliance proposal is adopted when at least 1 group adopts it."),
        ("min_parties", "all", "An alliance proposal is adopted when every group adopts it."),
        ("rule", "own", "Each group decides alliance proposals by its own rule."),
        (
            "rule",
            "supermajority",
            "Every group decides alliance proposals by the rule two-thirds majority.",
        ),
    ],
)
def test_alliance_setting_changed(key: str, value: str, explained: str) -> None:
    ev = e.AllianceSettingChanged("g", 1, "Coastal Fishers", key, value, "Harbour")
    assert word(ev) == f"Harbour set {key} of alliance L1 Coastal Fishers to {value}. {explained}"


def test_an_alliance_proposal_is_announced_with_the_groups_taking_part() -> None:
    ev = e.ProposalOpened(
        "g",
        3,
        "new",
        "bob",
        "We share the boat",
        "amendment",
        NOW + timedelta(days=2),
        alliance="Coastal Fishers",
        alliance_id=1,
        parties=("Harbour", "Bay"),
    )
    lines = word(ev).splitlines()
    assert lines[:3] == [
        "P3: new clause proposed by bob:",
        "An alliance proposal of L1 Coastal Fishers: each of its groups holds its own consent "
        "round. Taking part: Harbour and Bay.",
        "  We share the boat",
    ]
    relayed = word(dataclasses.replace(ev, origin="Harbour")).splitlines()
    assert relayed[1] == "Proposed in Harbour."
    plain = e.ProposalOpened("g", 3, "new", "bob", "x", "amendment", NOW)
    assert "alliance" not in word(plain)


def test_a_relayed_amendment_says_where_it_came_from() -> None:
    ev = e.AmendmentProposed("g", 4, 3, "ana", "boat", "boats", None, origin="Bay")
    assert word(ev).splitlines()[0] == "A4 to P3 by ana from Bay: replace “boat” with “boats”"
    own = e.AmendmentProposed("g", 4, 3, "ana", "boat", "boats", None)
    assert word(own).splitlines()[0] == "A4 to P3 by ana: replace “boat” with “boats”"


def test_an_alliance_consent_round_is_this_groups_own() -> None:
    ev = e.ConsentOpened(
        "g", 3, 1, "new", "x", 2, NOW + timedelta(days=1), alliance="Coastal Fishers", alliance_id=1
    )
    assert (
        "An alliance proposal of L1 Coastal Fishers: this is this group's own consent round; "
        "every group of the alliance holds one."
    ) in word(ev).splitlines()


# -- an alliance proposal decided ---------------------------------------------------------


def outcome(
    verdict: str, *groups: e.PartyOutcome, needed: int = 2, parties: tuple[str, ...] = ()
) -> e.AllianceOutcome:
    return e.AllianceOutcome(1, "Coastal Fishers", verdict, needed, groups, parties)


HARBOUR = e.PartyOutcome("Harbour", "adopted", Tally(2, 1, 0, 0))
COVE = e.PartyOutcome("Cove", "adopted", Tally(3, 0, 0, 1))
BAY_NAMED = e.PartyOutcome(
    "Bay", "objected", Tally(1, 0, 1, 0), (e.Statement("kenji", "too early"),)
)
BAY_UNNAMED = e.PartyOutcome(
    "Bay", "objected", Tally(1, 0, 2, 0), (e.Statement(None, "unsafe"), e.Statement(None, None))
)
WEST = e.PartyOutcome("West", "left", Tally(0, 0, 0, 0))


def test_an_adopted_alliance_proposal_lists_every_group_and_the_parties() -> None:
    ev = e.Decided(
        "g",
        3,
        "new",
        Verdict.ADOPTED,
        Tally(2, 1, 0, 0),
        4,
        "consent",
        concerns=(e.Statement("ana", "cost"),),
        clause=7,
        clause_version=1,
        next_review=date(2027, 11, 24),
        chain_head="ab" * 32,
        alliance=outcome("adopted", HARBOUR, COVE, BAY_NAMED, WEST, parties=("Harbour", "Cove")),
    )
    assert word(ev).splitlines() == [
        "P3 adopted: clause C7, version 1, is in the charter.",
        "This group: ✅ 2 · ⚠️ 1 · ✋ 0 · ➖ 0 · 3 of 4 members stated a position.",
        "Alliance L1 Coastal Fishers: 2 groups had to adopt it; 2 of 4 did.",
        "✅ Harbour: adopted · ✅ 2 · ⚠️ 1 · ✋ 0 · ➖ 0",
        "✅ Cove: adopted · ✅ 3 · ⚠️ 0 · ✋ 0 · ➖ 1",
        "✋ Bay: objections stand · ✅ 1 · ⚠️ 0 · ✋ 1 · ➖ 0",
        "    ✋ kenji: too early",
        "🚪 West: left the alliance · ✅ 0 · ⚠️ 0 · ✋ 0 · ➖ 0",
        "Parties: Harbour and Cove",
        "Concerns recorded with the clause:",
        "⚠️ ana: cost",
        "Next review: Nov 24, 2027.",
        "Charter record: abababababababab",
    ]


def test_objections_of_a_group_that_names_no_votes_carry_no_names() -> None:
    ev = e.Decided(
        "g",
        3,
        "new",
        Verdict.OBJECTED,
        Tally(2, 1, 0, 0),
        3,
        "consent",
        alliance=outcome("objected", HARBOUR, BAY_UNNAMED, needed=2),
    )
    assert word(ev).splitlines() == [
        "P3 is not adopted yet: objections stand.",
        "This group: ✅ 2 · ⚠️ 1 · ✋ 0 · ➖ 0 · 3 of 3 members stated a position.",
        "Alliance L1 Coastal Fishers: 2 groups had to adopt it; 1 of 2 did.",
        "✅ Harbour: adopted · ✅ 2 · ⚠️ 1 · ✋ 0 · ➖ 0",
        "✋ Bay: objections stand · ✅ 1 · ⚠️ 0 · ✋ 2 · ➖ 0",
        "    ✋ unsafe",
        "    ✋ (no reason given)",
        "Objectors may withdraw with /withdraw P3; a mediator may open a new amendment round "
        "with /resolve P3.",
    ]


def test_an_alliance_proposal_not_adopted_for_a_missed_quorum() -> None:
    missed = e.PartyOutcome("Harbour", "no_quorum", Tally(1, 0, 0, 0))
    ev = e.Decided(
        "g",
        3,
        "new",
        Verdict.NO_QUORUM,
        Tally(1, 0, 0, 0),
        9,
        "consent",
        quorum="0.5",
        quorum_min=3,
        alliance=outcome("no_quorum", missed, COVE, needed=1),
    )
    lines = word(ev).splitlines()
    assert lines[:3] == [
        "P3 is not adopted by alliance L1 Coastal Fishers.",
        "This group: ✅ 1 · ⚠️ 0 · ✋ 0 · ➖ 0 · 1 of 9 members stated a position.",
        "Alliance L1 Coastal Fishers: 1 group had to adopt it; 1 of 2 did.",
    ]
    assert "❌ Harbour: quorum not reached · ✅ 1 · ⚠️ 0 · ✋ 0 · ➖ 0" in lines
    assert not any("Parties" in line or "withdraw" in line for line in lines)


def test_an_alliance_outcome_escapes_names_and_isolates_them_for_right_to_left() -> None:
    ev = e.Decided(
        "g",
        3,
        "new",
        Verdict.ADOPTED,
        Tally(1, 0, 0, 0),
        1,
        "consent",
        clause=7,
        clause_version=1,
        alliance=outcome(
            "adopted",
            e.PartyOutcome(HOSTILE, "adopted", Tally(1, 0, 0, 0)),
            e.PartyOutcome("Bay", "objected", Tally(0, 0, 1, 0), (e.Statement(HOSTILE, HOSTILE),)),
            needed=1,
            parties=(HOSTILE,),
        ),
    )
    html = word(ev, html=True)
    assert "<script>" not in html and "&lt;script&gt;" in html
    arabic = render.event(reader("ar"), ev).splitlines()
    group_line = next(line for line in arabic if line.startswith(f"{RLM}✅ "))
    assert f"{FSI}{HOSTILE}{PDI}:" in group_line


# -- refusals -----------------------------------------------------------------------------


def test_alliance_refusals() -> None:
    assert refusal("no_alliance") == (
        "This group is in no alliance. A mediator creates one with /alliance create <name>, "
        "or joins one with /alliance join <code>."
    )
    assert refusal("which_alliance", numbers=(2, 5)) == (
        "This group is in several alliances: L2 and L5. Say which one, e.g. /alliance leave L2 "
        "or /propose --alliance=L2 <text>."
    )
    assert refusal("no_such_alliance", number=4) == "There is no alliance L4."
    assert refusal("not_in_alliance", number=4) == (
        "This group is not in alliance L4. /alliance lists its alliances."
    )
    assert refusal("bad_invite") == (
        "This invite code does not work: it is mistyped, used, expired or revoked. Ask a "
        "mediator of the alliance for a new one (/alliance invite)."
    )
    assert refusal("already_in_alliance", number=2, name="Coastal Fishers") == (
        "This group is already in alliance L2 Coastal Fishers."
    )
    assert refusal("bad_alliance_setting", key="min_parties", expected="all, 1-50") == (
        "That value does not fit min_parties: expected all, 1-50."
    )
    assert refusal("bad_alliance_setting", key="colour", expected="min_parties, rule") == (
        "Alliances have no setting “colour”. Alliance settings: min_parties, rule."
    )


def test_alliance_refusals_reuse_the_general_ones() -> None:
    assert refusal("text_required", command="alliance").startswith(
        "Usage: /alliance  ·  /alliance create <name>"
    )
    assert refusal("not_mediator", command="alliance") == (
        "Only a mediator of this group can use /alliance."
    )
    assert refusal("bad_id", kind="L", given="P2") == (
        "“P2” is not a valid id: expected L followed by a number, e.g. L1."
    )


def test_alliance_refusals_escape_user_text() -> None:
    html = render.error(
        reader(html=True), DomainError("bad_alliance_setting", key=HOSTILE, expected="x")
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    html = render.error(
        reader(html=True), DomainError("already_in_alliance", number=1, name=HOSTILE)
    )
    assert "<script>" not in html and "&lt;script&gt;" in html


# -- /alliance ----------------------------------------------------------------------------

COASTAL = q.AllianceView(
    number=1,
    name="Coastal Fishers",
    min_parties=None,
    rule="own",
    groups=(
        q.AllianceGroupView("Harbour", "telegram", ("en", "es")),
        q.AllianceGroupView("Bay", "matrix", ("ja",)),
    ),
    open_invites=1,
    open_proposals=(3, 5),
)
RIVERS = q.AllianceView(2, "Rivers", 2, "majority", (), 0, ())


def test_no_alliance() -> None:
    assert render.alliances(reader(), []) == refusal("no_alliance")


def test_one_alliance() -> None:
    assert render.alliances(reader(), [COASTAL]).splitlines() == [
        "L1 · Coastal Fishers",
        "  Harbour · Telegram · English and Spanish",
        "  Bay · Matrix · Japanese",
        "An alliance proposal is adopted when every group adopts it.",
        "Each group decides alliance proposals by its own rule.",
        "Open alliance proposals: P3 and P5.",
        "1 invite code is open.",
        "Propose to the whole alliance with /propose --alliance <text>.",
        "Mediators: /alliance invite, /alliance leave, /alliance settings min_parties <n>|all, "
        "/alliance settings rule own|<rule>.",
    ]


def test_several_alliances() -> None:
    lines = render.alliances(reader(), [COASTAL, RIVERS]).splitlines()
    assert lines[7:12] == [
        "L2 · Rivers",
        "An alliance proposal is adopted when at least 2 groups adopt it.",
        "Every group decides alliance proposals by the rule majority.",
        "0 invite codes are open.",
        "Propose to one of them with /propose --alliance=L1 <text>.",
    ]


def test_the_alliance_list_escapes_names() -> None:
    hostile = q.AllianceView(
        1, HOSTILE, None, "own", (q.AllianceGroupView(HOSTILE, "telegram", ("en",)),), 0, ()
    )
    html = render.alliances(reader(html=True), [hostile])
    assert "<script>" not in html and html.count("&lt;script&gt;") == 2
    assert html.startswith("<b>L1 · &lt;script&gt;")


# -- /status of an alliance proposal ------------------------------------------------------


def view(phase: str, **kwargs: object) -> q.ProposalView:
    values: dict[str, object] = {
        "number": 3,
        "group": "g",
        "kind": "new",
        "author": "bob",
        "text": "We share the boat",
        "version": 1,
        "phase": phase,
        "round": 1,
        "closes_at": NOW + timedelta(days=1),
        "clause": None,
        "reason": None,
        "amendments": (),
        "tally": Tally(1, 0, 0, 0),
        "stated": 1,
        "eligible": 3,
        "positions": (),
        "named": True,
        "outcome": None,
        "alliance": "Coastal Fishers",
        "alliance_id": 1,
        "parties": (
            q.PartyView("Harbour", 1, Tally(1, 0, 0, 0), None),
            q.PartyView("Bay", 2, None, None),
        ),
    }
    values.update(kwargs)
    return q.ProposalView(**values)  # type: ignore[arg-type]


def test_status_of_an_alliance_proposal_in_its_consent_rounds() -> None:
    lines = render.status(reader(), view("consent")).splitlines()
    assert lines[1] == "An alliance proposal of L1 Coastal Fishers."
    at = lines.index("Groups of the alliance:")
    assert lines[at + 1 : at + 3] == [
        "  Harbour: 1 responded · ✅ 1 · ⚠️ 0 · ✋ 0 · ➖ 0",
        "  Bay: 2 responded",  # Bay shows counts only when its round closes
    ]


def test_status_of_an_alliance_proposal_once_closed_shows_each_verdict() -> None:
    parties = (
        q.PartyView("Harbour", 1, Tally(1, 0, 0, 0), "adopted"),
        q.PartyView("Bay", 2, Tally(1, 0, 1, 0), "objected"),
    )
    text = render.status(reader(), view("objected", parties=parties))
    assert "  Harbour: 1 responded · ✅ 1 · ⚠️ 0 · ✋ 0 · ➖ 0 · adopted" in text
    assert "  Bay: 2 responded · ✅ 1 · ⚠️ 0 · ✋ 1 · ➖ 0 · objections stand" in text


def test_status_of_an_alliance_proposal_before_its_rounds_names_the_groups() -> None:
    text = render.status(reader(), view("amendment"))
    assert "Groups of the alliance: Harbour and Bay." in text.splitlines()
    assert "responded" not in text


def test_status_of_a_group_proposal_says_nothing_of_alliances() -> None:
    text = render.status(reader(), view("consent", alliance="", parties=()))
    assert "alliance" not in text.lower()


def test_party_lines_escape_and_isolate_titles() -> None:
    parties = (q.PartyView(HOSTILE, 1, None, None),)
    html = render.status(reader(html=True), view("consent", parties=parties))
    assert "<script>" not in html and "&lt;script&gt;" in html
    arabic = render.status(reader("ar"), view("consent", parties=parties)).splitlines()
    assert f"{RLM}  {FSI}{HOSTILE}{PDI}: " in "\n".join(arabic)


# -- help -----------------------------------------------------------------------------------


def test_help_lists_alliance() -> None:
    everything = render.help_text(reader())
    assert "/alliance create <name>" in everything
    assert "/propose --alliance[=L<n>] <text>" in everything
    alone = render.help_text(reader(), "alliance").splitlines()
    assert alone[0].startswith("/alliance  ·  /alliance create <name>  ·  /alliance invite")
    assert "(/propose --alliance)" in alone[1]
    assert render.usage(reader(prefix="!"), "propose") == (
        "Usage: !propose <text>  ·  !propose --change C<n> <text>  ·  "
        "!propose --alliance[=L<n>] <text>"
    )
