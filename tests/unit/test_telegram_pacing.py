"""The pacer keeps sends to Telegram inside the flood limits, chat by chat, on virtual time.

Nothing here really sleeps. Each test runs on an event loop whose time is a
:class:`ManualClock`: when every task waits, the loop moves the clock straight to the next
timer instead of blocking. The pacer gets that clock and ``asyncio.sleep`` (which on this loop
is a fake sleep that moves the clock), and simulated requests "take" time the same way, so
concurrent tasks share one consistent virtual time.
"""

from __future__ import annotations

import asyncio
import random
import selectors
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from adapters.telegram_pacing import Limits, Pacer
from tests.fakes.bot_api import ApiError, FakeBotApi, ManualClock

T = TypeVar("T")
LIMITS = Limits()
GAP = LIMITS.per_chat_interval + LIMITS.margin  # between a completion and the chat's next send


class _ClockJumpingSelector(selectors.DefaultSelector):
    """Never blocks: where the loop would wait for its next timer, the clock jumps there."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events = super().select(0)
        if not events:
            if timeout is None:
                raise RuntimeError("deadlock: every task waits and no timer is set")
            self._clock.advance(timeout)
        return events


class _VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose time is the manual clock (``asyncio.sleep`` waits on it)."""

    def __init__(self, clock: ManualClock) -> None:
        self._virtual_clock = clock
        super().__init__(_ClockJumpingSelector(clock))

    def time(self) -> float:
        return self._virtual_clock()


def run(main: Callable[[ManualClock, Pacer], Coroutine[Any, Any, T]], limits: Limits = LIMITS) -> T:
    """Run ``main(clock, pacer)`` on virtual time, with a pacer on that clock."""
    clock = ManualClock()
    # On this loop asyncio.sleep waits on the manual clock and moves it: a fake sleep.
    pacer = Pacer(limits, clock=clock, sleep=asyncio.sleep)
    with asyncio.Runner(loop_factory=lambda: _VirtualTimeLoop(clock)) as runner:
        return runner.run(main(clock, pacer))


class Log:
    """Sends made through a pacer, as (chat, start, end) in the order they started."""

    def __init__(self, clock: ManualClock, pacer: Pacer) -> None:
        self.clock = clock
        self.pacer = pacer
        self.sends: list[tuple[int, float, float]] = []
        self.edits: list[tuple[int, float]] = []  # (chat, start) of background sends

    async def send(self, chat_id: int, duration: float = 0.1) -> None:
        async with self.pacer.slot(chat_id):
            start = self.clock()
            index = len(self.sends)
            self.sends.append((chat_id, start, start))
            await asyncio.sleep(duration)
        self.sends[index] = (chat_id, start, self.clock())

    async def edit(self, chat_id: int, duration: float = 0.1) -> None:
        """A background send (a card edit)."""
        async with self.pacer.slot(chat_id, background=True):
            start = self.clock()
            self.edits.append((chat_id, start))
            await asyncio.sleep(duration)

    async def burst(self, chat_ids: list[int], duration: float = 0.1) -> None:
        await asyncio.gather(*(self.send(chat_id, duration) for chat_id in chat_ids))

    def starts(self, chat_id: int) -> list[float]:
        return [start for chat, start, _ in self.sends if chat == chat_id]

    def ends(self, chat_id: int) -> list[float]:
        return [end for chat, _, end in self.sends if chat == chat_id]


# -- per chat -------------------------------------------------------------------------------


def test_sends_to_one_chat_go_one_at_a_time_an_interval_apart() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> Log:
        log = Log(clock, pacer)
        await log.burst([7] * 5, duration=0.3)
        return log

    log = run(main)
    starts, ends = log.starts(7), log.ends(7)
    assert starts[0] == 1000.0  # the first goes at once
    for end, next_start in zip(ends, starts[1:], strict=False):
        assert next_start == pytest.approx(end + GAP)


def test_a_free_chat_is_not_paced() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> tuple[float, float]:
        before = pacer.blocked_for(7)
        await Log(clock, pacer).send(7)
        return before, pacer.blocked_for(7)

    before, after = run(main)
    assert before == 0.0
    assert after == pytest.approx(GAP)


# -- per group ------------------------------------------------------------------------------


