"""An adaptive in-flight limit per store (AIMD), so jobs need no hand-tuned concurrency.

Each request to a store holds one slot. The limit starts at the connection pool's size and:

* halves on congestion (503 SlowDown or another throttling answer, a timeout), at most once per round trip
  so one burst of throttled answers counts as one signal;
* grows by about one slot per round trip (``+1/limit`` per success) while answers come back without
  throttling and their latency stays within ``LATENCY_TOLERANCE`` times its slow-moving average;
* never leaves ``[minimum, maximum]``. The runner's semaphore (``task_concurrency``) stays the outer bound.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

#: A success grows the limit only while its latency is within this factor of the average.
LATENCY_TOLERANCE = 2.0
#: Weight of one latency sample in the slow-moving average.
LATENCY_WEIGHT = 0.02


class AdaptiveLimit:
    def __init__(self, maximum: int, minimum: int = 1) -> None:
        self.maximum = max(1, maximum)
        self.minimum = max(1, min(minimum, self.maximum))
        self.limit = float(self.maximum)
        self.in_flight = 0
        self.cuts = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._latency: float | None = None
        self._last_cut = 0.0

    async def acquire(self) -> None:
        if self.in_flight < int(self.limit) and not self._waiters:
            self.in_flight += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # got a slot just as it was cancelled: give it back
                self.in_flight -= 1
                self._wake()
            raise

    def release(self, latency: float | None, congested: bool) -> None:
        """Give the slot back; ``latency`` of an answered request, ``congested`` if it was throttled or timed out."""
        self.in_flight -= 1
        if congested:
            self._cut()
        elif latency is not None:
            self._grow(latency)
        self._wake()

    def _cut(self) -> None:
        now = time.monotonic()
        if now - self._last_cut >= (self._latency or 0.0):
            self.limit = max(float(self.minimum), self.limit / 2)
            self._last_cut = now
            self.cuts += 1

    def _grow(self, latency: float) -> None:
        average = latency if self._latency is None else self._latency
        self._latency = average + LATENCY_WEIGHT * (latency - average)
        if latency <= LATENCY_TOLERANCE * average and self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1 / self.limit)

    def _wake(self) -> None:
        while self._waiters and self.in_flight < int(self.limit):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)
