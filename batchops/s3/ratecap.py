"""Rate caps: requests per second and tasks in flight, per job and per store endpoint.

``RequestRate`` spaces requests ``1 / rate`` seconds apart (a token bucket holding at most ``BURST_SECONDS`` of
tokens, so an idle job may send a short burst but never more than ``rate * (t + BURST_SECONDS)`` requests in
``t`` seconds). Every S3 request a task sends takes one token: from its job's rate (found in the task's context,
``JOB_RATE``, so the parts of a multipart copy and every retry count too) and from its store endpoint's rate.
Both are taken before the request's adaptive slot (batchops.s3.adaptive), so the adaptive limit only ever lowers
the pace below the caps, and the time spent waiting for a token does not count as the store's latency.

A change of the rate reaches waiting requests at once: they take their place again at the new pace.
``TaskGate`` is a semaphore whose size may change while tasks hold it (a job's ``MaxTasksInFlight``).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections import deque
from collections.abc import Callable

#: Tokens an idle rate keeps, in seconds of its pace: a short burst after a pause, never a lasting excess.
BURST_SECONDS = 0.1

Clock = Callable[[], float]


class RequestRate:
    """At most ``per_second`` requests a second (None: no cap). Shared by every task that takes from it."""

    def __init__(self, per_second: float | None = None, clock: Clock = time.monotonic) -> None:
        self._clock = clock
        self.per_second = per_second
        # Theoretical time the next token is due (GCRA): a token is free once it is within the burst of now.
        self._due = clock()
        self._changed = asyncio.Event()
        self.taken = 0

    def set(self, per_second: float | None) -> None:
        """A new pace, for the requests waiting now as well as those to come."""
        if per_second == self.per_second:
            return
        self.per_second = per_second
        self._due = self._clock()
        self._changed.set()
        self._changed = asyncio.Event()

    def reserve(self) -> float:
        """Take the next token: the seconds to wait before sending (0: send now)."""
        rate = self.per_second
        if rate is None:
            return 0.0
        now = self._clock()
        due = max(self._due, now - BURST_SECONDS)
        self._due = due + 1 / rate
        self.taken += 1
        return max(0.0, due - now)

    async def acquire(self) -> None:
        while True:
            changed = self._changed
            wait = self.reserve()
            if wait <= 0:
                return
            try:  # not wait_for: on 3.11 it can swallow the caller's cancel
                async with asyncio.timeout(wait):
                    await changed.wait()
            except TimeoutError:
                return
            # The rate changed while this request waited: its reserved place is void; take one at the new pace.


class TaskGate:
    """Tasks in flight for one job: at most ``size`` at once (None: no cap); the size may change any time."""

    def __init__(self, size: int | None = None) -> None:
        self.size = size
        self.held = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    def resize(self, size: int | None) -> None:
        self.size = size
        self._wake()

    def locked(self) -> bool:
        return self.size is not None and (self.held >= self.size or bool(self._waiters))

    async def acquire(self) -> None:
        if not self.locked():
            self.held += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # admitted just as it was cancelled: give it back
                self.release()
            else:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.held -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and (self.size is None or self.held < self.size):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.held += 1
                waiter.set_result(None)


class JobRate:
    """One job's caps in this process, shared by its runners here."""

    def __init__(self, requests: float | None, tasks: int | None, share: int = 1) -> None:
        self.share = max(1, share)
        self.requests = RequestRate(_part(requests, self.share))
        self.tasks = TaskGate(_whole_part(tasks, self.share))

    def update(self, requests: float | None, tasks: int | None) -> None:
        self.requests.set(_part(requests, self.share))
        self.tasks.resize(_whole_part(tasks, self.share))


class JobRates:
    """The ``JobRate`` of each job running in this process; ``share``: the processes a job's cap is divided by."""

    def __init__(self, share: int = 1) -> None:
        self.share = share
        self._rates: dict[str, JobRate] = {}
        self._holders: dict[str, int] = {}

    def hold(self, job_id: str, requests: float | None, tasks: int | None) -> JobRate:
        rate = self._rates.get(job_id)
        if rate is None:
            rate = self._rates[job_id] = JobRate(requests, tasks, self.share)
        self._holders[job_id] = self._holders.get(job_id, 0) + 1
        return rate

    def release(self, job_id: str) -> None:
        left = self._holders.get(job_id, 1) - 1
        if left > 0:
            self._holders[job_id] = left
            return
        self._holders.pop(job_id, None)
        self._rates.pop(job_id, None)

    def update(self, job_id: str, requests: float | None, tasks: int | None) -> None:
        """The job's caps as last read from the store (a change reaches its running tasks here)."""
        rate = self._rates.get(job_id)
        if rate is not None:
            rate.update(requests, tasks)


#: The request rate of the job whose task is running (set by the runner in each task's own context).
JOB_RATE: contextvars.ContextVar[RequestRate | None] = contextvars.ContextVar("job_rate", default=None)


async def take_tokens(store_rate: RequestRate | None) -> None:
    """Before one S3 request: a token of the running task's job, then one of the store endpoint's."""
    job_rate = JOB_RATE.get()
    if job_rate is not None:
        await job_rate.acquire()
    if store_rate is not None:
        await store_rate.acquire()


class StoreRates:
    """One ``RequestRate`` per store endpoint with a configured cap, shared by every client of it in a process."""

    def __init__(self, caps: dict[str, float], share: int = 1) -> None:
        self._caps = {endpoint.rstrip("/"): cap for endpoint, cap in caps.items()}
        self._share = max(1, share)
        self._rates: dict[str, RequestRate] = {}

    def for_endpoint(self, endpoint: str | None) -> RequestRate | None:
        cap = self._caps.get((endpoint or "").rstrip("/"))
        if cap is None:
            return None
        key = (endpoint or "").rstrip("/")
        if key not in self._rates:
            self._rates[key] = RequestRate(_part(cap, self._share))
        return self._rates[key]


def _part(cap: float | None, share: int) -> float | None:
    return None if cap is None else cap / share


def _whole_part(cap: int | None, share: int) -> int | None:
    return None if cap is None else max(1, cap // share)
