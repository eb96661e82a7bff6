"""``kill -9`` of the bot in the middle of a burst of 1,000 positions, then a restart.

One ``charterbot run`` process (tests/reliability/processes.py) serves a Telegram group
(the fake Bot API) and a Matrix room (the session's real Synapse) on one PostgreSQL
database, the production target. 200 people, each group with a proposal in its consent
phase: 180 in the Telegram group, 20 in the Matrix room (each Matrix event costs the test
Synapse ~80 ms and more under load, and every command there brings a reply: 100 people
there took four minutes). People change their minds: each states five positions in turn
(Telegram: mostly the card's buttons, a few ``/object`` and ``/concern`` commands; Matrix:
``!consent``, ``!concern``, ``!object``, ``!abstain``), 1,000 in all. Once half are sent,
the bot is killed with SIGKILL at the riskiest moment, right after it committed a batch of
Telegram updates (the batch stored, its presses not yet answered, the new offset not yet
confirmed to Telegram; the Matrix room's batches come and go meanwhile), and started again
at once; the people go on meanwhile.

What must hold, as people and the store see it:

* every position is stored exactly once, in the order sent: each person's
  ``position_history`` is exactly the positions they sent, so none was lost (none that
  the bot had acknowledged either) and none counted twice; ``positions`` holds each
  person's last one;
* what the bot acknowledged (Telegram: the press answered, or the reply to the command;
  Matrix: the reply to the command) is matched to the one position it names: all of
  them but the presses the killed process had stored and not yet answered (their
  answers died with it; the card shows them);
* each card, as last edited, shows exactly the store's tally and who stated a position.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Coroutine, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from nio import RoomPreset
from sqlalchemy import select

from deliberation.model import OutboxItem, Position, PositionChange, Round
from deliberation.store.db import Database
from deliberation.store.migrate import upgrade
from tests.fakes.bot_api import FakeBotApi
from tests.fakes.postgres import PostgresServer
from tests.fakes.synapse import Synapse
from tests.matrix.fixtures import MatrixUser
from tests.matrix.harness import Loop, Person, joined, wait_for
from tests.reliability.figures import record
from tests.reliability.processes import BotProcess, MatrixAccount, operator_config, operator_env
from tests.telegram.harness import FAST_FAKE, fake_group, find

pytestmark = [pytest.mark.reliability, pytest.mark.postgres]

TG_COUNT = 180  # people in the Telegram group
MX_COUNT = 20  # people in the Matrix room (see the module's docstring)
STEPS = 5  # positions per person: 200 x 5 = 1,000
KILL_AT = 500  # positions sent before the wave during which the bot is killed
SLICES = 5  # each step, the people act in five waves (both platforms at once)
CATCH_UP = 90.0  # seconds the restarted bot may take after the burst (a loaded CI machine)
GROUP = -1001000000909
TG_PEOPLE = [
    FakeBotApi.make_user(20_000 + i, f"Member{i}", language_code="en") for i in range(TG_COUNT)
]
ICONS = {"consent": "✅", "concern": "⚠", "object": "✋", "abstain": "➖"}
STANCE_OF = {icon: stance for stance, icon in ICONS.items()}
BUTTON = {"consent": "c", "concern": "k", "abstain": "a"}  # (✋ asks for a reason first)
TG_CYCLE = ("consent", "concern", "abstain")
MX_CYCLE = ("consent", "concern", "abstain", "object")
# "Member7 changed their position on P1: ✋ Object (was ⚠️ Concern). Reason: tg-7-2"
REPLY = re.compile(
    r"^(?P<name>\S+) (?:on P\d+: (?P<stance>\S+) [^.(]+"
    r"|changed their position on P\d+: (?P<stance2>\S+) [^(]+ \(was (?P<was>\S+) [^)]+\))"
    r"\.(?: Reason: (?P<reason>\S+))?$"
)
TALLY = re.compile(r"(✅|⚠️|✋|➖) ([0-9][0-9,]*)")


@dataclass(frozen=True)
class Stated:
    """One position someone sends: ``who`` is their index on their platform, ``how``
    "button" or "command"."""

    who: int
    stance: str
    reason: str | None
    how: str


# The ack a reply stands for: (name, stance, the previous stance it names, reason).
AckKey = tuple[str, str, str | None, str | None]


def telegram_plan(who: int) -> list[Stated]:
    """Buttons through ✅ ⚠️ ➖; a few people use a command once: /object or /concern with
    a reason (each reply spends the group's budget of 20 messages a minute)."""
    plan = []
    for step in range(STEPS):
        stance, reason, how = TG_CYCLE[(who + step) % 3], None, "button"
        if (who % 25, step) in ((0, 2), (12, 3)):
            stance = "object" if step == 2 else "concern"
            reason, how = f"tg-{who}-{step}", "command"
        plan.append(Stated(who, stance, reason, how))
    return plan


def matrix_plan(who: int) -> list[Stated]:
    """Commands only (each answered by a reply); a reason with every concern and objection."""
    plan = []
    for step in range(STEPS):
        stance = MX_CYCLE[(who + step) % 4]
        reason = f"mx-{who}-{step}" if stance in ("concern", "object") else None
        plan.append(Stated(who, stance, reason, "command"))
    return plan


def ack_keys(plan: list[Stated], name: str) -> list[AckKey]:
    """What the bot's reply to each command of ``plan`` says, if it handled them in order."""
    keys: list[AckKey] = []
    previous: str | None = None
    for stated in plan:
        was = previous if previous not in (None, stated.stance) else None
        keys.append((name, stated.stance, was, stated.reason))
        previous = stated.stance
    return keys


def read_ack(text: str) -> AckKey | None:
    """The reply's first line as an ``AckKey``; None for other messages."""
    found = REPLY.match(text.split("\n", 1)[0])
    if found is None:
        return None
    icon = (found["stance"] or found["stance2"]).replace("\ufe0f", "")
    was = found["was"].replace("\ufe0f", "") if found["was"] else None
    return (
        found["name"],
        STANCE_OF[icon],
        STANCE_OF[was] if was else None,
        found["reason"],
    )


def counts_on(text: str) -> dict[str, int]:
    """A card's tally line ("✅ 34 · ⚠️ 33 · ✋ 0 · ➖ 33") as counts by stance."""
    return {
        STANCE_OF[icon.replace("\ufe0f", "")]: int(number.replace(",", ""))
        for icon, number in TALLY.findall(text)
    }


# -- the store -------------------------------------------------------------------------


class Store:
    """What the database holds, read by the test process."""

    def __init__(self, url: str) -> None:
        self.db = Database(url)

    def history(self) -> dict[str, list[tuple[str, str | None]]]:
        """Person -> every position stored for them, in order: (stance, reason)."""
        with self.db.unit_of_work(write=False) as uow:
            rows = uow.session.execute(
                select(
                    PositionChange.person_id, PositionChange.stance, PositionChange.reason
                ).order_by(PositionChange.id)
            ).all()
        out: dict[str, list[tuple[str, str | None]]] = {}
        for person, stance, reason in rows:
            out.setdefault(person, []).append((stance, reason))
        return out

    def positions(self) -> dict[str, tuple[int, str, str | None]]:
        """Person -> (proposal, stance, reason): one row per person (a round each)."""
        with self.db.unit_of_work(write=False) as uow:
            rows = uow.session.execute(
                select(
                    Round.proposal_id, Position.person_id, Position.stance, Position.reason
                ).join(Round, Round.id == Position.round_id)
            ).all()
        people = [row[1] for row in rows]
        assert len(people) == len(set(people)), "more than one position for someone"
        return {person: (proposal, stance, reason) for proposal, person, stance, reason in rows}

    def tally(self, proposal: int) -> dict[str, int]:
        counted = Counter(s for p, s, _ in self.positions().values() if p == proposal)
        return {stance: counted.get(stance, 0) for stance in ICONS}

    def pending(self) -> int:
        """Outbox rows not delivered yet."""
        with self.db.unit_of_work(write=False) as uow:
            rows = uow.session.scalars(
                select(OutboxItem.id).where(OutboxItem.state == "pending")
            ).all()
        return len(rows)


# -- Matrix, read as a client ----------------------------------------------------------


class Room:
    """The Matrix room as ``reader`` reads it over the client-server API."""

    def __init__(self, server: Synapse, reader: Person, room_id: str, bot: str) -> None:
        self.synapse = server
        self.token = reader.client.access_token
        self.room = urllib.parse.quote(room_id, safe="")
        self.bot = bot

    def _get(self, path: str) -> dict[str, Any]:
        return self.synapse.request("GET", f"/_matrix/client{path}", access_token=self.token)

    def bot_messages(self) -> list[str]:
        """The bodies of the bot's own messages (not edits), oldest first."""
        flt = urllib.parse.quote(json.dumps({"senders": [self.bot], "types": ["m.room.message"]}))
        bodies: list[str] = []
        start = ""
        while True:
            page = self._get(f"/v3/rooms/{self.room}/messages?dir=b&limit=1000&filter={flt}{start}")
            for event in page.get("chunk", []):
                content = event.get("content") or {}
                if (content.get("m.relates_to") or {}).get("rel_type") != "m.replace":
                    bodies.append(content.get("body", ""))
            if not page.get("chunk") or "end" not in page:
                return bodies[::-1]
            start = "&from=" + urllib.parse.quote(page["end"])

    def latest(self, event_id: str) -> str:
        """A message's body as last edited."""
        event = urllib.parse.quote(event_id, safe="")
        page = self._get(f"/v1/rooms/{self.room}/relations/{event}/m.replace?dir=b&limit=1")
        if page.get("chunk"):
            return str(page["chunk"][0]["content"]["m.new_content"]["body"])
        return str(self._get(f"/v3/rooms/{self.room}/event/{event}")["content"]["body"])


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL (the production target only: an
    SQLite leg would double the time)."""
    name = f"kill_mid_burst_{secrets.token_hex(3)}"
    yield postgres_server.create_database(name)
    postgres_server.drop_database(name)


@pytest.fixture
def api() -> Iterator[FakeBotApi]:
    """The fake Bot API without flood refusals: the bot still paces itself to Telegram's
    real limits (``charterbot run`` has no setting for them)."""
    with FakeBotApi.in_thread(**FAST_FAKE) as fake:
        fake_group(fake, GROUP, TG_PEOPLE[0], TG_PEOPLE[1:])
        yield fake


def together(people_loop: Loop, coros: Iterable[Coroutine[Any, Any, Any]]) -> list[Any]:
    """Run ``coros`` at once in the people's loop; their results."""

    async def gather() -> list[Any]:
        return list(await asyncio.gather(*coros))

    return people_loop.run(gather(), timeout=60)


def register(server: Synapse, prefix: str, count: int) -> list[MatrixUser]:
    """``count`` users through the shared-secret admin API, several at once."""

    def one(index: int) -> MatrixUser:
        localpart = f"{prefix}{index}-{secrets.token_hex(3)}"
        password = secrets.token_urlsafe(12)
        user_id, token = server.register(localpart, password)
        return MatrixUser(user_id, token, localpart, password)

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(count)))


