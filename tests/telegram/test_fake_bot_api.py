"""The fake Bot API server, driven by the real python-telegram-bot 22 client (never mocked)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import telegram
from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import ApplicationBuilder, CallbackQueryHandler, CommandHandler
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from tests.fakes.bot_api import FakeBotApi, ManualClock, parse_html, utf16_len

# PTB 22.8's own RetryAfter constructor reads the deprecated int-valued property.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001234567890
ALICE = FakeBotApi.make_user(11, "Alice", username="alice", language_code="de")
BOB = FakeBotApi.make_user(12, "Bob", language_code="en")


def run_with_bot(
    api: FakeBotApi,
    body: Callable[[telegram.Bot], Awaitable[Any]],
    token: str | None = None,
    **request_kwargs: Any,
) -> Any:
    """Run ``body(bot)`` with an initialised real ``telegram.Bot`` pointed at the fake."""

    async def main() -> Any:
        kwargs: dict[str, Any] = {"base_url": api.base_url}
        if request_kwargs:
            kwargs["request"] = HTTPXRequest(**request_kwargs)
        async with telegram.Bot(token or api.token, **kwargs) as bot:
            return await body(bot)

    return asyncio.run(main())


def retry_seconds(exc: RetryAfter) -> float:
    """``RetryAfter.retry_after`` in seconds (an int in PTB 22, a timedelta later)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(d[:10] or "x", callback_data=d)] for d in data]
    )


# ---------------------------------------------------------------- server basics


def test_listens_on_loopback_with_an_os_chosen_port(bot_api: FakeBotApi) -> None:
    assert bot_api.port > 0
    assert bot_api.base_url == f"http://127.0.0.1:{bot_api.port}/bot"


def test_get_me_through_initialize(bot_api: FakeBotApi) -> None:
    me = run_with_bot(bot_api, lambda bot: bot.get_me())
    assert me.is_bot and me.username == "charter_test_bot"
    assert me.id == int(bot_api.token.split(":")[0])


def test_wrong_token_is_unauthorized(bot_api: FakeBotApi) -> None:
    with pytest.raises(InvalidToken):
        run_with_bot(bot_api, lambda bot: bot.get_me(), token="999:wrong")


def test_unknown_method_is_404_and_json_and_get_work() -> None:
    async def main() -> None:
        async with FakeBotApi() as api, httpx.AsyncClient() as client:
            url = f"{api.base_url}{api.token}"
            response = await client.post(f"{url}/noSuchMethod")
            assert response.status_code == 404
            assert response.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
            response = await client.get(f"{url}/getMe")
            assert response.json()["result"]["username"] == "charter_test_bot"
            api.add_chat(GROUP, "Group")
            response = await client.post(
                f"{url}/sendMessage",
                json={"chat_id": GROUP, "text": "<b>x</b>", "parse_mode": "HTML"},
            )
            assert response.json()["result"]["entities"][0]["type"] == "bold"

    asyncio.run(main())


# ---------------------------------------------------------------- sending


