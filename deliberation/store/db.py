"""Database engines and the unit of work.

SQLite needs care (see PITFALLS.md): WAL, ``busy_timeout`` set first, foreign keys on, and
write transactions begun with ``BEGIN IMMEDIATE`` so that a read-then-write never loses an
update to another process. PostgreSQL rows are locked with ``SELECT ... FOR UPDATE`` by the
services, which is a no-op on SQLite where the whole write transaction is serialised.

One SQL unit of work serves every backend; the "memory" store is SQLite ``:memory:`` on a
single shared connection (docs/decisions.md says why there is no second implementation).

A PostgreSQL server goes away now and then (a restart, a failover, the network). The pool
tests each connection before lending it (``pool_pre_ping``), so the first unit of work
after the server came back gets a fresh connection instead of a dead one; connecting gives
up after ``CONNECT_TIMEOUT`` and TCP keepalives end a connection whose server vanished, so
no worker thread hangs. A unit of work that fails meanwhile raises; it is not retried here,
because a commit whose answer was lost may have been carried out, and only the caller
knows whether doing it again is safe. The callers do: an update is fetched again and its
inbox row makes a second pass a no-op, a deadline stays due until its claim commits, a
delivery is recorded again. :func:`is_transient` tells them such a failure from a bug.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_MS = 10_000
CONNECT_TIMEOUT = 10  # seconds to reach PostgreSQL before a unit of work fails
# libpq TCP keepalives: a connection whose server vanished without a word (a failover, a
# cut network) fails after about a minute instead of blocking its thread for hours.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


def is_memory(url: str) -> bool:
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def is_transient(exc: BaseException) -> bool:
    """True when the store failed rather than the work: the connection was lost or refused
    (the server restarting, the network), or a lock was not granted in time. The same unit
    of work may succeed when tried again later; giving it up as faulty would be wrong."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if isinstance(exc.orig, sqlite3.OperationalError):  # also "no such table" and the like
        message = str(exc.orig)
        return "locked" in message or "busy" in message
    # psycopg's OperationalError: connection failures, the server shutting down, lock
    # timeouts, serialization failures and deadlocks; schema errors are ProgrammingError.
    return isinstance(exc, OperationalError)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine set up for charterbot's transaction discipline."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        # Settings given in the URL (``?connect_timeout=30``) win over ours.
        ours = {"connect_timeout": CONNECT_TIMEOUT, **KEEPALIVES}
        connect_args = {k: v for k, v in ours.items() if k not in parsed.query}
        connect_args.update(kwargs.pop("connect_args", {}))
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args, **kwargs)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    if is_memory(url):
        kwargs.setdefault("poolclass", StaticPool)
    engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
    memory = is_memory(url)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get("charterbot_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    """An engine plus the two session factories: read (deferred) and write (immediate)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(
            self.engine.execution_options(charterbot_write=True), expire_on_commit=False
        )

    def unit_of_work(self, write: bool = True) -> UnitOfWork:
        return UnitOfWork((self._write if write else self._read)())

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """One transaction. Leaving the block without ``commit()`` rolls everything back."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back what was not committed and detaches the loaded objects without
        # expiring them, so read results stay usable after the block.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
