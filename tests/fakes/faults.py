"""A platform failing for a while, request by request: shared by the fake Bot API
(tests/fakes/bot_api.py) and the fault proxy before Synapse (tests/reliability/fault_proxy.py)."""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FaultCycle:
    """Until ``until`` (``time.monotonic()``), each request of a listed kind gets the next
    answer of its kind's pattern, in turn; ``served`` counts ``(kind of request, answer) ->
    n`` and ``lost`` lists what was carried out whose answer never came back."""

    until: float
    patterns: dict[str, tuple[str, ...]]
    served: collections.Counter[tuple[str, str]] = field(default_factory=collections.Counter)
    lost: list[Any] = field(default_factory=list)
    _turns: collections.Counter[str] = field(default_factory=collections.Counter)

    def open(self) -> bool:
        return time.monotonic() < self.until

    def next_kind(self, request: str) -> str | None:
        """The answer this request gets, or None when it is let through."""
        pattern = self.patterns.get(request)
        if not pattern or not self.open():
            return None
        kind = pattern[self._turns[request] % len(pattern)]
        self._turns[request] += 1
        self.served[(request, kind)] += 1
        return kind
