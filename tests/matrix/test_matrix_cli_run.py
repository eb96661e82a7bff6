"""`charterbot run` as an operator starts it for Matrix: a config file, the password in the
environment, a real Synapse."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.fakes.synapse import Synapse
from tests.matrix.conftest import MatrixUser
from tests.matrix.harness import Person, joined, wait_for


def test_run_serves_a_matrix_room_and_stops_cleanly(
    synapse: Synapse,
    register_user: Callable[..., MatrixUser],
    person: Callable[[str], Person],
    tmp_path: Path,
) -> None:
    account = register_user("charterbot")
    alice = person("alice")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n'
        "[console]\nenabled = false\n"
        f'[matrix]\nenabled = true\nhomeserver = "{synapse.url}"\n'
        f'user_id = "{account.user_id}"\nallowed_inviters = ["*:{synapse.server_name}"]\n'
    )
    env = {**os.environ, "CHARTERBOT_MATRIX_PASSWORD": account.password}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        room = alice.create_room(invite=[account.user_id])

        def running_and(predicate: Callable[[], object]) -> object:
            assert process.poll() is None, process.communicate()
            return predicate()

        wait_for(lambda: running_and(lambda: account.user_id in joined(alice, room)), "a join")
        alice.say(room, "!propose The door stays open.")
        wait_for(
            lambda: running_and(lambda: alice.find(room, account.user_id, "The door stays open.")),
            "the card",
        )
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "matrix.started" in out + err
    assert account.password not in out + err
    assert "syt_" not in out + err  # no Synapse access token (the login's) in the logs
