"""An ASGI middleware for request bodies: a deadline between body chunks, and no connection left half-read.

A client that stops sending its body mid-way gets ``http.disconnect`` after ``idle_seconds`` without a byte,
or once it falls behind ``MIN_BYTES_PER_SECOND`` on average after the first ``idle_seconds`` (a byte now and
then must not hold a connection for hours); the application then refuses it as it would a client that went
away. A response that goes out before the
body was read to its end (a refusal) says ``Connection: close``, so uvicorn closes the connection instead of
waiting, for ever, for the rest of a body no one will read.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLOSE = (b"connection", b"close")
#: Set in the scope when the guard, not the client, ended the body: the application says it stalled.
STALLED = "batchops.body_stalled"
#: Any real client sends faster; a 200 MiB manifest upload at this rate takes 3.5 hours.
MIN_BYTES_PER_SECOND = 16 * 1024


class BodyGuard:
    def __init__(self, app: ASGIApp, idle_seconds: float) -> None:
        self.app = app
        self.idle_seconds = idle_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body_done = not _has_body(scope)
        loop = asyncio.get_running_loop()
        started, received = loop.time(), 0

        async def guarded_receive() -> Message:
            nonlocal body_done, received
            if body_done:  # afterwards only a disconnect can come, whenever it comes
                return await receive()
            behind = started + self.idle_seconds + received / MIN_BYTES_PER_SECOND - loop.time()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(self.idle_seconds, behind)))
            except TimeoutError:
                body_done = True
                scope[STALLED] = True
                return {"type": "http.disconnect"}
            received += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def closing_send(message: Message) -> None:
            if message["type"] == "http.response.start" and (not body_done or scope.get(STALLED)):
                message["headers"] = [*message.get("headers", []), CLOSE]
            await send(message)

        await self.app(scope, guarded_receive, closing_send)


def _has_body(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    return b"transfer-encoding" in headers or headers.get(b"content-length", b"0") not in (b"", b"0")
