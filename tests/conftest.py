"""Shared fixtures: every store test runs on in-memory SQLite, an SQLite file and PostgreSQL.

The PostgreSQL leg uses a real server that the session starts on loopback (see
tests/fakes/postgres.py); it is skipped, with a reason in the report, only when no
server binaries exist on the machine. Only tests that request ``database_url`` or
``file_database_url`` get the legs, so the rest of the suite stays single-run.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.postgres import (
    BINDIR_ENV,
    PostgresServer,
    find_pg_bindir,
    server_account,
    server_version,
)
from tests.matrix.fixtures import (  # noqa: F401 - fixtures for the whole suite
    loop,
    person,
    register_user,
    synapse,
)

PG_SKIP_REASON = (
    "PostgreSQL server binaries not found (install Debian's postgresql): PostgreSQL leg skipped"
)
MEMORY_URL = "sqlite+pysqlite:///:memory:"

_db_counter = itertools.count(1)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Say up front whether the PostgreSQL leg will run, and with which binaries."""
    bindir = find_pg_bindir()
    if bindir is None:
        return [
            f"postgresql: {PG_SKIP_REASON} (search order documented in tests/fakes/postgres.py;"
            f" {BINDIR_ENV} overrides)"
        ]
    try:
        account = server_account().name
    except RuntimeError as exc:
        account = f"none: {exc}"
    return [f"postgresql: {server_version(bindir)} from {bindir} (server runs as {account})"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One throwaway cluster for the whole session; each test gets its own database in it."""
    bindir = find_pg_bindir()
    if bindir is None:
        pytest.skip(PG_SKIP_REASON)
    server = PostgresServer(bindir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _fresh_postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Create a uniquely named database for this test and drop it afterwards.

    The server is requested lazily so that SQLite-only runs never start it.
    """
    server: PostgresServer = request.getfixturevalue("postgres_server")
    slug = re.sub(r"[^a-z0-9_]+", "_", request.node.name.lower()).strip("_")
    name = f"t{next(_db_counter)}_{slug}"[:63]
    url = server.create_database(name)
    yield url
    # Best effort, keeps the cluster small; the whole cluster is discarded at the end anyway.
    with contextlib.suppress(Exception):
        server.drop_database(name)


def _sqlite_file_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/charterbot.db"


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgres),
    ],
    ids=["memory", "sqlite", "postgresql"],
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of an empty database, once per store backend."""
    if request.param == "memory":
        yield MEMORY_URL
    elif request.param == "sqlite":
        yield _sqlite_file_url(tmp_path)
    else:
        yield from _fresh_postgres_url(request)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    ids=["sqlite", "postgresql"],
)
def file_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Like ``database_url`` but only backends that several connections/processes can share."""
    if request.param == "sqlite":
        yield _sqlite_file_url(tmp_path)
    else:
        yield from _fresh_postgres_url(request)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The reliability suite's table of figures (tests/reliability/figures.py), when any
    of its tests ran; copy it into docs/reliability.md to keep the latest."""
    from tests.reliability import figures

    if figures.ROWS:
        terminalreporter.section("reliability figures")
        terminalreporter.write_line(figures.table())
