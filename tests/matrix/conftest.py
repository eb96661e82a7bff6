"""Fixtures of the Matrix adapter tests. The session Synapse, users and people come from
tests/matrix/fixtures.py through tests/conftest.py (shared with tests/reliability)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.fakes.synapse import Synapse
from tests.matrix.fixtures import MatrixUser
from tests.matrix.harness import RunningMatrixBot

__all__ = ["MatrixUser"]


@pytest.fixture
def bot(
    synapse: Synapse, file_database_url: str, register_user: Callable[..., MatrixUser]
) -> Iterator[RunningMatrixBot]:
    """charterbot in Matrix, on SQLite and on PostgreSQL, accepting invites from localhost."""
    with RunningMatrixBot(synapse, file_database_url, register_user("charterbot")) as running:
        yield running
