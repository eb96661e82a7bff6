"""Reliability of charterbot on Telegram: restarts, crashes, flood limits, failing networks.

charterbot's App runs with the Telegram adapter against our fake Bot API (see harness.py)
on a file-backed SQLite database, so a second ``RunningBot`` can reopen what the first one
stored. Each test asserts what the group would see: every press counted once, every
announcement posted once, nothing lost, Telegram's ``retry_after`` obeyed.
"""

from __future__ import annotations

import collections
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from deliberation.store.db import BUSY_TIMEOUT_MS
from tests.fakes.bot_api import FakeBotApi, Json
from tests.telegram.harness import (
    FAST_FAKE,
    RunningBot,
    answers_to,
    buttons_of,
    fake_group,
    find,
    texts,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001000000002
ALICE = FakeBotApi.make_user(21, "Alice", language_code="en")  # created the group: mediator
BOB = FakeBotApi.make_user(22, "Bob", language_code="en")
CAROL = FakeBotApi.make_user(23, "Carol", language_code="en")
DAVE = FakeBotApi.make_user(24, "Dave", language_code="en")
ERIN = FakeBotApi.make_user(25, "Erin", language_code="en")
FRANK = FakeBotApi.make_user(26, "Frank", language_code="en")
MALLORY = FakeBotApi.make_user(66, "Mallory", language_code="en")  # not in the group
MEMBERS = [BOB, CAROL, DAVE, ERIN, FRANK]
TEXT = "We share the kitchen."


@pytest.fixture
def api(bot_api_factory) -> FakeBotApi:  # type: ignore[no-untyped-def]
    fake = bot_api_factory(**FAST_FAKE)
    fake_group(fake, GROUP, ALICE, MEMBERS)
    return fake


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "bot.db"


def url(path: Path) -> str:
    return f"sqlite:///{path}"


# -- helpers -------------------------------------------------------------------------------


def say(api: FakeBotApi, user: Json, text: str) -> None:
    api.user_message(GROUP, user, text)


def open_round(bot: RunningBot) -> int:
    """Alice skips the amendment phase and proposes: the card's message id, with buttons."""
    api = bot.api
    say(api, ALICE, "/settings amendment_hours 0")
    bot.wait_for(lambda: find(api, GROUP, "amendment_hours"), "the settings answer")
    say(api, ALICE, f"/propose {TEXT}")
    card = bot.wait_for(lambda: find(api, GROUP, TEXT), "the proposal's card")
    assert [data for _, data in buttons_of(card)] == ["v1:c", "v1:k", "v1:o", "v1:a"]
    return int(card["message_id"])


def card_text(api: FakeBotApi, card_id: int) -> str:
    return str(api.message(GROUP, card_id)["text"])


def tally(consent: int, concern: int, objection: int, abstain: int) -> str:
    return f"✅ {consent} · ⚠️ {concern} · ✋ {objection} · ➖ {abstain}"


def wait_for_tally(bot: RunningBot, card_id: int, shown: str, timeout: float = 15.0) -> None:
    bot.wait_for(lambda: shown in card_text(bot.api, card_id), f"the card to show {shown}", timeout)


def query(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read the bot's database from outside, as an operator would."""
    connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        return connection.execute(sql, params).fetchall()
    finally:
        connection.close()


def positions(path: Path) -> dict[str, str]:
    """Current stance per person in the consent round (a person has one row at most)."""
    rows = query(path, "SELECT person_id, stance FROM positions")
    people = [person for person, _ in rows]
    assert len(people) == len(set(people)), rows
    return dict(rows)


def history(path: Path) -> collections.Counter[str]:
    """How many positions each person stated, all told: a press handled twice shows here."""
    rows = query(path, "SELECT person_id FROM position_history")
    return collections.Counter(person for (person,) in rows)


def who(user: Json) -> str:
    return f"telegram:{user['id']}"


def stored_offset(path: Path) -> int | None:
    rows = query(path, "SELECT value FROM cursors WHERE name = 'telegram:offset'")
    return int(rows[0][0]) if rows else None


def outbox_states(path: Path) -> collections.Counter[str]:
    return collections.Counter(state for (state,) in query(path, "SELECT state FROM outbox"))


def assert_nothing_posted_twice(api: FakeBotApi) -> None:
    posted = collections.Counter(texts(api, GROUP))
    assert [t for t, n in posted.items() if n > 1] == []


def count_containing(api: FakeBotApi, needle: str) -> int:
    return sum(needle in t for t in texts(api, GROUP))


def clear_faults(api: FakeBotApi, method: str) -> None:
    """Forget the faults still queued for ``method`` (Telegram has recovered)."""
    api._in_loop(lambda: api._faults.pop(method, None))  # noqa: SLF001 - the fake is ours


# -- 1. a restart in the middle of a round ---------------------------------------------------


def test_a_restart_mid_round_counts_every_press_once(api: FakeBotApi, db_path: Path) -> None:
    with RunningBot(api, url(db_path)) as bot:
        card_id = open_round(bot)
        api.press_button(GROUP, BOB, card_id, "v1:c")
        api.press_button(GROUP, CAROL, card_id, "v1:k")
        say(api, DAVE, "/abstain P1")
        say(api, CAROL, "/status")
        bot.wait_for(lambda: answers_to(api, BOB) and answers_to(api, CAROL), "the notes")
        bot.wait_for(lambda: find(api, GROUP, "Dave on P1"), "the answer to Dave")
        bot.wait_for(lambda: find(api, GROUP, "Open proposals"), "the answer to /status")
        wait_for_tally(bot, card_id, tally(1, 1, 0, 1))
        before = [m["message_id"] for m in api.sent_to(GROUP)]
        # Erin presses as the bot goes down: her press may be handled before the stop or
        # after the restart, but once.
        api.press_button(GROUP, ERIN, card_id, "v1:c")
        bot.stop()

    # While the bot is down, more people act; Telegram keeps the updates.
    api.press_button(GROUP, FRANK, card_id, "v1:c")
    api.press_button(GROUP, BOB, card_id, "v1:k")  # Bob changes his mind
    say(api, ALICE, "/consent P1")
    offset_at_stop = stored_offset(db_path)
    assert offset_at_stop is not None
    # Telegram still keeps every update the bot has not committed (and maybe Erin's, if it
    # was committed but not confirmed yet).
    kept = {u["update_id"] for u in api.updates}
    assert set(range(offset_at_stop, api.next_update_id)) <= kept
    assert len(kept) >= 3

    with RunningBot(api, url(db_path)) as bot:
        bot.wait_for(lambda: answers_to(api, FRANK), "the note to Frank")
        bot.wait_for(lambda: len(answers_to(api, BOB)) == 2, "the second note to Bob")
        bot.wait_for(lambda: find(api, GROUP, "Alice on P1"), "the answer to Alice")
        final = tally(3, 2, 0, 1)  # Alice, Erin, Frank · Bob, Carol · - · Dave
        wait_for_tally(bot, card_id, final)
        bot.wait_for(lambda: stored_offset(db_path) == api.next_update_id, "the last offset")
        bot.wait_for(lambda: not api.updates, "Telegram to drop the confirmed updates")
        time.sleep(1.5)  # anything handled twice would show by now (one delivery sweep)

        assert "6 of 6 members stated a position." in card_text(api, card_id)
        assert positions(db_path) == {
            who(ALICE): "consent",
            who(BOB): "concern",
            who(CAROL): "concern",
            who(DAVE): "abstain",
            who(ERIN): "consent",
            who(FRANK): "consent",
        }
        assert history(db_path) == {
            who(ALICE): 1,
            who(BOB): 2,
            who(CAROL): 1,
            who(DAVE): 1,
            who(ERIN): 1,
            who(FRANK): 1,
        }
        # The first bot's answers are not given again: one note per press, one reply each.
        assert len(answers_to(api, BOB)) == 2
        assert "consent" in (answers_to(api, BOB)[0] or "")
        assert "concern" in (answers_to(api, BOB)[1] or "")
        assert len(answers_to(api, CAROL)) == 1
        assert len(answers_to(api, ERIN)) <= 1  # unanswered if the stop came mid-batch
        assert len(answers_to(api, FRANK)) == 1
        assert [m["message_id"] for m in api.sent_to(GROUP)][: len(before)] == before
        assert len(api.sent_to(GROUP)) == len(before) + 1  # the answer to Alice
        assert count_containing(api, "Open proposals") == 1
        assert count_containing(api, "Dave on P1") == 1
        assert count_containing(api, "Alice on P1") == 1
        assert count_containing(api, "P1 · new clause") == 1  # the card: posted once, edited
        assert_nothing_posted_twice(api)
        assert stored_offset(db_path) == api.next_update_id
        assert outbox_states(db_path) == {"sent": len(texts(api, GROUP))}
        assert api.flood_violations == []


# -- 2. a crash between the commit and the delivery -----------------------------------------


def test_messages_left_pending_by_a_crash_are_delivered_once(
    api: FakeBotApi, db_path: Path
) -> None:
    with RunningBot(api, url(db_path)) as bot:
        say(api, ALICE, "/settings amendment_hours 0")
        bot.wait_for(lambda: find(api, GROUP, "amendment_hours"), "the settings answer")
        sent_before = len(api.sent)
        api.fail_next("sendMessage", 502, times=10_000)  # Telegram is down for sends
        say(api, ALICE, f"/propose {TEXT}")
        say(api, BOB, "/status")
        # Both are committed (the next offset is stored with them) but not delivered.
        bot.wait_for(lambda: stored_offset(db_path) == api.next_update_id, "the commit")
        bot.wait_for(
            lambda: query(db_path, "SELECT count(*) FROM outbox WHERE attempts > 0")[0][0],
            "a failed attempt",
        )
        bot.stop()
    assert len(api.sent) == sent_before
    pending = outbox_states(db_path)["pending"]
    # the card (which opens in its consent round: no separate announcement) and the answer
    assert pending == 2

    clear_faults(api, "sendMessage")
    with RunningBot(api, url(db_path)) as bot:
        bot.wait_for(lambda: outbox_states(db_path)["pending"] == 0, "the pending messages")
        card = find(api, GROUP, "P1 · new clause")
        assert card is not None and buttons_of(card)  # the card, with its buttons
        assert find(api, GROUP, "Open proposals") is not None
        time.sleep(1.5)  # a second delivery would show by now
        assert len(api.sent) == sent_before + pending
        assert count_containing(api, "P1 · new clause") == 1
        assert_nothing_posted_twice(api)
        assert outbox_states(db_path) == {"sent": len(api.sent)}
        # In the order they were committed.
        refs = [int(ref) for (ref,) in query(db_path, "SELECT message_ref FROM outbox ORDER BY id")]
        assert refs == sorted(refs)
        assert "Open proposals" in texts(api, GROUP)[-1]
        # And the card works: a press after the restart is counted.
        api.press_button(GROUP, CAROL, int(card["message_id"]), "v1:c")
        wait_for_tally(bot, int(card["message_id"]), tally(1, 0, 0, 0))
        assert len(answers_to(api, CAROL)) == 1


# -- 3. a storm of 429s --------------------------------------------------------------------


def test_a_storm_of_429s_is_waited_out_in_order(api: FakeBotApi, db_path: Path) -> None:
    with RunningBot(api, url(db_path)) as bot:
        card_id = open_round(bot)
        # Erin and Frank have pressed once, so the adapter knows they are members: no
        # look-ups in the chat during the storm (the fake counts any request to a chat
        # inside its retry_after as a violation).
        for user in (ERIN, FRANK):
            api.press_button(GROUP, user, card_id, "v1:a")
        wait_for_tally(bot, card_id, tally(0, 0, 0, 2))
        sent_before = len(api.sent_to(GROUP))
        refusals_before = len(api.flood_refusals)

        api.fail_next("sendMessage", 429, times=3, retry_after=1)
        api.fail_next("editMessageText", 429, times=3, retry_after=1)
        commands = [
            (BOB, "/consent P1", "Bob on P1"),
            (CAROL, "/concern P1 noisy", "Carol on P1"),
            (DAVE, "/abstain P1", "Dave on P1"),
            (ALICE, "/status", "Open proposals"),
        ]
        for user, text, _ in commands:
            say(api, user, text)
        api.press_button(GROUP, ERIN, card_id, "v1:c")
        api.press_button(GROUP, FRANK, card_id, "v1:k")

        bot.wait_for(
            lambda: all(find(api, GROUP, needle) for _, _, needle in commands), "the answers"
        )
        wait_for_tally(bot, card_id, tally(2, 2, 0, 1))
        time.sleep(1.0)
        assert len(api.flood_refusals) - refusals_before >= 6  # the storm did happen
        assert api.flood_violations == []  # and every retry_after was obeyed

        new = texts(api, GROUP)[sent_before:]
        assert len(new) == len(commands)  # each once
        for (_, _, needle), text in zip(commands, new, strict=True):  # in order
            assert needle in text
        assert "Frank" in card_text(api, card_id) and "Erin" in card_text(api, card_id)
        assert len(answers_to(api, ERIN)) == 2 and len(answers_to(api, FRANK)) == 2
        assert outbox_states(db_path) == {"sent": len(api.sent)}


# -- 4. 5xx, dropped connections and timeouts ----------------------------------------------


def test_a_storm_of_server_errors_loses_nothing(api: FakeBotApi, db_path: Path) -> None:
    with RunningBot(api, url(db_path)) as bot:
        card_id = open_round(bot)
        for user in (BOB, CAROL, DAVE):  # known to the adapter (membership looked up)
            api.press_button(GROUP, user, card_id, "v1:a")
        wait_for_tally(bot, card_id, tally(0, 0, 0, 3))
        sent_before = len(api.sent_to(GROUP))

        # sendMessage: 500, 502, a dropped connection (the message not posted), then slow.
        api.fail_next("sendMessage", 500)
        api.fail_next("sendMessage", 502)
        api.drop_connection_next("sendMessage")
        api.delay_next("sendMessage", 2.0)
        # answerCallbackQuery: 500, and a dropped connection after the answer was shown.
        api.fail_next("answerCallbackQuery", 500)
        api.drop_connection_next("answerCallbackQuery", apply_first=True)
        say(api, ALICE, "/status")
        say(api, DAVE, "/consent P1")
        api.press_button(GROUP, BOB, card_id, "v1:c")
        api.press_button(GROUP, CAROL, card_id, "v1:k")
        wait_for_tally(bot, card_id, tally(2, 1, 0, 0))  # Dave, Bob · Carol

        # getUpdates: 502, then a dropped connection; Bob presses during the failures.
        failures = len([r for r in api.requests if r[0] == "getUpdates" and r[2] != 200])
        api.fail_next("getUpdates", 502)
        api.drop_connection_next("getUpdates")
        bot.wait_for(
            lambda: (
                len([r for r in api.requests if r[0] == "getUpdates" and r[2] != 200]) > failures
            ),
            "a failed getUpdates",
        )
        api.press_button(GROUP, BOB, card_id, "v1:k")

        final = tally(1, 2, 0, 0)  # Dave · Bob, Carol
        wait_for_tally(bot, card_id, final, timeout=15.0)
        bot.wait_for(lambda: find(api, GROUP, "Dave changed"), "the answer to Dave")
        bot.wait_for(lambda: find(api, GROUP, "Open proposals"), "the answer to /status")
        bot.wait_for(lambda: stored_offset(db_path) == api.next_update_id, "the last offset")
        time.sleep(1.0)

        assert positions(db_path) == {
            who(BOB): "concern",
            who(CAROL): "concern",
            who(DAVE): "consent",
        }
        assert history(db_path) == {who(BOB): 3, who(CAROL): 2, who(DAVE): 2}
        assert len(texts(api, GROUP)) == sent_before + 2
        assert count_containing(api, "Open proposals") == 1
        assert count_containing(api, "Dave changed") == 1
        # One answer failed (500), one was shown though its connection dropped; the press
        # during the getUpdates failures was answered.
        assert len(answers_to(api, BOB)) + len(answers_to(api, CAROL)) == 2 + 1 + 1
        assert "concern" in (answers_to(api, BOB)[-1] or "")
        assert_nothing_posted_twice(api)
        assert outbox_states(db_path) == {"sent": len(api.sent)}
        assert api.flood_violations == []


def test_a_getupdates_timeout_loses_no_press(api: FakeBotApi, db_path: Path) -> None:
    with RunningBot(api, url(db_path)) as bot:
        card_id = open_round(bot)
        for user in (BOB, CAROL):
            api.press_button(GROUP, user, card_id, "v1:a")
        wait_for_tally(bot, card_id, tally(0, 0, 0, 2))
        # How long the adapter waits for a long poll (poll_timeout + 10 s, not configurable).
        polling = bot.telegram.bot._request[0]  # noqa: SLF001 - PTB's get_updates request
        timeout = float(polling.read_timeout or 0)
        assert 0 < timeout <= 12.0  # keeps this test short

        # The next long poll takes its batch but its answer comes too late.
        api.delay_next("getUpdates", timeout + 1.0)
        api.press_button(GROUP, CAROL, card_id, "v1:k")
        time.sleep(2.0)  # the late poll is on its way by now
        pressed_at = time.monotonic()
        api.press_button(GROUP, BOB, card_id, "v1:c")  # during the timeout
        wait_for_tally(bot, card_id, tally(1, 1, 0, 0), timeout=timeout + 5.0)
        bot.wait_for(lambda: len(answers_to(api, BOB)) == 2, "Bob's note")
        assert time.monotonic() - pressed_at > 5.0  # it waited for the hung poll to time out
        bot.wait_for(lambda: stored_offset(db_path) == api.next_update_id, "the last offset")
        time.sleep(0.5)

        assert positions(db_path) == {who(BOB): "consent", who(CAROL): "concern"}
        assert history(db_path) == {who(BOB): 2, who(CAROL): 2}
        assert len(answers_to(api, CAROL)) == 2


# -- 5. a press is acknowledged only once it is committed -----------------------------------


def test_a_press_is_acknowledged_only_after_its_commit(api: FakeBotApi, db_path: Path) -> None:
    with RunningBot(api, url(db_path)) as bot:
        card_id = open_round(bot)
        api.press_button(GROUP, CAROL, card_id, "v1:a")  # Carol is known to the adapter
        wait_for_tally(bot, card_id, tally(0, 0, 0, 1))
        bot.wait_for(lambda: not api.updates, "the confirmed updates")

        # Another process holds the write lock longer than the bot's busy timeout.
        locker = sqlite3.connect(db_path, isolation_level=None)
        hold = BUSY_TIMEOUT_MS / 1000 + 1.0
        try:
            locker.execute("BEGIN IMMEDIATE")
            locked_at = time.monotonic()
            api.press_button(GROUP, CAROL, card_id, "v1:c")
            while time.monotonic() - locked_at < hold:
                assert len(answers_to(api, CAROL)) == 1, "acknowledged before the commit"
                time.sleep(0.05)
            assert tally(0, 0, 0, 1) in card_text(api, card_id)
            assert positions(db_path) == {who(CAROL): "abstain"}
        finally:
            locker.rollback()
            locker.close()

        bot.wait_for(lambda: len(answers_to(api, CAROL)) == 2, "the note after the commit")
        assert "consent" in (answers_to(api, CAROL)[1] or "")
        wait_for_tally(bot, card_id, tally(1, 0, 0, 0))
        bot.wait_for(lambda: stored_offset(db_path) == api.next_update_id, "the last offset")
        time.sleep(1.0)
        assert positions(db_path) == {who(CAROL): "consent"}
        assert history(db_path) == {who(CAROL): 2}
        assert len(answers_to(api, CAROL)) == 2


def test_a_database_locked_at_start_stops_nothing_and_posts_nothing_twice(
    api: FakeBotApi, db_path: Path
) -> None:
    with RunningBot(api, url(db_path)) as bot:  # leaves the proposal's card undelivered
        say(api, ALICE, "/settings amendment_hours 0")
        bot.wait_for(lambda: find(api, GROUP, "amendment_hours"), "the settings answer")
        api.fail_next("sendMessage", 502, times=10_000)
        say(api, ALICE, f"/propose {TEXT}")
        bot.wait_for(lambda: stored_offset(db_path) == api.next_update_id, "the commit")
        bot.wait_for(
            lambda: query(db_path, "SELECT count(*) FROM outbox WHERE attempts > 0")[0][0],
            "a failed attempt",
        )
    clear_faults(api, "sendMessage")

    # Another process holds the write lock, from before the start until after the busy
    # timeout: deadlines, deliveries and updates fail for a while; none of them stops the
    # bot. Nothing is sent while a delivery could not be recorded (a lane's lease is a
    # write), so nothing is sent twice.
    locker = sqlite3.connect(db_path, isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")
        locked_at = time.monotonic()
        with RunningBot(api, url(db_path)) as bot:
            say(api, BOB, "/status")
            time.sleep(max(0.0, BUSY_TIMEOUT_MS / 1000 + 3.0 - (time.monotonic() - locked_at)))
            assert find(api, GROUP, "Open proposals") is None  # not committed yet
            assert find(api, GROUP, "P1 · new clause") is None  # not leased yet
            locker.rollback()
            card = bot.wait_for(lambda: find(api, GROUP, "P1 · new clause"), "the card")
            bot.wait_for(lambda: find(api, GROUP, "Open proposals"), "the answer to /status")
            bot.wait_for(lambda: outbox_states(db_path)["pending"] == 0, "every delivery")
            time.sleep(1.5)  # a second delivery would show by now
            assert count_containing(api, "P1 · new clause") == 1
            assert_nothing_posted_twice(api)
            assert outbox_states(db_path) == {"sent": len(api.sent)}
            api.press_button(GROUP, CAROL, int(card["message_id"]), "v1:c")  # the card works
            wait_for_tally(bot, int(card["message_id"]), tally(1, 0, 0, 0))
    finally:
        locker.close()


def test_a_failed_membership_look_up_does_not_refuse_a_member(
    api: FakeBotApi, db_path: Path
) -> None:
    with RunningBot(api, url(db_path)) as bot:
        card_id = open_round(bot)
        api.fail_next("getChatMember", 502)  # Telegram fails to say whether Bob is a member
        api.press_button(GROUP, BOB, card_id, "v1:c")
        wait_for_tally(bot, card_id, tally(1, 0, 0, 0))
        bot.wait_for(lambda: answers_to(api, BOB), "the note to Bob")
        assert answers_to(api, BOB) == [
            "Bob on P1: ✅ consent. Tally so far: ✅ 1 · ⚠️ 0 · ✋ 0 · ➖ 0"
        ]
        assert positions(db_path) == {who(BOB): "consent"}
        # A person Telegram does not count as a member is still refused.
        api.press_button(GROUP, MALLORY, card_id, "v1:o")
        bot.wait_for(lambda: answers_to(api, MALLORY), "the note to Mallory")
        assert "Only members" in (answers_to(api, MALLORY)[0] or "")
        assert positions(db_path) == {who(BOB): "consent"}


def test_a_stop_lets_the_send_in_flight_finish(api: FakeBotApi, db_path: Path) -> None:
    """Stopping while Telegram is taking a message: it is recorded as sent, not sent again
    at the next start (Telegram has no idempotency key for sends)."""
    with RunningBot(api, url(db_path)) as bot:
        api.delay_next("sendMessage", 1.0)  # the message is posted, the answer comes late
        say(api, BOB, "/status")
        bot.wait_for(lambda: find(api, GROUP, "No proposal is open"), "the answer to be posted")
        bot.stop()
    assert outbox_states(db_path) == {"sent": 1}
    with RunningBot(api, url(db_path)) as bot:
        time.sleep(1.0)  # a second delivery would show by now
        assert count_containing(api, "No proposal is open") == 1
