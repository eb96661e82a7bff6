"""A throwaway PostgreSQL server for the test suite.

The store must behave the same on SQLite and on PostgreSQL, so the tests start a
real PostgreSQL cluster on loopback instead of mocking it: ``initdb`` into a temp
dir, ``pg_ctl start`` listening on 127.0.0.1 (free port) plus a unix socket inside
the temp dir, ``pg_ctl stop -m immediate`` and removal of the dir at the end.
Nothing outside the temp dir is touched; the Debian system cluster is not used.

Finding the server binaries (:func:`find_pg_bindir`), first hit wins:

1. ``CHARTERBOT_TEST_PG_BINDIR``: if set (non-empty) it is the *only* place looked
   at. Pointing it at a directory without the binaries (``/nonexistent``) makes
   :func:`find_pg_bindir` return ``None``, which is how to exercise the
   "PostgreSQL leg skipped" path on a machine that has PostgreSQL.
2. ``/usr/lib/postgresql/<version>/bin`` with the highest version (Debian layout).
3. ``pg_config --bindir``.
4. ``initdb`` on ``PATH`` (symlinks resolved, so ``/usr/local/bin/pg_ctl`` style
   links lead to the real directory).

Running as root: ``initdb`` and ``pg_ctl`` refuse to run as root. When the euid
is 0, every server command runs as an unprivileged user instead (``postgres``,
which Debian's package creates, else ``nobody``; ``CHARTERBOT_TEST_PG_USER``
overrides), via ``subprocess``'s ``user``/``group``/``extra_groups`` (no PAM
session, no dependency on ``runuser``/``su``). The temp dir is created by us and
chowned to that user, under a base dir that user can traverse. When not root,
the commands run directly as the current user.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

BINDIR_ENV = "CHARTERBOT_TEST_PG_BINDIR"
USER_ENV = "CHARTERBOT_TEST_PG_USER"
SUPERUSER = "charterbot"
REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_VALID_DBNAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _has_server_binaries(bindir: Path) -> bool:
    """True when ``bindir`` holds everything needed to run a cluster (not just libpq tools)."""
    return all(os.access(bindir / name, os.X_OK) for name in REQUIRED_BINARIES)


def _version_key(path: Path) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin`` so that 15 beats 9.6."""
    parts = re.findall(r"\d+", path.parent.name)
    return tuple(int(p) for p in parts) or (-1,)


def find_pg_bindir() -> Path | None:
    """Return the directory of the PostgreSQL server binaries, or None if there are none.

    See the module docstring for the search order and ``CHARTERBOT_TEST_PG_BINDIR``.
    """
    override = os.environ.get(BINDIR_ENV, "").strip()
    if override:
        path = Path(override)
        return path if _has_server_binaries(path) else None

    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for candidate in debian:
        if _has_server_binaries(candidate):
            return candidate

    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out and _has_server_binaries(Path(out)):
                return Path(out)

    initdb = shutil.which("initdb")
    if initdb:
        candidate = Path(initdb).resolve().parent
        if _has_server_binaries(candidate):
            return candidate
    return None


