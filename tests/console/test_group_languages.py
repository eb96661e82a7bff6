"""``/grouplang``: a group with several languages gets every announcement in each."""

from __future__ import annotations

from bot.i18n import get_translator

from .conftest import Console


def test_announcements_come_in_each_language_of_the_group(console: Console) -> None:
    console.say(":members main alice bob")
    assert console.say("alice: /grouplang en es") == [
        "bot: This group's languages are now English and Spanish: announcements come in each "
        "of them.",
        "bot: ",
        "bot: "
        + get_translator("es")
        .gettext("This group's languages are now {names}: announcements come in each of them.")
        .format(names="inglés y español"),
    ]
    out = console.say("alice: /propose We share the boat")
    assert "bot: P1: new clause proposed by alice:" in out
    assert "bot: P1: cláusula nueva propuesta por alice:" in out
    assert "Fase de enmiendas hasta el 26 nov 2026, 12:00 (dentro de 2 días)." in "\n".join(out)
    assert "languages = en es" in console.text("bob: /settings")


def test_only_mediators_and_only_languages_the_bot_speaks(console: Console) -> None:
    console.say(":members main alice bob")
    assert console.say("bob: /grouplang fr") == [
        "bot: Only a mediator of this group can use /grouplang.",
    ]
    refused = console.text("alice: /grouplang en xx")
    assert refused.startswith("bot: I do not speak “xx”. Languages: ")
    assert console.say("alice: /grouplang") == ["bot: Usage: /grouplang <code> [<code> ...]"]
    too_many = console.text("alice: /grouplang en es fr de it ja")
    assert "languages" in too_many and "1 to 5" in too_many
    assert "languages = en" in console.text("bob: /settings")  # nothing changed
