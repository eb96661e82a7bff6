"""Contributed translations in the shell: the ``/translate`` grammar, which translation a
reader sees, escaping, and live cards in a group of several languages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import cards, render
from bot import grammar as g
from bot.i18n import get_translator
from bot.textsplit import split_message
from deliberation import commands as c
from deliberation import events as e
from deliberation import queries as q
from deliberation.errors import DomainError
from deliberation.model import Group
from deliberation.services import Deliberation
from deliberation.settings import Defaults
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from deliberation.timers import ManualClock
from tests.fakes.bot_api import parse_html

NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script> & <b>'


def reader(code: str = "en", html: bool = False, timezone: str = "UTC") -> render.Reader:
    markup = render.HtmlMarkup() if html else render.Markup()
    return render.Reader(get_translator(code), timezone, NOW, "/", markup)


def tv(lang: str, version: int = 1, outdated: bool = False, text: str = "") -> q.TranslationView:
    return q.TranslationView(lang, text or f"{lang} v{version}", "bob", version, outdated)


# -- grammar ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("/translate P3 ja 船を共有する", c.Translate("P", 3, "ja", "船を共有する")),
        ("/translate c2 pt-br Texto", c.Translate("C", 2, "pt-br", "Texto")),
        ("/translate P3: es Dos\nlíneas", c.Translate("P", 3, "es", "Dos\nlíneas")),
        ("!translate C1 en  spaced  out ", c.Translate("C", 1, "en", "spaced  out")),
    ],
)
def test_translate_is_parsed(line: str, expected: c.Translate) -> None:
    prefix = line[0]
    assert g.parse(line, prefix) == expected


@pytest.mark.parametrize(
    "line",
    ["/translate", "/translate P3", "/translate P3 ja", "/translate 3 ja x", "/translate A3 ja x"],
)
def test_translate_without_a_kind_language_or_text_gets_its_usage(line: str) -> None:
    with pytest.raises(g.UsageError) as caught:
        g.parse(line)
    assert caught.value.command == "translate"


def test_translate_with_a_broken_id_says_so() -> None:
    with pytest.raises(DomainError) as caught:
        g.parse("/translate Pxyz ja text")
    assert caught.value.code == "bad_id"


def test_translate_is_in_help_and_usage() -> None:
    assert "translate" in g.COMMANDS
    assert "/translate P<n>|C<n> <language> <text>" in render.help_text(reader())
    assert render.usage(reader(), "translate") == "Usage: /translate P<n>|C<n> <language> <text>"


# -- which translation a reader sees ----------------------------------------------------


def test_the_exact_language_is_preferred_then_the_base_language() -> None:
    both = (tv("pt"), tv("pt_BR"))
    assert render.translation_for(reader("pt_BR"), both) == tv("pt_BR")
    assert render.translation_for(reader("pt"), both) == tv("pt")
    assert render.translation_for(reader("pt"), (tv("pt_BR"),)) == tv("pt_BR")
    assert render.translation_for(reader("pt_BR"), (tv("pt"),)) == tv("pt")
    assert render.translation_for(reader("es"), both) is None


def test_a_current_translation_wins_over_an_outdated_one() -> None:
    old_exact = tv("pt_BR", 1, outdated=True)
    current_base = tv("pt", 2)
    assert render.translation_for(reader("pt_BR"), (old_exact, current_base)) == current_base
    older = tv("pt_BR", 1, outdated=True)
    newer = tv("pt_BR", 2, outdated=True)
    assert render.translation_for(reader("pt_BR"), (older, newer)) == newer


def test_text_for_marks_the_translation_and_keeps_the_original_after_it() -> None:
    lines = render.text_for(reader("es"), "Original text", (tv("es", text="Texto traducido"),))
    assert len(lines) == 4
    assert "🌐" in lines[0] and "bob" in lines[0] and "español" in lines[0]
    assert lines[1] == "  Texto traducido"
    assert lines[3] == "  Original text"
    assert render.text_for(reader("en"), "Original text", (tv("es"),)) == ["  Original text"]


def test_an_outdated_translation_says_which_version_it_is_of() -> None:
    (mark, *_rest) = render.text_for(reader("en"), "x", (tv("en", 1, outdated=True),))
    assert mark == (
        "🌐 Outdated translation into English by bob, of version 1 "
        "(the original below is authoritative):"
    )


def test_translations_and_translators_are_escaped_for_html() -> None:
    hostile = q.TranslationView("en", HOSTILE, HOSTILE, 1, False)
    text = "\n".join(render.text_for(reader("en", html=True), HOSTILE, (hostile,)))
    assert "<script>" not in text and "<b>" not in text
    assert text.count("&lt;script&gt;") == 3  # translator, translation, original


def test_the_announcement_names_the_language_in_the_readers_language() -> None:
    ev = e.TranslationAdded("g", "P3", 2, "ja", HOSTILE, proposal=3)
    english = render.event(reader("en"), ev)
    assert english.startswith(
        f"{HOSTILE} contributed a translation of P3 (version 2) into Japanese."
    )
    assert "/status P3" in english
    assert "日本語" in render.event(reader("ja"), ev)
    assert "<script>" not in render.event(reader("en", html=True), ev)
    clause = e.TranslationAdded("g", "C1", 1, "es", "bob", replaced=True)
    assert "/clause C1" in render.event(reader("en"), clause)
    assert "replaced the translation of C1" in render.event(reader("en"), clause)


# -- cards -----------------------------------------------------------------------------

GROUP = "telegram:-100"


def html_reader(code: str, timezone: str) -> render.Reader:
    return reader(code, html=True, timezone=timezone)


def actor(n: int, admin: bool = False) -> c.Actor:
    return c.Actor(GROUP, f"telegram:{n}", f"Person {n}", platform_admin=admin)


@pytest.fixture
def engine() -> Deliberation:
    db = Database("sqlite+pysqlite:///:memory:")
    upgrade(db.engine)
    return Deliberation(db, ManualClock(NOW), Defaults(amendment_hours=0))


def group_languages(engine: Deliberation, languages: str) -> None:
    with engine.db.unit_of_work() as uow:
        group = uow.session.get(Group, GROUP)
        assert group is not None
        group.languages = languages
        uow.commit()


def test_a_card_in_several_languages_shows_each_its_translation(engine: Deliberation) -> None:
    engine.handle(actor(1, admin=True), c.Propose("We share the boat"))
    group_languages(engine, "en es")
    engine.handle(actor(2), c.Translate("P", 1, "es", "Compartimos la barca"))
    with engine.db.unit_of_work(write=False) as uow:
        card = cards.word(uow.session, GROUP, "P1", html_reader)
    assert card is not None
    plain, _entities = parse_html(card.text)
    english, spanish = plain.split("\n\nP1 · ")
    assert "Compartimos" not in english and "🌐" not in english
    assert spanish.index("Compartimos la barca") < spanish.index("We share the boat")
    assert "Person 2" in spanish


def test_a_long_translation_is_shortened_on_the_card(engine: Deliberation) -> None:
    engine.handle(actor(1, admin=True), c.Propose("€" * 2900))
    group_languages(engine, "en es")
    engine.handle(actor(2), c.Translate("P", 1, "es", "ñ" * 2900))
    with engine.db.unit_of_work(write=False) as uow:
        card = cards.word(uow.session, GROUP, "P1", html_reader)
        view = q.proposal(uow.session, GROUP, 1, None)
    assert card is not None
    assert len(split_message(card.text, 4096, html=True)) == 1
    plain, _entities = parse_html(card.text)
    assert "/status P1" in plain  # the pointer to everything
    assert "🌐" in plain and "ñ" * 50 in plain  # still marked, and an excerpt shown
    full = render.status(reader("es"), view)
    assert "ñ" * 2900 in full and "€" * 2900 in full  # /status P1 shows both in full
