"""The charter hash chain: stable hashes, and ``verify`` naming the first entry that fails
and, where one field alone was altered, that field."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from deliberation.charter import (
    GENESIS,
    Problem,
    StoredEntry,
    canonical_json,
    entry_hash,
    verify,
)

ENTRY = {"seq": 1, "clause": 1, "text": "We meet on the first Saturday", "tally": {"consent": 2}}


def chain(bodies: list[dict]) -> list[StoredEntry]:
    """A well-formed chain over ``bodies`` (``seq`` 1, 2, ...)."""
    entries, prev = [], GENESIS
    for seq, body in enumerate(bodies, start=1):
        entry = {"seq": seq, **body}
        digest = entry_hash(prev, entry)
        entries.append(StoredEntry(seq, prev, digest, entry))
        prev = digest
    return entries


def problem(seq: int, what: str, *fields: str) -> Problem:
    """What ``verify`` reports at entry ``seq``."""
    return Problem(seq, what, key=f"seq={seq}", fields=fields)


def five() -> list[StoredEntry]:
    return chain([{"clause": n, "text": f"clause {n}", "action": "adopt"} for n in range(1, 6)])


# -- hashing ---------------------------------------------------------------------------


def test_entry_hash_is_sha256_of_prev_dot_canonical_json() -> None:
    expected = hashlib.sha256(
        (
            GENESIS + "." + '{"clause":1,"seq":1,"tally":{"consent":2},'
            '"text":"We meet on the first Saturday"}'
        ).encode()
    ).hexdigest()
    assert entry_hash(GENESIS, ENTRY) == expected


def test_entry_hash_is_a_fixed_value() -> None:
    """Pinned: a change of construction would orphan every chain already stored."""
    assert entry_hash(GENESIS, {"a": 1}) == (
        "5676bea99975e25024b172ba7114b820b956b06fc1e23ccd25be823c6301d09e"
    )
    # Non-ASCII text is hashed as UTF-8, not as \u escapes.
    assert entry_hash(GENESIS, {"text": "Wir – ✅", "seq": 1, "clause": 1}) == (
        "d3f9b8e540486acf05e901c4201645eb12a53c4c0724e6f546b3794ad65ddbe8"
    )


def test_canonical_json_is_sorted_compact_and_unescaped() -> None:
    assert canonical_json({"b": 1, "a": [1, 2], "c": {"z": None, "y": True}}) == (
        '{"a":[1,2],"b":1,"c":{"y":true,"z":null}}'
    )
    assert canonical_json({"text": "Wir treffen uns am Sonnabend – ✅"}) == (
        '{"text":"Wir treffen uns am Sonnabend – ✅"}'
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


@given(json_objects)
def test_entry_hash_does_not_depend_on_key_order(entry: dict) -> None:
    reversed_entry = dict(reversed(list(entry.items())))
    assert entry_hash(GENESIS, entry) == entry_hash(GENESIS, reversed_entry)
    assert entry_hash(GENESIS, entry) == entry_hash(GENESIS, entry)  # stable across calls


@given(json_objects, st.text(min_size=1, max_size=5))
def test_entry_hash_changes_with_the_entry_and_the_link(entry: dict, key: str) -> None:
    altered = {**entry, key: ["altered", entry.get(key)]}
    assert entry_hash(GENESIS, entry) != entry_hash(GENESIS, altered)
    assert entry_hash(GENESIS, entry) != entry_hash("1" * 64, entry)


def test_a_hash_is_64_hex_digits() -> None:
    digest = entry_hash(GENESIS, ENTRY)
    assert len(digest) == 64 and int(digest, 16) >= 0


# -- verify ----------------------------------------------------------------------------


def test_an_intact_chain_verifies() -> None:
    assert verify([]) is None
    assert verify(five()) is None
    assert verify(iter(five())) is None  # any iterable, e.g. rows streamed from the store


def test_the_first_entry_links_to_genesis() -> None:
    entries = five()
    entries[0] = replace(entries[0], prev_hash="f" * 64)
    assert verify(entries) == problem(1, "link", "prev_hash")


@pytest.mark.parametrize("index", range(5))
def test_an_altered_entry_is_found(index: int) -> None:
    entries = five()
    entries[index] = replace(entries[index], entry={**entries[index].entry, "text": "forged"})
    # The next entry still links to the stored hash: the payload is what was altered. The
    # last entry has no next link: its payload or its hash.
    altered = ("payload",) if index < 4 else ("payload", "hash")
    assert verify(entries) == problem(index + 1, "hash", *altered)


@pytest.mark.parametrize("index", range(4))
def test_an_altered_entry_with_its_hash_recomputed_breaks_the_next_link(index: int) -> None:
    entries = five()
    forged = {**entries[index].entry, "text": "forged"}
    entries[index] = replace(
        entries[index], entry=forged, hash=entry_hash(entries[index].prev_hash, forged)
    )
    assert verify(entries) == problem(index + 2, "link")


def test_an_altered_hash_is_found() -> None:
    entries = five()
    entries[2] = replace(entries[2], hash="0" * 64)
    assert verify(entries) == problem(3, "hash", "hash")  # entry 4 links to the true hash


@pytest.mark.parametrize("index", range(4))
def test_a_removed_entry_is_found(index: int) -> None:
    entries = five()
    del entries[index]
    assert verify(entries) == problem(index + 2, "sequence")


@pytest.mark.parametrize("index", range(4))
def test_a_removed_entry_with_the_rest_renumbered_is_found(index: int) -> None:
    entries = five()
    del entries[index]
    renumbered = [replace(stored, seq=n) for n, stored in enumerate(entries, start=1)]
    # The first renumbered entry keeps the hash of its old predecessor as its link.
    assert verify(renumbered) == problem(index + 1, "link")


@pytest.mark.parametrize("index", range(4))
def test_two_swapped_entries_are_found(index: int) -> None:
    entries = five()
    entries[index], entries[index + 1] = entries[index + 1], entries[index]
    assert verify(entries) == problem(index + 2, "sequence")


def test_swapped_entries_with_swapped_numbers_are_found() -> None:
    entries = five()
    second, third = entries[1], entries[2]
    entries[1], entries[2] = replace(third, seq=2), replace(second, seq=3)
    assert verify(entries) == problem(2, "link")


def test_the_first_problem_is_reported_when_there_are_several() -> None:
    entries = five()
    entries[3] = replace(entries[3], entry={**entries[3].entry, "text": "forged"})
    entries[1] = replace(entries[1], entry={**entries[1].entry, "text": "forged too"})
    assert verify(entries) == problem(2, "hash", "payload")


def test_a_chain_not_starting_at_one_is_found() -> None:
    assert verify(five()[1:]) == problem(2, "sequence")


@given(st.lists(json_objects, min_size=1, max_size=6), st.data())
def test_any_single_alteration_is_found(bodies: list[dict], data: st.DataObject) -> None:
    entries = chain(bodies)
    assert verify(entries) is None
    index = data.draw(st.integers(0, len(entries) - 1))
    forged = {**entries[index].entry, "forged": True}
    entries[index] = replace(entries[index], entry=forged)
    altered = ("payload",) if index < len(entries) - 1 else ("payload", "hash")
    assert verify(entries) == problem(index + 1, "hash", *altered)
