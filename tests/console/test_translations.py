"""Contributed translations end to end: ``/translate``, what readers of each language see,
and the exports."""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import select

from deliberation.model import Translation

from .conftest import Console

ORIGINAL = "Compartimos la barca"


def translations(console: Console) -> list[tuple[str, int, str, str, str]]:
    with console.db.unit_of_work(write=False) as uow:
        rows = uow.session.scalars(select(Translation).order_by(Translation.id)).all()
        return [(t.subject, t.version, t.lang, t.text, t.translator_id) for t in rows]


def after(lines: list[str], marker: str) -> list[str]:
    """The lines after the first one containing ``marker``."""
    index = next(i for i, line in enumerate(lines) if marker in line)
    return lines[index + 1 :]


def test_readers_of_the_language_see_the_translation_with_the_original_a_line_away(
    console: Console,
) -> None:
    console.say(f"alice: /propose {ORIGINAL}")
    out = console.text("bob: /translate P1 en We share the boat")
    assert out == (
        "bot: bob contributed a translation of P1 (version 1) into English. "
        "Readers of English see it with the original in /status P1."
    )
    status = console.say("carol: /status P1")
    assert after(status, "By alice · text version 1")[:4] == [
        "bot: 🌐 Translation into English by bob (the original below is authoritative):",
        "bot:   We share the boat",
        "bot: Original:",
        f"bot:   {ORIGINAL}",
    ]
    # A reader of another language sees the original alone.
    spanish = console.text("dave: /lang es\ndave: /status P1")
    assert ORIGINAL in spanish
    assert "We share the boat" not in spanish and "🌐" not in spanish


def test_the_language_is_checked_as_for_lang(console: Console) -> None:
    console.say(f"alice: /propose {ORIGINAL}")
    assert "I do not speak “xx”" in console.text("bob: /translate P1 xx Texto")
    assert translations(console) == []
    out = console.text("bob: /translate P1 pt-br Compartilhamos o barco")
    assert "into Portuguese (Brazil)" in out
    assert translations(console) == [("P1", 1, "pt_BR", "Compartilhamos o barco", "console:bob")]
    shown = console.text("carol: /lang pt-br\ncarol: /status P1")
    assert "Compartilhamos o barco" in shown and "🌐" in shown
    assert shown.index("Compartilhamos o barco") < shown.index(ORIGINAL)


def test_bad_input_is_explained_and_stores_nothing(console: Console) -> None:
    console.say(":members main alice bob\nalice: /propose Text")
    cases = {
        "bob: /translate": "Usage: /translate P<n>|C<n> <language> <text>",
        "bob: /translate P1": "Usage: /translate",
        "bob: /translate P1 es": "Usage: /translate",
        "bob: /translate 1 es Texto": "Usage: /translate",
        "bob: /translate A1 es Texto": "Usage: /translate",
        "bob: /translate P9 es Texto": "There is no proposal P9",
        "bob: /translate C4 es Texto": "There is no clause C4",
        "bob: /translate P1 es " + "x" * 3001: "at most 3,000 are allowed",
        "mallory: /translate P1 es Texto": "Only members of this group",
    }
    for line, expected in cases.items():
        assert expected in console.text(line), line
    assert translations(console) == []


def test_a_translation_of_several_lines_is_kept(console: Console) -> None:
    console.say(f"alice: /propose {ORIGINAL}")
    console.say("bob: /translate P1 en We share\\\nthe <b>boat</b>")
    assert translations(console) == [("P1", 1, "en", "We share\nthe <b>boat</b>", "console:bob")]
    status = console.say("carol: /status P1")
    assert "bot:   We share" in status and "bot:   the <b>boat</b>" in status


