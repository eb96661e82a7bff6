"""The append-only charter record and its hash chain.

Every change to a charter (a clause adopted, changed, renewed, repealed or lapsed) is one
entry. Each entry's hash is ``SHA-256(prev_hash + "." + canonical_json(entry))``, the
Decidim construction: altering any entry, or removing or reordering entries, breaks every
later link. Canonical JSON is sorted keys, no spaces, UTF-8, so the hash does not depend
on the database or the Python version.

The chain vouches for the rows its entries wrote: ``check_record`` compares every field of
the charters, clauses and clause versions with the entries, so that altering any one of
them is found and named (table, key, field).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
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


ENTRIES = "charter_entries"  # the table of the chain, where Problems are found by default

# What a Problem says is wrong, worded for an operator (``Problem.describe``).
WHAT = {
    "sequence": "out of sequence: an entry before it is missing or moved",
    "link": "does not link to the entry before",
    "hash": "payload and hash do not match (one of them altered)",
    "payload": "not the canonical JSON the entry was hashed as",
    "columns": "disagrees with the entry's payload",
    "differs": "differs from what entry {seq} records",
    "missing": "missing, though entry {seq} names it (its key altered, or the row deleted)",
    "unvouched": "no entry of the chain records this row",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """What does not hold, named so an operator can find it: the entry it is found at
    (``seq``: the first bad entry, or the entry that vouches for the altered row; 0 for a
    row no entry vouches for), what is wrong (a key of ``WHAT``), and the row: its
    ``table``, its ``key`` as the record knows it ("seq=3", "clause_id=2 version=1") and the
    altered ``fields``. Two fields are named only when the record cannot tell which one was
    altered (the last entry's payload or its hash: no later link says which); none when
    more than one row was altered or removed (a missing entry, a re-linked chain)."""

    seq: int
    what: str
    table: str = ENTRIES
    key: str = ""
    fields: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line of English for the operator (``charterbot verify``)."""
        where = f"{self.table} {self.key}".strip()
        if self.fields:
            where += " field " + " or ".join(self.fields)
        return f"{where}: {WHAT.get(self.what, self.what).format(seq=self.seq)}"


def entry_key(seq: int) -> str:
    """How a Problem names a chain entry's row."""
    return f"seq={seq}"


def verify(entries: Iterable[StoredEntry]) -> Problem | None:
    """The first entry that does not hold, or None when the whole chain is intact.

    When an entry does not match its hash, the next entry's link tells which field was
    altered: it links to the hash of the stored payload (the hash was altered) or to the
    stored hash (the payload was). An entry whose link alone is wrong hashes right from
    its true predecessor: its ``prev_hash`` was altered."""
    chain = list(entries)
    prev = GENESIS
    for index, stored in enumerate(chain):
        key = entry_key(stored.seq)
        if stored.seq != index + 1:
            return Problem(stored.seq, "sequence", key=key)
        if stored.prev_hash != prev:
            relinked = entry_hash(prev, stored.entry) == stored.hash
            return Problem(stored.seq, "link", key=key, fields=("prev_hash",) if relinked else ())
        own = entry_hash(prev, stored.entry)
        if own != stored.hash:
            following = chain[index + 1] if index + 1 < len(chain) else None
            if following is None:
                fields: tuple[str, ...] = ("payload", "hash")
            elif following.prev_hash == own:
                fields = ("hash",)
            elif following.prev_hash == stored.hash:
                fields = ("payload",)
            else:
                fields = ()  # the next link is altered too
            return Problem(stored.seq, "hash", key=key, fields=fields)
        prev = stored.hash
    return None


# -- the rows the record vouches for ---------------------------------------------------

# How each action leaves its clause (``services._adopt`` and ``services._not_renewed``).
STATUS_AFTER = {
    "adopt": "active",
    "change": "active",
    "renew": "active",
    "keep": "active",
    "repeal": "repealed",
    "lapse": "lapsed",
}
ADOPTING = frozenset({"adopt", "change", "renew"})  # the actions that set ``adopted_at``
VERSIONED = frozenset({"adopt", "change"})  # the actions that write a clause version
# A chain row's columns repeat its payload: column -> payload key.
ENTRY_COLUMNS = {
    "seq": "seq",
    "charter_id": "charter",
    "action": "action",
    "clause_id": "clause",
    "created_at": "at",
}
TABLES = (ENTRIES, "charters", "clauses", "clause_versions")  # the order Problems come in

Row = Mapping[str, Any]  # a row as read from the store: column name -> value


def check_record(
    entries: Sequence[Row], charters: Iterable[Row], clauses: Iterable[Row], versions: Iterable[Row]
) -> Problem | None:
    """The first thing in the charter record that does not hold, or None.

    ``entries`` are the ``charter_entries`` rows in ``seq`` order; the other arguments
    every row of ``charters``, ``clauses`` and ``clause_versions``. The chain is checked
    first (``verify``, and that each row's columns are its canonical payload); only an
    intact chain can vouch for the other rows, which must then agree field by field with
    the entries that wrote them. One pass over each table, no lookups per row.

    Not vouched for, so not checked: a charter's ``name`` (it follows the group's title,
    ``actors.enter``) and its ``created_at`` (a charter is created with its group, before
    any entry; the chain starts with its first clause), and a charter no entry names yet.
    """
    stored, problems = _read_entries(entries)
    broken = verify(stored)
    if broken is not None:
        problems.append(broken)
    if problems:
        first = min(problems, key=_order)
        if len(first.fields) == 2:
            # The last entry's payload or hash: its payload was altered if the rows it
            # wrote (still as they were) disagree with it.
            disagree = _check_rows(stored, charters, clauses, versions)
            if any(problem.seq == first.seq for problem in disagree):
                first = Problem(first.seq, first.what, first.table, first.key, ("payload",))
        return first
    return min(_check_rows(stored, charters, clauses, versions), key=_order, default=None)


def _order(problem: Problem) -> tuple[float, int, int]:
    """First by entry (a row no entry vouches for last), then by table, a named field
    before an uncertain one."""
    return (
        problem.seq or float("inf"),
        TABLES.index(problem.table),
        0 if len(problem.fields) == 1 else 1,
    )


def _read_entries(rows: Sequence[Row]) -> tuple[list[StoredEntry], list[Problem]]:
    """The chain as stored, and each row whose payload is not canonical JSON or whose
    columns disagree with it. A disagreeing column is the altered field when the payload
    still matches its hash; otherwise the payload is."""
    stored, problems = [], []
    for row in rows:
        seq, key = row["seq"], entry_key(row["seq"])
        try:
            payload = json.loads(row["payload"])
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            problems.append(Problem(seq, "payload", key=key, fields=("payload",)))
            payload = {}
        elif canonical_json(payload) != row["payload"]:
            problems.append(Problem(seq, "payload", key=key, fields=("payload",)))
        else:
            differing = tuple(
                column
                for column, name in ENTRY_COLUMNS.items()
                if not _agrees(row[column], payload.get(name))
            )
            if differing and entry_hash(row["prev_hash"], payload) == row["hash"]:
                recorded = payload.get("seq")
                vouched = recorded if isinstance(recorded, int) else seq
                problems.append(
                    Problem(vouched, "columns", key=entry_key(vouched), fields=differing)
                )
            elif differing:
                problems.append(Problem(seq, "hash", key=key, fields=("payload",)))
        stored.append(StoredEntry(seq, row["prev_hash"], row["hash"], payload))
    return stored, problems


def _check_rows(
    stored: Sequence[StoredEntry],
    charters: Iterable[Row],
    clauses: Iterable[Row],
    versions: Iterable[Row],
) -> list[Problem]:
    """Every field of the rows the entries wrote that disagrees with them."""
    by_clause: dict[Any, list[StoredEntry]] = {}
    first_of_charter: dict[Any, int] = {}
    by_version: dict[tuple[Any, Any], StoredEntry] = {}
    for stored_entry in stored:
        entry = stored_entry.entry
        by_clause.setdefault(_ref(entry.get("clause")), []).append(stored_entry)
        first_of_charter.setdefault(_ref(entry.get("charter")), stored_entry.seq)
        if entry.get("action") in VERSIONED:
            by_version[_version_of(entry)] = stored_entry
    by_seq = {stored_entry.seq: stored_entry for stored_entry in stored}
    return [
        *_check_charters(first_of_charter, charters),
        *_check_clauses(by_clause, clauses),
        *_check_versions(by_seq, by_version, versions),
    ]


def _check_charters(first_of_charter: Mapping[Any, int], charters: Iterable[Row]) -> list[Problem]:
    """A charter an entry names exists, and its kind and group follow from its id."""
    rows = {row["id"]: row for row in charters}
    problems = []
    for charter_id, seq in first_of_charter.items():
        key = f"id={charter_id}"
        row = rows.get(charter_id)
        if row is None:
            problems.append(Problem(seq, "missing", "charters", key, ("id",)))
            continue
        group = isinstance(charter_id, str) and charter_id.startswith("group:")
        expected = {
            "kind": "group" if group else "alliance",
            "group_id": charter_id.removeprefix("group:") if group else None,
        }
        problems += [
            Problem(seq, "differs", "charters", key, (field,))
            for field, value in expected.items()
            if row[field] != value
        ]
    return problems


def _check_clauses(
    by_clause: Mapping[Any, Sequence[StoredEntry]], clauses: Iterable[Row]
) -> list[Problem]:
    """A clause is as its entries left it: each field compared with the entry that last
    set it (``services._adopt``: a repeal keeps the parties and the adoption time)."""
    rows = {row["id"]: row for row in clauses}
    problems = []
    for clause_id, history in by_clause.items():
        key = f"id={clause_id}"
        row = rows.pop(clause_id, None)
        first, last = history[0], history[-1]
        if row is None:
            problems.append(Problem(first.seq, "missing", "clauses", key, ("id",)))
            continue
        adopted = next((h for h in reversed(history) if h.entry.get("action") in ADOPTING), first)
        bound = next((h for h in reversed(history) if h.entry.get("action") != "repeal"), first)
        expected = (
            ("charter_id", last, last.entry.get("charter")),
            ("status", last, STATUS_AFTER.get(last.entry.get("action"))),
            ("version", last, last.entry.get("version")),
            ("text", last, last.entry.get("text")),
            ("parties", bound, bound.entry.get("parties")),
            ("adopted_at", adopted, adopted.entry.get("at")),
            ("next_review", last, last.entry.get("next_review")),
            ("created_at", first, first.entry.get("at")),
        )
        problems += [
            Problem(source.seq, "differs", "clauses", key, (field,))
            for field, source, recorded in expected
            if not _agrees(row[field], recorded)
        ]
    problems += [Problem(0, "unvouched", "clauses", f"id={row['id']}") for row in rows.values()]
    return problems


def _check_versions(
    by_seq: Mapping[int, StoredEntry],
    by_version: Mapping[tuple[Any, Any], StoredEntry],
    versions: Iterable[Row],
) -> list[Problem]:
    """Each clause version is the adopting entry it names by ``entry_seq`` (or, that
    altered, the entry of its clause and version), field by field; and every adopting
    entry has its version."""
    problems, matched = [], set()
    for row in versions:
        source = by_seq.get(row["entry_seq"])
        if source is not None and source.entry.get("action") not in VERSIONED:
            source = None
        own = (row["clause_id"], row["version"])
        if source is None or _version_of(source.entry) != own:
            source = by_version.get(own, source)
        if source is None:
            key = f"clause_id={own[0]} version={own[1]}"
            problems.append(Problem(0, "unvouched", "clause_versions", key))
            continue
        matched.add(source.seq)
        entry = source.entry
        expected = {
            "clause_id": entry.get("clause"),
            "version": entry.get("version"),
            "text": entry.get("text"),
            "proposal_id": entry.get("proposal"),
            "tally": entry.get("tally"),
            "parties": entry.get("parties"),
            "concerns": entry.get("concerns"),
            "adopted_at": entry.get("at"),
            "next_review": entry.get("next_review"),
            "entry_seq": source.seq,
        }
        key = "clause_id={} version={}".format(*_version_of(entry))
        problems += [
            Problem(source.seq, "differs", "clause_versions", key, (field,))
            for field, recorded in expected.items()
            if not _agrees(row[field], recorded)
        ]
    problems += [
        Problem(s.seq, "missing", "clause_versions", "clause_id={} version={}".format(*key))
        for key, s in by_version.items()
        if s.seq not in matched
    ]
    return problems


def _version_of(entry: Mapping[str, Any]) -> tuple[Any, Any]:
    return (_ref(entry.get("clause")), _ref(entry.get("version")))


def _ref(value: Any) -> Any:
    """A payload value usable as a key (an altered payload may hold anything)."""
    return value if value is None or isinstance(value, int | str) else repr(value)


def _agrees(value: Any, recorded: Any) -> bool:
    """A stored field equals what the payload records (times and dates as ISO text)."""
    if isinstance(value, datetime):
        try:
            return isinstance(recorded, str) and datetime.fromisoformat(recorded) == value
        except ValueError:
            return False
    if isinstance(value, date):
        return value.isoformat() == recorded
    return bool(value == recorded)
