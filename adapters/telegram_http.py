"""python-telegram-bot's HTTP layer on aiohttp's client instead of httpx.

Why: under a burst of button presses the bot's process is CPU-bound, and most of that CPU
went to PTB's default ``HTTPXRequest`` (httpx over httpcore, whose HTTP/1.1 parser h11 is
pure Python). aiohttp's client parses and writes HTTP in C and is already a dependency of
ours (the webhook server, the fakes). Measured on the machine in docs/benchmarks.md: 2,000
``answerCallbackQuery`` calls through ``telegram.Bot``, 64 at a time, against the fake Bot
API (tests/fakes/bot_api.py) in another process, cost the calling process 2.0 ms of CPU per
request with ``HTTPXRequest`` and 0.22 ms with ``AiohttpRequest`` (PTB's own work
included), i.e. about 490 against 4,400 requests per second on one core. End to end, see
docs/benchmarks.md ("Telegram end to end").

``AiohttpRequest`` mirrors ``HTTPXRequest``:

* one ``aiohttp.ClientSession`` with ``TCPConnector(limit=connection_pool_size)``, made in
  :meth:`initialize` (or at the first request), so the object may be built outside a running
  event loop; after :meth:`shutdown` a request is refused until :meth:`initialize` makes a new
  session, as PTB's does;
* the same default timeouts (read, write, connect 5 s, pool 1 s), each overridable per call:
  ``DEFAULT_NONE`` means the default, ``None`` means no limit;
* the same bodies: ``request_data.json_parameters`` form-encoded exactly as httpx encodes
  them, or multipart (``aiohttp.FormData``) when files are attached; no redirects followed;
  the same ``User-Agent``; certifi's CA bundle, as httpx uses;
* the same errors: any timeout is ``TimedOut``; waiting longer than the pool timeout for a
  free connection is ``TimedOut`` with PTB's pool message (the request was not sent); other
  client errors (refused, dropped connection, broken response) are ``NetworkError`` named
  after aiohttp's exception, with the request's URL (it holds the token) left out.

How the timeouts map: ``pool`` is our own semaphore of ``connection_pool_size`` slots, so
the connector never waits for a slot and aiohttp's ``connect`` timeout covers only making a
connection (DNS, TCP, TLS) as httpx's does; ``read`` is aiohttp's ``sock_read``, per read
from the socket (it starts once the body is written), as httpx's is. aiohttp has no write
timeout. A form body (a few KB) is handed to the socket at once and never waits; for a
multipart upload the write and read timeouts together bound the whole request.

Differences that remain: no HTTP/2, no SOCKS proxies, and proxies are not read from the
environment (aiohttp would look them up, and the netrc file, in a thread for every request);
pass ``proxy`` instead.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any
from urllib.parse import urlencode

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot.logging import get_logger

log = get_logger(__name__)

# PTB's own message (HTTPXRequest), so that callers and logs read the same.
POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram. Consider adjusting the connection "
    "pool size or the pool timeout."
)
FORM = "application/x-www-form-urlencoded"
NO_BODY = ("Content-Type",)  # aiohttp would label an empty POST application/octet-stream


def _ssl_context() -> ssl.SSLContext | bool:
    """Certifi's CA bundle, as httpx uses; the system's if certifi is missing."""
    try:
        import certifi
    except ImportError:
        return True
    return ssl.create_default_context(cafile=certifi.where())


def _without_url(text: str, url: str) -> str:
    """``text`` with ``url`` (``.../bot<token>/method``) cut down to its method."""
    return text.replace(url, f"<Bot API>/{url.rsplit('/', 1)[-1]}") if url else text


class AiohttpRequest(BaseRequest):
    """A :class:`telegram.request.BaseRequest` on one ``aiohttp.ClientSession``.

    Arguments mean what they mean for ``telegram.request.HTTPXRequest`` and have its
    defaults. ``proxy`` is an ``http://`` proxy URL for every request.
    """

    __slots__ = (
        "_connect_timeout",
        "_form_headers",
        "_headers",
        "_media_write_timeout",
        "_pool_size",
        "_pool_timeout",
        "_proxy",
        "_read_timeout",
        "_session",
        "_slots",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
        proxy: str | None = None,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._proxy = proxy
        self._headers = {"User-Agent": self.USER_AGENT}
        self._form_headers = {"User-Agent": self.USER_AGENT, "Content-Type": FORM}
        self._session: aiohttp.ClientSession | None = None  # made in the loop that uses it
        self._slots: asyncio.Semaphore | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout in seconds (see ``BaseRequest.read_timeout``)."""
        return self._read_timeout

    @property
    def connection_pool_size(self) -> int:
        return self._pool_size

    def _build_session(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(limit=self._pool_size, ssl=_ssl_context())
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),  # Telegram sets none; httpx keeps them
            proxy=self._proxy,
            timeout=aiohttp.ClientTimeout(total=None),  # every request passes its own
        )
        self._slots = asyncio.Semaphore(self._pool_size)
        return self._session

    async def initialize(self) -> None:
        """Make the session (again, after :meth:`shutdown`), in the running loop."""
        if self._session is None or self._session.closed:
            self._build_session()

    async def shutdown(self) -> None:
        """Close the session and its connections."""
        if self._session is None or self._session.closed:
            log.debug("telegram_http.already_shut_down")
            return
        await self._session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """See ``BaseRequest.do_request``."""
        session = self._session
        if session is None:
            session = self._build_session()  # used without initialize(), as httpx allows
        elif session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        slots = self._slots
        assert slots is not None

        files = request_data.multipart_data if request_data else None
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if files else self._write_timeout

        data: Any = None
        headers = self._headers
        skip: tuple[str, ...] | None = NO_BODY  # no Content-Type for no body, as httpx
        total: float | None = None
        if files:
            assert request_data is not None
            form = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                form.add_field(name, value)
            for name, (filename, content, mimetype) in files.items():
                form.add_field(name, content, filename=filename, content_type=mimetype)
            data, skip = form, None
            if read_timeout is not None and write_timeout is not None:
                total = read_timeout + write_timeout
        elif request_data is not None and (parameters := request_data.json_parameters):
            data = urlencode(parameters).encode("ascii")  # what httpx sends for data=
            headers, skip = self._form_headers, None
        timeout = aiohttp.ClientTimeout(
            total=total, connect=connect_timeout, sock_read=read_timeout
        )

        if slots.locked():  # every connection is busy: wait for one, at most pool_timeout
            try:
                async with asyncio.timeout(pool_timeout):
                    await slots.acquire()
            except TimeoutError as err:
                raise TimedOut(message=POOL_TIMEOUT_MESSAGE) from err
        else:
            await slots.acquire()  # free: returns at once
        try:
            async with session.request(
                method,
                url,
                data=data,
                headers=headers,
                skip_auto_headers=skip,
                timeout=timeout,
                allow_redirects=False,
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:  # aiohttp's timeouts are TimeoutErrors too
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(
                f"aiohttp.{type(err).__name__}: {_without_url(str(err), url)}"
            ) from err
        finally:
            slots.release()
