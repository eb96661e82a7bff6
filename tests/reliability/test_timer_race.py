"""Two processes racing on 1,000 due deadlines: each carried out exactly once.

The race of tests/store/test_timer_processes.py at production scale: two bot processes
(``spawn``: their own interpreter, engine and connection pool) are released together on a
database where 1,000 timers of four kinds fell due: 300 amendment closes that open a
consent round, 300 amendment closes left without effect by ``/next``, 300 consent closes
(150 adopted, each appending to the charter's hash chain; 150 objected, each setting an
expiry) and 100 meeting reminders. Every close and reminder must be announced once by one
of the two, each phase moved once, one chain entry per adoption, and no timer left due.
"""

from __future__ import annotations

import pytest

from tests.reliability.figures import record
from tests.store.test_timer_processes import check_each_once, race, set_up

pytestmark = pytest.mark.reliability

PROPOSALS = 600  # 300 in amendment (1 due timer each), 300 in consent (2 each)
MEETINGS = 100  # 1 due reminder each
TIMERS = 1000


def test_two_processes_carry_out_a_thousand_deadlines_once(
    file_database_url: str, request: pytest.FixtureRequest
) -> None:
    work = set_up(file_database_url, PROPOSALS, MEETINGS)
    assert work.timers == TIMERS

    per_process, seconds = race(file_database_url)

    done = check_each_once(file_database_url, work, per_process)
    carried_out = sum(done.values())
    # check_each_once failed the test on any deadline carried out twice or missed.
    assert carried_out == TIMERS
    backend = request.node.callspec.id
    record(
        f"two processes, 1,000 due timers, {backend}",
        "carried out / twice / missed / seconds",
        f"{carried_out} / 0 / 0 / {seconds:.1f}",
    )
