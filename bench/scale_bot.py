"""The bot process of the scale benchmark: what ``charterbot run`` runs, Telegram only.

    .venv/bin/python bench/scale_bot.py DATABASE_URL BASE_URL TOKEN [--fast]

It builds the ``App`` as ``bot/cli.py``'s ``_run`` does (system clock, migrations, the
Telegram adapter polling, deadlines and deliveries) and runs it until it is terminated.
``charterbot run`` takes no pacing option; ``--fast`` lifts the adapter's flood limits,
for the memory leg, where 10,000 replies would otherwise take Telegram's 30 a second.
With ``CHARTERBOT_BENCH_SAMPLE=FILE`` in the environment every thread is sampled
(``bench/sampler.py``) and the report written to FILE when the process ends.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/telegram.py is named like the ``telegram`` package: this folder must not shadow it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

from adapters.telegram_pacing import Limits  # noqa: E402
from bot.app import App  # noqa: E402
from bot.config import Config, ConsoleConfig, DatabaseConfig, TelegramConfig  # noqa: E402
from bot.logging import configure_logging  # noqa: E402
from deliberation.timers import SystemClock  # noqa: E402

FAST = Limits(per_chat_interval=0.0, group_per_minute=100_000, global_per_second=100_000)


def main() -> None:
    url, base_url, token, *flags = sys.argv[1:]
    config = dataclasses.replace(
        Config(),
        database=DatabaseConfig(url=url),
        console=ConsoleConfig(enabled=False),
        telegram=TelegramConfig(enabled=True, token=token, base_url=base_url),
    )
    configure_logging("INFO")  # as ``charterbot run``
    app = App.build(config, SystemClock())
    app.add_telegram(limits=FAST if "--fast" in flags else None)

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            await app.run_forever()
        except asyncio.CancelledError:
            pass

    report = os.environ.get("CHARTERBOT_BENCH_SAMPLE")
    sampler = None
    if report:
        from bench.sampler import Sampler

        sampler = Sampler()
        sampler.start()
    asyncio.run(run())
    app.db.dispose()
    if sampler is not None:
        sampler.stop()
        with open(report, "w") as out:
            sampler.report(out)


if __name__ == "__main__":
    main()
