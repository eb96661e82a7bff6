"""SIGTERM, as systemd stops a service: the bot takes no more updates, finishes and commits
the batch in hand, delivers what is due for a few seconds and leaves the rest in the outbox;
the next start carries on with the updates it had not taken. Nothing is lost or done twice.

`charterbot run` is a real process here, against our fake Bot API, polling, on an SQLite file.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.fakes.bot_api import FakeBotApi
from tests.telegram.harness import FAST_FAKE, fake_group, find
from tests.telegram.test_reliability import outbox_states, query, stored_offset

GROUP = -1001000000014
ALICE = FakeBotApi.make_user(141, "Alice")
# Within Telegram's 20 messages a minute to a group, which the bot keeps to.
MEMBERS = [FakeBotApi.make_user(150 + i, f"Member{i}") for i in range(10)]


def start(config: Path, api: FakeBotApi, **env_vars: str) -> subprocess.Popen[str]:
    env = {**os.environ, "CHARTERBOT_TELEGRAM_TOKEN": api.token, **env_vars}
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(predicate, what: str, process: subprocess.Popen[str], timeout: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigterm_finishes_the_batch_in_hand_and_the_next_start_the_rest(
    bot_api_factory, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    api = bot_api_factory(**FAST_FAKE)
    fake_group(api, GROUP, ALICE, MEMBERS)
    db = tmp_path / "bot.db"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n[console]\nenabled = false\n'
        f'[telegram]\nenabled = true\nbase_url = "{api.base_url}"\n[web]\nenabled = false\n'
    )
    process = start(config, api)
    first = api.next_update_id
    api.user_message(GROUP, ALICE, "/settings amendment_hours 0")
    wait_until(lambda: find(api, GROUP, "amendment_hours"), "the settings answer", process)
    for i, member in enumerate(MEMBERS):  # a burst; SIGTERM comes in the middle of it
        api.user_message(GROUP, member, f"/propose Rule number {i}.")
        if i == len(MEMBERS) // 2:
            process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "app.stopped" in out + err

    # What it took is committed whole: a proposal for each /propose below the offset.
    taken = stored_offset(db)
    assert taken is not None and taken <= api.next_update_id
    proposals = query(db, "SELECT text FROM proposals ORDER BY id")
    assert len(proposals) == len(set(proposals))
    assert len(proposals) == taken - first - 1  # the first update was /settings
    sent_before = outbox_states(db)["sent"]
    assert len(api.sent_to(GROUP)) == sent_before  # what it sent, it recorded

    # The next start (logging JSON lines): the updates it had not taken, and the rest.
    process = start(config, api, CHARTERBOT_BOT_LOG_FORMAT="json")
    try:
        wait_until(
            lambda: (
                stored_offset(db) == api.next_update_id
                and outbox_states(db)["pending"] == 0
                and len(query(db, "SELECT id FROM proposals")) == len(MEMBERS)
            ),
            "the rest of the burst",
            process,
        )

    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    events = [json.loads(line)["event"] for line in err.splitlines()]  # each line is JSON
    assert "telegram.started" in events and events[-1] == "app.stopped"
    assert api.token not in err and api.token.split(":")[1] not in err
    texts = [m["plain_text"] for m in api.sent_to(GROUP)]
    for i in range(len(MEMBERS)):
        assert sum(f"Rule number {i}." in t for t in texts) == 1
    assert [t for t, n in collections.Counter(texts).items() if n > 1] == []
