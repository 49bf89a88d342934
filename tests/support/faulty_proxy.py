"""A reverse proxy in front of the test store that injects faults: throttling, errors, resets, delays, outages.

Faults, each counted in ``injected`` by kind:

* ``failures_per_request``: the first tries of each tagging PUT get 503 SlowDown (the retry tests);
* ``outage(after=…, seconds=…)``: after that many forwarded requests the store "goes down" for that long —
  the listening socket closes (new connections are refused) and requests arriving on open connections are
  reset — then comes back by itself; ``down`` and ``back`` are set as it happens;
* ``burst(after=…, seconds=…, kinds=…)``: after that many forwarded requests, every request is answered one of
  ``kinds`` (``slowdown``: 503 SlowDown, ``internal``: 500 InternalError) for that long;
* ``mixed(rate, seed)``: from now on a share ``rate`` of requests gets a random fault among 503 SlowDown,
  500 InternalError, a reset connection and a delay (the delayed request is then forwarded).

``first_forward_after_back`` is when the first request was forwarded after an outage or burst ended, so a test
can tell how long the client took to resume.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, TCPConnector, web

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
INTERNAL_ERROR = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>'
    b"<Message>We encountered an internal error. Please try again.</Message></Error>"
)
ERROR_ANSWERS = {"slowdown": (503, SLOW_DOWN), "internal": (500, INTERNAL_ERROR)}
MIXED_KINDS = ("slowdown", "internal", "reset", "delay")


@dataclass
class _Window:
    """A planned fault: starts after ``after`` forwarded requests, lasts ``seconds``."""

    kind: str  # "outage" or "burst"
    after: int
    seconds: float
    answers: tuple[str, ...] = ()
    started: float | None = None
    ended: float | None = None


@dataclass
class FaultyProxy:
    """Forwards to ``upstream`` with the faults planned on it (see the module docstring)."""

    upstream: str
    failures_per_request: int = 0
    port: int = 0
    throttled: int = 0
    forwarded: int = 0
    injected: Counter[str] = field(default_factory=Counter)
    down: threading.Event = field(default_factory=threading.Event)
    back: threading.Event = field(default_factory=threading.Event)
    first_forward_after_back: float | None = None
    #: (time.monotonic(), method, path?query) of each request the store answered, in order.
    forwarded_log: list[tuple[float, str, str]] = field(default_factory=list)
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)
    _windows: list[_Window] = field(default_factory=list)
    _mixed_rate: float = 0.0
    _random: random.Random = field(default_factory=random.Random)
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _site: web.TCPSite | None = None
    _session: ClientSession | None = None
    _listening: bool = True

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- planning faults (from the test's thread) ------------------------------------------------

    def outage(self, after: int = 0, seconds: float = 8.0) -> FaultyProxy:
        self._plan(_Window("outage", after, seconds))
        return self

    def burst(
        self, after: int = 0, seconds: float = 8.0, kinds: tuple[str, ...] = ("slowdown", "internal")
    ) -> FaultyProxy:
        self._plan(_Window("burst", after, seconds, kinds))
        return self

    def mixed(self, rate: float, seed: int = 0) -> FaultyProxy:
        self._random.seed(seed)
        self._mixed_rate = rate
        return self

    def _plan(self, window: _Window) -> None:
        self.down.clear()
        self.back.clear()
        self.first_forward_after_back = None
        self._windows.append(window)
        if window.after <= self.forwarded and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._start_window(window), self._loop).result(10)

    def last_window(self) -> tuple[float, float]:
        """(start, end) of the last planned fault window, in time.monotonic() seconds."""
        window = self._windows[-1]
        assert window.started is not None and window.ended is not None
        return window.started, window.ended

    # --- serving ----------------------------------------------------------------------------

    def start(self) -> FaultyProxy:
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        assert ready.wait(10), "the fault proxy did not start"
        return self

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(self._listen())
        self._loop.run_until_complete(self._open_session())
        ready.set()
        self._loop.run_forever()

    async def _open_session(self) -> None:
        self._session = ClientSession(auto_decompress=False, connector=TCPConnector(limit=256))

    async def _listen(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        self.port = self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._listening = True

    async def _start_window(self, window: _Window) -> None:
        if window.started is not None:
            return
        window.started = time.monotonic()
        if window.kind == "outage" and self._site is not None and self._listening:
            self._listening = False
            await self._site.stop()  # new connections are refused from now on
        self.down.set()
        assert self._loop is not None
        self._loop.call_later(window.seconds, lambda: asyncio.ensure_future(self._end_window(window)))

    async def _end_window(self, window: _Window) -> None:
        if window.kind == "outage" and not self._listening:
            await self._listen()
        window.ended = time.monotonic()
        self.back.set()

    def _active(self) -> _Window | None:
        return next((w for w in self._windows if w.started is not None and w.ended is None), None)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        for window in self._windows:
            if window.started is None and self.forwarded >= window.after:
                await self._start_window(window)
        fault = self._fault(request)
        if fault == "reset":
            self.injected["reset"] += 1
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never sent: the connection is gone
        if fault in ERROR_ANSWERS:
            self.injected[fault] += 1
            status, payload = ERROR_ANSWERS[fault]
            return web.Response(status=status, body=payload, content_type="application/xml")
        if fault == "delay":
            self.injected["delay"] += 1
            await asyncio.sleep(self._random.uniform(0.05, 0.5))
        return await self._forward(request, body)

    def _fault(self, request: web.Request) -> str | None:
        window = self._active()
        if window is not None:
            return "reset" if window.kind == "outage" else window.answers[self.injected.total() % len(window.answers)]
        key = (request.method, str(request.rel_url))
        tries = self._seen.get(key, 0)
        if self.failures_per_request:
            self._seen[key] = tries + 1
        if request.method == "PUT" and "tagging" in request.rel_url.query and tries < self.failures_per_request:
            self.throttled += 1
            return "slowdown"
        if self._mixed_rate and self._random.random() < self._mixed_rate:
            return self._random.choice(MIXED_KINDS)
        return None

    async def _forward(self, request: web.Request, body: bytes) -> web.Response:
        assert self._session is not None
        url = self.upstream + str(request.rel_url)
        async with self._session.request(request.method, url, headers=request.headers, data=body) as upstream:
            payload = await upstream.read()
            headers = {k: v for k, v in upstream.headers.items() if k.lower() not in ("transfer-encoding",)}
        self.forwarded += 1
        self.forwarded_log.append((time.monotonic(), request.method, str(request.rel_url)))
        if self.back.is_set() and self.first_forward_after_back is None:
            self.first_forward_after_back = time.monotonic()
        return web.Response(status=upstream.status, body=payload, headers=headers)


def resume_seconds(proxy: FaultyProxy, timeout: float = 60.0) -> float:
    """From the end of the last fault window to the first request the store served after it (waited for)."""
    deadline = time.monotonic() + timeout
    while proxy.first_forward_after_back is None:
        assert time.monotonic() < deadline, "no request reached the store after the fault"
        time.sleep(0.05)
    _, ended = proxy.last_window()
    return proxy.first_forward_after_back - ended


def rate_between(proxy: FaultyProxy, start: float, end: float, wanted: Callable[[str, str], bool]) -> float:
    """Requests a second the store answered from ``start`` to ``end`` (time.monotonic()), counting the ``wanted``
    ones (method, path?query)."""
    hits = [t for t, method, url in list(proxy.forwarded_log) if start <= t < end and wanted(method, url)]
    return len(hits) / (end - start)


def counts(proxy: FaultyProxy) -> dict[str, Any]:
    return {"forwarded": proxy.forwarded, **proxy.injected}
