"""Cut a long bot message into parts that each fit a platform's length limit.

Telegram refuses a message longer than 4,096 UTF-16 code units, counted on the visible text
after entity parsing: an emoji outside the Basic Multilingual Plane counts twice, tags count
nothing and ``&amp;`` counts once. Slicing the escaped source naively is wrong in both
directions: it miscounts, and it can leave a dangling ``&am`` or an unclosed ``<b>`` that
makes Telegram reject the whole part ("can't parse entities").

So the text is first read as atoms that can't be cut: one character, one character entity,
or one tag. A part ends at a paragraph break, else a line break, else a space found in the
last quarter of the window (so parts are not tiny), else hard at the limit; that one
separator is dropped. Tags still open at a cut are closed at the end of the part and
reopened, with their original opening text, at the start of the next one.
"""

import bisect
import itertools
import re
from typing import NamedTuple

_TAG_RE = re.compile(r"""<(/?)([A-Za-z][A-Za-z0-9-]*)(?:\s(?:"[^"]*"|'[^']*'|[^"'<>])*)?>""")
_ENTITY_RE = re.compile(r"&(?:#([0-9]+)|#[xX]([0-9A-Fa-f]+)|(lt|gt|amp|quot));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SEPARATORS = ("\n\n", "\n", " ")  # in order of preference


class _Atom(NamedTuple):
    """A piece of the source that a cut never goes through."""

    raw: str  # the source text
    visible: str  # the one character it shows, or "" for a tag
    tag: str = ""  # lower-case tag name, for a tag
    closing: bool = False  # True for an end tag


def split_message(text: str, limit: int, html: bool) -> list[str]:
    """Cut ``text`` into parts whose visible text is at most ``limit`` UTF-16 code units.

    With ``html`` the text is Telegram HTML (assumed valid): tags are invisible and an
    entity counts as the character it stands for; every part is balanced HTML on its own.
    Text that fits comes back unchanged as ``[text]`` (so ``""`` gives ``[""]``). The visible
    text of the parts, joined, is the original one minus the separator dropped at each cut.

    Raises ``ValueError`` if the text must be cut and ``limit`` is below 2, the width of
    one astral character.
    """
    atoms = _atoms(text, html)
    where = [k for k, atom in enumerate(atoms) if not atom.tag]  # visible index -> atom index
    plain = "".join(atoms[k].visible for k in where)
    units = list(itertools.accumulate(map(_width, plain), initial=0))  # UTF-16 offsets
    if units[-1] <= limit:
        return [text]
    if limit < 2:
        raise ValueError(f"limit must be at least 2 to cut a message, got {limit}")

    parts: list[str] = []
    open_tags: list[_Atom] = []  # tags open just before atom `first`
    first, start = 0, 0  # where the current part begins: atom index, visible index
    while start < len(plain):
        end = bisect.bisect_right(units, units[start] + limit) - 1  # everything up to here fits
        if end == len(plain):
            cut = resume = end
            last = len(atoms)
        else:
            cut, resume = _cut_point(plain, units, start, end, limit)
            last = where[cut - 1] + 1  # just after the part's last visible atom
        head = "".join(tag.raw for tag in open_tags)
        _follow_tags(open_tags, atoms[first:last])
        tail = "".join(f"</{tag.tag}>" for tag in reversed(open_tags))
        parts.append(head + "".join(atom.raw for atom in atoms[first:last]) + tail)
        if resume < len(plain):
            # Tags between the cut and the next visible atom are closed above or reopened below.
            _follow_tags(open_tags, atoms[last : where[resume]])
            first = where[resume]
        start = resume
    return parts


def _atoms(text: str, html: bool) -> list[_Atom]:
    """Read ``text`` as uncuttable atoms; without ``html`` every character is one."""
    if not html:
        return [_Atom(char, char) for char in text]
    atoms: list[_Atom] = []
    i = 0
    while i < len(text):
        if tag := _TAG_RE.match(text, i):
            atoms.append(_Atom(tag[0], "", tag[2].lower(), bool(tag[1])))
            i = tag.end()
        elif (entity := _ENTITY_RE.match(text, i)) and (char := _decode(entity)):
            atoms.append(_Atom(entity[0], char))
            i = entity.end()
        else:  # Telegram shows an unrecognised "&" as it is
            atoms.append(_Atom(text[i], text[i]))
            i += 1
    return atoms


def _decode(entity: re.Match[str]) -> str | None:
    """The character an entity stands for, or None if it names no character."""
    decimal, hexadecimal, name = entity.groups()
    if name:
        return _NAMED[name]
    code = int(decimal, 10) if decimal else int(hexadecimal, 16)
    return chr(code) if code < 0x110000 else None


def _width(char: str) -> int:
    """UTF-16 code units of one character: 2 outside the Basic Multilingual Plane."""
    return 2 if ord(char) > 0xFFFF else 1


def _cut_point(plain: str, units: list[int], start: int, end: int, limit: int) -> tuple[int, int]:
    """Visible indices ``(cut, resume)``: the part stops before ``cut``, the next starts at
    ``resume``; what lies between is the dropped separator.

    ``plain[start:end]`` is the most that fits. A separator may begin anywhere from the last
    quarter of the window up to ``end`` itself, since it is dropped and need not fit.
    """
    low = bisect.bisect_left(units, units[start] + limit - limit // 4)
    for separator in _SEPARATORS:
        at = plain.rfind(separator, low, end + len(separator))
        if at != -1:
            return at, at + len(separator)
    return end, end


def _follow_tags(open_tags: list[_Atom], atoms: list[_Atom]) -> None:
    """Update the stack of open tags for ``atoms`` read in order."""
    for atom in atoms:
        if not atom.tag:
            continue
        if not atom.closing:
            open_tags.append(atom)
        elif open_tags and open_tags[-1].tag == atom.tag:
            open_tags.pop()
