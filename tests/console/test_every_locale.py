"""Every shipped language words the main messages: a proposal, the tally, the outcome, a
reminder and a refusal, with no message left in English (issue: languages, point 8)."""

from __future__ import annotations

import re

import pytest

from bot.i18n import available_locales, get_translator

from .conftest import Console

SCRIPT = """
:members main alice bob carol dave
alice: /propose We share the boat on Sundays
alice: /next P1
bob: /object P1 too early
carol: /consent P1
:advance 48h
dave: /frobnicate
dave: /object P9 no
alice: /status P1
:advance 24h
"""
USER_TEXT = ("We share the boat on Sundays", "too early")


def run(locale: str) -> list[str]:
    console = Console({"CHARTERBOT_BOT_DEFAULT_LOCALE": locale})
    return [line.removeprefix("bot: ") for line in console.say(SCRIPT)]


def wording(line: str) -> str:
    """A line without what is not the bot's wording: user text, ids, numbers, marks."""
    for text in USER_TEXT:
        line = line.replace(text, "")
    line = re.sub(r"[/!]\w+|\b[PACM]\d+\b|\d+", "", line)
    return re.sub(r"[^\w]+", " ", line).strip()


ENGLISH = {wording(line) for line in run("en")} - {""}


@pytest.mark.parametrize("locale", [code for code in available_locales() if code != "en"])
def test_the_main_messages_are_worded_in_each_language(locale: str) -> None:
    lines = run(locale)
    text = "\n".join(lines)
    assert "P1" in text and "too early" in text  # the proposal and the objection shown
    untranslated = [line for line in lines if len(wording(line)) > 12 and wording(line) in ENGLISH]
    assert untranslated == [], f"{locale}: English left in {untranslated}"
    tr = get_translator(locale)
    for msgid in (
        "I do not know the command {p}{name}. {p}help lists what I understand.",
        "There is no proposal P{n}.",
    ):
        pieces = re.split(r"\{[^}]*\}|P\d+|[\u200f\u2066\u2068\u2069]", tr.gettext(msgid))
        longest = max(pieces, key=len).strip()
        assert longest and any(longest in line for line in lines), (locale, msgid)


def test_a_group_with_english_and_japanese_gets_both(console: Console) -> None:
    console.say(":members main alice bob\nalice: /grouplang en ja")
    out = console.text("alice: /propose We share the boat")
    assert "P1: new clause proposed by alice:" in out
    ja = get_translator("ja").gettext("P{n}: new clause proposed by {author}:")
    assert ja.format(n=1, author="alice") in out


def test_a_japanese_reader_sees_japanese_dates(console: Console) -> None:
    console.say(":members main alice bob\nalice: /propose We share the boat")
    console.say("bob: /lang ja")
    status = console.text("bob: /status P1")
    assert "2026/11/26 12:00" in status  # Babel's medium date and short time for ja
    assert "Nov 26, 2026" in console.text("alice: /status P1")  # alice reads English


def test_tagalog_is_filipino_by_either_code(console: Console) -> None:
    """CLDR names Tagalog by its standard form, Filipino: the catalog is ``fil``, and
    ``/lang tl`` (the code Telegram and many people use) chooses it."""
    filipino = get_translator("fil").gettext("I will write to you in English.")
    assert filipino != "I will write to you in English."
    assert console.say(":members main alice\nalice: /lang tl") == [f"bot: {filipino}"]
    assert console.say("alice: /lang fil") == [f"bot: {filipino}"]


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "Taking part: 25%; the quorum is 50% of the members, and at least 2."),
        ("fr", "Participation\u00a0: 25\u00a0%\u00a0; le quorum est de 50\u00a0% des membres"),
        ("de", "Beteiligung: 25\u00a0%; das Quorum ist 50\u00a0% der Mitglieder"),
    ],
)
def test_a_missed_quorum_is_told_in_percentages_of_the_readers_locale(
    locale: str, expected: str
) -> None:
    console = Console({"CHARTERBOT_BOT_DEFAULT_LOCALE": locale})
    out = console.text(
        ":members main alice bob carol dave\nalice: /propose X\nalice: /next P1\n"
        "alice: /consent P1\n:advance 3d"
    )
    assert expected in out
