"""A circuit breaker per object store: an outage holds the requests instead of failing the tasks that sent them.

Every request to a store passes its breaker: the lean client (batchops.s3.lean) around each attempt, the
aiobotocore client through its ``before-send``/``response-received`` events (``BotocoreGuard``).

* **Closed** (the store answers): requests go; each answer or failure is recorded. When most of the recent
  ones (``BreakerPolicy``: at least ``min_failures`` and ``failure_ratio`` of the last ``window`` within
  ``window_seconds``) failed with an outage-class error — connection refused or reset, timeout, HTTP 500, 502,
  503, 504, 429 or a throttling code such as SlowDown — the breaker opens.
* **Open** (the store is down): no request goes, except one probe at growing intervals (``first_probe_after``,
  doubling up to ``max_probe_interval``). A probe that gets any answer that is not an outage (even a 404)
  closes the breaker and every held request goes on; a failed probe waits a longer interval.

A request that failed from the outage is not the task's failure: the lean client does not count such an
attempt, and the runner re-runs a task whose error was an outage while a breaker opened (``Breakers``).
How long the store has been down (``down_for``) lets the engine fail a job past ``store_outage_max_seconds``.

The state machine (``try_admit``, ``record``) is synchronous with an injected clock, so it is tested
without sleeping; ``admit`` only waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    IncompleteReadError,
    ResponseStreamingError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from batchops.s3.overload import FAILING_STATUSES, THROTTLE_CODES
from batchops.s3.ratecap import RequestRate, take_tokens

#: Error codes that mean the store is failing or overloaded, whatever the status (503 ServiceUnavailable too).
OUTAGE_CODES = THROTTLE_CODES | {"ServiceUnavailable"}
#: How every hold reason of a breaker begins (DescribeJob's StatusUpdateReason while a job holds).
HOLD_PREFIX = "holding: object store"
#: A cause chain is followed this deep looking for an outage (ManifestError wraps the SDK's error).
_CHAIN_DEPTH = 6


@dataclass(frozen=True)
class BreakerPolicy:
    window: int = 20
    window_seconds: float = 30.0
    min_failures: int = 3
    failure_ratio: float = 0.5
    first_probe_after: float = 0.5
    max_probe_interval: float = 2.0
    #: A probe whose outcome never came (its request was cancelled) lets another probe go after this long.
    probe_timeout: float = 60.0


#: A breaker that only watches and never opens: for clients that must fail fast (the console's), as before.
WATCH_ONLY = BreakerPolicy(failure_ratio=math.inf)


def policy_for(max_attempts: int, timeout: float) -> BreakerPolicy:
    """The policy for a client whose calls have ``max_attempts`` tries of up to ``timeout`` seconds each:
    a lone call that spent all its tries on outage failures opens the breaker before it fails; a probe may
    take a whole request timeout, and one that never reports (cancelled) frees the way after two."""
    return BreakerPolicy(min_failures=max(1, min(BreakerPolicy.min_failures, max_attempts)), probe_timeout=2 * timeout)


@dataclass(frozen=True)
class Ticket:
    """Leave to send one request; ``probe`` (numbered) if it is the one request sent while the breaker is open."""

    probe: bool = False
    number: int = 0


class CircuitBreaker:
    def __init__(
        self,
        endpoint: str,
        policy: BreakerPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.endpoint = endpoint
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._wall_clock = wall_clock
        self._recent: deque[tuple[float, bool]] = deque(maxlen=self.policy.window)  # (when, outage)
        self.is_open = False
        #: Times the breaker opened (the runner compares it before and after a task).
        self.trips = 0
        self.last_error = ""
        self.probe_interval = self.policy.first_probe_after
        self._down_since: float | None = None  # first outage failure since the last answer (clock)
        self._down_since_wall: float | None = None
        self._next_probe_at = 0.0
        self._probe_started: float | None = None
        self._probes = 0  # the number of the probe out (a late report of an earlier one is ignored)
        self._changed: asyncio.Event | None = None

    # --- the state machine (no waiting) ------------------------------------------------------

    def try_admit(self) -> Ticket | float:
        """A ticket to send now, or how many seconds until a probe may go."""
        if not self.is_open:
            return Ticket()
        now = self._clock()
        if self._probe_started is not None and now - self._probe_started < self.policy.probe_timeout:
            return self.policy.probe_timeout - (now - self._probe_started)
        if now < self._next_probe_at:
            return self._next_probe_at - now
        self._probe_started = now
        self._probes += 1
        return Ticket(probe=True, number=self._probes)

    def record(self, ticket: Ticket, error: str | None) -> None:
        """The outcome of an admitted request: ``error`` describes an outage failure, None any answer."""
        now = self._clock()
        if error is not None:
            self.last_error = error[:120]
            if self._down_since is None:
                self._down_since, self._down_since_wall = now, self._wall_clock()
        if self._is_current_probe(ticket):
            self._probe_started = None
            if error is None:
                self._close()
            else:
                self.probe_interval = min(self.policy.max_probe_interval, self.probe_interval * 2)
                self._next_probe_at = now + self.probe_interval
                self._notify()  # the held requests wait for the next probe time now, not the probe's timeout
            return
        if self.is_open:
            return  # sent before the breaker opened: only the probe tells whether the store is back
        if error is None:
            self._down_since = self._down_since_wall = None
        self._recent.append((now, error is not None))
        if self._tripped(now):
            self._open(now)

    def abandon(self, ticket: Ticket) -> None:
        """The admitted request was cancelled before its outcome: a probe's turn passes to the next one."""
        if self._is_current_probe(ticket):
            self._probe_started = None
            self._notify()

    def note_outage(self, error: str) -> None:
        """An outage seen outside a request's answer (a body read that broke midway)."""
        self.record(Ticket(), error)

    def down_for(self) -> float:
        """Seconds since the first outage failure with no answer since (0 while the store answers)."""
        return 0.0 if self._down_since is None else self._clock() - self._down_since

    def hold_reason(self) -> str:
        since = datetime.fromtimestamp(self._down_since_wall or self._wall_clock(), UTC).strftime("%Y-%m-%d %H:%M:%S")
        return (
            f"{HOLD_PREFIX} {self.endpoint} unreachable since {since} UTC "
            f"(last error: {self.last_error}), probing every {self.probe_interval:g} s"
        )[:256]

    def _is_current_probe(self, ticket: Ticket) -> bool:
        return ticket.probe and ticket.number == self._probes and self._probe_started is not None

    def _tripped(self, now: float) -> bool:
        while self._recent and now - self._recent[0][0] > self.policy.window_seconds:
            self._recent.popleft()
        failures = sum(1 for _, outage in self._recent if outage)
        return failures >= self.policy.min_failures and failures >= self.policy.failure_ratio * len(self._recent)

    def _open(self, now: float) -> None:
        self.is_open = True
        self.trips += 1
        self.probe_interval = self.policy.first_probe_after
        self._next_probe_at = now + self.probe_interval
        self._notify()

    def _close(self) -> None:
        self.is_open = False
        self._recent.clear()
        self._down_since = self._down_since_wall = None
        self.probe_interval = self.policy.first_probe_after
        self._notify()

    # --- waiting -------------------------------------------------------------------------------

    async def admit(self) -> Ticket:
        """Wait until a request may go (at once while the store answers)."""
        while True:
            decision = self.try_admit()
            if isinstance(decision, Ticket):
                return decision
            await self._wait_change(decision)

    async def wait_closed(self) -> None:
        while self.is_open:
            await self._wait_change(None)

    async def _wait_change(self, timeout: float | None) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        changed = self._changed
        with contextlib.suppress(TimeoutError):  # not wait_for: on 3.11 it can swallow the caller's cancel
            async with asyncio.timeout(timeout):
                await changed.wait()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None


