"""Right-to-left messages: each line set right to left, ids and commands isolated."""

from __future__ import annotations

import gettext
import unicodedata

import babel

from bot.bidi import FSI, LRI, PDI, RLM, rtl_template
from bot.i18n import Translator


class Catalog(gettext.NullTranslations):
    """A one-message catalog, as a .po file would give."""

    def __init__(self, messages: dict[str, str]) -> None:
        super().__init__()
        self.messages = messages

    def gettext(self, message: str) -> str:
        return self.messages.get(message, message)


def first_strong(line: str) -> str:
    """The bidi class of the first strong character outside isolates (what sets a line's
    direction in the Unicode bidi algorithm, rule P2)."""
    depth = 0
    for ch in line:
        if ch in (LRI, FSI, "\u2067"):
            depth += 1
        elif ch == PDI:
            depth = max(0, depth - 1)
        elif depth == 0 and unicodedata.bidirectional(ch) in ("L", "R", "AL"):
            return unicodedata.bidirectional(ch)
    return ""


def test_every_line_is_right_to_left_and_latin_runs_are_isolated() -> None:
    text = rtl_template("P{n}: اقترح {author} نصًا.\n{p}consent P{n} · {p}object P{n} <سبب>")
    lines = text.split("\n")
    assert all(line.startswith(RLM) for line in lines)
    assert f"{LRI}P{{n}}{PDI}:" in lines[0]  # the colon stays outside, on the Arabic side
    assert f"{FSI}{{author}}{PDI}" in lines[0]  # a name reads in its own direction
    assert f"{LRI}{{p}}consent P{{n}}{PDI} · {LRI}{{p}}object P{{n}}{PDI} <سبب>" in lines[1]
    assert all(first_strong(line) == "R" for line in lines)  # RLM is strong R


def test_a_sentence_keeps_its_period_outside_the_isolate() -> None:
    assert rtl_template("انظر P{n}.") == f"{RLM}انظر {LRI}P{{n}}{PDI}."
    assert rtl_template("الساعة 12:00") == f"{RLM}الساعة {LRI}12:00{PDI}"


def test_an_arabic_reader_gets_isolated_ids_and_a_latin_reader_nothing() -> None:
    arabic = Translator(babel.Locale.parse("ar"), Catalog({"See P{n}.": "انظر P{n}."}))
    assert arabic.gettext("See P{n}.", n=3) == f"{RLM}انظر {LRI}P3{PDI}."
    spanish = Translator(babel.Locale.parse("es"), Catalog({"See P{n}.": "Ver P{n}."}))
    assert spanish.gettext("See P{n}.", n=3) == "Ver P3."


def test_html_escaping_comes_after_the_isolates() -> None:
    arabic = Translator(babel.Locale.parse("ar"), Catalog({"Use <x> P{n}": "استخدم <x> P{n}"}))
    html = arabic.for_html().gettext("Use <x> P{n}", n=1)
    assert "&lt;" in html and f"{LRI}P1{PDI}" in html


def test_an_arabic_group_reads_right_to_left_with_ids_isolated() -> None:
    """The console in Arabic: every line the bot words is set right to left (its first
    strong character outside isolates is right-to-left), and no id or command sits bare
    in the sentence. Lines that are only the proposal's own (Latin) text are left alone."""
    from tests.console.conftest import Console

    console = Console({"CHARTERBOT_BOT_DEFAULT_LOCALE": "ar"})
    lines = console.say(
        ":members main alice bob carol\n"
        "alice: /propose We share the boat\n"
        "alice: /next P1\n"
        "bob: /object P1 too early\n"
        "carol: /consent P1\n"
        "alice: /status P1\n"
        "bob: /frobnicate\n"
        ":advance 3d"
    )
    worded = [line.removeprefix("bot: ") for line in lines]
    worded = [line for line in worded if line.strip() and not line.startswith("  ")]
    assert worded and all(first_strong(line) in ("R", "AL") for line in worded), worded
    for line in worded:
        for at in (i for i in range(len(line)) if line.startswith("P1", i)):
            before = line[:at]
            depth = before.count(LRI) + before.count(FSI) - before.count(PDI)
            assert depth > 0, f"a bare P1 in {line!r}"
