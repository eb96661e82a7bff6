"""`charterbot run` as an operator starts it: a config file, the token in the environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.bot_api import FakeBotApi
from tests.telegram.harness import FAST_FAKE, fake_group, find

GROUP = -1001000000004
ALICE = FakeBotApi.make_user(41, "Alice")


def test_run_serves_a_telegram_group_and_stops_cleanly(bot_api_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    api = bot_api_factory(**FAST_FAKE)
    fake_group(api, GROUP, ALICE, [])
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n'
        "[console]\nenabled = false\n"
        f'[telegram]\nenabled = true\nbase_url = "{api.base_url}"\n'
    )
    env = {**os.environ, "CHARTERBOT_TELEGRAM_TOKEN": api.token}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        api.user_message(GROUP, ALICE, "/propose The door stays open.")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not find(api, GROUP, "The door stays open."):
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        assert find(api, GROUP, "The door stays open."), "no card was posted"
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "telegram.started" in out + err
    assert api.token.split(":", 1)[1] not in out + err
