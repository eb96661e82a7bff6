"""The ``charterbot`` command line as a user runs it: real processes, one database file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "examples" / "demo.txt"


def charterbot(*args: str, db: Path, stdin: str | None = None, env: dict[str, str] | None = None):
    environment = {**os.environ, "CHARTERBOT_DATABASE_URL": f"sqlite:///{db}", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "charterbot.db"


def test_demo_script_then_export_and_verify(db: Path) -> None:
    demo = charterbot("demo", db=db, stdin=DEMO.read_text())
    assert demo.returncode == 0, demo.stderr
    assert "bot: P1 adopted: clause C1, version 1, is in the charter." in demo.stdout
    assert all(line.startswith("bot: ") for line in demo.stdout.splitlines())

    exported = charterbot("export", "--format", "json", db=db)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    (clause,) = data["charters"][0]["clauses"]
    assert clause["text"] == "We meet on the first Saturday of each month"
    assert clause["versions"][0]["tally"] == {"consent": 2, "concern": 1, "object": 0, "abstain": 0}
    assert len(data["chain_head"]) == 64

    markdown = charterbot("export", "--format", "md", db=db)
    assert "## C1 · version 1 · in force" in markdown.stdout

    verified = charterbot("verify", db=db)
    assert verified.returncode == 0 and "intact" in verified.stdout

    page = charterbot("export", "--format", "html", "--lang", "es", db=db)
    assert page.returncode == 0, page.stderr
    assert '<html lang="es"' in page.stdout and "We meet on the first Saturday" in page.stdout
    site = db.parent / "site"
    written = charterbot("export", "--format", "html", "--out", str(site), db=db)
    assert written.returncode == 0, written.stderr
    assert (site / "index.html").is_file() and (site / "clause" / "1.html").is_file()
    missing = charterbot("export", "--format", "html", "--charter", "group:nope", db=db)
    assert missing.returncode != 0 and "no charter" in missing.stderr


def test_verify_names_the_first_altered_entry(db: Path) -> None:
    script = "\n".join(
        [
            "alice: /settings amendment_hours 0",
            "alice: /propose First clause",
            "bob: /consent",
            "alice: /consent",
            "alice: /next P1",
            "alice: /propose Second clause",
            "bob: /consent",
            "alice: /consent",
            "alice: /next P2",
        ]
    )
    assert charterbot("demo", db=db, stdin=script).returncode == 0
    intact = charterbot("verify", db=db)
    assert intact.returncode == 0 and "2 entries" in intact.stdout
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE charter_entries SET hash = ? WHERE seq = 2", ("0" * 64,))
    broken = charterbot("verify", db=db)
    assert broken.returncode != 0
    assert "entry 2" in broken.stderr
    # The last entry: no later link tells whether its hash or its payload was altered.
    assert "charter_entries seq=2 field payload or hash" in broken.stderr


def test_db_upgrade_creates_the_schema(db: Path) -> None:
    result = charterbot("db", "upgrade", db=db)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db) as conn:
        tables = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {"proposals", "charter_entries", "alembic_version"} <= tables


def test_a_wrong_setting_stops_start_up_naming_the_key(db: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[deliberation]\nrule = "unanimous"\n')
    result = charterbot("demo", "--config", str(config), db=db, stdin="")
    assert result.returncode != 0
    assert "deliberation.rule" in result.stderr
    unknown = charterbot("verify", db=db, env={"CHARTERBOT_DELIBERATION_QUORUM": "2"})
    assert unknown.returncode != 0 and "deliberation.quorum" in unknown.stderr


def test_deadlines_missed_while_down_are_carried_out_at_start(db: Path) -> None:
    """A demo run leaves an open round; the next run, started later, closes it and says so."""
    first = charterbot("demo", db=db, stdin="alice: /propose Boats are shared\n")
    assert first.returncode == 0
    # Move the stored deadline into the past, as if the bot had been down for days.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE timers SET due_at = '2020-01-01 00:00:00.000000'")
        conn.execute("UPDATE proposals SET phase_closes_at = '2020-01-01 00:00:00.000000'")
    second = charterbot("demo", db=db, stdin="")
    assert "Late: this fell due while the bot was offline." in second.stdout
    assert "The amendment phase of P1 is closed." in second.stdout


def test_messages_left_undelivered_by_a_crash_are_delivered_at_start(db: Path) -> None:
    """The outbox row is written with the change; a crash before delivery loses nothing."""
    first = charterbot("demo", db=db, stdin="alice: /propose Boats are shared\n")
    assert first.returncode == 0
    with sqlite3.connect(db) as conn:  # as if the process died right after the commit
        conn.execute("UPDATE outbox SET state = 'pending', sent_at = NULL")
    second = charterbot("demo", db=db, stdin="")
    assert "bot: P1: new clause proposed by alice:" in second.stdout
    third = charterbot("demo", db=db, stdin="")
    assert third.stdout == ""  # delivered once