class Breakers:
    """The breakers of one process, so a task that failed from any store's outage is held, not failed."""

    def __init__(self) -> None:
        self._all: list[CircuitBreaker] = []

    def new(self, endpoint: str, policy: BreakerPolicy | None = None) -> CircuitBreaker:
        breaker = CircuitBreaker(endpoint, policy)
        self._all.append(breaker)
        return breaker

    @property
    def trips(self) -> int:
        return sum(b.trips for b in self._all)

    async def held_since(self, trips: int) -> bool:
        """True after waiting for every open breaker to close, if a breaker is open or opened since ``trips``."""
        if self.trips == trips and not any(b.is_open for b in self._all):
            return False
        for breaker in list(self._all):
            await breaker.wait_closed()
        return True


#: This process's breakers (one per store client the engine opens).
BREAKERS = Breakers()


# --- what an outage is ---------------------------------------------------------------------------


def answer_outage(status: int, code: str | None) -> str | None:
    """An answer that means the store is failing: its description; None for any other answer."""
    if status in FAILING_STATUSES or (status >= 400 and code in OUTAGE_CODES):
        return f"HTTP {status} {code or ''}".strip()
    return None


def failure_text(exc: BaseException) -> str:
    """A short, stable description of a connection or timeout failure (no request URL: it would vary)."""
    inner = exc.kwargs.get("error") if isinstance(exc, BotoCoreError) else None
    shown = inner if isinstance(inner, BaseException) else exc
    return f"{type(shown).__name__}: {shown}" if str(shown) else type(shown).__name__


