"""Alliances (SPEC section 5): groups make one agreement together, each consenting under
its own rule; the alliance's outcome follows from theirs, and the clause lists the groups
that adopted it as its parties.

Three console groups: main (alice is its admin, bob a member), other (erin admin, frank a
member) and third (tess admin, ulla a member).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from deliberation import commands as c
from deliberation import events as e
from deliberation import queries
from deliberation.alliances import code_hash
from deliberation.model import AllianceInvite, Clause, Round
from deliberation.tally import Verdict
from tests.service.conftest import GROUP, OTHER, Chat, chain_rows

THIRD = "console:third"


def run(chat: Chat, name: str, command: c.Command, group: str = GROUP, **kw: object) -> list:
    admin = name in ("alice", "erin", "tess")
    return chat.do(name, command, group=group, admin=admin, **kw)


def allied(chat: Chat) -> tuple[int, str]:
    """main creates "Coastal Fishers", other joins it; returns (alliance, a spare code)."""
    (created,) = run(chat, "alice", c.CreateAlliance("Coastal  Fishers"))
    assert isinstance(created, e.AllianceCreated) and created.name == "Coastal Fishers"
    joined = run(chat, "erin", c.JoinAlliance(created.code.lower()), group=OTHER)
    assert [(ev.group, type(ev)) for ev in joined] == [
        (GROUP, e.AllianceJoined),
        (OTHER, e.AllianceJoined),
    ]
    assert joined[0].groups == (GROUP, OTHER) and joined[0].joined == OTHER
    (invite,) = run(chat, "alice", c.InviteToAlliance())
    assert isinstance(invite, e.InviteCreated)
    return created.alliance, invite.code


def members(chat: Chat) -> None:
    """Everyone says hello, so each group counts two members."""
    for name, group in (("bob", GROUP), ("frank", OTHER), ("ulla", THIRD), ("tess", THIRD)):
        run(chat, name, c.Register(), group=group)


def in_consent(chat: Chat, text: str = "We share the harbour") -> int:
    members(chat)
    opened = run(chat, "alice", c.Propose(text, allied=True))
    assert [(ev.group, type(ev)) for ev in opened] == [
        (GROUP, e.ProposalOpened),
        (OTHER, e.ProposalOpened),
    ]
    assert opened[1].alliance == "Coastal Fishers" and opened[1].parties == (GROUP, OTHER)
    number = opened[0].proposal
    run(chat, "alice", c.Next(number))
    return number


def vote(chat: Chat, number: int, group: str, **stances: str) -> None:
    for name, spec in stances.items():
        stance, _, reason = spec.partition(":")
        (stated,) = run(
            chat, name, c.StatePosition(number, c.Stance(stance), reason or None), group
        )
        assert isinstance(stated, e.PositionStated) and stated.group == group


def test_create_join_and_an_agreement_made_by_both(chat: Chat) -> None:
    allied(chat)
    number = in_consent(chat)
    rounds = chat.rows(Round, Round.proposal_id == number, Round.phase == "consent")
    assert sorted(r.party for r in rounds) == [GROUP, OTHER]
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, erin="consent", frank="concern:mind the nets")
    decided = run(chat, "erin", c.Next(number), OTHER)
    assert [(ev.group, ev.verdict) for ev in decided] == [
        (GROUP, Verdict.ADOPTED),
        (OTHER, Verdict.ADOPTED),
    ]
    mine, theirs = decided
    assert mine.tally.consent == 2 and theirs.tally.concern == 1  # each its own counts
    assert mine.alliance is not None and mine.alliance.parties == (GROUP, OTHER)
    assert [g.verdict for g in mine.alliance.groups] == ["adopted", "adopted"]
    clause = chat.get(Clause, mine.clause)
    assert clause.charter_id == f"alliance:{mine.alliance.alliance}"
    assert clause.parties == [GROUP, OTHER]
    assert chain_rows(chat.db)[-1].entry["parties"] == [GROUP, OTHER]


def test_an_objection_in_one_group_is_resolved_by_an_amendment_relayed_to_all(
    chat: Chat,
) -> None:
    allied(chat)
    number = in_consent(chat)
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, erin="consent", frank="object:not on Sundays")
    decided = run(chat, "alice", c.Next(number))
    assert {ev.verdict for ev in decided} == {Verdict.OBJECTED}
    outcome = decided[0].alliance
    assert outcome is not None and outcome.verdict == "objected" and outcome.needed == 2
    assert [(g.group, g.verdict) for g in outcome.groups] == [
        (GROUP, "adopted"),
        (OTHER, "objected"),
    ]
    (objection,) = outcome.groups[1].objections
    assert (objection.name, objection.reason) == ("frank", "not on Sundays")

    resolved = run(chat, "erin", c.Resolve(number), OTHER)  # a mediator of the other group
    assert [ev.group for ev in resolved] == [OTHER, GROUP]
    proposed = run(
        chat,
        "frank",
        c.Amend(number, passage="harbour", replacement="harbour on weekdays"),
        OTHER,
    )
    assert [(ev.group, ev.origin) for ev in proposed] == [(OTHER, ""), (GROUP, OTHER)]
    run(chat, "bob", c.VoteAmendment(proposed[0].amendment, True))  # support from main
    opened = run(chat, "alice", c.Next(number))
    assert [ev.group for ev in opened] == [GROUP, OTHER]
    assert opened[0].text == "We share the harbour on weekdays"
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, erin="consent", frank="consent")
    decided = run(chat, "alice", c.Next(number))
    assert {ev.verdict for ev in decided} == {Verdict.ADOPTED}
    assert chat.get(Clause, decided[0].clause).parties == [GROUP, OTHER]


def test_min_parties_adopts_with_the_groups_that_adopted(chat: Chat) -> None:
    allied(chat)
    changed = run(chat, "erin", c.AllianceSetting("min_parties", "1"), OTHER)
    assert [(ev.group, ev.value, ev.by) for ev in changed] == [
        (GROUP, "1", OTHER),
        (OTHER, "1", OTHER),
    ]
    number = in_consent(chat)
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, erin="object:no", frank="object:no")
    decided = run(chat, "alice", c.Next(number))
    assert {ev.verdict for ev in decided} == {Verdict.ADOPTED}
    assert chat.get(Clause, decided[0].clause).parties == [GROUP]


def test_a_group_that_leaves_is_no_party_and_the_outcome_follows_the_others(
    chat: Chat,
) -> None:
    allied(chat)
    number = in_consent(chat)
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, erin="consent", frank="object:never")
    events = run(chat, "alice", c.Next(number))
    assert {ev.verdict for ev in events} == {Verdict.OBJECTED}
    left = run(chat, "erin", c.LeaveAlliance(), OTHER)
    told = [ev for ev in left if isinstance(ev, e.AllianceLeft)]
    assert [ev.group for ev in told] == [OTHER, GROUP] and told[0].groups == (GROUP,)
    decided = [ev for ev in left if isinstance(ev, e.Decided)]
    assert [(ev.group, ev.verdict) for ev in decided] == [(GROUP, Verdict.ADOPTED)]
    assert chat.get(Clause, decided[0].clause).parties == [GROUP]
    # The group that left has no say in the alliance's proposals any more.
    chat.refused("frank", c.Withdraw(number), "not_in_group", group=OTHER)


def test_a_group_that_joins_later_takes_part_in_the_renewal(chat: Chat) -> None:
    _alliance, code = allied(chat)
    number = in_consent(chat)
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, erin="consent", frank="consent")
    clause = run(chat, "alice", c.Next(number))[0].clause
    joined = run(chat, "tess", c.JoinAlliance(code), THIRD)
    assert [ev.group for ev in joined] == [GROUP, OTHER, THIRD]
    opened = run(chat, "tess", c.Renew(clause), THIRD)  # a party's clause: the alliance's
    assert [ev.group for ev in opened] == [THIRD, GROUP, OTHER]
    renewal = opened[0].proposal
    rounds = chat.rows(Round, Round.proposal_id == renewal, Round.phase == "consent")
    assert sorted(r.party for r in rounds) == sorted([GROUP, OTHER, THIRD])
    vote(chat, renewal, GROUP, alice="consent", bob="consent")
    vote(chat, renewal, OTHER, erin="consent", frank="consent")
    vote(chat, renewal, THIRD, tess="consent", ulla="consent")
    decided = run(chat, "tess", c.Next(renewal), THIRD)
    assert {ev.verdict for ev in decided} == {Verdict.ADOPTED}
    assert decided[0].alliance is not None and len(decided[0].alliance.parties) == 3
    assert chain_rows(chat.db)[-1].entry["parties"] == [GROUP, OTHER, THIRD]
    assert chat.get(Clause, clause).parties == [GROUP, OTHER, THIRD]  # bound by the renewal


def test_invite_codes_are_single_use_expire_and_can_be_revoked(chat: Chat) -> None:
    _alliance, code = allied(chat)
    run(chat, "tess", c.JoinAlliance(code), THIRD)
    chat.refused("tess", c.JoinAlliance(code), "bad_invite", group="console:fourth", admin=True)
    (short,) = run(chat, "alice", c.InviteToAlliance(valid_for="2h"))
    chat.clock.advance(timedelta(hours=3))
    chat.refused(
        "tess", c.JoinAlliance(short.code), "bad_invite", group="console:fourth", admin=True
    )
    (spare,) = run(chat, "alice", c.InviteToAlliance())
    (revoked,) = run(chat, "erin", c.RevokeInvites(), OTHER)
    assert revoked.count == 1
    chat.refused(
        "tess", c.JoinAlliance(spare.code), "bad_invite", group="console:fourth", admin=True
    )
    invites = chat.rows(AllianceInvite)
    assert all(i.code_hash != spare.code for i in invites)  # only the hash is kept
    assert any(i.code_hash == code_hash(spare.code) for i in invites)


@pytest.mark.parametrize(
    ("name", "command", "group", "code"),
    [
        ("bob", c.CreateAlliance("Ours"), GROUP, "not_mediator"),
        ("alice", c.CreateAlliance("  "), GROUP, "text_required"),
        ("alice", c.CreateAlliance("x" * 101), GROUP, "text_too_long"),
        ("frank", c.LeaveAlliance(), OTHER, "not_mediator"),
        ("tess", c.LeaveAlliance(), THIRD, "no_alliance"),
        ("tess", c.InviteToAlliance(), THIRD, "no_alliance"),
        ("alice", c.InviteToAlliance(alliance=99), GROUP, "no_such_alliance"),
        ("alice", c.InviteToAlliance(valid_for="soon"), GROUP, "bad_duration"),
        ("erin", c.JoinAlliance("NOPE-NOPE"), OTHER, "bad_invite"),
        ("alice", c.AllianceSetting("min_parties", "many"), GROUP, "bad_alliance_setting"),
        ("alice", c.AllianceSetting("rule", "loudest"), GROUP, "bad_alliance_setting"),
        ("alice", c.AllianceSetting("colour", "red"), GROUP, "bad_alliance_setting"),
        ("tess", c.Propose("Ours too", allied=True), THIRD, "no_alliance"),
    ],
)
def test_bad_alliance_requests_change_nothing(
    chat: Chat, name: str, command: c.Command, group: str, code: str
) -> None:
    allied(chat)
    run(chat, "tess", c.Register(), THIRD)
    admin = name in ("alice", "erin", "tess")
    refusal = chat.refused(name, command, code, group=group, admin=admin)
    if code == "not_mediator":
        assert refusal.params == {"command": "alliance"}  # the word people typed


def test_a_group_never_acts_on_an_alliance_it_is_not_in(chat: Chat) -> None:
    alliance, _code = allied(chat)
    number = in_consent(chat)
    run(chat, "tess", c.Register(), THIRD)
    chat.refused(
        "tess", c.InviteToAlliance(alliance=alliance), "not_in_alliance", group=THIRD, admin=True
    )
    chat.refused(
        "ulla", c.StatePosition(number, c.Stance.OBJECT, "no"), "not_in_group", group=THIRD
    )
    chat.refused("tess", c.Next(number), "not_in_group", group=THIRD, admin=True)
    chat.refused("erin", c.JoinAlliance(_code), "already_in_alliance", group=OTHER, admin=True)


def test_a_group_in_two_alliances_names_which(chat: Chat) -> None:
    first, _code = allied(chat)
    (second,) = run(chat, "alice", c.CreateAlliance("River Keepers"))
    refusal = chat.refused("alice", c.Propose("Both?", allied=True), "which_alliance", admin=True)
    assert refusal.params["numbers"] == (first, second.alliance)
    opened = run(chat, "alice", c.Propose("Rivers first", allied=True, alliance=second.alliance))
    assert [ev.group for ev in opened] == [GROUP]  # the only group of River Keepers
    assert opened[0].alliance == "River Keepers"


def test_groups_are_named_by_their_platform_titles(chat: Chat) -> None:
    (created,) = chat.do("alice", c.CreateAlliance("Coast"), group_title="Kitchen  collective")
    joined = chat.do("erin", c.JoinAlliance(created.code), group=OTHER, group_title="Harbour")
    assert joined[0].groups == ("Kitchen collective", "Harbour") and joined[0].joined == "Harbour"
    renamed = chat.do("alice", c.InviteToAlliance(), group_title="Kitchen commons")
    assert renamed[0].group == GROUP
    changed = chat.do("erin", c.AllianceSetting("rule", "majority"), group=OTHER)
    assert [ev.by for ev in changed] == ["Harbour", "Harbour"]
    with chat.db.unit_of_work(write=False) as uow:
        (view,) = queries.alliances(uow.session, OTHER, chat.clock.now())
    assert [g.title for g in view.groups] == ["Kitchen commons", "Harbour"]
    assert view.rule == "majority" and view.open_invites == 1


def test_the_rounds_close_on_time_and_each_group_is_reminded_of_its_own(chat: Chat) -> None:
    allied(chat)
    members(chat)
    opened = run(chat, "alice", c.Propose("We share the harbour", allied=True))
    number = opened[0].proposal
    chat.advance(hours=48)  # the amendment phase (48 h by default) closes by itself
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, erin="consent")
    reminders = chat.advance(hours=72 - 24)  # the 24-hour reminder
    assert [(ev.group, ev.not_responded) for ev in reminders] == [(OTHER, 1)]  # main: all in
    vote(chat, number, OTHER, frank="consent")
    decided = chat.advance(hours=24)
    assert [(ev.group, ev.verdict) for ev in decided] == [
        (GROUP, Verdict.ADOPTED),
        (OTHER, Verdict.ADOPTED),
    ]


def test_a_group_leaving_during_the_consent_round_is_not_counted(chat: Chat) -> None:
    allied(chat)
    number = in_consent(chat)
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, frank="object:no")
    run(chat, "erin", c.LeaveAlliance(), OTHER)
    decided = run(chat, "alice", c.Next(number))
    assert [(ev.group, ev.verdict) for ev in decided] == [(GROUP, Verdict.ADOPTED)]
    outcome = decided[0].alliance
    assert outcome is not None and outcome.needed == 1
    assert [(g.group, g.verdict) for g in outcome.groups] == [(GROUP, "adopted"), (OTHER, "left")]
    assert chat.get(Clause, decided[0].clause).parties == [GROUP]


def test_the_last_objector_withdrawing_adopts_it_for_the_alliance(chat: Chat) -> None:
    allied(chat)
    number = in_consent(chat)
    vote(chat, number, GROUP, alice="consent", bob="consent")
    vote(chat, number, OTHER, erin="consent", frank="object:not yet")
    run(chat, "alice", c.Next(number))
    events = run(chat, "frank", c.Withdraw(number), OTHER)
    withdrawn = [ev for ev in events if isinstance(ev, e.ObjectionWithdrawn)]
    assert [ev.group for ev in withdrawn] == [OTHER, GROUP]  # told to all
    decided = [ev for ev in events if isinstance(ev, e.Decided)]
    assert [(ev.group, ev.verdict) for ev in decided] == [
        (GROUP, Verdict.ADOPTED),
        (OTHER, Verdict.ADOPTED),
    ]
    assert chat.get(Clause, decided[0].clause).parties == [GROUP, OTHER]


def test_a_translation_of_an_alliance_proposal_is_told_to_every_group(chat: Chat) -> None:
    allied(chat)
    number = in_consent(chat)
    events = run(chat, "frank", c.Translate("P", number, "es", "Compartimos el puerto"), OTHER)
    assert [ev.group for ev in events] == [OTHER, GROUP]
