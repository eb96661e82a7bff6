"""Identifiers shared by every layer.

Groups and people are named by a platform-qualified string (``telegram:-100123``,
``matrix:!room:server``, ``console:alice``) so that one store can hold groups of every
platform side by side; the adapters build them. Proposals, amendments, clauses and meetings
carry numbers that are unique in the whole store; users may type ``P12`` or just ``12``.
"""

from __future__ import annotations

import re
from enum import StrEnum

from deliberation.errors import DomainError


class Kind(StrEnum):
    """The numbered things a user can name, with the letter they are shown with."""

    PROPOSAL = "P"
    AMENDMENT = "A"
    CLAUSE = "C"
    MEETING = "M"


_NUMBER = re.compile(r"^([PACMpacm])?(\d{1,9})$")


def parse_number(token: str, kind: Kind) -> int:
    """Read ``P12`` / ``12`` as 12; refuse another letter or anything else.

    Raises ``DomainError("bad_id")`` so that the reply can say which kind was expected.
    """
    match = _NUMBER.match(token.strip())
    if not match or (match.group(1) and match.group(1).upper() != kind.value):
        raise DomainError("bad_id", kind=kind.value, given=token[:20])
    return int(match.group(2))


def looks_like_number(token: str, kind: Kind) -> bool:
    """True when ``token`` names a thing of ``kind`` (used to tell an id from free text)."""
    match = _NUMBER.match(token.strip())
    return bool(match) and (not match.group(1) or match.group(1).upper() == kind.value)
