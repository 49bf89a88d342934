"""Bounds on client connections: how many are open at once, and how long one may take to send a request head.

uvicorn has neither a head deadline nor a bound it enforces before accepting: a client that opens
connections and sends nothing (or a byte a second) holds a file descriptor each for ever, and once the
process runs out of descriptors ``accept()`` fails in a loop and nothing is answered. So each connection
gets a deadline for its request head (from its start, and again after each response), and at the bound a
new connection evicts the one that has waited longest for its head: a stalled connection gives way to one
that asks something, so ``/healthz`` and the API keep answering. The bound is derived from the
open-file limit so that ``accept()`` never fails for want of descriptors.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.h11_impl import H11Protocol

from batchops.settings import Settings

log = logging.getLogger(__name__)

#: Descriptors kept for everything but client connections: SQLite, logs, worker pipes, console store calls.
FIXED_RESERVE = 64
MIN_CONNECTIONS = 8
MIN_BACKLOG = 16
MAX_BACKLOG = 2048
WARN_EVERY_SECONDS = 10.0
MAX_CONNECTIONS = 10_000
FULL_ANSWER = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    b"content-length: 60\r\n\r\nthe server has too many open connections; try again shortly\n"
)


@dataclass(frozen=True)
class ConnectionBounds:
    #: Connections served at once.
    limit: int
    #: The listen backlog, which is also how many connections asyncio accepts in one go before any of them
    #: is counted (and before an evicted one's descriptor is freed): 2 x backlog descriptors on top of limit.
    backlog: int


def connection_bounds(settings: Settings) -> ConnectionBounds:
    """The setting, or what the open-file limit leaves after the server's own descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    spare = MAX_CONNECTIONS if soft == resource.RLIM_INFINITY else soft - FIXED_RESERVE - settings.task_concurrency
    backlog = max(MIN_BACKLOG, min(MAX_BACKLOG, spare // 8))
    derived = max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, spare - 2 * backlog))
    return ConnectionBounds(settings.max_connections or derived, backlog)


def bounded_protocol(max_connections: int, head_timeout_seconds: float) -> type[H11Protocol]:
    """uvicorn's HTTP/1.1 protocol class with these bounds (uvicorn takes a class, not an instance)."""
    return type(
        "BoundedH11Protocol",
        (BoundedH11Protocol,),
        {"max_connections": max_connections, "head_timeout_seconds": head_timeout_seconds},
    )


class BoundedH11Protocol(H11Protocol):
    max_connections: ClassVar[int] = MAX_CONNECTIONS
    head_timeout_seconds: ClassVar[float] = 10.0
    last_warned: ClassVar[float] = float("-inf")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Loop time since when this connection waits for a request head; None while a request runs.
        self.waiting_since: float | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait_for_head()
        if len(self.connections) > self.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request head arrived (and the application now has it)
            self._stop_waiting()

    def on_response_complete(self) -> None:
        self._wait_for_head()  # armed first: the parent may start a pipelined request at once, which stops it
        super().on_response_complete()

    def _wait_for_head(self) -> None:
        self._stop_waiting()
        self.waiting_since = self.loop.time()
        self._head_timer = self.loop.call_later(self.head_timeout_seconds, self._head_overdue)

    def _stop_waiting(self) -> None:
        self.waiting_since = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_overdue(self) -> None:
        # Quietly: an attacker's stalled connections would otherwise write a log line each.
        log.debug("closing a connection that sent no request head within %g s", self.head_timeout_seconds)
        self._head_timer = None
        self.transport.close()

    def _make_room(self) -> None:
        """Over the bound: close the connection that has waited longest for a head, else refuse this one."""
        waiting = [c for c in self.connections if isinstance(c, BoundedH11Protocol) and c.waiting_since is not None]
        oldest = min((c for c in waiting if c is not self), key=_waited_since, default=None)
        if oldest is not None:
            oldest.transport.close()
            oldest.connections.discard(oldest)  # counted out now; its connection_lost comes on the next loop turn
            return
        now = self.loop.time()
        if now - BoundedH11Protocol.last_warned > WARN_EVERY_SECONDS:  # one line, not one per refused connection
            BoundedH11Protocol.last_warned = now
            log.warning("refusing connections: %d are open, the bound (max_connections)", len(self.connections) - 1)
        self.transport.write(FULL_ANSWER)
        self.transport.close()
        self.connections.discard(self)


def _waited_since(connection: BoundedH11Protocol) -> float:
    return connection.waiting_since if connection.waiting_since is not None else float("inf")