def test_send_message_html_is_recorded(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Charter group")

    async def body(bot: telegram.Bot) -> telegram.Message:
        return await bot.send_message(
            GROUP,
            "<b>P1</b> &lt;draft&gt; by <a href='tg://user?id=11'>Alice</a>",
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard("v:P1:A1:+", "v:P1:A1:-"),
            message_thread_id=7,
        )

    message = run_with_bot(bot_api, body)
    assert message.text == "P1 <draft> by Alice"
    assert message.chat.title == "Charter group"
    assert message.from_user.is_bot
    assert [e.type for e in message.entities] == ["bold", "text_link"]
    (record,) = bot_api.sent
    assert record["chat_id"] == GROUP and record["message_id"] == message.message_id
    assert record["parse_mode"] == "HTML" and record["plain_text"] == "P1 <draft> by Alice"
    assert record["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "v:P1:A1:+"


def test_text_over_4096_utf16_units_is_refused(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    # 4,096 units after entity parsing is fine even though the HTML source is longer ...
    ok_text = "&amp;" * 4096
    run_with_bot(bot_api, lambda bot: bot.send_message(GROUP, ok_text, parse_mode="HTML"))
    # ... but an emoji is two UTF-16 units: 2,049 of them are 4,098 units.
    with pytest.raises(BadRequest, match="(?i)too long"):
        run_with_bot(bot_api, lambda bot: bot.send_message(GROUP, "😀" * 2049))
    with pytest.raises(BadRequest, match="(?i)too long"):
        run_with_bot(bot_api, lambda bot: bot.send_message(GROUP, "x" * 4097))
    assert len(bot_api.sent) == 1


@pytest.mark.parametrize(
    "html",
    ["<b>unclosed", "<b><i>crossed</b></i>", "<script>x</script>", "a < b", "</b>"],
)
def test_broken_html_is_refused(bot_api: FakeBotApi, html: str) -> None:
    bot_api.add_chat(GROUP, "Group")
    with pytest.raises(BadRequest, match="(?i)[Cc]an't parse entities"):
        run_with_bot(bot_api, lambda bot: bot.send_message(GROUP, html, parse_mode="HTML"))
    assert bot_api.sent == []


def test_html_parser_counts_utf16_and_entities() -> None:
    plain, entities = parse_html("😀 <b>bold &quot;x&quot;</b> &#65;")
    assert plain == '😀 bold "x" A'
    assert entities == [{"type": "bold", "offset": 3, "length": 8}]
    assert utf16_len("😀") == 2


def test_callback_data_over_64_bytes_is_refused(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    run_with_bot(
        bot_api, lambda bot: bot.send_message(GROUP, "ok", reply_markup=keyboard("x" * 64))
    )
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        run_with_bot(
            bot_api, lambda bot: bot.send_message(GROUP, "no", reply_markup=keyboard("x" * 65))
        )
    # bytes, not characters: 33 two-byte characters are 66 bytes
    with pytest.raises(BadRequest, match="(?i)button_data_invalid"):
        run_with_bot(
            bot_api, lambda bot: bot.send_message(GROUP, "no", reply_markup=keyboard("é" * 33))
        )
    assert len(bot_api.sent) == 1


def test_edit_message_text_keeps_history_and_refuses_no_change(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")

    async def body(bot: telegram.Bot) -> telegram.Message:
        sent = await bot.send_message(GROUP, "Tally: 0", reply_markup=keyboard("s"))
        edited = await bot.edit_message_text(
            "Tally: <b>1</b>", GROUP, sent.message_id, parse_mode="HTML", reply_markup=keyboard("s")
        )
        assert isinstance(edited, telegram.Message)
        with pytest.raises(BadRequest, match="(?i)not modified"):
            await bot.edit_message_text(
                "Tally: <b>1</b>",
                GROUP,
                sent.message_id,
                parse_mode="HTML",
                reply_markup=keyboard("s"),
            )
        with pytest.raises(BadRequest, match="(?i)not found"):
            await bot.edit_message_text("x", GROUP, 999)
        with pytest.raises(BadRequest, match="(?i)too long"):
            await bot.edit_message_text("x" * 5000, GROUP, sent.message_id)
        return edited

    edited = run_with_bot(bot_api, body)
    assert edited.text == "Tally: 1" and edited.edit_date is not None
    (record,) = bot_api.sent
    assert record["text"] == "Tally: <b>1</b>"
    assert [e["text"] for e in record["edits"]] == ["Tally: 0"]


def test_delete_message(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")

    async def body(bot: telegram.Bot) -> None:
        sent = await bot.send_message(GROUP, "bye")
        assert await bot.delete_message(GROUP, sent.message_id) is True
        with pytest.raises(BadRequest, match="(?i)not found"):
            await bot.delete_message(GROUP, sent.message_id)

    run_with_bot(bot_api, body)
    assert bot_api.sent[0]["deleted"] is True


# ---------------------------------------------------------------- updates


def test_get_updates_parses_injected_messages_and_button_presses(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")

    async def body(bot: telegram.Bot) -> tuple[telegram.Update, ...]:
        card = await bot.send_message(GROUP, "card", reply_markup=keyboard("v:1"))
        bot_api.user_message(GROUP, ALICE, "/propose@charter_test_bot Meet on Mondays")
        bot_api.user_message(GROUP, BOB, "I agree", reply_to=card.message_id)
        bot_api.press_button(GROUP, BOB, card.message_id, "v:1")
        return await bot.get_updates(timeout=0)

    first, second, third = run_with_bot(bot_api, body)
    assert first.message.from_user.id == ALICE["id"]
    assert first.message.from_user.language_code == "de"
    assert first.effective_chat.id == GROUP and first.effective_chat.type == "supergroup"
    assert first.message.text.startswith("/propose@charter_test_bot")
    assert first.message.entities[0].type == "bot_command"
    assert second.message.reply_to_message.text == "card"
    query = third.callback_query
    assert query.from_user.id == BOB["id"] and query.data == "v:1"
    assert query.message.chat.id == GROUP and query.message.text == "card"
    assert [u.update_id for u in (first, second, third)] == [
        first.update_id,
        first.update_id + 1,
        first.update_id + 2,
    ]


def test_offset_confirms_updates_for_good_and_ids_may_jump(bot_api: FakeBotApi) -> None:
    a = bot_api.user_message(42, BOB | {"id": 42}, "hello")["update_id"]
    b = bot_api.user_message(42, BOB | {"id": 42}, "again")["update_id"]
    bot_api.jump_update_id(5000)
    c = bot_api.user_message(42, BOB | {"id": 42}, "after a week")["update_id"]
    assert b == a + 1 and c > b + 5000

    async def body(bot: telegram.Bot) -> None:
        updates = await bot.get_updates()
        assert [u.update_id for u in updates] == [a, b, c]
        assert updates[0].effective_chat.type == "private"
        updates = await bot.get_updates(offset=b)  # confirms a
        assert [u.update_id for u in updates] == [b, c]
        updates = await bot.get_updates(offset=0)  # a does not come back
        assert [u.update_id for u in updates] == [b, c]
        assert await bot.get_updates(offset=c + 1) == ()
        assert await bot.get_updates() == ()

    run_with_bot(bot_api, body)
    forced = bot_api.user_message(42, 42, "forced", update_id=c + 100)
    assert forced["update_id"] == c + 100


def test_get_updates_limit_and_long_poll(bot_api: FakeBotApi) -> None:
    for i in range(120):
        bot_api.user_message(GROUP, BOB, f"m{i}")

    async def body(bot: telegram.Bot) -> None:
        updates = await bot.get_updates(limit=500)
        assert len(updates) == 100
        offset = updates[-1].update_id + 1
        updates = await bot.get_updates(offset=offset)
        assert len(updates) == 20
        offset = updates[-1].update_id + 1

        async def later() -> None:
            await asyncio.sleep(0.3)
            bot_api.press_button(GROUP, ALICE, 1, "late")

        loop = asyncio.get_running_loop()
        started = loop.time()
        task = asyncio.create_task(later())
        updates = await bot.get_updates(offset=offset, timeout=5)
        await task
        assert 0.2 < loop.time() - started < 4
        assert updates[0].callback_query.data == "late"
        started = loop.time()
        assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=1) == ()
        assert loop.time() - started >= 0.9

    run_with_bot(bot_api, body)


def test_chat_member_updates_need_allowed_updates(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group", members=10)
    bot_api.chat_member_update(GROUP, ALICE, "left", "member")
    bot_api.chat_member_update(GROUP, bot_api.bot_user, "member", "administrator", by=BOB)

    async def body(bot: telegram.Bot) -> None:
        updates = await bot.get_updates(allowed_updates=["chat_member", "my_chat_member"])
        assert updates[0].chat_member.new_chat_member.user.id == ALICE["id"]
        assert updates[0].chat_member.new_chat_member.status == "member"
        assert updates[1].my_chat_member.new_chat_member.status == "administrator"
        assert await bot.get_chat_member_count(GROUP) == 11

    run_with_bot(bot_api, body)


# ---------------------------------------------------------------- callback answers, commands, chats


def test_answer_callback_query_is_recorded_once(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    bot_api.press_button(GROUP, ALICE, 1, "v:1")

    async def body(bot: telegram.Bot) -> None:
        (update,) = await bot.get_updates()
        assert await update.callback_query.answer("Abgestimmt", show_alert=False)
        with pytest.raises(BadRequest, match="(?i)query ID is invalid"):
            await bot.answer_callback_query(update.callback_query.id, "again")

    run_with_bot(bot_api, body)
    (answer,) = bot_api.callback_answers
    assert answer["text"] == "Abgestimmt" and answer["user_id"] == ALICE["id"]
    assert answer["data"] == "v:1" and answer["show_alert"] is False


def test_set_my_commands_per_scope_and_language(bot_api: FakeBotApi) -> None:
    async def body(bot: telegram.Bot) -> None:
        await bot.set_my_commands([BotCommand("propose", "Propose a change")])
        await bot.set_my_commands(
            [BotCommand("propose", "Änderung vorschlagen"), BotCommand("object", "Einwand")],
            scope=BotCommandScopeAllGroupChats(),
            language_code="de",
        )
        with pytest.raises(BadRequest, match="(?i)bot_command_invalid"):
            await bot.set_my_commands([BotCommand("Bad-Name", "x")])
        mine = await bot.get_my_commands(scope=BotCommandScopeAllGroupChats(), language_code="de")
        assert [c.command for c in mine] == ["propose", "object"]

    run_with_bot(bot_api, body)
    assert bot_api.commands_for() == [{"command": "propose", "description": "Propose a change"}]
    de = bot_api.commands_for("all_group_chats", "de")
    assert de is not None and de[0]["description"] == "Änderung vorschlagen"
    assert bot_api.commands_for("all_group_chats", "en") is None


def test_chat_administrators_member_count_and_member(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group", creator=ALICE, admins=[BOB], members=25, bot_is_admin=True)

    async def body(bot: telegram.Bot) -> None:
        admins = await bot.get_chat_administrators(GROUP)
        by_id = {a.user.id: a.status for a in admins}
        assert by_id == {
            ALICE["id"]: "creator",
            BOB["id"]: "administrator",
            bot.id: "administrator",
        }
        assert isinstance(admins[1], telegram.ChatMemberAdministrator)
        assert await bot.get_chat_member_count(GROUP) == 25
        assert (await bot.get_chat_member(GROUP, BOB["id"])).status == "administrator"
        assert (await bot.get_chat_member(GROUP, 555)).status == "left"
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.get_chat_member_count(-1)

    run_with_bot(bot_api, body)


# ---------------------------------------------------------------- flood limits and faults


def test_injected_429_is_retry_after_and_early_retries_are_counted(
    bot_api_factory: Callable[..., FakeBotApi],
) -> None:
    clock = ManualClock()
    api = bot_api_factory(clock=clock)
    api.add_chat(GROUP, "Group")
    api.fail_next("sendMessage", status=429, retry_after=7)

    async def body(bot: telegram.Bot) -> None:
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(GROUP, "x")
        assert retry_seconds(caught.value) == 7
        clock.advance(3)
        with pytest.raises(RetryAfter) as caught:  # too early: counted and refused
            await bot.send_message(GROUP, "x")
        assert retry_seconds(caught.value) == 4
        clock.advance(4)
        await bot.send_message(GROUP, "x")

    run_with_bot(api, body)
    assert len(api.flood_violations) == 1 and api.flood_violations[0]["scope"] == GROUP
    assert len(api.sent) == 1


def test_per_chat_group_and_global_limits(bot_api_factory: Callable[..., FakeBotApi]) -> None:
    clock = ManualClock()
    api = bot_api_factory(clock=clock, per_chat_burst=3)
    api.add_chat(GROUP, "Group")
    for chat in range(1, 40):
        api.add_chat(chat, type="private")

    async def body(bot: telegram.Bot) -> None:
        for _ in range(3):  # burst
            await bot.send_message(GROUP, "x")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(GROUP, "x")
        assert retry_seconds(caught.value) == 1
        sent = 3
        while sent < 20:  # obeying 1/s per chat, the group allows 20 a minute
            clock.advance(1)
            await bot.send_message(GROUP, "x")
            sent += 1
        clock.advance(1)
        with pytest.raises(RetryAfter) as caught:
            await bot.edit_message_text("edited", GROUP, 1)  # edits count too
        assert 1 <= retry_seconds(caught.value) <= 60
        clock.advance(60)
        # overall: 30 a second across chats
        for chat in range(1, 31):
            await bot.send_message(chat, "x")
        with pytest.raises(RetryAfter):
            await bot.send_message(31, "x")

    run_with_bot(api, body)
    assert api.flood_violations == []
    assert {r["limit"] for r in api.flood_refusals} == {"chat", "group", "global"}


def test_real_clock_retry_after_obeyed(bot_api_factory: Callable[..., FakeBotApi]) -> None:
    api = bot_api_factory(per_chat_burst=1)
    api.add_chat(GROUP, "Group")

    async def body(bot: telegram.Bot) -> None:
        await bot.send_message(GROUP, "1")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(GROUP, "2")
        await asyncio.sleep(retry_seconds(caught.value))
        await bot.send_message(GROUP, "2")

    run_with_bot(api, body)
    assert api.flood_violations == [] and len(api.sent) == 2


def test_non_strict_flood_counts_but_serves(bot_api_factory: Callable[..., FakeBotApi]) -> None:
    api = bot_api_factory(clock=ManualClock(), strict_flood=False)
    api.add_chat(GROUP, "Group")
    api.fail_next("sendMessage", status=429, retry_after=30)

    async def body(bot: telegram.Bot) -> None:
        with pytest.raises(RetryAfter):
            await bot.send_message(GROUP, "x")
        await bot.send_message(GROUP, "ignored the wait")

    run_with_bot(api, body)
    assert len(api.flood_violations) == 1 and len(api.sent) == 1


@pytest.mark.parametrize("status", [500, 502])
def test_server_errors_are_network_errors(bot_api: FakeBotApi, status: int) -> None:
    bot_api.add_chat(GROUP, "Group")
    bot_api.fail_next("sendMessage", status=status, times=2)

    async def body(bot: telegram.Bot) -> None:
        for _ in range(2):
            with pytest.raises(NetworkError):
                await bot.send_message(GROUP, "x")
        await bot.send_message(GROUP, "x")

    run_with_bot(bot_api, body)
    assert len(bot_api.sent) == 1
    assert [r[2] for r in bot_api.requests if r[0] == "sendMessage"] == [status, status, 200]


def test_delay_makes_the_client_time_out_after_the_message_was_sent(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    bot_api.delay_next("sendMessage", 1.0)

    async def body(bot: telegram.Bot) -> None:
        with pytest.raises(TimedOut):
            await bot.send_message(GROUP, "x", read_timeout=0.2)

    run_with_bot(bot_api, body)
    assert len(bot_api.sent) == 1  # no idempotency key: it was posted anyway


def test_delay_without_apply_first_sends_nothing_before_the_timeout(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    bot_api.delay_next("sendMessage", 0.5, apply_first=False)

    async def body(bot: telegram.Bot) -> None:
        with pytest.raises(TimedOut):
            await bot.send_message(GROUP, "x", read_timeout=0.1)
        assert bot_api.sent == []

    run_with_bot(bot_api, body)


def test_dropped_connection_is_a_network_error(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    bot_api.drop_connection_next("sendMessage")

    async def body(bot: telegram.Bot) -> None:
        with pytest.raises(NetworkError):
            await bot.send_message(GROUP, "x")
        await bot.send_message(GROUP, "y")

    run_with_bot(bot_api, body)
    assert [m["text"] for m in bot_api.sent] == ["y"]


def test_async_context_manager_in_the_callers_loop() -> None:
    async def main() -> None:
        async with FakeBotApi() as api:
            api.add_chat(GROUP, "Group")
            async with telegram.Bot(api.token, base_url=api.base_url) as bot:
                await bot.send_message(GROUP, "same loop")
                api.user_message(GROUP, ALICE, "hi")
                (update,) = await bot.get_updates()
                assert update.message.text == "hi"
            assert api.sent[0]["text"] == "same loop"

    asyncio.run(main())


def test_real_application_polls_commands_and_buttons(bot_api: FakeBotApi) -> None:
    """The full PTB Application (Updater polling, handlers) works against the fake."""
    bot_api.add_chat(GROUP, "Group")

    async def propose(update: telegram.Update, context: Any) -> None:
        await update.effective_chat.send_message(
            f"Proposal by {update.effective_user.first_name}", reply_markup=keyboard("v:+")
        )

    async def vote(update: telegram.Update, context: Any) -> None:
        await update.callback_query.answer("ok")

    async def main() -> None:
        app = (
            ApplicationBuilder()
            .token(bot_api.token)
            .base_url(bot_api.base_url)
            .get_updates_read_timeout(5)
            .build()
        )
        app.add_handler(CommandHandler("propose", propose))
        app.add_handler(CallbackQueryHandler(vote))
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=1)
            bot_api.user_message(GROUP, ALICE, "/propose@charter_test_bot Mondays")
            for _ in range(100):
                if bot_api.sent:
                    break
                await asyncio.sleep(0.05)
            bot_api.press_button(GROUP, BOB, bot_api.sent[0]["message_id"], "v:+")
            for _ in range(100):
                if bot_api.callback_answers:
                    break
                await asyncio.sleep(0.05)
            await app.updater.stop()
            await app.stop()

    asyncio.run(main())
    assert bot_api.sent[0]["text"] == "Proposal by Alice"
    assert bot_api.callback_answers[0]["user_id"] == BOB["id"]
