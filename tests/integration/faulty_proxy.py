"""A reverse proxy in front of the test store that answers some requests 503 SlowDown (throttling)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from aiohttp import ClientSession, web

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


@dataclass
class FaultyProxy:
    """Forwards to ``upstream``; the first ``failures_per_request`` tries of each request get 503 SlowDown."""

    upstream: str
    failures_per_request: int = 2
    port: int = 0
    throttled: int = 0
    _seen: dict[tuple[str, str], int] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FaultyProxy:
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(10)
        return self

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ready.set()
        self._loop.run_forever()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        key = (request.method, str(request.rel_url))
        tries = self._seen.get(key, 0)
        self._seen[key] = tries + 1
        if request.method == "PUT" and "tagging" in request.rel_url.query and tries < self.failures_per_request:
            self.throttled += 1
            return web.Response(status=503, body=SLOW_DOWN, content_type="application/xml")
        async with (
            ClientSession(auto_decompress=False) as session,
            session.request(
                request.method, self.upstream + str(request.rel_url), headers=request.headers, data=body
            ) as upstream,
        ):
            payload = await upstream.read()
            headers = {k: v for k, v in upstream.headers.items() if k.lower() not in ("transfer-encoding",)}
            return web.Response(status=upstream.status, body=payload, headers=headers)