@pytest.fixture
def matrix_people(
    synapse: Synapse,  # noqa: F811 - the fixtures imported above
    loop: Loop,  # noqa: F811
) -> Iterator[Callable[[list[MatrixUser]], list[Person]]]:
    """Factory: a real nio client for each user; all closed at the end."""
    made: list[Person] = []

    def make(users: list[MatrixUser]) -> list[Person]:
        made.extend(Person(loop, synapse, user) for user in users)
        return made[-len(users) :]

    yield make
    together(loop, (someone.client.close() for someone in made))


def kill_during(api: FakeBotApi, bot: BotProcess, wave: Callable[[], int]) -> int:
    """Send a ``wave`` and ``kill -9`` the bot at the riskiest moment: a batch of Telegram
    updates committed, its presses not answered yet and its offset not yet confirmed to
    Telegram. The fake Bot API holds the answers back, so the kill is sure to land there
    (the held answers never reach the people, as when the process dies on its own)."""
    held = api.fault_window(60.0, {"answerCallbackQuery": ("hang",)})  # ended at the kill
    sent = wave()
    wait_for(lambda: held.served[("answerCallbackQuery", "hang")], "a batch committed")
    bot.kill()
    held.until = 0.0  # Telegram answers again
    return sent


# -- the test ------------------------------------------------------------------------------


