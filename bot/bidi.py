"""Right-to-left messages that read right in Telegram and Matrix clients.

An Arabic sentence that holds ids, commands and numbers ("P3", "/consent P3", "12") is laid
out by each client's Unicode bidirectional algorithm: a line whose first strong letter is
Latin ("P3: ...") is set left to right, and neutral marks between Latin runs (":", "·",
brackets) land on the wrong side. So each translated template of a right-to-left language
is prepared once, before its placeholders are filled in:

- every line starts with U+200F RIGHT-TO-LEFT MARK, so the line is set right to left
  whatever comes first;
- every run of Latin text (ids, commands, "{p}consent P{n}") is wrapped in U+2066
  LEFT-TO-RIGHT ISOLATE ... U+2069 POP DIRECTIONAL ISOLATE, so it keeps its inner order
  and does not pull its neighbours' punctuation into it;
- a placeholder alone (a person's name, a date) is wrapped in U+2068 FIRST STRONG
  ISOLATE ... U+2069: it takes the direction of its own first letter (an Arabic name reads
  right to left, a Latin one left to right) without disturbing the sentence.

Isolates (Unicode 6.3) are what the W3C recommends for text whose direction is unknown;
the clients of both platforms render them.
"""

from __future__ import annotations

import functools
import re

RLM = "\u200f"
LRI = "\u2066"
FSI = "\u2068"
PDI = "\u2069"

# A Latin token: letters, digits, placeholders and the marks of commands and ids; dots
# and colons only inside ("12:00", "v1.2"), so the sentence's own period stays outside.
_TOKEN = r"[A-Za-z0-9{}/!@#_\-|+]+(?:[.:][A-Za-z0-9{}]+)*"
_RUN = re.compile(rf"{_TOKEN}(?: +{_TOKEN})*")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _isolate(match: re.Match[str]) -> str:
    run = match.group(0)
    latin = _PLACEHOLDER.sub("", run)
    if not any(ch.isalnum() or ch in "/!" for ch in latin):
        return f"{FSI}{run}{PDI}"  # only placeholders: each value finds its own direction
    return f"{LRI}{run}{PDI}"


@functools.lru_cache(maxsize=4096)
def rtl_template(text: str) -> str:
    """``text`` (a translated message, placeholders not yet filled) ready for a
    right-to-left reader."""
    return "\n".join(RLM + _RUN.sub(_isolate, line) for line in text.split("\n"))
