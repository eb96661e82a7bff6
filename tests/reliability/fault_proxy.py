"""A reverse proxy on loopback that makes a homeserver fail for a while.

Why a proxy of our own: the point is what a *real* Synapse does with what gets through
(transaction ids deduplicating a resent ``PUT``, the ``/sync`` tokens), so Synapse stays as
it is and only the road to it breaks. The bot is pointed at :attr:`FaultProxy.url`; people's
clients and the test's readers talk to Synapse directly.

Outside a fault window every request is forwarded faithfully: method, path and query,
headers (not the hop-by-hop ones) and body, and the answer comes back with its status,
headers and body; ``/sync`` long polls are held open upstream as long as Synapse holds them.
Inside a window (:meth:`FaultProxy.fault_window`) each request gets the next answer of its
class's pattern, in turn:

* ``"pass"``: forwarded as above;
* ``"429"``: Synapse's own ``M_LIMIT_EXCEEDED`` with ``retry_after_ms`` (and a
  ``Retry-After`` header, which nio ignores);
* ``"500"``: Synapse's ``M_UNKNOWN``; ``"502"``, ``"503"``, ``"504"``: what a reverse proxy
  in front of a struggling Synapse (nginx) answers, an HTML page;
* ``"hang"``: not forwarded and not answered until the client gives up (its timeout);
* ``"lost"``: forwarded, Synapse carries it out, and the answer is never sent: the client
  times out although the message is in the room.

Request classes: ``"send"`` (``PUT .../rooms/<room>/send/...``: messages, edits,
reactions), ``"sync"`` and ``"other"``.

The proxy runs in a background thread with its own event loop (``FaultProxy.in_thread()``),
as the fake Bot API does, so plain sync tests can use it next to the bot's own thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import aiohttp
from aiohttp import web

from tests.fakes.faults import FaultCycle

KINDS = frozenset({"pass", "429", "500", "502", "503", "504", "hang", "lost"})
HANG_LIMIT = 300.0  # seconds a hung request waits for its client to give up, at most
# Not forwarded: they describe one connection, not the request (RFC 9110, 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",  # the body is passed on decoded
    }
)
_SEND = re.compile(r"^/_matrix/client/[^/]+/rooms/[^/]+/send/")
_SYNC = re.compile(r"^/_matrix/client/[^/]+/sync$")
# nginx's error page, as a reverse proxy in front of Synapse answers when it cannot reach it
_PROXY_PAGE = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n"
    "<center><h1>{0}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {
    502: "502 Bad Gateway",
    503: "503 Service Temporarily Unavailable",
    504: "504 Gateway Time-out",
}


def request_class(method: str, path: str) -> str:
    """``"send"``, ``"sync"`` or ``"other"``: what a pattern is chosen by."""
    if method == "PUT" and _SEND.match(path):
        return "send"
    if _SYNC.match(path):
        return "sync"
    return "other"


@dataclass
class FaultWindow(FaultCycle):
    """The homeserver failing for a while (a :class:`FaultCycle` by request class: "send",
    "sync", "other"): ``lost`` lists the paths of requests carried out whose answer never
    came back."""

    retry_after_ms: int = 1000


class FaultProxy:
    """Forwards ``http://127.0.0.1:<port>`` to ``upstream``, failing inside fault windows."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.windows: list[FaultWindow] = []
        self.forwarded = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # -- life ----------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        self._loop = asyncio.get_running_loop()
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=5.0),
            auto_decompress=True,
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp keeps the bound socket here
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self._port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, upstream: str) -> Iterator[FaultProxy]:
        """A proxy in a background thread with its own event loop, for sync tests."""
        proxy = cls(upstream)
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fault-proxy", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(proxy.start(), loop).result(10)
            yield proxy
        finally:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(proxy.stop(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

    @property
    def url(self) -> str:
        if self._port is None:
            raise RuntimeError("FaultProxy is not started")
        return f"http://127.0.0.1:{self._port}"

    # -- faults --------------------------------------------------------------------------

    def fault_window(
        self, seconds: float, patterns: dict[str, tuple[str, ...]], *, retry_after_ms: int = 1000
    ) -> FaultWindow:
        """Fail for ``seconds`` of real time from now: each class of request named in
        ``patterns`` gets that pattern's answers in turn, cycling (see the module's text)."""
        for name, pattern in patterns.items():
            if name not in {"send", "sync", "other"} or not pattern or set(pattern) - KINDS:
                raise ValueError(f"bad pattern for {name}: {pattern!r}")
        window = FaultWindow(
            time.monotonic() + seconds, dict(patterns), retry_after_ms=retry_after_ms
        )
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self.windows.append, window)
        return window

    def _kind(self, method: str, path: str) -> tuple[FaultWindow, str] | None:
        which = request_class(method, path)
        for window in self.windows:
            kind = window.next_kind(which)
            if kind is not None:
                return window, kind
        return None

    # -- HTTP ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        chosen = self._kind(request.method, request.path)
        if chosen is None or chosen[1] == "pass":
            return await self._forward(request, body)
        window, kind = chosen
        if kind == "429":
            wait = window.retry_after_ms
            return web.json_response(
                {
                    "errcode": "M_LIMIT_EXCEEDED",
                    "error": "Too Many Requests",
                    "retry_after_ms": wait,
                },
                status=429,
                headers={"Retry-After": str(math.ceil(wait / 1000))},
            )
        if kind == "500":
            return web.json_response(
                {"errcode": "M_UNKNOWN", "error": "Internal server error"}, status=500
            )
        if kind in {"502", "503", "504"}:
            status = int(kind)
            return web.Response(
                status=status, text=_PROXY_PAGE.format(_REASONS[status]), content_type="text/html"
            )
        if kind == "lost":
            await self._forward(request, body)  # carried out; the answer goes nowhere
            window.lost.append(request.path)
        await _until_client_gives_up(request)
        raise asyncio.CancelledError  # nothing is written; aiohttp drops the request

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body or None,
            allow_redirects=False,
        ) as upstream:
            payload = await upstream.read()
            answer = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            self.forwarded += 1
            return web.Response(status=upstream.status, body=payload, headers=answer)


async def _until_client_gives_up(request: web.Request) -> None:
    """Keep a request unanswered until its client closes the connection (its timeout)."""
    deadline = time.monotonic() + HANG_LIMIT
    while time.monotonic() < deadline:
        transport = request.transport
        if transport is None or transport.is_closing():
            return
        await asyncio.sleep(0.05)
    if request.transport is not None:
        request.transport.abort()