@dataclass
class Burst:
    """The people of both groups and what they sent; ``press_ids``: callback query id ->
    the press; ``unanswered_at_kill``: presses sent and not answered when the bot died."""

    api: FakeBotApi
    loop: Loop
    people: list[Person]
    room_id: str
    card_id: int  # the Telegram card's message id
    tg_plans: list[list[Stated]]
    mx_plans: list[list[Stated]]
    press_ids: dict[str, Stated] = field(default_factory=dict)
    unanswered_at_kill: set[str] = field(default_factory=set)

    def wave(self, step: int, wave: int) -> int:
        """A fifth of each group's people state their position number ``step``; how many."""
        tg = [plan[step] for plan in self.tg_plans[wave::SLICES]]
        mx = [plan[step] for plan in self.mx_plans[wave::SLICES]]
        for stated in tg:
            person = TG_PEOPLE[stated.who]
            if stated.how == "button":
                data = f"v1:{BUTTON[stated.stance]}"
                update = self.api.press_button(GROUP, person, self.card_id, data)
                self.press_ids[update["callback_query"]["id"]] = stated
            else:
                self.api.user_message(GROUP, person, f"/{stated.stance} P1 {stated.reason}")
        together(  # each person's commands go one after the other: the waves wait
            self.loop,
            (
                self.people[s.who].client.room_send(
                    self.room_id,
                    "m.room.message",
                    {"msgtype": "m.text", "body": f"!{s.stance} P2 {s.reason or ''}".strip()},
                )
                for s in mx
            ),
        )
        return len(tg) + len(mx)

    def answered(self) -> set[str]:
        return {a["callback_query_id"] for a in self.api.callback_answers}


