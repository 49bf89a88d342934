"""What the clients of one store report to batchops.metrics: each request's latency by operation, throttling
answers, and (the lean client's) requests in flight and adaptive limit. The lean client calls it around each
attempt; for aiobotocore's own calls, ``BotocoreTimer`` listens to the client's events."""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from yarl import URL

from batchops.metrics import S3_ADAPTIVE_LIMIT, S3_IN_FLIGHT, S3_REQUEST_SECONDS, S3_THROTTLED
from batchops.s3.adaptive import AdaptiveLimit
from batchops.s3.breaker import answer_error_code
from batchops.s3.overload import THROTTLE_CODES

#: When the attempt the current task is sending through aiobotocore started (its events run in the task).
_STARTED: ContextVar[float | None] = ContextVar("batchops_s3_attempt_started", default=None)


#: The adaptive limits of the open lean clients, per store: a process may have several clients of one store (one
#: per set of keys), and the gauges show their sum.
_LIMITS: dict[str, list[AdaptiveLimit]] = {}


def store_label(endpoint_url: str | None, region: str) -> str:
    """The ``store`` label of a store: its endpoint's origin (scheme, host, port), as the lean client sends to."""
    return str(URL(endpoint_url or f"https://s3.{region}.amazonaws.com").origin())


class StoreMetrics:
    """The metrics of one store (``store``: its endpoint URL), their labelled children looked up once."""

    def __init__(self, store: str) -> None:
        self.store = store
        self._in_flight = S3_IN_FLIGHT.labels(store)
        self._limit = S3_ADAPTIVE_LIMIT.labels(store)
        self._latency: dict[str, Any] = {}
        self._limits = _LIMITS.setdefault(store, [])

    def watch(self, limit: AdaptiveLimit) -> None:
        """A lean client opened: its limit counts in the gauges until ``forget``."""
        self._limits.append(limit)
        self.limit_moved()

    def forget(self, limit: AdaptiveLimit) -> None:
        if limit in self._limits:
            self._limits.remove(limit)
        self.limit_moved()

    def limit_moved(self) -> None:
        """After a slot was taken or given back: the gauges follow the store's limits (twice per request: the
        common case, one client per store, skips the sums)."""
        limits = self._limits
        if len(limits) == 1:
            self._in_flight.set(limits[0].in_flight)
            self._limit.set(int(limits[0].limit))
            return
        self._in_flight.set(sum(limit.in_flight for limit in limits))
        self._limit.set(sum(int(limit.limit) for limit in limits))

    def answered(self, operation: str, seconds: float, throttled: bool) -> None:
        latency = self._latency.get(operation)
        if latency is None:
            latency = self._latency[operation] = S3_REQUEST_SECONDS.labels(self.store, operation)
        latency.observe(seconds)
        if throttled:
            S3_THROTTLED.labels(self.store, operation).inc()


class BotocoreTimer:
    """Times each attempt an aiobotocore client sends (registered after the breaker's ``before-send``, so the
    wait for the breaker and the rate caps is not counted as the store's latency)."""

    def __init__(self, metrics: StoreMetrics) -> None:
        self.metrics = metrics

    def install(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-send.s3", self.before_send)
        events.register("response-received.s3", self.response_received)

    def before_send(self, **_: Any) -> None:
        _STARTED.set(time.monotonic())

    def response_received(self, response_dict: dict[str, Any] | None, event_name: str = "", **_: Any) -> None:
        started = _STARTED.get()
        _STARTED.set(None)
        if started is None:
            return
        operation = event_name.rpartition(".")[2] or "unknown"
        status = int((response_dict or {}).get("status_code") or 0)
        throttled = status in (429, 503) or answer_error_code(response_dict) in THROTTLE_CODES
        self.metrics.answered(operation, time.monotonic() - started, throttled)