def server_version(bindir: Path) -> str:
    """``postgres --version`` output, for the pytest report header (root may run this)."""
    try:
        return subprocess.run(
            [str(bindir / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown version ({exc})"


@dataclass(frozen=True)
class RunAs:
    """The account the server commands run under (None fields: the current user)."""

    name: str
    uid: int | None = None
    gid: int | None = None


def server_account() -> RunAs:
    """Pick the account for initdb/pg_ctl: the current user, or an unprivileged one as root."""
    if os.geteuid() != 0:
        return RunAs(name=pwd.getpwuid(os.geteuid()).pw_name)
    wanted = os.environ.get(USER_ENV, "").strip()
    for name in [wanted] if wanted else ["postgres", "nobody"]:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        if entry.pw_uid != 0:
            return RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid)
    raise RuntimeError(
        "running as root, but no unprivileged user to run initdb/pg_ctl as "
        f"(tried {wanted or 'postgres, nobody'}; set {USER_ENV})"
    )


def _free_port() -> int:
    """Ask the kernel for a free TCP port on loopback (bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _traversable_by_others(path: Path) -> bool:
    """True when every ancestor of ``path`` lets other users through (o+x).

    As root the server runs as another user; a temp dir below e.g. a 0700 /root/tmp
    would be unreachable for it even after chown.
    """
    for part in [path, *path.parents]:
        try:
            if not part.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _tail(path: Path, lines: int = 40) -> str:
    """Last lines of the server log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no server log: {exc})"


class PostgresServer:
    """One throwaway PostgreSQL cluster, shared by a test session.

    Usage: ``server = PostgresServer(); server.start(); url = server.create_database("x");
    ...; server.stop()``. Also a context manager. ``stop()`` is registered with
    atexit too, so an interrupted session does not leave a postmaster behind.
    """

    def __init__(self, bindir: Path | None = None) -> None:
        found = bindir or find_pg_bindir()
        if found is None:
            raise RuntimeError("PostgreSQL server binaries not found")
        self.bindir: Path = found
        self.account: RunAs = server_account()
        self.port: int | None = None
        self.root: Path | None = None

    # -- paths -----------------------------------------------------------------
    @property
    def datadir(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "sock"

    @property
    def logfile(self) -> Path:
        assert self.root is not None, "server not started"
        return self.root / "server.log"

    # -- lifecycle -------------------------------------------------------------
    def start(self, *, timeout: float = 60.0) -> PostgresServer:
        """initdb a fresh cluster, start it and wait until it accepts connections."""
        if self.root is not None:
            raise RuntimeError("server already started")
        self.root = self._make_root()
        atexit.register(self.stop)
        try:
            self._run(
                "initdb",
                "-D", str(self.datadir),
                "-A", "trust",
                "-U", SUPERUSER,
                "-E", "UTF8",
                "--no-locale",
                "--no-sync",
                timeout=timeout,
            )  # fmt: skip
            self._start_on_free_port(timeout=timeout)
            self._wait_until_ready(timeout=timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server at once (its data is throwaway) and delete the temp dir."""
        root, self.root = self.root, None
        if root is None:
            return
        with contextlib.suppress(ValueError):
            atexit.unregister(self.stop)
        if (root / "data" / "postmaster.pid").exists():
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                self._exec(
                    [str(self.bindir / "pg_ctl"), "stop", "-D", str(root / "data"),
                     "-m", "immediate", "-w", "-t", "30"],
                    cwd=root,
                    timeout=60,
                )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
        self.port = None

    def restart(self, *, down_for: float = 0.0, timeout: float = 60.0) -> None:
        """Restart the server as an operator would, keeping its data and port.

        ``pg_ctl stop -m fast`` ends every session (clients see their connections cut and
        transactions in flight rolled back; what was committed stays), the server stays down
        ``down_for`` seconds (clients meanwhile are refused), then starts again on the same
        port and data directory; returns once it accepts connections.
        """
        if self.root is None or self.port is None:
            raise RuntimeError("server not started")
        self._run(
            "pg_ctl", "stop", "-D", str(self.datadir), "-m", "fast", "-w", "-t", str(int(timeout)),
            timeout=timeout + 10,
        )  # fmt: skip
        time.sleep(down_for)
        self._run(
            "pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.logfile),
            "-w", "-t", str(int(timeout)),
            timeout=timeout + 10,
        )  # fmt: skip
        self._wait_until_ready(timeout=timeout)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- databases -------------------------------------------------------------
    def admin_conninfo(self, dbname: str = "postgres") -> str:
        """libpq conninfo over TCP loopback, the same path the application uses."""
        if self.port is None:
            raise RuntimeError("server not started")
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={dbname}"

    def url(self, name: str) -> str:
        """SQLAlchemy URL of database ``name`` on this server."""
        if self.port is None:
            raise RuntimeError("server not started")
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def create_database(self, name: str) -> str:
        """Create an empty database and return its SQLAlchemy URL."""
        if not _VALID_DBNAME.match(name):
            raise ValueError(f"database name must match {_VALID_DBNAME.pattern}: {name!r}")
        with psycopg.connect(self.admin_conninfo(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database even if a test leaked connections to it (keeps the cluster small)."""
        with psycopg.connect(self.admin_conninfo(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    # -- internals -------------------------------------------------------------
    def _make_root(self) -> Path:
        """Create the temp dir, owned by the account the server runs as."""
        base = Path(tempfile.gettempdir())
        if self.account.uid is not None and not _traversable_by_others(base):
            base = Path("/tmp")
            if not _traversable_by_others(base):
                raise RuntimeError(
                    f"no temp dir that user {self.account.name!r} can reach; set TMPDIR"
                )
        # Short prefix: the unix socket path must stay below ~100 bytes.
        root = Path(tempfile.mkdtemp(prefix="cbpg-", dir=base))
        (root / "sock").mkdir()
        if self.account.uid is not None:
            for path in (root, root / "sock"):
                os.chown(path, self.account.uid, self.account.gid or -1)
        return root

    def _env(self) -> dict[str, str]:
        """Environment for server commands: no PG* leaking in, English messages for the log."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        if self.account.uid is not None:
            env["HOME"] = str(self.root)
        return env

    def _exec(
        self, argv: list[str], *, cwd: Path, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run one server command as the server account; raises CalledProcessError."""
        kwargs: dict[str, object] = {}
        if self.account.uid is not None:
            kwargs = {"user": self.account.uid, "group": self.account.gid, "extra_groups": []}
        return subprocess.run(
            argv,
            cwd=cwd,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
            **kwargs,  # type: ignore[arg-type]
        )

    def _run(self, tool: str, *args: str, timeout: float) -> None:
        """Run a PostgreSQL tool and turn a failure into an error that shows its output."""
        assert self.root is not None
        try:
            self._exec([str(self.bindir / tool), *args], cwd=self.root, timeout=timeout)
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(
                f"{tool} failed (exit {exc.returncode}, as user {self.account.name!r}):\n"
                f"{exc.stdout}{exc.stderr}\n--- server log tail ({self.logfile}) ---\n"
                f"{_tail(self.logfile)}"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"{tool} timed out after {timeout}s\n--- server log tail ---\n{_tail(self.logfile)}"
            ) from exc

    def _write_config(self, port: int) -> None:
        """Loopback only, socket in our temp dir, durability off (throwaway data, speed)."""
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(port),
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "off",
        }
        conf = self.datadir / "postgresql.conf"
        # Appending keeps the file's owner (the server account); the last setting wins,
        # so a retry on another port simply overrides the previous one.
        with conf.open("a") as fh:
            fh.write("".join(f"{key} = {value}\n" for key, value in settings.items()))

    def _start_on_free_port(self, *, timeout: float, attempts: int = 3) -> None:
        """pg_ctl start; retry with another port if someone grabbed ours meanwhile."""
        for attempt in range(attempts):
            port = _free_port()
            self._write_config(port)
            try:
                self._run(
                    "pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.logfile),
                    "-w", "-t", str(int(timeout)),
                    timeout=timeout + 10,
                )  # fmt: skip
            except RuntimeError:
                if attempt + 1 < attempts and "could not bind" in _tail(self.logfile):
                    continue
                raise
            self.port = port
            return

    def _wait_until_ready(self, *, timeout: float) -> None:
        """Retry a real TCP connection: pg_ctl -w only checks the socket it knows about."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_conninfo(), connect_timeout=5) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL on 127.0.0.1:{self.port} does not accept connections: "
                        f"{exc}\n--- server log tail ---\n{_tail(self.logfile)}"
                    ) from exc
                time.sleep(0.1)
