"""Long messages are cut to the platform's limit without losing text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.outbox import split_text


def test_short_text_is_one_part() -> None:
    assert split_text("one\ntwo", 100) == ["one\ntwo"]


def test_cut_at_line_breaks() -> None:
    assert split_text("aaaa\nbbbb\ncccc", 9) == ["aaaa\nbbbb", "cccc"]


def test_a_line_longer_than_the_limit_is_cut_hard() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


@given(
    st.lists(st.text(alphabet="ab ", min_size=1, max_size=30), min_size=1, max_size=20),
    st.integers(30, 80),
)
def test_parts_fit_and_keep_every_line(lines: list[str], limit: int) -> None:
    text = "\n".join(lines)
    parts = split_text(text, limit)
    assert all(len(part) <= limit for part in parts)
    assert "\n".join(parts) == text
