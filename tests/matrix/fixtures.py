"""The Matrix fixtures shared by the whole suite (tests/conftest.py imports them, so
tests/matrix and tests/reliability use the same session Synapse): one real Synapse on
loopback, users registered on it and real nio clients for people.

Why session scope: a Synapse start costs ~2.5 s (see tests/fakes/synapse.py), too much per
test. Tests stay independent by registering their own users (``register_user`` gives each
a fresh, unique localpart) and creating their own rooms instead of sharing state.

Why no skip: if ``ensure_synapse()`` cannot install matrix-synapse (no network to PyPI),
the fixture raises and every Matrix test errors. CI installs it in scripts/test.sh, so a
missing Synapse is a broken environment, not an optional leg.

Tests are plain sync functions that run matrix-nio under ``asyncio.run(...)`` (the project
does not use pytest-asyncio); Synapse runs in its own process, so no event loop is shared.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.fakes.synapse import Synapse, ensure_synapse
from tests.matrix.harness import Loop, Person

_user_counter = itertools.count(1)


@dataclass(frozen=True)
class MatrixUser:
    """A user registered on the test homeserver (password kept for login tests)."""

    user_id: str
    access_token: str
    localpart: str
    password: str


@pytest.fixture(scope="session")
def synapse() -> Iterator[Synapse]:
    """One Synapse for the session; stopped and its temp dir removed at the end."""
    with Synapse(ensure_synapse()) as server:
        yield server


@pytest.fixture
def register_user(synapse: Synapse) -> Callable[..., MatrixUser]:
    """Factory: ``register_user("alice", admin=False) -> MatrixUser`` with a unique localpart.

    The localpart is ``<prefix>-<n>-<random>`` so users never collide, not even with users
    left over from earlier tests on the shared server (or after ``synapse.restart()``).
    """

    def register(prefix: str = "user", *, admin: bool = False) -> MatrixUser:
        localpart = f"{prefix}-{next(_user_counter)}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        user_id, token = synapse.register(localpart, password, admin=admin)
        return MatrixUser(user_id, token, localpart, password)

    return register


@pytest.fixture
def loop() -> Iterator[Loop]:
    """The people's event loop (the bot has its own, in its own thread)."""
    running = Loop()
    yield running
    running.close()


@pytest.fixture
def person(
    loop: Loop, synapse: Synapse, register_user: Callable[..., MatrixUser]
) -> Iterator[Callable[[str], Person]]:
    """Factory: ``person("alice")``, a newly registered user with a real nio client."""
    made: list[Person] = []

    def make(name: str) -> Person:
        made.append(Person(loop, synapse, register_user(name)))
        return made[-1]

    yield make
    for someone in made:
        someone.close()