def test_a_group_gets_at_most_20_sends_in_any_minute() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> Log:
        log = Log(clock, pacer)
        await log.burst([-100] * 45)
        return log

    log = run(main)
    starts, ends = log.starts(-100), log.ends(-100)
    # The first 20 are only spaced per chat; the 21st waits for the 1st to leave the minute.
    assert starts[19] == pytest.approx(starts[0] + 19 * (0.1 + GAP))
    assert starts[20] == pytest.approx(ends[0] + 60 + LIMITS.margin)
    assert starts[40] == pytest.approx(ends[20] + 60 + LIMITS.margin)
    for i, start in enumerate(starts):
        recent = [end for end in ends[:i] if end > start - 60]
        assert len(recent) < 20


def test_a_private_chat_is_not_subject_to_the_group_window() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> Log:
        log = Log(clock, pacer)
        await log.burst([42] * 25)
        return log

    starts = run(main).starts(42)
    assert starts[24] == pytest.approx(starts[0] + 24 * (0.1 + GAP))  # never a minute's wait


# -- overall --------------------------------------------------------------------------------


def test_at_most_30_sends_in_any_second_over_many_chats() -> None:
    chats = list(range(1, 101)) * 2 + list(range(-50, 0))

    async def main(clock: ManualClock, pacer: Pacer) -> Log:
        log = Log(clock, pacer)
        await log.burst(chats, duration=0.2)
        return log

    log = run(main)
    assert len(log.sends) == 250
    assert sum(start == 1000.0 for _, start, _ in log.sends) == 30  # a full second at once
    for _, start, _ in log.sends:
        # Sends granted by then and not completed a second before: this one's 29 companions.
        counted = [1 for _, other_start, end in log.sends if other_start <= start < end + 1.0]
        assert len(counted) <= 30
    last_start = max(start for _, start, _ in log.sends)
    assert last_start < 1000.0 + 250 / 30 * (1 + 0.2 + LIMITS.margin)  # no needless waiting


# -- card edits: what messages leave ---------------------------------------------------------


def test_card_edits_leave_a_groups_reserve_to_messages() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> tuple[Log, float]:
        log = Log(clock, pacer)
        await asyncio.gather(*(log.edit(-100) for _ in range(20)))
        # The minute's edits took what they may: a message still goes without a wait.
        waited = clock()
        await log.send(-100)
        return log, log.starts(-100)[0] - waited

    log, message_wait = run(main)
    allowed = LIMITS.group_per_minute - LIMITS.reserve_group
    starts = [start for _, start in log.edits]
    assert starts[allowed - 1] < 1000.0 + 60  # the first 14 within the minute
    assert starts[allowed] > starts[0] + 60  # the 15th waits for the first to leave it
    assert message_wait <= GAP  # only the chat's own interval


def test_a_card_edit_waits_while_a_message_to_its_chat_waits() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> Log:
        log = Log(clock, pacer)
        await log.send(-100)  # the chat's interval now holds the next send back
        await asyncio.gather(log.send(-100), log.edit(-100), log.send(-100))
        return log

    log = run(main)
    (edit_start,) = [start for _, start in log.edits]
    assert edit_start > max(log.starts(-100))  # both messages before it


def test_card_edits_leave_the_overall_reserve_to_messages() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> Log:
        log = Log(clock, pacer)

        async def messages() -> None:
            await asyncio.sleep(0.01)  # the edits took what they may of the second
            await log.burst(list(range(101, 131)))

        await asyncio.gather(*(log.edit(chat) for chat in range(1, 61)), messages())
        return log

    log = run(main)
    allowed = LIMITS.global_per_second - LIMITS.reserve_overall
    edit_ends = {start: start + 0.1 for _, start in log.edits}  # each edit takes 0.1 s
    everything = [(s, e) for _, s, e in log.sends] + list(edit_ends.items())
    for _, start in log.edits:  # an edit never took one of the second's last 6 sends
        counted = [1 for s, e in everything if s < start < e + 1.0 or (s == start and s != e)]
        assert len(counted) <= allowed
    assert sum(start < 1000.0 + 1.0 for _, start in log.edits) == allowed
    # The messages: 6 at once beside the edits, the rest as the second's sends leave it,
    # before any further edit.
    assert sum(start == 1000.01 for _, start, _ in log.sends) == LIMITS.reserve_overall
    last_message = max(start for _, start, _ in log.sends)
    assert last_message < 1000.0 + 1.0 + 0.1 + 2 * LIMITS.margin
    assert sorted(start for _, start in log.edits)[allowed] >= last_message


