"""Proof that the database fixtures give a working, isolated database on every leg.

If these fail, every store contract test fails for a reason unrelated to the store,
so they are kept tiny and independent of charterbot's own code.
"""

from __future__ import annotations

import sqlalchemy
from sqlalchemy import text


def test_database_url_connects(database_url: str) -> None:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar_one() == 1
            if engine.dialect.name == "postgresql":
                version = conn.execute(text("SELECT version()")).scalar_one()
                assert version.startswith("PostgreSQL")
                # The server is throwaway and local: loopback TCP, never a remote host.
                assert conn.execute(text("SELECT inet_server_addr()::text")).scalar_one() in (
                    "127.0.0.1",
                    "127.0.0.1/32",
                )
            else:
                assert engine.dialect.name == "sqlite"
                assert conn.execute(text("SELECT sqlite_version()")).scalar_one()
    finally:
        engine.dispose()


def test_database_url_starts_empty(database_url: str) -> None:
    """Each test gets a fresh database, so tests cannot leak tables into each other."""
    engine = sqlalchemy.create_engine(database_url)
    try:
        assert sqlalchemy.inspect(engine).get_table_names() == []
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE leak_check (id INTEGER PRIMARY KEY)"))
    finally:
        engine.dispose()


def test_file_database_url_is_shared(file_database_url: str) -> None:
    """Two independent engines (as two processes would) see each other's committed data."""
    writer = sqlalchemy.create_engine(file_database_url)
    reader = sqlalchemy.create_engine(file_database_url)
    try:
        with writer.begin() as conn:
            conn.execute(text("CREATE TABLE shared (id INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO shared (id) VALUES (7)"))
        with reader.connect() as conn:
            assert conn.execute(text("SELECT id FROM shared")).scalar_one() == 7
    finally:
        writer.dispose()
        reader.dispose()
