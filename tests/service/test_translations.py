"""Contributed translations: ``Translate`` stores a translation of the current text of a
proposal or clause, credited to its translator; a later text version leaves it outdated."""

from __future__ import annotations

from datetime import timedelta

from deliberation import commands as c
from deliberation import events as e
from deliberation import public, queries
from deliberation.model import Translation
from deliberation.services import MAX_TEXT
from tests.service.conftest import GROUP, START, Chat

TEXT = "We share the boat"


def stored(chat: Chat) -> list[tuple[str, int, str, str, str]]:
    rows = chat.rows(Translation, order_by=Translation.id)
    return [(t.subject, t.version, t.lang, t.text, t.translator_id) for t in rows]


def proposal_view(chat: Chat, number: int) -> queries.ProposalView:
    with chat.db.unit_of_work(write=False) as uow:
        return queries.proposal(uow.session, GROUP, number, None)


def clause_view(chat: Chat, number: int) -> queries.ClauseView:
    with chat.db.unit_of_work(write=False) as uow:
        return queries.clause(uow.session, number)


def test_a_translation_of_a_proposal_is_stored_and_credited(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    added = chat.one(
        "bob", c.Translate("P", number, "ja", "  ボートを共有します  "), e.TranslationAdded
    )
    assert added == e.TranslationAdded(
        group=GROUP,
        subject=f"P{number}",
        version=1,
        lang="ja",
        translator="bob",
        replaced=False,
        proposal=number,
    )
    assert stored(chat) == [(f"P{number}", 1, "ja", "ボートを共有します", "console:bob")]
    row = chat.rows(Translation)[0]
    assert (row.group_id, row.created_at) == (GROUP, START)
    view = proposal_view(chat, number)
    assert view.text == TEXT  # the original stays the proposal's text
    assert view.translations == (
        queries.TranslationView("ja", "ボートを共有します", "bob", 1, outdated=False),
    )


def test_a_second_translation_of_the_same_version_and_language_replaces_the_first(
    chat: Chat,
) -> None:
    number = chat.propose("alice", TEXT)
    chat.do("bob", c.Translate("P", number, "es", "Compartimos la barca"))
    chat.clock.advance(timedelta(hours=1))
    again = chat.one(
        "carol", c.Translate("P", number, "es", "Compartimos el bote"), e.TranslationAdded
    )
    assert (again.replaced, again.translator, again.version) == (True, "carol", 1)
    chat.do("dave", c.Translate("P", number, "pt_BR", "Compartilhamos o barco"))
    assert stored(chat) == [
        (f"P{number}", 1, "es", "Compartimos el bote", "console:carol"),
        (f"P{number}", 1, "pt_BR", "Compartilhamos o barco", "console:dave"),
    ]
    assert chat.rows(Translation, Translation.lang == "es")[0].created_at == START + timedelta(
        hours=1
    )
    langs = [(t.lang, t.translator) for t in proposal_view(chat, number).translations]
    assert langs == [("es", "carol"), ("pt_BR", "dave")]


def test_refusals_leave_the_store_unchanged(chat: Chat, other: Chat) -> None:
    number = chat.propose("alice", TEXT)
    chat.adopt("Tools go back to the shed")  # C1
    theirs = other.propose("erin", "Nets are mended together")
    other.adopt("The harbour closes at ten", author="erin", voters=("erin", "frank"))  # C2
    chat.do("bob", c.Translate("P", number, "es", "Compartimos la barca"))
    cases = [
        ("mallory", c.Translate("P", number, "es", "Otra"), "not_member", {"member": False}),
        ("bob", c.Translate("P", 99, "es", "Hola"), "no_such_proposal", {}),
        ("bob", c.Translate("C", 99, "es", "Hola"), "no_such_clause", {}),
        ("bob", c.Translate("P", theirs, "es", "Redes"), "not_in_group", {}),
        ("bob", c.Translate("C", 2, "es", "El puerto"), "not_in_group", {}),
        ("bob", c.Translate("P", number, "es", "   "), "text_required", {}),
        ("bob", c.Translate("P", number, "es", "x" * (MAX_TEXT + 1)), "text_too_long", {}),
        ("bob", c.Translate("P", number, "es", "Hola"), "group_only", {"private": True}),
    ]
    for name, command, code, kw in cases:
        refusal = chat.refused(name, command, code, **kw)
        if code == "not_in_group":
            assert refusal.params["kind"] == command.kind
    assert stored(chat) == [(f"P{number}", 1, "es", "Compartimos la barca", "console:bob")]


def test_the_text_limit_is_the_proposals(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    chat.one("bob", c.Translate("P", number, "es", "x" * MAX_TEXT), e.TranslationAdded)


def test_an_applied_amendment_leaves_the_translation_outdated(chat: Chat) -> None:
    number = chat.propose("alice", TEXT)
    chat.do("bob", c.Translate("P", number, "es", "Compartimos la barca"))
    amendment = chat.amend("carol", number, text="We share the red boat")
    chat.support(amendment, "dave")
    consent = chat.next(number)
    assert isinstance(consent, e.ConsentOpened) and consent.version == 2
    (old,) = proposal_view(chat, number).translations
    assert (old.version, old.outdated) == (1, True)
    added = chat.one(
        "dave", c.Translate("P", number, "es", "Compartimos la barca roja"), e.TranslationAdded
    )
    assert (added.version, added.replaced) == (2, False)
    views = proposal_view(chat, number).translations
    assert [(t.version, t.outdated, t.translator) for t in views] == [
        (2, False, "dave"),
        (1, True, "bob"),
    ]


def test_a_clause_translation_follows_the_clauses_version(chat: Chat) -> None:
    chat.adopt(TEXT)
    added = chat.one("bob", c.Translate("C", 1, "es", "Compartimos la barca"), e.TranslationAdded)
    assert (added.subject, added.version, added.proposal) == ("C1", 1, None)
    assert [t.outdated for t in clause_view(chat, 1).translations] == [False]
    opened = chat.do("carol", c.Propose("We share the red boat", c.ProposalKind.CHANGE, 1))[0]
    chat.next(opened.proposal)
    chat.state(opened.proposal, alice="consent", bob="consent")
    chat.next(opened.proposal)
    view = clause_view(chat, 1)
    assert view.version == 2
    (old,) = view.translations
    assert (old.version, old.outdated) == (1, True)
    assert [len(v.translations) for v in view.versions] == [1, 0]
    chat.do("dave", c.Translate("C", 1, "es", "Compartimos la barca roja"))
    view = clause_view(chat, 1)
    assert [(t.version, t.outdated) for t in view.translations] == [(2, False), (1, True)]
    with chat.db.unit_of_work(write=False) as uow:
        data = public.export_json(uow.session)
    (clause,) = [x for x in data["charters"][0]["clauses"] if x["number"] == 1]
    assert [v["translations"] for v in clause["versions"]] == [
        [
            {
                "lang": "es",
                "text": "Compartimos la barca",
                "translator": "bob",
                "version": 1,
                "outdated": True,
            }
        ],
        [
            {
                "lang": "es",
                "text": "Compartimos la barca roja",
                "translator": "dave",
                "version": 2,
                "outdated": False,
            }
        ],
    ]


def test_proposal_translations_are_not_in_the_export(chat: Chat) -> None:
    decided = chat.adopt(TEXT)
    chat.do("bob", c.Translate("P", decided.proposal, "es", "Compartimos la barca"))
    with chat.db.unit_of_work(write=False) as uow:
        data = public.export_json(uow.session)
    (clause,) = data["charters"][0]["clauses"]
    assert clause["versions"][0]["translations"] == []
