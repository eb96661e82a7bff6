"""Bad requests change nothing: each is refused with its code, and every table (and the
AUTOINCREMENT counters) is exactly as before."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from deliberation import commands as c
from deliberation import events as e
from deliberation.services import MAX_REASON, MAX_TEXT
from tests.service.conftest import OTHER, Chat, dump

TEXT = "We meet on the first Monday of each month"
LONG = "x" * (MAX_TEXT + 1)


@dataclass(frozen=True)
class World:
    """Numbers of the things set up in both groups."""

    amending: int  # P in its amendment phase (alice's), with amendments below
    bobs: int  # A by bob on it (open)
    accepted: int  # A by carol on it, accepted by alice
    stale: int  # A by dave: a whole text against version 1, no longer fits
    consenting: int  # P in its consent phase (alice's), bob consented
    late_amendment: int  # A made on it before its consent phase (not_passed)
    adopted: int  # P adopted
    clause: int  # C from it
    objecting: int  # P objected (bob objects)
    theirs: int  # P in the other group, amendment phase
    their_amendment: int  # A on it
    their_clause: int  # C in the other group


@pytest.fixture
def world(chat: Chat, other: Chat) -> World:
    for name in ("carol", "dave"):
        chat.engine.register(chat.actor(name))
    amending = chat.propose("alice", TEXT)
    bobs = chat.amend("bob", amending, passage="first Monday", replacement="first Saturday")
    accepted = chat.amend("carol", amending, passage="each month", replacement="every month")
    stale = chat.amend("dave", amending, text="We meet weekly")
    chat.one("alice", c.AcceptAmendment(accepted), e.AmendmentAccepted)

    consenting = chat.propose("alice", "Minutes are kept by a rotating secretary")
    late_amendment = chat.amend("bob", consenting, text="Minutes are kept by the secretary")
    chat.next(consenting)
    chat.state(consenting, bob="consent")

    decided = chat.adopt("Decisions are made by consent", voters=("alice", "bob", "carol"))

    objecting = chat.consent_open("alice", "We use a shared calendar")
    chat.state(objecting, alice="consent", bob="object:privacy", carol="consent")
    assert chat.next(objecting).verdict == "objected"

    their_clause = other.adopt("Their clause", author="erin", voters=("erin", "frank")).clause
    theirs = other.propose("erin", "Their proposal")
    their_amendment = other.amend("frank", theirs, text="Their amended proposal")
    return World(
        amending=amending,
        bobs=bobs,
        accepted=accepted,
        stale=stale,
        consenting=consenting,
        late_amendment=late_amendment,
        adopted=decided.proposal,
        clause=decided.clause,
        objecting=objecting,
        theirs=theirs,
        their_amendment=their_amendment,
        their_clause=their_clause,
    )


Case = tuple[str, str, object, str]  # (id, who, command, code)


def cases(w: World) -> list[Case]:
    stance = c.Stance
    return [
        # unknown and missing ids
        ("amend unknown P", "bob", c.Amend(999, text="x"), "no_such_proposal"),
        ("position unknown P", "bob", c.StatePosition(999, stance.CONSENT), "no_such_proposal"),
        ("withdraw unknown P", "alice", c.Withdraw(999), "no_such_proposal"),
        ("next unknown P", "alice", c.Next(999), "no_such_proposal"),
        ("close unknown P", "alice", c.Close(999), "no_such_proposal"),
        ("resolve unknown P", "alice", c.Resolve(999), "no_such_proposal"),
        ("vote unknown A", "bob", c.VoteAmendment(999, True), "no_such_amendment"),
        ("accept unknown A", "alice", c.AcceptAmendment(999), "no_such_amendment"),
        ("renew unknown C", "bob", c.Renew(999), "no_such_clause"),
        ("repeal unknown C", "bob", c.Repeal(999, "why"), "no_such_clause"),
        ("change unknown C", "bob", c.Propose("x", c.ProposalKind.CHANGE, 999), "no_such_clause"),
        ("change without C", "bob", c.Propose("x", c.ProposalKind.CHANGE, None), "bad_id"),
        ("next: two candidates", "alice", c.Next(None), "ambiguous_proposal"),
        ("withdraw: several", "alice", c.Withdraw(None), "ambiguous_proposal"),
        # ids of another group
        ("amend their P", "bob", c.Amend(w.theirs, text="x"), "not_in_group"),
        ("position their P", "bob", c.StatePosition(w.theirs, stance.CONSENT), "not_in_group"),
        ("withdraw their P", "alice", c.Withdraw(w.theirs), "not_in_group"),
        ("next their P", "alice", c.Next(w.theirs), "not_in_group"),
        ("close their P", "alice", c.Close(w.theirs), "not_in_group"),
        ("vote their A", "bob", c.VoteAmendment(w.their_amendment, True), "not_in_group"),
        ("accept their A", "alice", c.AcceptAmendment(w.their_amendment), "not_in_group"),
        ("renew their C", "bob", c.Renew(w.their_clause), "not_in_group"),
        ("repeal their C", "bob", c.Repeal(w.their_clause, "why"), "not_in_group"),
        (
            "change their C",
            "bob",
            c.Propose("x", c.ProposalKind.CHANGE, w.their_clause),
            "not_in_group",
        ),
        # wrong phase
        ("amend in consent", "bob", c.Amend(w.consenting, text="x"), "wrong_phase"),
        ("amend adopted", "bob", c.Amend(w.adopted, text="x"), "wrong_phase"),
        ("vote in consent", "carol", c.VoteAmendment(w.late_amendment, True), "wrong_phase"),
        ("accept in consent", "alice", c.AcceptAmendment(w.late_amendment), "wrong_phase"),
        (
            "position in amendment",
            "bob",
            c.StatePosition(w.amending, stance.CONSENT),
            "wrong_phase",
        ),
        ("position objected", "bob", c.StatePosition(w.objecting, stance.CONSENT), "wrong_phase"),
        ("position adopted", "bob", c.StatePosition(w.adopted, stance.CONSENT), "wrong_phase"),
        ("resolve in consent", "alice", c.Resolve(w.consenting), "wrong_phase"),
        ("resolve in amendment", "alice", c.Resolve(w.amending), "wrong_phase"),
        ("next objected", "alice", c.Next(w.objecting), "wrong_phase"),
        ("next adopted", "alice", c.Next(w.adopted), "wrong_phase"),
        ("close adopted", "alice", c.Close(w.adopted), "wrong_phase"),
        ("withdraw adopted", "alice", c.Withdraw(w.adopted), "wrong_phase"),
        # closed amendments
        ("vote accepted A", "bob", c.VoteAmendment(w.accepted, True), "amendment_closed"),
        ("accept accepted A", "alice", c.AcceptAmendment(w.accepted), "amendment_closed"),
        ("accept stale whole text", "alice", c.AcceptAmendment(w.stale), "amendment_closed"),
        # texts
        ("propose empty", "bob", c.Propose(""), "text_required"),
        ("propose blank", "bob", c.Propose(" \n\t "), "text_required"),
        ("propose too long", "bob", c.Propose(LONG), "text_too_long"),
        (
            "change too long",
            "bob",
            c.Propose(LONG, c.ProposalKind.CHANGE, w.clause),
            "text_too_long",
        ),
        ("amend empty", "bob", c.Amend(w.amending, text=""), "text_required"),
        ("amend nothing", "bob", c.Amend(w.amending), "text_required"),
        ("amend too long", "bob", c.Amend(w.amending, text=LONG), "text_too_long"),
        (
            "amend same text",
            "bob",
            c.Amend(w.amending, text=TEXT.replace("each", "every")),
            "passage_same",
        ),
        (
            "passage empty",
            "bob",
            c.Amend(w.amending, passage="", replacement="x"),
            "text_required",
        ),
        (
            "passage too long",
            "bob",
            c.Amend(w.amending, passage=LONG, replacement="x"),
            "text_too_long",
        ),
        (
            "replacement too long",
            "bob",
            c.Amend(w.amending, passage="We", replacement=LONG),
            "text_too_long",
        ),
        (
            "passage missing",
            "bob",
            c.Amend(w.amending, passage="each month", replacement="x"),
            "passage_not_found",
        ),
        (
            "passage ambiguous",
            "bob",
            c.Amend(w.amending, passage="e", replacement="E"),
            "passage_ambiguous",
        ),
        (
            "passage same",
            "bob",
            c.Amend(w.amending, passage="We", replacement="We"),
            "passage_same",
        ),
        ("repeal without reason", "bob", c.Repeal(w.clause, ""), "text_required"),
        (
            "repeal reason too long",
            "bob",
            c.Repeal(w.clause, "r" * (MAX_REASON + 1)),
            "text_too_long",
        ),
        # positions
        (
            "object without reason",
            "carol",
            c.StatePosition(w.consenting, stance.OBJECT),
            "reason_required",
        ),
        (
            "object blank reason",
            "carol",
            c.StatePosition(w.consenting, stance.OBJECT, "   "),
            "reason_required",
        ),
        (
            "object, omitted id, no reason",
            "carol",
            c.StatePosition(None, stance.OBJECT),
            "reason_required",
        ),
        (
            "reason too long",
            "carol",
            c.StatePosition(w.consenting, stance.CONCERN, "r" * (MAX_REASON + 1)),
            "text_too_long",
        ),
        # who may
        ("vote own amendment", "bob", c.VoteAmendment(w.bobs, True), "own_amendment"),
        ("oppose own amendment", "bob", c.VoteAmendment(w.bobs, False), "own_amendment"),
        ("accept by non-author", "bob", c.AcceptAmendment(w.bobs), "not_author"),
        ("accept by a mediator", "erin", c.AcceptAmendment(w.bobs), "not_author"),
        ("withdraw by non-author", "carol", c.Withdraw(w.amending), "not_author"),
        ("withdraw in consent by non-author", "bob", c.Withdraw(w.consenting), "not_author"),
        ("withdraw objected by non-objector", "carol", c.Withdraw(w.objecting), "not_objector"),
        # mediator-only commands by a plain member
        ("resolve by member", "bob", c.Resolve(w.objecting), "not_mediator"),
        ("next by member", "bob", c.Next(w.amending), "not_mediator"),
        ("close by member", "bob", c.Close(w.amending), "not_mediator"),
        ("close own by member", "alice:plain", c.Close(w.amending), "not_mediator"),
        ("setting by member", "bob", c.ChangeSetting("rule", "majority"), "not_mediator"),
        ("bad setting by member", "bob", c.ChangeSetting("colour", "red"), "not_mediator"),
        ("add mediator by member", "bob", c.AddMediator("console:bob", "bob"), "not_mediator"),
        ("remove mediator by member", "bob", c.RemoveMediator("console:x", "x"), "not_mediator"),
        # settings and mediators
        ("unknown setting", "alice", c.ChangeSetting("colour", "red"), "unknown_setting"),
        ("bad rule", "alice", c.ChangeSetting("rule", "unanimity"), "bad_setting_value"),
        ("bad quorum", "alice", c.ChangeSetting("quorum", "0"), "bad_setting_value"),
        ("bad hours", "alice", c.ChangeSetting("consent_hours", "0"), "bad_setting_value"),
        ("bad flag", "alice", c.ChangeSetting("named_votes", "perhaps"), "bad_setting_value"),
        (
            "remove a non-mediator",
            "alice",
            c.RemoveMediator("console:bob", "bob"),
            "not_a_mediator",
        ),
    ]


NON_MEMBER_COMMANDS = [
    c.Propose("x"),
    c.Amend(None, text="x"),
    c.VoteAmendment(1, True),
    c.AcceptAmendment(1),
    c.StatePosition(1, c.Stance.CONSENT),
    c.StatePosition(None, c.Stance.OBJECT, "why"),
    c.Withdraw(1),
    c.Resolve(1),
    c.Next(1),
    c.Close(1),
    c.Renew(1),
    c.Repeal(1, "why"),
    c.ChangeSetting("rule", "majority"),
    c.AddMediator("console:bob", "bob"),
    c.RemoveMediator("console:bob", "bob"),
]

CASE_IDS = [case[0] for case in cases(World(*range(1, 13)))]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_a_bad_request_changes_nothing(chat: Chat, other: Chat, world: World, index: int) -> None:
    _, who, command, code = cases(world)[index]
    name, _, plain = who.partition(":")
    kw = {"admin": False} if plain else {}  # "alice:plain": alice without her admin rights
    chat.refused(name, command, code, **kw)


@pytest.mark.parametrize("command", NON_MEMBER_COMMANDS, ids=lambda cmd: type(cmd).__name__)
@pytest.mark.parametrize("admin", [False, True], ids=["member", "admin"])
def test_a_non_member_is_refused_everything(
    chat: Chat, world: World, command: c.Command, admin: bool
) -> None:
    chat.refused("stranger", command, "not_member", member=False, admin=admin)
    chat.refused("bob", command, "not_member", member=False)


def test_a_new_group_is_not_created_by_a_refused_request(chat: Chat, world: World) -> None:
    before = dump(chat.db)
    fresh = Chat(chat.engine, chat.db, chat.clock, group="console:fresh")
    fresh.refused("zoe", c.Amend(None, text="x"), "no_open_proposal")
    fresh.refused("zoe", c.StatePosition(None, c.Stance.CONSENT), "no_open_proposal")
    fresh.refused("zoe", c.Propose(""), "text_required")
    fresh.refused("zoe", c.Next(world.amending), "not_mediator")
    fresh.refused("zoe", c.Next(world.amending), "not_in_group", admin=True)
    fresh.refused("zoe", c.StatePosition(world.consenting, c.Stance.CONSENT), "not_in_group")
    assert dump(chat.db) == before


def test_the_world_is_as_described(chat: Chat, world: World) -> None:
    """The refusals above mean something only if the set-up is what it claims."""
    from deliberation.model import Amendment, Clause, Proposal

    phases = {n: chat.get(Proposal, n).phase for n in (world.amending, world.consenting)}
    assert phases == {world.amending: "amendment", world.consenting: "consent"}
    assert chat.get(Proposal, world.objecting).phase == "objected"
    assert chat.get(Proposal, world.adopted).phase == "adopted"
    assert chat.get(Proposal, world.theirs).group_id == OTHER
    assert chat.get(Clause, world.clause).status == "active"
    statuses = {
        n: chat.get(Amendment, n).status
        for n in (world.bobs, world.accepted, world.stale, world.late_amendment)
    }
    assert statuses == {
        world.bobs: "open",
        world.accepted: "accepted",
        world.stale: "open",
        world.late_amendment: "not_passed",
    }
    assert chat.get(Proposal, world.amending).text == "We meet on the first Monday of every month"


def test_the_dump_sees_every_change(chat: Chat, world: World) -> None:
    """The check is only as good as the dump: it covers every table, and sees a change."""
    from deliberation.model import Base

    before = dump(chat.db)
    assert set(before) == {t.name for t in Base.metadata.sorted_tables} | {"sqlite_sequence"}
    chat.state(world.consenting, carol="abstain")
    after = dump(chat.db)
    assert after != before
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"positions", "position_history", "rounds"}  # rounds: running counts


@pytest.mark.parametrize("kind", [c.ProposalKind.RENEWAL, c.ProposalKind.REPEAL])
def test_propose_opens_no_renewal_or_repeal(chat: Chat, world: World, kind: c.ProposalKind) -> None:
    """Those have their own commands; a clause-less one used to crash at its adoption."""
    before = dump(chat.db)
    with pytest.raises(ValueError):
        chat.engine.handle(chat.actor("bob"), c.Propose("x", kind, world.clause))
    assert dump(chat.db) == before
