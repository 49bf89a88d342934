"""The supervisor: one loop that drives every job from New to its end.

Each tick it reads the jobs' statuses from the store and acts: starts Preparing, applies the scheduler's
decisions, hands Active jobs to its workforce, drains Pausing and ending ones and finishes the ending ones. All
state is in the store, so a restart (even after kill -9) picks up where the last process stopped.

The tasks of Active jobs are run by the ``Workforce`` it is given: a ``Worker`` in this process (``workers = 0``)
or the ``WorkerPool``'s processes, each running a Worker of its own. The supervisor only asks it to run a job,
to drain one, and whether it still runs some of a job's tasks. The failure threshold and the move to Completing
are decided by whichever worker flushed the outcomes, through the store's guarded transitions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from batchops.domain.job import FailureReason, Job
from batchops.domain.status import JobStatus
from batchops.engine import scheduler
from batchops.engine.clients import JobClient, StoreClients
from batchops.engine.finisher import ENDINGS, finish
from batchops.engine.jobtasks import JobTasks
from batchops.engine.loop import Wakeup, cancel_all, start_loop
from batchops.engine.outages import OUTAGE_WATCH_SECONDS, OutageWatch
from batchops.engine.preparer import prepare
from batchops.errors import ManifestError
from batchops.s3.breaker import outage_of
from batchops.settings import Settings
from batchops.store.base import Store

log = logging.getLogger(__name__)

S = JobStatus
TICK_SECONDS = 0.25
#: How often the server looks at whether its store can write, and after how long without a write it probes one.
STORE_PROBE_SECONDS = 1.0
STORE_QUIET_SECONDS = 5.0
#: Preparing's reads broken by an outage in a row without a chunk committed, before the job fails as before.
MAX_STALLED_READS = 20
_WATCHED = (S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED, S.COMPLETING, S.CANCELLING, S.FAILING)
_DRAINED_FIRST = (S.PAUSING, S.CANCELLING, S.FAILING, S.COMPLETING)


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
    ) -> None:
        self.settings = settings
        self._remote_workers = remote_workers
        self.store = store
        self._clients = clients
        self._workforce = workforce
        self._tick_seconds = tick_seconds
        self._wakeup = wakeup or Wakeup()
        self._work = JobTasks(on_end=self._work_ended, on_done=self.wake)  # preparers and finishers
        self._finishing: set[str] = set()
        self._outages = OutageWatch(
            store,
            settings.store_outage_max_seconds,
            stop_work=self._stop_work,
            end_without_report=self._end_without_report,
            wake=self.wake,
        )
        self._loops: list[asyncio.Task[None]] = []

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
            start_loop(self._outages.watch, OUTAGE_WATCH_SECONDS, rest, "outage-watch"),
        ]

    async def stop(self) -> None:
        await cancel_all(self._loops)
        await self._work.cancel_all()

    def wake(self) -> None:
        """Ask for a tick now (after an API call changed a job)."""
        self._wakeup()

    # --- one tick ---------------------------------------------------------------------------

    async def tick(self) -> None:
        jobs = await self.store.jobs_in(_WATCHED)
        for move in scheduler.decide(jobs, self.settings.max_active_jobs):
            await self.store.transition(move.job_id, move.to, move.reason)
        if any(j.status in (S.READY, S.ACTIVE, S.PAUSED) for j in jobs):
            jobs = await self.store.jobs_in(_WATCHED)
        for job in jobs:
            await self._drive(job)

    async def _drive(self, job: Job) -> None:
        if self._work.resting(job.id):
            return
        if job.status is S.NEW:
            if await self.store.transition(job.id, S.PREPARING, "reading the manifest"):
                self._work.spawn(job.id, self._prepare(job))
        elif job.status is S.PREPARING:
            self._work.spawn(job.id, self._prepare(job))
        elif job.status is S.ACTIVE:
            self._workforce.run(job)
        elif job.status in _DRAINED_FIRST:
            self._stop_work(job.id)
            if job.id not in self._work and not await self._workforce.busy_with(job):
                await self._after_drain(job)

    async def _after_drain(self, job: Job) -> None:
        if job.status is S.PAUSING:
            await self.store.transition(job.id, S.PAUSED, "paused: a higher-priority job is running")
        else:
            self._finishing.add(job.id)
            self._work.spawn(job.id, self._finish(job))

    def _stop_work(self, job_id: str) -> None:
        self._workforce.drain(job_id)
        if job_id not in self._finishing:
            self._work.cancel(job_id)  # a preparer: its checkpoint is already committed

    def _work_ended(self, job_id: str) -> None:
        self._outages.forget(job_id)
        self._finishing.discard(job_id)

    # --- the work itself --------------------------------------------------------------------

    async def _prepare(self, job: Job) -> None:
        try:
            await self._read_manifest(job)
        except ManifestError as exc:
            failure = FailureReason(exc.code, str(exc)[:256])
            await self.store.transition(job.id, S.FAILING, str(exc)[:256], failure)
            return
        fresh = await self.store.job_for_engine(job.id)
        target = S.SUSPENDED if fresh.spec.confirmation_required else S.READY
        await self.store.transition(job.id, target, f"manifest read: {fresh.progress.total} tasks")

    async def _read_manifest(self, job: Job) -> None:
        """Preparing; a store outage holds it (it resumes from its checkpoint once the store answers again)
        instead of failing the job; the outage watch shows why and fails the job past the bound. A read that
        keeps breaking while the store answers fails as before, after ``MAX_STALLED_READS`` tries."""
        client = await self._client(job)
        stalled, checkpoint = 0, await self.store.prepare_checkpoint(job.id)
        while True:
            try:
                await prepare(self.store, client.s3, job, self.settings.chunk_size)
                return
            except Exception as exc:
                outage = outage_of(exc)
                reached = await self.store.prepare_checkpoint(job.id)
                stalled, checkpoint = (stalled + 1 if reached == checkpoint else 0), reached
                if outage is None or stalled > MAX_STALLED_READS:
                    raise
                log.warning("job %s: reading the manifest waits for the store: %s", job.id, outage)
                client.breaker.note_outage(outage)  # a body read that broke midway is no answer of the store
                await client.breaker.wait_closed()

    async def _finish(self, job: Job) -> None:
        if job.status not in ENDINGS:
            return
        try:
            client = await self._client(job)
        except ManifestError as exc:  # its role is gone: end the job without a report
            await self.store.add_failure(job.id, FailureReason(exc.code, str(exc)[:256]))
            await self.store.transition(job.id, ENDINGS[job.status], f"ended without a report: {exc}"[:256])
            return
        await finish(self.store, client.s3, job)

    async def _client(self, job: Job) -> JobClient:
        """The S3 client for the job's RoleArn; the outage watch follows its store while the work runs."""
        client = await self._clients.for_job(job)
        self._outages.track(job, client.breaker)
        return client

    async def _end_without_report(self, job_id: str, failure: FailureReason) -> bool:
        """Stop writing an ending job's report to a store that does not answer, and end the job without it."""
        work = self._work.get(job_id)
        if work is None or job_id not in self._finishing:
            return False
        job = await self.store.job_for_engine(job_id)
        if job.status not in ENDINGS:
            return False
        report_failure = FailureReason("ReportWriteFailed", f"the completion report was not written: {failure.reason}")
        await self.store.add_failure(job_id, FailureReason(report_failure.code, report_failure.reason[:256]))
        ended = await self.store.transition(job_id, ENDINGS[job.status], f"ended without a report: {failure.reason}")
        work.cancel()  # after the move: a terminal job gets no new finisher
        await asyncio.gather(work, return_exceptions=True)
        return ended

    # --- housekeeping -----------------------------------------------------------------------

    async def _watch_store(self) -> None:
        """Notice a full disk even when nothing else writes (and when space returns): a one-page write while the
        store is faulted, or has been quiet a while. /healthz, CreateJob and the job views read the outcome."""
        faulted = self.store.write_fault is not None
        quiet = time.monotonic() - self.store.last_write_ok > STORE_QUIET_SECONDS
        if (faulted or quiet) and await self.store.probe_write() and faulted:
            log.info("the store can write again", extra={"action": "disk_space_back"})
            self._work.retry_now()  # jobs whose work failed on the full disk go on now
            self._workforce.retry_now()
            self.wake()

    async def _purge(self) -> None:
        purged = await self.store.purge_ended_before(time.time() - self.settings.retention_days * 86400)
        if purged:
            log.info("purged %d jobs that ended over %d days ago", purged, self.settings.retention_days)
