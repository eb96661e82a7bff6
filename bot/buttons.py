"""Button data: what a button asks for, in a few bytes, and the reading of it back.

The data travels through the client and comes back with the press, so it may be forged:
``parse`` accepts exactly what ``encode`` writes and nothing else, and what it returns is
at most a request the presser could have typed as a command. Whether they may do it is
decided by the engine from its own state, never from the data.

Forms (all far below Telegram's 64 bytes):

=========  ===========================================
``v12:c``  consent to P12 (``k`` concern, ``a`` abstain)
``v12:o``  object to P12: asks for the reason first
``a5:+``   support A5 (``-`` oppose)
``l:es``   my language is Spanish (private chat)
``r``      my open rounds (private chat)
=========  ===========================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from deliberation import commands as c

MAX_BYTES = 64

_STANCE_CODE = {
    c.Stance.CONSENT: "c",
    c.Stance.CONCERN: "k",
    c.Stance.OBJECT: "o",
    c.Stance.ABSTAIN: "a",
}
_CODE_STANCE = {code: stance for stance, code in _STANCE_CODE.items()}
_POSITION = re.compile(r"v([1-9][0-9]{0,17}):([ckoa])")
_AMENDMENT = re.compile(r"a([1-9][0-9]{0,17}):([+-])")
_LANGUAGE = re.compile(r"l:([A-Za-z]{2,3}(?:_[A-Za-z]{2,4})?)")


@dataclass(frozen=True, slots=True)
class AskObjection:
    """✋ was pressed: the reason is asked for before anything is recorded."""

    proposal: int


@dataclass(frozen=True, slots=True)
class MyRounds:
    """The presser's open rounds, in a private chat."""


Pressed = c.StatePosition | c.VoteAmendment | c.SetLanguage | AskObjection | MyRounds


def position(proposal: int, stance: c.Stance) -> str:
    return f"v{proposal}:{_STANCE_CODE[stance]}"


def amendment(number: int, support: bool) -> str:
    return f"a{number}:{'+' if support else '-'}"


def language(code: str) -> str:
    return f"l:{code}"


MY_ROUNDS = "r"


class Forged(ValueError):
    """The data is none of the forms we write."""


def parse(data: str) -> Pressed:
    if len(data.encode()) > MAX_BYTES:
        raise Forged(data[:16])
    if m := _POSITION.fullmatch(data):
        stance = _CODE_STANCE[m[2]]
        if stance is c.Stance.OBJECT:
            return AskObjection(int(m[1]))
        return c.StatePosition(int(m[1]), stance)
    if m := _AMENDMENT.fullmatch(data):
        return c.VoteAmendment(int(m[1]), m[2] == "+")
    if m := _LANGUAGE.fullmatch(data):
        return c.SetLanguage(m[1])
    if data == MY_ROUNDS:
        return MyRounds()
    raise Forged(data[:16])


# Where buttons are reactions (Matrix), the emoji that stands for each button, as the bot
# seeds it on the card; people's reactions are compared without variation selectors or
# skin tones (``adapters.matrix_events.normalise_key``).
_REACTIONS = {"c": "✅", "k": "⚠️", "o": "✋", "a": "➖", "+": "👍", "-": "👎"}
_BY_BARE_KEY = {emoji.replace("\ufe0f", ""): code for code, emoji in _REACTIONS.items()}


def reaction_for(data: str) -> str | None:
    """The emoji for a card button (``v12:c``, ``a5:+``); None for other buttons."""
    if _POSITION.fullmatch(data) or _AMENDMENT.fullmatch(data):
        return _REACTIONS[data.rpartition(":")[2]]
    return None


def from_reaction(subject: str, key: str) -> str | None:
    """The button data a reaction ``key`` (normalised) on the card ``subject`` stands for."""
    code = _BY_BARE_KEY.get(key)
    if code is None or len(subject) < 2 or not subject[1:].isdigit():
        return None
    if subject[0] == "P" and code in _CODE_STANCE:
        return f"v{subject[1:]}:{code}"
    if subject[0] == "A" and code in "+-":
        return f"a{subject[1:]}:{code}"
    return None
