"""The figures the reliability suite (pytest marker ``reliability``) reports: each test
records what it did and what held, and the session prints them as one table
(tests/conftest.py); docs/reliability.md keeps the latest.

``record("kill -9 mid-burst", "positions acknowledged / stored / counted twice",
"1000 / 1000 / 0")``: one row per check, figures worded as a reader of the table expects.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Row:
    check: str
    figures: str
    outcome: str


ROWS: list[Row] = []


def record(check: str, figures: str, outcome: str) -> None:
    """One row of the table; ``outcome`` is the measured result (the test asserts on it)."""
    ROWS.append(Row(check, figures, outcome))


def table() -> str:
    """The rows as a Markdown table (printed at the end of the run)."""
    lines = ["| check | figures | outcome |", "| --- | --- | --- |"]
    lines += [f"| {r.check} | {r.figures} | {r.outcome} |" for r in ROWS]
    return "\n".join(lines)
