"""``charterbot run`` as an operator runs it, in a process of its own that a test may kill.

Why a real process and not ``App`` in a thread: what a crash leaves behind (a transaction
cut off, an offset or sync token not yet stored, a message half sent) only shows when the
process dies at an arbitrary instruction. ``SIGKILL`` gives it no chance to clean up, as a
power cut or the OOM killer would.

The bot reads a TOML config file and its secrets from the environment
(``CHARTERBOT_TELEGRAM_TOKEN``, ``CHARTERBOT_MATRIX_PASSWORD``), as in
tests/telegram/test_cli_run.py and tests/matrix/test_matrix_cli_run.py. Its log (logfmt,
INFO) goes to a file per start, not to a pipe: a busy bot would fill an unread pipe and
block on its own logging.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class MatrixAccount:
    """The bot's Matrix login: the homeserver, its user id and password (the password
    goes to the environment, never to the config file)."""

    homeserver: str
    user_id: str
    password: str
    allowed_inviters: tuple[str, ...] = ("*:localhost",)


def operator_config(
    database_url: str,
    *,
    telegram_base_url: str | None = None,
    matrix: MatrixAccount | None = None,
    deliberation: dict[str, int | str] | None = None,
) -> str:
    """A config file's text: the database, the platforms asked for, no console and no
    web page (a fixed port would collide between tests); ``deliberation``: defaults for
    new groups (``{"amendment_hours": 0}``: proposals go straight to consent)."""
    lines = [
        "[database]",
        f'url = "{database_url}"',
        "[console]",
        "enabled = false",
        "[web]",
        "enabled = false",
    ]
    if deliberation:
        lines.append("[deliberation]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in deliberation.items()]
    if telegram_base_url is not None:
        lines += ["[telegram]", "enabled = true", f'base_url = "{telegram_base_url}"']
    if matrix is not None:
        inviters = ", ".join(f'"{pattern}"' for pattern in matrix.allowed_inviters)
        lines += [
            "[matrix]",
            "enabled = true",
            f'homeserver = "{matrix.homeserver}"',
            f'user_id = "{matrix.user_id}"',
            f"allowed_inviters = [{inviters}]",
        ]
    return "\n".join(lines) + "\n"


def operator_env(
    *, telegram_token: str | None = None, matrix: MatrixAccount | None = None
) -> dict[str, str]:
    """The environment of the bot: ours plus its secrets."""
    env = dict(os.environ)
    if telegram_token is not None:
        env["CHARTERBOT_TELEGRAM_TOKEN"] = telegram_token
    if matrix is not None:
        env["CHARTERBOT_MATRIX_PASSWORD"] = matrix.password
    return env


class BotProcess:
    """``python -m bot.cli run --config FILE`` in ``workdir``; start, kill, start again.

    Every start writes its own log, ``run-<n>.log`` in ``workdir``; :meth:`log` reads the
    current one. Leaving the ``with`` block kills a process still running.
    """

    def __init__(self, workdir: Path, config_text: str, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.config = workdir / "config.toml"
        self.env = env
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        workdir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(config_text)

    @property
    def log_path(self) -> Path:
        return self.workdir / f"run-{self.starts}.log"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> BotProcess:
        """Start the bot (not waiting for it: see :meth:`wait_logged`)."""
        assert not self.alive, "the bot is already running"
        self._close_log()
        self.starts += 1
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed on kill/stop
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(self.config)],
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    def log(self) -> str:
        """The current start's log so far."""
        return self.log_path.read_text(errors="replace") if self.starts else ""

    def wait_logged(self, *needles: str, timeout: float = 30.0) -> None:
        """Wait until the current start has logged every one of ``needles`` (e.g.
        ``telegram.started``); fail at once, with the log, if the process died."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            if all(needle in text for needle in needles):
                return
            if not self.alive:
                raise AssertionError(f"charterbot exited early:\n{text[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"charterbot did not log {needles}:\n{text[-4000:]}")
            time.sleep(0.05)

    def kill(self) -> None:
        """``kill -9``: no signal handler runs, nothing is flushed or committed."""
        assert self._process is not None and self.alive, "no bot running to kill"
        os.kill(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=10)
        self._close_log()

    def stop(self, timeout: float = 30.0) -> int:
        """Ctrl-C, as an operator stops it; the exit code."""
        assert self._process is not None
        if self.alive:
            self._process.send_signal(signal.SIGINT)
        code = self._process.wait(timeout=timeout)
        self._close_log()
        return code

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> BotProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive:
            assert self._process is not None
            self._process.kill()
            self._process.wait(timeout=10)
        self._close_log()
