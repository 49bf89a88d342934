"""The supervisor: one loop that drives every job from New to its end.

Each tick it reads the jobs' statuses from the store and acts: starts Preparing, applies the scheduler's decisions,
hands Active jobs to its workforce, drains Pausing and ending ones and finishes the ending ones. All state is in
the store, so a restart (even after kill -9) picks up where the last process stopped.

Preparing and finishing are done by the ``JobWork`` it is given (``engine.jobwork``): in this process, or deferred
to ``batchops worker``s. The tasks of Active jobs are run by the ``Workforce`` it is given: a ``Worker`` in this
process (``workers = 0``) or the ``WorkerPool``'s processes, each running a Worker of its own. The supervisor only
asks it to run a job, to drain one, and whether it still runs some of a job's tasks. The failure threshold and the
move to Completing are decided by whichever worker flushed the outcomes, through the store's guarded transitions.

Beside the tick, housekeeping loops purge expired jobs, watch whether the store can write, and sample running jobs'
progress for the console's throughput chart (``engine.sampler``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable
from typing import Protocol

from batchops.domain.job import Job
from batchops.domain.status import JobStatus, PausedBy
from batchops.engine import scheduler
from batchops.engine.clients import StoreClients
from batchops.engine.jobwork import JobSteps, JobWork, LocalJobWork
from batchops.engine.loop import Wakeup, cancel_all, start_loop
from batchops.engine.sampler import SAMPLE_SECONDS, ProgressSampler
from batchops.settings import Settings
from batchops.store.base import Store

log = logging.getLogger(__name__)

S = JobStatus
TICK_SECONDS = 0.25
#: How often the server looks at whether its store can write, and after how long without a write it probes one.
STORE_PROBE_SECONDS = 1.0
STORE_QUIET_SECONDS = 5.0
_WATCHED = (S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED, S.COMPLETING, S.CANCELLING, S.FAILING)
_DRAINED_FIRST = (S.PAUSING, S.CANCELLING, S.FAILING, S.COMPLETING)
#: Statuses in which a job has a step to take (Ready and Paused jobs wait for the scheduler).
_DRIVEN = frozenset({S.NEW, S.PREPARING, S.ACTIVE, *_DRAINED_FIRST})


class Workforce(Protocol):
    """Who runs the tasks of Active jobs, as the supervisor sees it."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def run(self, job: Job) -> None:
        """Run the Active job's tasks (nothing to do where the workers look for Active jobs themselves)."""

    def drain(self, job_id: str) -> None:
        """Stop running the job's tasks: it pauses or ends (workers that look for themselves stop at their next
        look)."""

    async def busy_with(self, job: Job) -> bool:
        """Some of the job's tasks still run, or their outcomes are not all recorded yet."""

    def retry_now(self) -> None:
        """The store writes again: work that failed on the full disk goes on at once."""


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clients: StoreClients,
        workforce: Workforce,
        *,
        tick_seconds: float = TICK_SECONDS,
        wakeup: Wakeup | None = None,
        remote_workers: bool = False,
        job_work: JobWork | None = None,
    ) -> None:
        self.settings = settings
        self._remote_workers = remote_workers
        self.store = store
        self._workforce = workforce
        self._tick_seconds = tick_seconds
        self._wakeup = wakeup or Wakeup()
        # preparers and finishers: in this process unless the composition root defers them to workers
        self._jobs = job_work or LocalJobWork(JobSteps(settings, store, clients, wake=self.wake), wake=self.wake)
        self._loops: list[asyncio.Task[None]] = []
        self._sampler = ProgressSampler(store)
        self._lanes = scheduler.Lanes(settings.max_active_jobs, settings.small_job_tasks, settings.small_job_slots)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        # This process (with the workers it starts) is the only one on its store: leases held by a
        # previous (killed) run are void. Not so with ``batchops worker``s: theirs live on, or expire.
        if not self._remote_workers:
            await self.store.release_chunks()
        rest = self.store.rest
        self._loops = [
            start_loop(self.tick, self._tick_seconds, rest, "engine-tick", self._wakeup),
            start_loop(self._purge, 3600.0, rest, "purge-expired"),
            start_loop(self._watch_store, STORE_PROBE_SECONDS, rest, "store-watch"),
            start_loop(self._sampler.sample, SAMPLE_SECONDS, rest, "progress-samples"),
        ]
        await self._jobs.start()

    async def stop(self) -> None:
        await cancel_all(self._loops)
        await self._jobs.stop()

    def wake(self) -> None:
        """Ask for a tick now (after an API call changed a job)."""
        self._wakeup()

    # --- one tick ---------------------------------------------------------------------------

    async def tick(self) -> None:
        """Each job's step is started together with the others' (one job's wait for the database or the store
        does not hold the rest: with a thousand small jobs, one at a time took seconds a tick)."""
        jobs = await self.store.jobs_in(_WATCHED)
        moves = scheduler.decide(jobs, self._lanes)
        await _all(self.store.transition(m.job_id, m.to, m.reason, paused_by=m.paused_by) for m in moves)
        if any(j.status in (S.READY, S.ACTIVE, S.PAUSED) for j in jobs):
            jobs = await self.store.jobs_in(_WATCHED)
        await _all(self._drive(job) for job in jobs if job.status in _DRIVEN)

    async def _drive(self, job: Job) -> None:
        if self._jobs.resting(job.id):
            return
        if job.status is S.NEW:
            if await self.store.transition(job.id, S.PREPARING, "reading the manifest"):
                await self._jobs.prepare(job)
        elif job.status is S.PREPARING:
            await self._jobs.prepare(job)
        elif job.status is S.ACTIVE:
            self._workforce.run(job)
        elif job.status in _DRAINED_FIRST:
            await self._stop_work(job.id)
            if not await self._jobs.busy(job.id) and not await self._workforce.busy_with(job):
                await self._after_drain(job)

    async def _after_drain(self, job: Job) -> None:
        if job.status is S.PAUSING:
            await self.store.transition(job.id, S.PAUSED, _paused_reason(job))
        else:
            await self._jobs.finish(job)

    async def _stop_work(self, job_id: str) -> None:
        self._workforce.drain(job_id)
        await self._jobs.stop_preparing(job_id)

    # --- housekeeping -----------------------------------------------------------------------

    async def _watch_store(self) -> None:
        """Notice a full disk even when nothing else writes (and when space returns): a one-page write while the
        store is faulted, or has been quiet a while. /healthz, CreateJob and the job views read the outcome."""
        faulted = self.store.write_fault is not None
        quiet = time.monotonic() - self.store.last_write_ok > STORE_QUIET_SECONDS
        if (faulted or quiet) and await self.store.probe_write() and faulted:
            log.info("the store can write again", extra={"action": "disk_space_back"})
            self._jobs.retry_now()  # jobs whose work failed on the full disk go on now
            self._workforce.retry_now()
            self.wake()

    async def _purge(self) -> None:
        purged = await self.store.purge_ended_before(time.time() - self.settings.retention_days * 86400)
        if purged:
            log.info("purged %d jobs that ended over %d days ago", purged, self.settings.retention_days)


async def _all(steps: Iterable[Awaitable[object]]) -> None:
    """Run the steps at once and wait for every one; then raise the first failure, if any (the tick is retried)."""
    for outcome in await asyncio.gather(*steps, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


def _paused_reason(job: Job) -> str:
    if job.paused_by is PausedBy.USER:
        return "paused by its owner: resume it with UpdateJobStatus requestedJobStatus=Ready"
    return "paused: a higher-priority job is running"