def outage_of(exc: BaseException) -> str | None:
    """If ``exc`` (or what it wraps) is an outage-class failure: its description, else None."""
    seen: BaseException | None = exc
    for _ in range(_CHAIN_DEPTH):
        if seen is None:
            return None
        found = _own_outage(seen)
        if found is not None:
            return found
        seen = seen.__cause__ or seen.__context__
    return None


def _own_outage(exc: BaseException) -> str | None:
    if isinstance(exc, ClientError):
        meta: dict[str, Any] = exc.response.get("ResponseMetadata", {})
        return answer_outage(int(meta.get("HTTPStatusCode") or 0), exc.response.get("Error", {}).get("Code"))
    connection = (HTTPClientError, BotoConnectionError, IncompleteReadError, ResponseStreamingError)
    if isinstance(
        exc, (*connection, aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, ConnectionError, TimeoutError)
    ):
        return failure_text(exc)
    return None


# --- the aiobotocore client ------------------------------------------------------------------------

#: The ticket of the request being sent by this task (set in before-send, used in response-received).
_TICKET: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("breaker_ticket", default=None)
#: Whether this task's last attempt failed from an outage with the breaker open (set in response-received).
_HELD: contextvars.ContextVar[bool] = contextvars.ContextVar("breaker_held", default=False)


class BotocoreGuard:
    """Puts an aiobotocore client's every attempt (retries too) through a breaker, with its events: an attempt
    waits for leave to go (``before-send``), its outcome is recorded (``response-received``), and one that
    failed from an outage while the breaker is open is retried at once (``needs-retry``) — its next attempt
    waits for the store in ``before-send`` — so the outage does not use up the call's attempts."""

    def __init__(self, breaker: CircuitBreaker, store_rate: RequestRate | None = None) -> None:
        self.breaker = breaker
        self.store_rate = store_rate

    def install(self, client: Any) -> None:
        events = client.meta.events
        events.register("before-send.s3", self.before_send)
        events.register("response-received.s3", self.response_received)
        events.register_first("needs-retry.s3", self.needs_retry)

    async def before_send(self, **_: Any) -> None:
        await take_tokens(self.store_rate)  # every attempt is a request: the job's and the store's rate caps
        _TICKET.set(await self.breaker.admit())

    def response_received(self, response_dict: dict[str, Any] | None, exception: Any, **_: Any) -> None:
        ticket = _TICKET.get() or Ticket()
        _TICKET.set(None)
        if exception is not None:
            outage = outage_of(exception)
            if outage is None:  # not the store's failure: it tells nothing about the store
                self.breaker.abandon(ticket)
            else:
                self.breaker.record(ticket, outage)
        else:
            status = int((response_dict or {}).get("status_code") or 0)
            outage = answer_outage(status, answer_error_code(response_dict))
            self.breaker.record(ticket, outage)
        _HELD.set(outage is not None and self.breaker.is_open)

    def needs_retry(self, **_: Any) -> float | None:
        """0 (retry now, without counting against botocore's backoff) when the attempt failed from an outage
        while the breaker is open; None lets botocore's own retry rules decide."""
        held = _HELD.get()
        _HELD.set(False)
        return 0.0 if held else None


def answer_error_code(response_dict: dict[str, Any] | None) -> str | None:
    """The error code of an error answer (botocore has not parsed it yet: look into the XML body)."""
    if not response_dict or int(response_dict.get("status_code") or 0) < 400:
        return None
    body = response_dict.get("body")
    if not isinstance(body, bytes) or b"<Code>" not in body:
        return None
    return body.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode(errors="replace")