def test_kill_9_mid_burst_loses_nothing_and_counts_nothing_twice(
    api: FakeBotApi,
    synapse: Synapse,  # noqa: F811 - the fixtures imported above
    loop: Loop,  # noqa: F811
    matrix_people: Callable[[list[MatrixUser]], list[Person]],
    postgres_url: str,
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    store = Store(postgres_url)
    upgrade(store.db.engine)

    (account,) = register(synapse, "charterbot", 1)
    users = register(synapse, "mx", MX_COUNT)
    people = matrix_people(users)
    creator = people[0]
    room_id = creator.create_room(
        invite=[account.user_id], preset=RoomPreset.public_chat, name="Garden room"
    )
    together(loop, (someone.client.join(room_id) for someone in people[1:]))
    room = Room(synapse, creator, room_id, account.user_id)

    matrix = MatrixAccount(synapse.url, account.user_id, account.password)
    config = operator_config(
        postgres_url,
        telegram_base_url=api.base_url,
        matrix=matrix,
        deliberation={"amendment_hours": 0},
    )
    env = operator_env(telegram_token=api.token, matrix=matrix)
    with BotProcess(tmp_path / "bot", config, env) as bot:
        bot.start().wait_logged("telegram.started", "matrix.started", timeout=90)

        # A proposal in its consent phase in each group (no amendment phase: see the
        # config): P1 on Telegram, then P2 on Matrix.
        api.user_message(GROUP, TG_PEOPLE[0], "/propose The kitchen is cleaned every evening.")
        tg_card = wait_for(lambda: find(api, GROUP, "P1 ·"), "the Telegram card")
        assert "consent phase" in tg_card["plain_text"]
        wait_for(lambda: account.user_id in joined(creator, room_id), "the bot to join")
        creator.say(room_id, "!propose The garden gate stays shut at night.")
        mx_card = wait_for(lambda: creator.find(room_id, account.user_id, "P2 ·"), "the card")
        assert "consent phase" in mx_card["content"]["body"]
        setup = time.monotonic() - began

        # The burst, in waves; kill -9 once half of it is sent, and start again at once.
        burst = Burst(
            api,
            loop,
            people,
            room_id,
            tg_card["message_id"],
            [telegram_plan(who) for who in range(TG_COUNT)],
            [matrix_plan(who) for who in range(MX_COUNT)],
        )
        sent = 0
        burst_began = time.monotonic()
        for step in range(STEPS):
            for wave in range(SLICES):
                if sent < KILL_AT or bot.starts > 1:
                    sent += burst.wave(step, wave)
                    continue
                sent += kill_during(api, bot, partial(burst.wave, step, wave))
                burst.unanswered_at_kill = set(burst.press_ids) - burst.answered()
                bot.start()
        burst_took = time.monotonic() - burst_began
        total = sum(len(plan) for plan in (*burst.tg_plans, *burst.mx_plans))
        assert sent == total == 1000

        def caught_up() -> bool:
            """Every position stored, every message delivered, each card at the store's
            tally."""
            return (
                sum(len(rows) for rows in store.history().values()) >= total
                and store.pending() == 0
                and counts_on(api.message(GROUP, burst.card_id)["text"]) == store.tally(1)
                and counts_on(room.latest(mx_card["event_id"])) == store.tally(2)
            )

        deadline = time.monotonic() + CATCH_UP
        while not caught_up() and time.monotonic() < deadline and bot.alive:
            time.sleep(0.25)
        settled = time.monotonic() - burst_began - burst_took
        assert bot.alive, bot.log()[-4000:]
        assert bot.stop() == 0, bot.log()[-4000:]

    # -- the store: each person's history is exactly what they sent, in order --------------
    sent_by: dict[str, list[tuple[str, str | None]]] = {}
    for plan in burst.tg_plans:
        sent_by[f"telegram:{TG_PEOPLE[plan[0].who]['id']}"] = [(s.stance, s.reason) for s in plan]
    for plan in burst.mx_plans:
        sent_by[f"matrix:{users[plan[0].who].user_id}"] = [(s.stance, s.reason) for s in plan]
    history = store.history()
    stored = sum(
        sum((Counter(history.get(person, [])) & Counter(positions)).values())
        for person, positions in sent_by.items()
    )
    twice = sum(len(rows) for rows in history.values()) - stored
    wrong = {p: (history.get(p), s) for p, s in sent_by.items() if history.get(p) != s}
    finals = {person: positions[-1] for person, positions in sent_by.items()}

    # -- the acknowledgements: each matched to the one position it names -------------------
    answered = burst.answered()
    tg_replies = Counter(
        key for m in api.sent_to(GROUP) if (key := read_ack(m["plain_text"])) is not None
    )
    mx_replies = Counter(key for body in room.bot_messages() if (key := read_ack(body)) is not None)
    acked = len(answered & set(burst.press_ids))
    for plan in burst.tg_plans:
        keys = ack_keys(plan, TG_PEOPLE[plan[0].who]["first_name"])
        acked += sum(
            1 for s, key in zip(plan, keys, strict=True) if s.how == "command" and tg_replies[key]
        )
    for plan in burst.mx_plans:
        acked += sum(1 for key in ack_keys(plan, users[plan[0].who].localpart) if mx_replies[key])
    # A reply cut off mid-send is sent again by the next start: Matrix shows it once (the
    # same transaction id); Telegram has no such key, so a doubled reply there is possible.
    tg_twice, mx_twice = (sum(n - 1 for n in r.values() if n > 1) for r in (tg_replies, mx_replies))

    # -- the cards, as last edited ----------------------------------------------------------
    tg_shown = api.message(GROUP, burst.card_id)["text"]
    mx_shown = room.latest(mx_card["event_id"])
    expected = {
        n: {
            s: sum(1 for p, f in finals.items() if p.startswith(platform) and f[0] == s)
            for s in ICONS
        }
        for n, platform in ((1, "telegram:"), (2, "matrix:"))
    }
    exact = (
        counts_on(tg_shown) == store.tally(1) == expected[1]
        and counts_on(mx_shown) == store.tally(2) == expected[2]
    )

    print(
        f"\nkill -9 mid-burst: setup {setup:.1f} s, burst {burst_took:.1f} s, caught up "
        f"{settled:.1f} s later; presses unanswered at the kill: "
        f"{len(burst.unanswered_at_kill)}, of them never answered: "
        f"{len(set(burst.press_ids) - answered)}; replies posted twice: {tg_twice} on Telegram, "
        f"{mx_twice} on Matrix; "
        f"in all {time.monotonic() - began:.1f} s"
    )
    record(
        "kill -9 mid-burst, telegram+matrix",
        "positions sent / acknowledged / stored / counted twice / card exact",
        f"{sent} / {acked} / {stored} / {twice} / {'yes' if exact else 'no'}",
    )
    assert set(history) == set(sent_by)
    assert not wrong, f"{len(wrong)} people's history is not what they sent: {wrong}"
    assert stored == total and twice == 0
    assert {p: (stance, r) for p, (_, stance, r) in store.positions().items()} == finals
    assert exact, (counts_on(tg_shown), counts_on(mx_shown), store.tally(1), store.tally(2))
    for shown, count in ((tg_shown, TG_COUNT), (mx_shown, MX_COUNT)):
        assert f"{count} of {count} members stated a position." in shown, shown
    # Only presses the killed process had taken may stay unanswered (their answers died
    # with it); every command is answered, its reply waiting in the outbox across the crash.
    assert set(burst.press_ids) - answered <= burst.unanswered_at_kill
    assert acked == total - len(set(burst.press_ids) - answered)
    assert mx_twice == 0
