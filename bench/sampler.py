"""A sampling profiler of every thread of a process, for the benchmarks' bot process.

cProfile sees one thread; the bot's work is spread over the event loop, the threads the
router's batches run on and the outbox's. Every ``interval`` seconds this takes each
thread's stack (``sys._current_frames``) and counts, per kind of thread, the functions
on it (inclusive) and the innermost one, for the threads the kernel has running at that
moment (``/proc/self/task/<tid>/stat``): where the CPU goes, not the waits.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

ROOT = str(Path(__file__).resolve().parent.parent)


def _kind(name: str) -> str:
    """Threads by what they are: asyncio_3 -> asyncio, outbox_1 -> outbox."""
    return name.rstrip("0123456789").rstrip("_-") or name


def _where(code_file: str, name: str, line: int) -> str:
    short = code_file.replace(ROOT + "/", "")
    if "site-packages/" in short:
        short = short.split("site-packages/", 1)[1]
    return f"{short}:{name}"


def _running(tids: set[int | None]) -> set[int]:
    """The threads of this process the kernel has on a CPU (or ready for one) now."""
    found = set()
    for tid in tids:
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] == "R":
            found.add(tid)  # type: ignore[arg-type]
    return found


class Sampler(threading.Thread):
    def __init__(self, interval: float = 0.005) -> None:
        super().__init__(name="sampler", daemon=True)
        self.interval = interval
        self.inclusive: Counter[tuple[str, str]] = Counter()
        self.leaves: Counter[tuple[str, str]] = Counter()
        self.samples: Counter[str] = Counter()  # per kind of thread
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            threads = threading.enumerate()
            names = {t.ident: t.name for t in threads}
            running = _running({t.native_id for t in threads if t.native_id is not None})
            native = {t.ident: t.native_id for t in threads}
            for ident, frame in sys._current_frames().items():  # noqa: SLF001
                if ident == self.ident or native.get(ident) not in running:
                    continue  # only threads on a CPU: where the time goes, not the waits
                kind = _kind(names.get(ident, "?"))
                self.samples[kind] += 1
                seen: set[str] = set()
                leaf = True
                current = frame
                while current is not None:
                    code = current.f_code
                    where = _where(code.co_filename, code.co_name, current.f_lineno)
                    if leaf:
                        self.leaves[(kind, where)] += 1
                        leaf = False
                    if where not in seen:
                        seen.add(where)
                        self.inclusive[(kind, where)] += 1
                    current = current.f_back

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    @staticmethod
    def cpu_by_kind() -> Counter[str]:
        """CPU seconds each kind of thread has used so far (Linux: /proc/self/task)."""
        tick = os.sysconf("SC_CLK_TCK")
        names = {t.native_id: t.name for t in threading.enumerate()}
        used: Counter[str] = Counter()
        for task in Path("/proc/self/task").iterdir():
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            user, system = int(fields[11]), int(fields[12])
            used[_kind(names.get(int(task.name), "gone"))] += (user + system) / tick
        return used

    def report(self, out: TextIO, top: int = 25) -> None:
        cpu = self.cpu_by_kind()
        out.write("CPU seconds by thread: ")
        out.write(", ".join(f"{kind} {seconds:.1f}" for kind, seconds in cpu.most_common()))
        out.write("\n")
        for kind, total in self.samples.most_common():
            out.write(f"\n== {kind}: {total} samples running\n")
            out.write("-- innermost\n")
            rows = [(w, n) for (k, w), n in self.leaves.items() if k == kind]
            for where, n in sorted(rows, key=lambda r: -r[1])[:top]:
                out.write(f"{100 * n / total:6.1f}%  {where}\n")
            out.write("-- on the stack (the bot's own code)\n")
            rows = [
                (w, n)
                for (k, w), n in self.inclusive.items()
                if k == kind and w.split("/")[0] in ("bot", "adapters", "deliberation")
            ]
            for where, n in sorted(rows, key=lambda r: -r[1])[:top]:
                out.write(f"{100 * n / total:6.1f}%  {where}\n")


def sample_for(seconds: float) -> None:  # pragma: no cover - a manual aid
    sampler = Sampler()
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    sampler.report(sys.stdout)
