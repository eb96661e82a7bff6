"""``AiohttpRequest`` under a real ``telegram.Bot``, against the fake Bot API over loopback.

Each test builds its request objects outside any event loop (as ``TelegramAdapter`` does)
and runs the bot under ``asyncio.run``. The errors are the ones PTB's ``HTTPXRequest``
gives for the same answers; where that matters, the test runs both and compares.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import socket
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import telegram
from aiohttp import web
from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from adapters.telegram_http import POOL_TIMEOUT_MESSAGE, AiohttpRequest
from tests.fakes.bot_api import FakeBotApi

# PTB 22.8's own RetryAfter constructor reads the deprecated int-valued property.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning"
)

GROUP = -1001234567001
ALICE = FakeBotApi.make_user(21, "Alice")


def make_bot(api: FakeBotApi, request: BaseRequest | None = None, **kwargs: Any) -> telegram.Bot:
    return telegram.Bot(
        api.token,
        base_url=api.base_url,
        request=request or AiohttpRequest(**kwargs),
        get_updates_request=AiohttpRequest(read_timeout=5.0),
    )


def run(bot: telegram.Bot, body: Callable[[telegram.Bot], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        async with bot:
            return await body(bot)

    return asyncio.run(main())


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def caught(bot: telegram.Bot, call: Callable[[telegram.Bot], Awaitable[Any]]) -> TelegramError:
    async def body(bot: telegram.Bot) -> TelegramError:
        with pytest.raises(TelegramError) as raised:
            await call(bot)
        return raised.value

    return run(bot, body)


# ---------------------------------------------------------------- the Bot API through it


def test_get_me(bot_api: FakeBotApi) -> None:
    me = run(make_bot(bot_api), lambda bot: bot.get_me())
    assert me.username == "charter_test_bot" and me.id == int(bot_api.token.split(":")[0])


def test_send_message_with_html_and_an_inline_keyboard(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Charter group")
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅", callback_data="v1:c"),
                InlineKeyboardButton("➖", callback_data="v1:a"),
            ]
        ]
    )

    async def body(bot: telegram.Bot) -> telegram.Message:
        return await bot.send_message(
            GROUP,
            "<b>P1</b> &lt;draft&gt; by <a href='tg://user?id=21'>Alice</a> & co = 100% ✅",
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )

    message = run(make_bot(bot_api), body)
    assert message.text == "P1 <draft> by Alice & co = 100% ✅"
    assert [e.type for e in message.entities] == ["bold", "text_link"]
    assert message.reply_markup == markup
    (record,) = bot_api.sent
    assert record["parse_mode"] == "HTML" and record["chat_id"] == GROUP
    assert record["reply_markup"]["inline_keyboard"][0][1]["callback_data"] == "v1:a"


def test_get_updates_long_polls(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")

    async def body(bot: telegram.Bot) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await bot.get_updates(timeout=1) == ()  # held open for the whole second
        assert loop.time() - started >= 0.9

        async def later() -> None:
            await asyncio.sleep(0.3)
            bot_api.user_message(GROUP, ALICE, "hello")

        started = loop.time()
        task = asyncio.create_task(later())
        (update,) = await bot.get_updates(timeout=5)  # longer than the 5 s read timeout
        await task
        assert 0.2 < loop.time() - started < 4
        assert update.message.text == "hello"
        assert await bot.get_updates(offset=update.update_id + 1) == ()

    run(make_bot(bot_api, read_timeout=1.0), body)


def test_many_requests_at_once_share_a_small_pool(
    bot_api_factory: Callable[..., FakeBotApi],
) -> None:
    bot_api = bot_api_factory(flood_limits=False)
    bot_api.add_chat(GROUP, "Group")

    async def body(bot: telegram.Bot) -> None:
        await asyncio.gather(*(bot.send_message(GROUP, f"m{i}") for i in range(40)))

    run(make_bot(bot_api, connection_pool_size=4), body)
    assert sorted(m["text"] for m in bot_api.sent) == sorted(f"m{i}" for i in range(40))


def test_files_go_as_multipart(bot_api: FakeBotApi) -> None:
    """The fake has no sendDocument: it parses the body, records it, and answers 404."""
    error = caught(
        make_bot(bot_api),
        lambda bot: bot.send_document(GROUP, b"clause text", filename="charter.txt", caption="x"),
    )
    assert isinstance(error, InvalidToken)  # PTB's reading of a 404
    method, params, status = bot_api.requests[-1]
    assert (method, status) == ("sendDocument", 404)
    assert params["chat_id"] == GROUP and params["caption"] == "x"
    assert params["document"] == {"filename": "charter.txt", "data": b"clause text"}


# ---------------------------------------------------------------- errors, as HTTPXRequest's


def test_429_is_retry_after_with_its_seconds(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    bot_api.fail_next("sendMessage", status=429, retry_after=7)
    error = caught(make_bot(bot_api), lambda bot: bot.send_message(GROUP, "x"))
    assert isinstance(error, RetryAfter) and retry_seconds(error) == 7


def test_400_is_bad_request(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    error = caught(
        make_bot(bot_api),
        lambda bot: bot.send_message(GROUP, "<b>open", parse_mode=ParseMode.HTML),
    )
    assert isinstance(error, BadRequest) and "can't parse entities" in error.message.lower()


@pytest.mark.parametrize("status", [500, 502])
def test_server_errors_are_what_httpx_request_gives(bot_api: FakeBotApi, status: int) -> None:
    bot_api.add_chat(GROUP, "Group")
    errors = []
    for request in (HTTPXRequest(), AiohttpRequest()):
        bot_api.fail_next("sendMessage", status=status)
        errors.append(caught(make_bot(bot_api, request), lambda bot: bot.send_message(GROUP, "x")))
    httpx_error, aiohttp_error = errors
    assert type(aiohttp_error) is type(httpx_error) is NetworkError
    assert aiohttp_error.message == httpx_error.message
    assert bot_api.sent == []


def test_dropped_connection_is_a_network_error_and_the_next_request_works(
    bot_api: FakeBotApi,
) -> None:
    bot_api.add_chat(GROUP, "Group")
    bot_api.drop_connection_next("sendMessage")

    async def body(bot: telegram.Bot) -> NetworkError:
        with pytest.raises(NetworkError) as raised:
            await bot.send_message(GROUP, "lost")
        await bot.send_message(GROUP, "kept")
        return raised.value

    error = run(make_bot(bot_api), body)
    assert type(error) is NetworkError and error.message.startswith("aiohttp.")
    assert bot_api.token not in error.message
    assert [m["text"] for m in bot_api.sent] == ["kept"]


def test_refused_connection_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bot = telegram.Bot("123:abc", base_url=f"http://127.0.0.1:{port}/bot", request=AiohttpRequest())

    async def main() -> NetworkError:
        with pytest.raises(NetworkError) as raised:
            async with bot:  # initialize() asks getMe
                pass
        return raised.value

    error = asyncio.run(main())
    assert type(error) is NetworkError and "ClientConnectorError" in error.message
    assert "123:abc" not in error.message


def test_an_answer_later_than_the_read_timeout_is_timed_out(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    bot_api.delay_next("sendMessage", 1.0, times=2)

    async def body(bot: telegram.Bot) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(TimedOut) as raised:
            await bot.send_message(GROUP, "default")  # the request's 0.2 s
        assert raised.value.message == "Timed out"
        with pytest.raises(TimedOut):
            await bot.send_message(GROUP, "per call", read_timeout=0.1)
        assert loop.time() - started < 0.8
        bot_api.delay_next("sendMessage", 0.4)
        await bot.send_message(GROUP, "no limit", read_timeout=None)

    run(make_bot(bot_api, read_timeout=0.2), body)
    assert [m["text"] for m in bot_api.sent] == ["default", "per call", "no limit"]


def test_waiting_longer_than_the_pool_timeout_is_pools_timed_out(bot_api: FakeBotApi) -> None:
    bot_api.add_chat(GROUP, "Group")
    bot_api.delay_next("sendMessage", 0.5)

    async def body(bot: telegram.Bot) -> None:
        slow = asyncio.create_task(bot.send_message(GROUP, "slow"))
        await asyncio.sleep(0.1)  # it holds the only connection
        with pytest.raises(TimedOut) as raised:
            await bot.send_message(GROUP, "not sent")
        assert raised.value.message == POOL_TIMEOUT_MESSAGE
        await bot.send_message(GROUP, "waited", pool_timeout=2.0)  # a slot comes free
        await slow

    run(make_bot(bot_api, connection_pool_size=1, pool_timeout=0.1), body)
    assert [m["text"] for m in bot_api.sent] == ["slow", "waited"]


# ---------------------------------------------------------------- life


def test_built_outside_a_loop_and_usable_again_after_shutdown(bot_api: FakeBotApi) -> None:
    request = AiohttpRequest()
    bot = make_bot(bot_api, request)

    async def first() -> None:
        async with bot:
            await bot.get_me()
        with pytest.raises(NetworkError, match="not initialized"):
            await bot.get_me()  # shut down: refused, as HTTPXRequest does
        await request.shutdown()  # twice is harmless
        await request.initialize()
        assert (await bot.get_me()).username == "charter_test_bot"
        await request.shutdown()

    async def in_another_loop() -> None:
        async with bot:
            assert (await bot.get_me()).username == "charter_test_bot"

    asyncio.run(first())
    asyncio.run(in_another_loop())


def test_usable_without_initialize_like_httpx_request(bot_api: FakeBotApi) -> None:
    async def main() -> None:
        request = AiohttpRequest()
        status, payload = await request.do_request(
            f"{bot_api.base_url}{bot_api.token}/getMe", "POST"
        )
        assert status == 200 and b"charter_test_bot" in payload
        await request.shutdown()

    asyncio.run(main())


def test_read_timeout_is_the_default() -> None:
    assert AiohttpRequest().read_timeout == 5.0
    assert AiohttpRequest(read_timeout=None).read_timeout is None
    assert AiohttpRequest(read_timeout=11.0).read_timeout == 11.0


# ---------------------------------------------------------------- bytes on the wire


def test_sends_the_same_bodies_as_httpx_request() -> None:
    """Method, body, Content-Type and User-Agent as PTB's own HTTPXRequest sends them."""
    seen: list[tuple[str, str, str, str, bytes]] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(
            (
                request.method,
                request.match_info["method"],
                request.headers.get("Content-Type", ""),
                request.headers["User-Agent"],
                await request.read(),
            )
        )
        return web.json_response({"ok": True, "result": True})

    async def calls(bot: telegram.Bot) -> None:
        await bot.answer_callback_query("q 1&2=3", text="Noted: ✅ + 100% <ok>", show_alert=True)
        await bot.set_my_commands([BotCommand("propose", "Propose a clause")])
        await bot.delete_my_commands()

    async def main() -> None:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", record)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            for request in (HTTPXRequest(), AiohttpRequest()):
                bot = telegram.Bot(
                    "123:abc", base_url=f"http://127.0.0.1:{port}/bot", request=request
                )
                async with request:
                    await calls(bot)
        finally:
            await runner.cleanup()

    asyncio.run(main())
    half = len(seen) // 2
    assert half == 3 and seen[:half] == seen[half:]
    assert seen[0][2] == "application/x-www-form-urlencoded"
    assert seen[0][3].startswith("python-telegram-bot")