def test_card_edits_waiting_for_the_overall_limit_wait_in_line() -> None:
    """300 cards behind in 300 groups: they go at what the overall second leaves, in the
    order they asked, and only the first in line looks at the clock (not all 300 each
    time a send leaves the second)."""
    sleeps = 0

    async def counted_sleep(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        await asyncio.sleep(seconds)

    async def main(clock: ManualClock, pacer: Pacer) -> Log:
        pacer._sleep = counted_sleep
        log = Log(clock, pacer)
        await asyncio.gather(*(log.edit(-chat) for chat in range(1, 301)))
        return log

    log = run(main)
    allowed = LIMITS.global_per_second - LIMITS.reserve_overall
    assert [chat for chat, _ in log.edits] == [-chat for chat in range(1, 301)]
    starts = [start for _, start in log.edits]
    for start in starts:  # never more than the second leaves edits
        assert sum(start - 1.0 - 0.1 - LIMITS.margin < s <= start for s in starts) <= allowed
    assert starts[-1] < 1000.0 + (300 / allowed) * (1 + 0.1 + 2 * LIMITS.margin)
    assert sleeps <= 2 * 300 / allowed  # the first in line waits, once a second


# -- 429 blocks -----------------------------------------------------------------------------


def test_a_429_block_delays_that_chat_only() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> tuple[Log, float, float, float]:
        log = Log(clock, pacer)
        await log.send(-1)
        blocked_at = clock()
        pacer.block(-1, 30)
        waits = pacer.blocked_for(-1), pacer.blocked_for(-2)
        await log.burst([-1, -1, -2, -2, -2, -2, 3, 3])
        return log, blocked_at, *waits

    log, blocked_at, wait_blocked, wait_other = run(main)
    assert wait_blocked == pytest.approx(30 + LIMITS.margin)
    assert wait_other == 0.0
    assert log.starts(-1)[1] == pytest.approx(blocked_at + 30 + LIMITS.margin)
    assert log.starts(-2)[0] == blocked_at  # the others go on at once ...
    assert log.ends(-2)[-1] < blocked_at + 5  # ... and finish long before the block ends
    assert log.ends(3)[-1] < blocked_at + 5


def test_a_block_only_ever_lengthens() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> float:
        pacer.block(5, 10)
        pacer.block(5, 2)
        return pacer.blocked_for(5)

    assert run(main) == pytest.approx(10 + LIMITS.margin)


# -- in flight and failures -----------------------------------------------------------------


def test_a_send_in_flight_holds_back_the_next_to_its_chat() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> tuple[Log, float]:
        log = Log(clock, pacer)
        first = asyncio.create_task(log.send(9, duration=10))
        await asyncio.sleep(1)  # the first is now in flight
        wait_while_in_flight = pacer.blocked_for(9)
        await log.send(9)
        await first
        return log, wait_while_in_flight

    log, wait_while_in_flight = run(main)
    assert wait_while_in_flight == pytest.approx(GAP)  # a lower bound: it may end any time
    assert log.starts(9)[1] == pytest.approx(log.ends(9)[0] + GAP)


def test_sends_in_flight_count_against_the_overall_limit() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> Log:
        log = Log(clock, pacer)
        await asyncio.gather(log.send(1, duration=5), log.send(2, duration=8), log.send(3))
        return log

    log = run(main, Limits(global_per_second=2))
    assert log.starts(1) == log.starts(2) == [1000.0]
    assert log.starts(3)[0] == pytest.approx(1005 + 1 + LIMITS.margin)  # after the first ends


def test_a_send_that_raises_still_counts() -> None:
    async def failing_send(clock: ManualClock, pacer: Pacer) -> None:
        async with pacer.slot(-3):
            await asyncio.sleep(0.5)
            raise ConnectionError("timed out, maybe after it arrived")

    async def main(clock: ManualClock, pacer: Pacer) -> list[float]:
        for _ in range(2):
            with pytest.raises(ConnectionError):
                await failing_send(clock, pacer)
        log = Log(clock, pacer)
        await log.send(-3)
        return log.starts(-3)

    starts = run(main, Limits(group_per_minute=2))
    # Two failed sends fill the group's minute: the third waits for the first (which ended at
    # 1000.5) to leave it.
    assert starts == [pytest.approx(1000.5 + 60 + LIMITS.margin)]


def test_a_cancelled_wait_takes_no_slot() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> Log:
        log = Log(clock, pacer)
        pacer.block(4, 10)
        waiting = asyncio.create_task(log.send(4))
        await asyncio.sleep(1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await log.send(4)
        return log

    log = run(main)
    assert log.starts(4) == [pytest.approx(1010 + LIMITS.margin)]


# -- memory ---------------------------------------------------------------------------------


def test_idle_chats_are_forgotten() -> None:
    async def main(clock: ManualClock, pacer: Pacer) -> tuple[int, int]:
        log = Log(clock, pacer)
        await log.burst(list(range(-50, 0)) + list(range(1, 51)))
        pacer.block(1000, 300)
        tracked = len(pacer._chats)
        await asyncio.sleep(130)  # past two sweeps of the minute
        await log.send(7)
        return tracked, len(pacer._chats)

    tracked, after = run(main)
    assert tracked == 101
    assert after == 2  # the chat just used and the one still blocked


# -- against the fake Bot API's flood control -----------------------------------------------


async def _server_burst(
    clock: ManualClock, pacer: Pacer | None, chats: list[int], refuse_at: set[int]
) -> tuple[FakeBotApi, int]:
    """Sends through ``pacer`` (or unpaced) as the fake server judges them on arrival.

    Each request has a random latency each way. The ones numbered in ``refuse_at`` are
    answered 429 with retry_after=3, as the server does for an injected fault; the client then
    blocks the chat. Returns the server and how many requests it accepted.
    """
    api = FakeBotApi(clock=clock)
    rng = random.Random(20240611)
    accepted = 0

    async def request(number: int, chat_id: int) -> None:
        nonlocal accepted
        method = rng.choice(["sendMessage", "editMessageText", "editMessageReplyMarkup"])
        up, down = rng.uniform(0.01, 0.6), rng.uniform(0.01, 0.6)
        await asyncio.sleep(up)
        if number in refuse_at:
            api._block(chat_id, 3)
            api.flood_refusals.append({"method": method, "chat_id": chat_id, "injected": True})
            await asyncio.sleep(down)
            if pacer is not None:
                pacer.block(chat_id, 3)
            return
        try:
            consume = api._check_flood(method, {"chat_id": chat_id})
        except ApiError:
            return  # recorded by the server in flood_refusals
        if consume is not None:
            consume()
        accepted += 1
        await asyncio.sleep(down)

    async def paced(number: int, chat_id: int) -> None:
        if pacer is None:
            await request(number, chat_id)
            return
        async with pacer.slot(chat_id):
            await request(number, chat_id)

    await asyncio.gather(*(paced(number, chat_id) for number, chat_id in enumerate(chats)))
    return api, accepted


@pytest.mark.parametrize(
    ("chat_ids", "total"),
    [
        pytest.param([-101, -102, -103, 11, 12, 13, 14, 15], 200, id="3 groups, 5 private"),
        pytest.param(list(range(-40, 0)) + list(range(1, 81)), 600, id="120 chats"),
    ],
)
def test_the_fake_server_never_refuses_a_paced_burst(chat_ids: list[int], total: int) -> None:
    chats = random.Random(7).choices(chat_ids, k=total)
    refuse_at = {5, 50, 150}

    async def main(clock: ManualClock, pacer: Pacer) -> tuple[FakeBotApi, int]:
        return await _server_burst(clock, pacer, chats, refuse_at)

    api, accepted = run(main)
    assert api.flood_violations == []
    assert [refusal for refusal in api.flood_refusals if not refusal.get("injected")] == []
    assert accepted == total - len(refuse_at)


def test_the_fake_server_refuses_the_same_burst_unpaced() -> None:
    """The check above has teeth: without the pacer the server refuses and sees violations."""
    chats = random.Random(7).choices([-101, -102, -103, 11, 12, 13, 14, 15], k=200)

    async def main(clock: ManualClock, pacer: Pacer) -> tuple[FakeBotApi, int]:
        return await _server_burst(clock, None, chats, set())

    api, _ = run(main)
    assert api.flood_refusals
    assert api.flood_violations
