"""Hypothesis strategies for what people might type at the bot, and checks of its answers.

The inputs are mostly command-shaped (a real command word, sometimes garbled, with
arguments built from ids, durations, quotes, markup, right-to-left marks and arbitrary
unicode), so that the grammar and the engine are exercised far beyond ``/help``; the rest
is arbitrary text. ``expected_answer`` is the rule each input is held to: the grammar
(``bot.grammar.parse``) says whether it is a command for this bot; a command gets an answer
(a reply, a refusal or "unknown command"), anything else is conversation and is ignored.

``markup_problems`` reads one outbound HTML message the way a client does and lists what
is wrong with it: a tag the bot does not write, markup left over after removing the bot's
own tags (a ``<`` or ``>`` that was not escaped), an ``&`` that is not ``&amp;``, ``&lt;``
or ``&gt;`` (all that ``html.escape`` writes; a user's ``&#60;`` left as it is shows).
The bot writes its few tags in exactly one form (``<b>``, not ``<B>`` or ``<b class=x>``);
the generated markup uses those other forms too, so an unescaped user tag cannot pass for
one of the bot's own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

from hypothesis import strategies as st

from bot import grammar

# -- the pieces of an input ------------------------------------------------------------

MARKUP = (
    "<b>",
    "</b>",
    "<b>bold</b>",
    "<B>x</B>",
    '<b class="x">',
    "<i>",
    "</code>",
    "<code>",
    "<script>alert(1)</script>",
    '<a href="javascript:alert(1)">link</a>',
    '<a href="https://matrix.to/#/@mallory:x">pill</a>',
    "<br>",
    "<pre>",
    "<blockquote>",
    "<tg-spoiler>",
    "&amp;",
    "&lt;b&gt;",
    "&#60;",
    "&#x3c;i&#x3e;",
    "&",
    "&&",
    "<",
    ">",
    "<<>>",
    "`code`",
    "```block```",
    "*bold*",
    "_it_",
    "**x**",
    "[x](http://e.x)",
    "<!-- c -->",
    "<![CDATA[x]]>",
    "\"'",
)
MARKS = ("\u200f", "\u200e", "\u202e", "\u202b", "\u2066", "\u2069", "\u200b", "\ufeff", "\u00a0")
WORDS = (
    "replace",
    "with",
    "for",
    "in",
    "cancel",
    "all",
    "on",
    "off",
    "add",
    "remove",
    "create",
    "join",
    "invite",
    "revoke",
    "leave",
    "settings",
    "amendment",
    "consent",
    "md",
    "json",
    "markdown",
    "en",
    "ja",
    "pt-br",
    "xx",
    "Europe/Berlin",
    "Mars/Olympus",
    "rule",
    "quorum",
    "quorum_min",
    "named_votes",
    "show_tally",
    "public",
    "languages",
    "true",
    "majority",
    "0.5",
    "--change",
    "--alliance",
    "--alliance=L1",
    "--change=C1",
    "—change",
    "--bogus",
    "tomorrow 18:00",
    "mañana",
    "2026-12-01T10:00",
    "@charter_test_bot",
    "@someone",
    "@alice:localhost",
)
ID_KINDS = ("P", "C", "A", "L", "M", "p", "c", "a", "l", "")
DURATIONS = ("2h", "3d", "1d 6h", "90m", "in 2h", "for 3 days", "0h", "-1h", "999999d", "1w")

ids = st.builds(
    lambda kind, n, tail: f"{kind}{n}{tail}",
    st.sampled_from(ID_KINDS),
    st.one_of(st.integers(0, 12), st.integers(-5, 10**20), st.just(10**9), st.just(2**63)),
    st.sampled_from(("", "", "", ":", ",", ".", ";")),
)
quoted = st.builds(
    lambda q1, a, q2, b, q3: f"replace {q1}{a}{q2} with {q2}{b}{q3}",
    st.sampled_from(('"', "“", "«", "„", "'")),
    st.text(max_size=12),
    st.sampled_from(('"', "”", "»", "‟", "")),
    st.text(max_size=12),
    st.sampled_from(('"', "”", "»", "")),
)
token = st.one_of(
    ids,
    st.sampled_from(WORDS),
    st.sampled_from(DURATIONS),
    st.sampled_from(MARKUP),
    st.sampled_from(MARKS),
    quoted,
    st.text(max_size=12),
)
separator = st.sampled_from((" ", " ", " ", "  ", "\n", "\t", "", "\u00a0", " \n "))


# Placeholders, filled in per platform by ``for_platform``: the command prefix, and a
# filler repeated until the text is longer than the platform's messages.
PREFIX = "\ue000"
LONG = "\ue001"
_LONG = re.compile(f"{LONG}(.*?){LONG}", re.DOTALL)


def for_platform(text: str, prefix: str, long_text: int) -> str:
    """A generated text as typed on a platform with ``prefix``; fillers made overlong."""
    text = _LONG.sub(lambda m: m.group(1) * (long_text // len(m.group(1)) + 1), text)
    return text.replace(PREFIX, prefix)


@st.composite
def arguments(draw: st.DrawFn) -> str:
    """Arguments: a few tokens with separators; now and then an overlong text."""
    parts = draw(st.lists(st.tuples(separator, token), max_size=5))
    text = "".join(s + t for s, t in parts)
    if draw(st.integers(0, 39)) == 0:  # 1 in 40: longer than the platform takes at once
        filler = draw(st.sampled_from(("x", "<b>&", "é", "😀", "a ", "\u05d0")))
        text += f" {LONG}{filler}{LONG}"
    return text


@st.composite
def command_word(draw: st.DrawFn) -> str:
    """A command word: usually real (in any case, perhaps ``@addressed``), else garbled."""
    name = draw(
        st.one_of(
            st.sampled_from(grammar.COMMANDS),
            st.sampled_from(grammar.COMMANDS),
            st.sampled_from(grammar.COMMANDS).map(str.upper),
            st.sampled_from(grammar.COMMANDS).map(lambda n: n[:-1] or n),
            st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12),
            st.text(min_size=1, max_size=6),
            st.sampled_from(MARKUP),
        )
    )
    addressee = draw(
        st.sampled_from(("", "", "", "", "", "@charter_test_bot", "@other_bot", "@", "@@x"))
    )
    lead = draw(st.sampled_from(("",) * 8 + (" ", "\u200f", PREFIX, "\n")))
    return f"{lead}{PREFIX}{name}{addressee}"


_command = st.builds(
    lambda word, sep, args: word + sep + args, command_word(), separator, arguments()
)
texts = st.one_of(
    *[_command] * 6,
    st.text(max_size=40),
    st.builds(lambda t: PREFIX + t, st.text(max_size=20)),
    st.sampled_from(MARKUP),
)
"""One message text: mostly a command with arguments, else arbitrary text (with the
``PREFIX`` and ``LONG`` placeholders: see ``for_platform``)."""


names = st.one_of(
    st.sampled_from(("Eve <b>", "<script>x</script>", "A & B", "&amp;", "Zoë", "\u202eevil")),
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=1,
        max_size=20,
    ),
)
"""Display names people choose: the bot echoes them in its answers."""


REACTION_KEYS = (
    "✅",
    "✅\ufe0f",
    "⚠️",
    "⚠",
    "✋",
    "✋🏽",
    "➖",
    "👍",
    "👎",
    "👍🏿",
    "❤️",
    "<b>",
    "&",
)
BUTTON_DATA = st.one_of(
    st.builds(lambda n, s: f"v{n}:{s}", st.integers(-1, 10**19), st.sampled_from("ckoax")),
    st.builds(lambda n, s: f"a{n}:{s}", st.integers(-1, 10**19), st.sampled_from("+-x")),
    st.builds(lambda c: f"l:{c}", st.sampled_from(("en", "es", "pt_BR", "xx", "zz_ZZZZ", ""))),
    st.sampled_from(("r", "R", "r ", "/help", "<b>x</b>", "&amp;")),
    st.text(min_size=1, max_size=64),
).map(lambda d: d.encode()[:64].decode(errors="ignore") or "x")
"""Button data as a client may send it: the bot's own forms, with any numbers, and forgeries
(at most Telegram's 64 bytes)."""


@dataclass(frozen=True)
class Action:
    """One generated input, told the same way on every platform."""

    where: str  # "group" | "private" | "press" (a button or reaction) | "odd" (Matrix)
    text: str  # the message (with placeholders), or what an odd event carries
    who: int  # 0: the group's creator (a mediator), 1: a member, 2: a newcomer
    name: str  # the display name a newcomer or a private sender chose ("": a default one)
    on_card: bool  # a press: on the bot's last message in the chat, else on a made-up one
    data: str  # a press: the button's data (Telegram)
    key: str  # a press: the reaction's key (Matrix)
    odd: int  # which odd event (Matrix), see the Matrix test


@st.composite
def actions(draw: st.DrawFn) -> Action:
    """One input; only what its kind uses is drawn (generating is a good part of the run)."""
    where = draw(st.sampled_from(("group", "group", "group", "group", "private", "press", "odd")))
    who = draw(st.integers(0, 2))
    press = where == "press"
    return Action(
        where=where,
        text="" if press else draw(texts),
        who=who,
        name=draw(names) if who == 2 or where == "private" else "",
        on_card=press and draw(st.booleans()),
        data=draw(BUTTON_DATA) if press else "",
        key=draw(st.one_of(st.sampled_from(REACTION_KEYS), st.text(min_size=1, max_size=3)))
        if press
        else "",
        odd=draw(st.integers(0, 5)) if where == "odd" else 0,
    )


# -- the rules -------------------------------------------------------------------------


def expected_answer(text: str, prefix: str, username: str | None) -> bool:
    """Whether the bot must answer ``text``: it is a command for this bot (known, unknown or
    malformed). Anything else is conversation, which the bot leaves alone."""
    try:
        return grammar.parse(text, prefix, username) is not None
    except Exception:  # noqa: BLE001 - a refusal (unknown command, usage, bad id) is answered
        return True


# -- the checks on outbound HTML -------------------------------------------------------

# html.escape(..., quote=False), all the bot ever uses outside its tags, writes only these.
_ENTITY = re.compile(r"&(?:amp|lt|gt);")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.other: list[str] = []  # comments, declarations, processing instructions

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(self.get_starttag_text() or tag)

    def handle_endtag(self, tag: str) -> None:
        self.tags.append(f"</{tag}>")

    def handle_comment(self, data: str) -> None:
        self.other.append(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self.other.append(decl)

    def unknown_decl(self, data: str) -> None:
        self.other.append(data)

    def handle_pi(self, data: str) -> None:
        self.other.append(data)


def markup_problems(html_text: str, own_tags: re.Pattern[str]) -> list[str]:
    """What in one outbound HTML text is not the bot's own markup; [] when clean.

    ``own_tags`` matches each tag the bot writes, exactly as it writes it."""
    problems: list[str] = []
    parser = _Tags()
    parser.feed(html_text)
    parser.close()
    problems += [f"foreign tag {t!r}" for t in parser.tags if not own_tags.fullmatch(t)]
    problems += [f"markup {o!r}" for o in parser.other]
    rest = own_tags.sub("", html_text)
    if "<" in rest or ">" in rest:
        at = min(i for i in (rest.find("<"), rest.find(">")) if i >= 0)
        problems.append(f"unescaped markup near {rest[max(0, at - 20) : at + 20]!r}")
    for match in re.finditer("&", rest):
        if not _ENTITY.match(rest, match.start()):
            problems.append(
                f"bare & near {rest[max(0, match.start() - 20) : match.start() + 20]!r}"
            )
            break
    return problems
