"""Store outages of the jobs with work in this process: while a job's store is down its work holds (the breaker
waits), the job shows why, and past ``store_outage_max_seconds`` it fails with StoreUnavailable."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from batchops.domain.job import FailureReason, Job
from batchops.domain.status import JobStatus
from batchops.s3.breaker import HOLD_PREFIX, CircuitBreaker
from batchops.store.base import Store

log = logging.getLogger(__name__)

S = JobStatus
#: How often the jobs with work here are checked for a store outage (hold reason shown, bound applied).
OUTAGE_WATCH_SECONDS = 0.5
#: The statuses a store outage holds (and, past the bound, fails): the ones whose work reads or acts on objects.
HOLDABLE = frozenset({S.PREPARING, S.ACTIVE})

#: Ends an ending job whose report cannot be written, without it; False if the job is not ending here.
EndWithoutReport = Callable[[str, FailureReason], Awaitable[bool]]


async def ends_none(_job_id: str, _failure: FailureReason) -> bool:
    """For a process that ends no job (a worker): finishing is the supervisor's."""
    return False


class OutageWatch:
    def __init__(
        self,
        store: Store,
        max_seconds: float,
        *,
        stop_work: Callable[[str], None],
        end_without_report: EndWithoutReport,
        wake: Callable[[], None],
    ) -> None:
        self._store = store
        self._max_seconds = max_seconds
        self._stop_work = stop_work
        self._end_without_report = end_without_report
        self._wake = wake
        self._job_breakers: dict[str, CircuitBreaker] = {}  # job with work here → its store's breaker
        self._hold_shown: dict[str, str] = {}  # job → the hold reason this process last wrote

    def track(self, job: Job, breaker: CircuitBreaker) -> None:
        """The job has work here on the store behind ``breaker``."""
        self._job_breakers[job.id] = breaker
        if job.hold_reason and job.hold_reason.startswith(HOLD_PREFIX):
            self._hold_shown.setdefault(job.id, job.hold_reason)  # left by a process that stopped: cleared if not held

    def forget(self, job_id: str) -> None:
        """The job's work here has ended."""
        self._job_breakers.pop(job_id, None)

    async def watch(self) -> None:
        """Show why a job holds while its store is down (cleared when it answers again); past the bound the job
        fails with StoreUnavailable."""
        for job_id, breaker in list(self._job_breakers.items()):
            if not breaker.is_open:
                continue
            if breaker.down_for() >= self._max_seconds and await self._give_up(job_id, breaker):
                continue
            await self._show_hold(job_id, breaker.hold_reason())
        for job_id in [j for j in self._hold_shown if not self._held(j)]:
            await self._show_hold(job_id, None)

    def _held(self, job_id: str) -> bool:
        breaker = self._job_breakers.get(job_id)
        return breaker is not None and breaker.is_open

    async def _show_hold(self, job_id: str, reason: str | None) -> None:
        if self._hold_shown.get(job_id) == reason:
            return
        await self._store.set_hold_reason(job_id, reason)
        if reason is None:
            self._hold_shown.pop(job_id, None)
        else:
            self._hold_shown[job_id] = reason

    async def _give_up(self, job_id: str, breaker: CircuitBreaker) -> bool:
        """A job whose store has been down past the bound: Preparing or Active fails, an ending job ends without
        its report. False if the job is in none of these (it holds on)."""
        reason = (
            f"the object store at {breaker.endpoint} has not answered for {breaker.down_for():.0f} s "
            f"(last error: {breaker.last_error}); check the store and create the job again"
        )[:256]
        failure = FailureReason("StoreUnavailable", reason)
        moved = await self._store.transition(job_id, S.FAILING, reason, failure, only_from=HOLDABLE)
        if moved:
            self._stop_work(job_id)
        else:
            moved = await self._end_without_report(job_id, failure)
        if moved:
            log.error("job %s: %s", job_id, reason, extra={"action": "store_unavailable"})
            self._job_breakers.pop(job_id, None)
            await self._show_hold(job_id, None)
            self._wake()
        return moved
