"""split_message: parts fit the limit in UTF-16 units of visible text, are valid Telegram
HTML on their own, and lose nothing but the separator at each cut."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.textsplit import split_message
from tests.fakes.bot_api import parse_html, utf16_len

SEPARATOR = r"(?:\n\n|\n| |)"


def visible(part: str, html: bool) -> str:
    """The text Telegram shows for ``part``; parsing raises on invalid HTML."""
    return parse_html(part)[0] if html else part


def styled(part: str) -> list[tuple[str, frozenset[str]]]:
    """Each visible character of an HTML part with the entity types covering it."""
    plain, entities = parse_html(part)
    result = []
    offset = 0
    for char in plain:
        kinds = frozenset(
            e["type"] for e in entities if e["offset"] <= offset < e["offset"] + e["length"]
        )
        result.append((char, kinds))
        offset += utf16_len(char)
    return result


def check(text: str, limit: int, html: bool) -> list[str]:
    """Split and assert every invariant; returns the parts."""
    parts = split_message(text, limit, html)
    original = visible(text, html)
    shown = [visible(part, html) for part in parts]
    assert all(utf16_len(s) <= limit for s in shown)
    if utf16_len(original) <= limit:
        assert parts == [text]
        return parts
    # Not tiny: every part but the last reaches the last quarter of the window.
    assert all(utf16_len(s) >= limit - max(limit // 4, 1) for s in shown[:-1])
    # Joined, the parts are the original minus one separator (or nothing) at each cut.
    pattern = SEPARATOR.join(f"({re.escape(s)})" for s in shown) + SEPARATOR
    match = re.fullmatch(pattern, original)
    assert match is not None, (original, shown)
    if html:  # and each character keeps its formatting
        styles = styled(text)
        for k, part in enumerate(parts, start=1):
            assert styled(part) == styles[match.start(k) : match.end(k)]
    return parts


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("html", [False, True])
def test_text_that_fits_comes_back_unchanged(html: bool) -> None:
    assert split_message("hello", 5, html) == ["hello"]
    assert split_message("", 10, html) == [""]
    assert split_message("a\n\nb c", 100, html) == ["a\n\nb c"]


def test_tags_and_entities_do_not_count_towards_the_limit() -> None:
    text = '<b>a</b> <a href="https://example.org/?x=1&amp;y=2">&lt;&#35;&gt;</a>'
    assert split_message(text, 5, html=True) == [text]


def test_without_html_markup_is_visible_text() -> None:
    assert split_message("&amp;&amp;", 5, html=False) == ["&amp;", "&amp;"]
    assert split_message("<b>x</b>", 4, html=False) == ["<b>x", "</b>"]


def test_a_paragraph_break_is_preferred() -> None:
    text = "a" * 15 + "\n\n" + "b\nc d" + "e" * 10
    assert check(text, 20, html=False) == ["a" * 15, "b\nc d" + "e" * 10]


def test_then_a_line_break() -> None:
    text = "a" * 15 + "\n" + "bb c" + "d" * 10
    assert check(text, 20, html=False) == ["a" * 15, "bb c" + "d" * 10]


def test_then_the_last_space() -> None:
    text = "a" * 15 + " bbb " + "c" * 10
    assert check(text, 20, html=False) == ["a" * 15 + " bbb", "c" * 10]


def test_a_separator_just_past_the_limit_is_used_and_dropped() -> None:
    assert check("a" * 20 + "\n" + "b" * 5, 20, html=False) == ["a" * 20, "b" * 5]
    assert check("a" * 20 + "\n", 20, html=False) == ["a" * 20]


def test_whitespace_before_the_last_quarter_is_ignored_and_the_cut_is_hard() -> None:
    assert check("a " + "b" * 30, 20, html=False) == ["a " + "b" * 18, "b" * 12]
    assert check("x" * 45, 20, html=False) == ["x" * 20, "x" * 20, "x" * 5]


@pytest.mark.parametrize("html", [False, True])
def test_astral_characters_count_twice_and_are_never_split(html: bool) -> None:
    assert check("😀" * 5, 5, html) == ["😀😀", "😀😀", "😀"]
    assert check("a" + "😀" * 3, 4, html) == ["a😀", "😀😀"]


def test_entities_are_never_split() -> None:
    assert check("&amp;" * 10, 4, html=True) == ["&amp;" * 4, "&amp;" * 4, "&amp;" * 2]
    assert check("&#x1F600;" * 3, 3, html=True) == ["&#x1F600;"] * 3
    assert check("a&#128512;b&quot;", 3, html=True) == ["a&#128512;", "b&quot;"]


def test_an_ampersand_that_is_no_entity_counts_as_itself() -> None:
    assert check("R&D &nbsp;", 4, html=True) == ["R&D", "&nbs", "p;"]


def test_open_tags_are_closed_and_reopened() -> None:
    text = "<b>" + "word " * 10 + "</b>"
    assert check(text, 20, html=True) == [
        "<b>word word word word</b>",
        "<b>word word word word</b>",
        "<b>word word </b>",
    ]


def test_reopened_tags_keep_their_attributes_and_nesting() -> None:
    link = '<a href="https://example.org/?a=1&amp;b=2">'
    text = f"{link}aaaa <i>bbbb cccc</i></a>"
    assert check(text, 10, html=True) == [
        f"{link}aaaa <i>bbbb</i></a>",
        f"{link}<i>cccc</i></a>",
    ]


def test_a_code_block_is_cut_at_a_line_break() -> None:
    opening = '<pre><code class="language-python">'
    text = opening + "x = 1\ny = 2\nz = 3</code></pre>"
    assert check(text, 12, html=True) == [
        f"{opening}x = 1\ny = 2</code></pre>",
        f"{opening}z = 3</code></pre>",
    ]


def test_a_tag_opening_at_the_cut_moves_to_the_next_part() -> None:
    assert check("aaaa <b>bbbb</b>", 5, html=True) == ["aaaa", "<b>bbbb</b>"]
    assert check("<i>aaaa</i> bbbb", 5, html=True) == ["<i>aaaa</i>", "bbbb"]


def test_a_limit_below_one_astral_character_is_refused() -> None:
    with pytest.raises(ValueError):
        split_message("abc", 1, html=False)


# --------------------------------------------------------------------------- properties

WORDS = st.sampled_from(["a", "word", "longerword", "x" * 30, "ß", "中文"])
PLAIN_PIECES = st.one_of(WORDS, st.sampled_from([" ", "  ", "\n", "\n\n", "\n\n\n", "😀", "👍🏽"]))
ESCAPED = st.sampled_from(["&amp;", "&lt;", "&gt;", "&quot;", "&#35;", "&#x1F600;", "R&D"])
TAGS = st.sampled_from(["b", "i", "tg-spoiler", 'a href="https://example.org/?q=1&amp;r=2"'])


def wrap(tag_and_children: tuple[str, list[str]]) -> str:
    tag, children = tag_and_children
    return f"<{tag}>{''.join(children)}</{tag.split()[0]}>"


HTML_PIECES = st.recursive(
    st.one_of(PLAIN_PIECES, ESCAPED),
    lambda children: st.tuples(TAGS, st.lists(children, max_size=8)).map(wrap),
    max_leaves=40,
)


@given(st.lists(PLAIN_PIECES, max_size=60).map("".join), st.integers(2, 80))
def test_plain_text_property(text: str, limit: int) -> None:
    check(text, limit, html=False)


@given(st.lists(HTML_PIECES, max_size=30).map("".join), st.integers(2, 80))
def test_html_property(text: str, limit: int) -> None:
    check(text, limit, html=True)


@given(st.text(), st.integers(2, 50))
def test_any_text_property(text: str, limit: int) -> None:
    parts = split_message(text, limit, html=False)
    assert all(utf16_len(part) <= limit for part in parts)