def test_a_new_text_version_marks_the_translation_outdated(console: Console) -> None:
    console.say(
        f"""
        alice: /propose {ORIGINAL}
        bob: /translate P1 en We share the boat
        dave: /amend P1 Compartimos la barca roja
        carol: /support A1
        alice: /next P1
        """
    )
    status = console.say("erin: /status P1")
    assert after(status, "text version 2")[:4] == [
        "bot: 🌐 Outdated translation into English by bob, of version 1 "
        "(the original below is authoritative):",
        "bot:   We share the boat",
        "bot: Original:",
        "bot:   Compartimos la barca roja",
    ]
    assert "version 2" in console.text("frank: /translate P1 en We share the red boat")
    status = console.say("erin: /status P1")
    assert after(status, "text version 2")[:2] == [
        "bot: 🌐 Translation into English by frank (the original below is authoritative):",
        "bot:   We share the red boat",
    ]
    assert "We share the boat" not in "\n".join(status)  # a current one is shown instead


def test_a_group_in_another_language_reads_the_original(
    make_console: Callable[..., Console],
) -> None:
    console = make_console({"CHARTERBOT_BOT_DEFAULT_LOCALE": "es"})
    console.say("alice: /propose We share the boat")
    out = console.text("bob: /translate P1 es Compartimos la barca")
    assert "español" in out  # the language named in the group's language
    status = console.say("carol: /status P1")  # carol reads the group's language
    shown = status.index("bot:   Compartimos la barca")
    assert shown < status.index("bot:   We share the boat")
    assert "🌐" in status[shown - 1] and "bob" in status[shown - 1]  # marked and credited
    assert "español" in status[shown - 1]
    english = console.text("dave: /lang en\ndave: /status P1")
    assert "Compartimos" not in english


ADOPTED = f"""
alice: /propose {ORIGINAL}
alice: /next P1
alice: /consent P1
bob: /consent P1
alice: /next P1
"""


def test_clause_translations_in_clause_charter_and_exports(console: Console) -> None:
    console.say(ADOPTED)
    out = console.text("bob: /translate C1 en We share the boat")
    assert "translation of C1 (version 1) into English" in out
    assert "/clause C1" in out
    clause = console.say("carol: /clause C1")
    assert clause[1:5] == [
        "bot: 🌐 Translation into English by bob (the original below is authoritative):",
        "bot:   We share the boat",
        "bot: Original:",
        f"bot:   {ORIGINAL}",
    ]
    assert "We share the boat" in console.text("carol: /charter")
    exported = console.say("carol: /export json")
    data = json.loads("\n".join(line.removeprefix("bot: ") for line in exported))
    (version,) = data["charters"][0]["clauses"][0]["versions"]
    assert version["translations"] == [
        {
            "lang": "en",
            "text": "We share the boat",
            "translator": "bob",
            "version": 1,
            "outdated": False,
        }
    ]
    markdown = console.say("carol: /export md")
    assert after(markdown, "- v1 · adopted")[:3] == [
        "bot:   - Translation into English by bob:",
        "bot: ",
        "bot:     > We share the boat",
    ]


def test_a_changed_clause_keeps_the_old_translation_under_its_version(console: Console) -> None:
    console.say(ADOPTED)
    console.say(
        """
        bob: /translate C1 en We share the boat
        carol: /propose --change C1 Compartimos la barca roja
        alice: /next P2
        alice: /consent P2
        bob: /consent P2
        alice: /next P2
        """
    )
    clause = console.text("carol: /clause C1")
    assert "Outdated translation into English by bob, of version 1" in clause
    exported = console.say("carol: /export json")
    data = json.loads("\n".join(line.removeprefix("bot: ") for line in exported))
    versions = data["charters"][0]["clauses"][0]["versions"]
    assert [[(t["version"], t["outdated"]) for t in v["translations"]] for v in versions] == [
        [(1, True)],
        [],
    ]
    markdown = console.text("carol: /export md")
    v1, v2 = markdown.index("- v1 · adopted"), markdown.index("- v2 · adopted")
    assert v1 < markdown.index("Translation into English by bob:") < v2
