"""The append-only charter record and its hash chain.

Every change to a charter (a clause adopted, changed, renewed, repealed or lapsed) is one
entry. Each entry's hash is ``SHA-256(prev_hash + "." + canonical_json(entry))``, the
Decidim construction: altering any entry, or removing or reordering entries, breaks every
later link. Canonical JSON is sorted keys, no spaces, UTF-8, so the hash does not depend
on the database or the Python version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

GENESIS = "0" * 64


def canonical_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev: str, entry: Mapping[str, Any]) -> str:
    return hashlib.sha256(f"{prev}.{canonical_json(entry)}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One chain row as read back from storage."""

    seq: int
    prev_hash: str
    hash: str
    entry: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    what: str  # "hash" | "link" | "sequence"


def verify(entries: Iterable[StoredEntry]) -> Problem | None:
    """The first entry that does not hold, or None when the whole chain is intact."""
    prev = GENESIS
    expected_seq = 1
    for stored in entries:
        if stored.seq != expected_seq:
            return Problem(stored.seq, "sequence")
        if stored.prev_hash != prev:
            return Problem(stored.seq, "link")
        if entry_hash(prev, stored.entry) != stored.hash:
            return Problem(stored.seq, "hash")
        prev = stored.hash
        expected_seq += 1
    return None
