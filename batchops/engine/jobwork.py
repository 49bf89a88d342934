"""Preparing and finishing jobs: the one code for each (``JobSteps``), and who runs it (``JobWork``).

``JobSteps.prepare`` reads a Preparing job's manifest into chunks (resuming from its checkpoint) and makes it
Ready or Suspended; ``JobSteps.finish`` writes an ending job's report and ends it. Each reads the job afresh and
does nothing unless it is still in the status its work is for, so a late or second delivery is harmless; two
preparers of one job never store a chunk twice (``ChunksTaken``: the later one stops). A store outage holds the
work (the breaker waits) and shows why on the job; past ``store_outage_max_seconds`` Preparing fails and an
ending job ends without its report (``OutageWatch``).

The supervisor asks a ``JobWork`` to get it done: ``LocalJobWork`` runs the steps in this process (SQLite, or a
server without dispatch); ``engine.jobqueue.QueuedJobWork`` defers them to ``batchops worker``s as procrastinate
tasks, whose worker runs the same ``JobSteps``. The composition root (``server.build_engine``) chooses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import Protocol

from batchops.domain.job import FailureReason, Job
from batchops.domain.status import JobStatus
from batchops.engine.clients import JobClient, StoreClients
from batchops.engine.finisher import ENDINGS, finish
from batchops.engine.jobtasks import JobTasks
from batchops.engine.loop import cancel_all, start_loop
from batchops.engine.outages import OUTAGE_WATCH_SECONDS, OutageWatch
from batchops.engine.preparer import prepare
from batchops.errors import ChunksTaken, JobNotFound, ManifestError
from batchops.logs import about_job
from batchops.s3.breaker import outage_of
from batchops.settings import Settings
from batchops.store.base import Store

log = logging.getLogger(__name__)

S = JobStatus
#: Preparing's reads broken by an outage in a row without a chunk committed, before the job fails as before.
MAX_STALLED_READS = 20
PREPARE, FINISH = "prepare", "finish"


class JobWork(Protocol):
    """Who prepares and finishes jobs, as the supervisor sees it. Each call may come again every tick."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def prepare(self, job: Job) -> None:
        """Get the Preparing job's manifest read (nothing more while that is under way)."""

    async def finish(self, job: Job) -> None:
        """Get the ending job's report written and the job ended (nothing more while that is under way)."""

    async def stop_preparing(self, job_id: str) -> None:
        """The job no longer prepares (cancelled, failed): stop reading its manifest (its checkpoint is kept)."""

    async def busy(self, job_id: str) -> bool:
        """A preparer or finisher of the job is still under way (or waits to run)."""

    def resting(self, job_id: str) -> bool:
        """The job's last work failed a moment ago: not yet."""

    def retry_now(self) -> None:
        """The store writes again: work that failed on the full disk goes on at once."""


def _nothing() -> None:
    pass


class JobSteps:
    """Preparing and finishing, with the outage watch of that work, in the process that runs them."""

    def __init__(
        self, settings: Settings, store: Store, clients: StoreClients, *, wake: Callable[[], None] = _nothing
    ) -> None:
        self._settings = settings
        self._store = store
        self._clients = clients
        self._running: dict[str, tuple[str, asyncio.Task[object]]] = {}  # job id → its step here, and its task
        self._outages = OutageWatch(
            store,
            settings.store_outage_max_seconds,
            stop_work=self.stop_preparing,
            end_without_report=self._end_without_report,
            wake=wake,
        )
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._watch = start_loop(self._outages.watch, OUTAGE_WATCH_SECONDS, self._store.rest, "outage-watch")

    async def stop(self) -> None:
        await cancel_all([self._watch] if self._watch else [])

    # --- the two steps ------------------------------------------------------------------------

    async def prepare(self, job_id: str, chunk_size: int | None = None) -> None:
        """Read the Preparing job's manifest into chunks of ``chunk_size`` rows (the supervising server's, which
        defers the step; else this process's setting), then Ready (or Suspended: confirmation required); a
        manifest that cannot be used fails the job with its reason."""
        job = await self._job_in(job_id, (S.PREPARING,), PREPARE)
        if job is None or not self._enter(job_id, PREPARE):
            return
        try:
            with about_job(job_id):
                await self._prepare(job, chunk_size or self._settings.chunk_size)
        finally:
            self._leave(job_id)

    async def finish(self, job_id: str) -> None:
        """Write the ending job's report, then end it (guarded: a job ends once); its role gone: ended without."""
        job = await self._job_in(job_id, ENDINGS, FINISH)
        if job is None or not self._enter(job_id, FINISH):
            return
        try:
            with about_job(job_id):
                await self._finish(job)
        finally:
            self._leave(job_id)

    def stop_preparing(self, job_id: str) -> None:
        step = self._running.get(job_id)
        if step is not None and step[0] == PREPARE:
            step[1].cancel()  # its checkpoint is already committed

    # --- preparing ----------------------------------------------------------------------------

    async def _prepare(self, job: Job, chunk_size: int) -> None:
        try:
            await self._read_manifest(job, chunk_size)
        except ManifestError as exc:
            failure = FailureReason(exc.code, str(exc)[:256])
            await self._store.transition(job.id, S.FAILING, str(exc)[:256], failure)
            return
        except ChunksTaken:  # a second delivery of this job's Preparing: the other one goes on
            log.info("job %s: another preparer is reading its manifest; this one stops", job.id)
            return
        fresh = await self._store.job_for_engine(job.id)
        target = S.SUSPENDED if fresh.spec.confirmation_required else S.READY
        if await self._store.transition(job.id, target, f"manifest read: {fresh.progress.total} tasks"):
            log.info("job %s: manifest read: %d tasks", job.id, fresh.progress.total, extra={"action": "prepared"})

    async def _read_manifest(self, job: Job, chunk_size: int) -> None:
        """A store outage holds Preparing (it resumes from its checkpoint once the store answers again) instead
        of failing the job; the outage watch shows why and fails the job past the bound. A read that keeps
        breaking while the store answers fails as before, after ``MAX_STALLED_READS`` tries."""
        client = await self._client(job)
        stalled, checkpoint = 0, await self._store.prepare_checkpoint(job.id)
        while True:
            try:
                await prepare(self._store, client.s3, job, chunk_size)
                return
            except ChunksTaken:
                raise
            except Exception as exc:
                outage = outage_of(exc)
                reached = await self._store.prepare_checkpoint(job.id)
                stalled, checkpoint = (stalled + 1 if reached == checkpoint else 0), reached
                if outage is None or stalled > MAX_STALLED_READS:
                    raise
                log.warning("job %s: reading the manifest waits for the store: %s", job.id, outage)
                client.breaker.note_outage(outage)  # a body read that broke midway is no answer of the store
                await client.breaker.wait_closed()

    # --- finishing ----------------------------------------------------------------------------

    async def _finish(self, job: Job) -> None:
        try:
            client = await self._client(job)
        except ManifestError as exc:  # its role is gone: end the job without a report
            await self._store.add_failure(job.id, FailureReason(exc.code, str(exc)[:256]))
            await self._store.transition(job.id, ENDINGS[job.status], f"ended without a report: {exc}"[:256])
            return
        await finish(self._store, client.s3, job)

    async def _end_without_report(self, job_id: str, failure: FailureReason) -> bool:
        """Stop writing an ending job's report to a store that does not answer, and end the job without it."""
        step = self._running.get(job_id)
        if step is None or step[0] != FINISH:
            return False
        job = await self._store.job_for_engine(job_id)
        if job.status not in ENDINGS:
            return False
        report_failure = FailureReason("ReportWriteFailed", f"the completion report was not written: {failure.reason}")
        await self._store.add_failure(job_id, FailureReason(report_failure.code, report_failure.reason[:256]))
        ended = await self._store.transition(job_id, ENDINGS[job.status], f"ended without a report: {failure.reason}")
        step[1].cancel()  # after the move: a terminal job gets no new finisher
        await asyncio.gather(step[1], return_exceptions=True)
        return ended

    # --- bookkeeping --------------------------------------------------------------------------

    async def _job_in(self, job_id: str, statuses: Collection[JobStatus], step: str) -> Job | None:
        """The job as it is now, if its status is one the step is for (a late delivery finds it moved on)."""
        try:
            job = await self._store.job_for_engine(job_id)
        except JobNotFound:
            return None  # purged since
        if job.status in statuses:
            return job
        log.info("job %s is %s: nothing to %s", job_id, job.status.value, step)
        return None

    def _enter(self, job_id: str, step: str) -> bool:
        """Mark the job's step as running in this task; False if a step of the job already runs here."""
        task = asyncio.current_task()
        if task is None or job_id in self._running:
            log.info("job %s: it has a step running here already; this %s stops", job_id, step)
            return False
        self._running[job_id] = (step, task)
        return True

    def _leave(self, job_id: str) -> None:
        self._running.pop(job_id, None)
        self._outages.forget(job_id)

    async def _client(self, job: Job) -> JobClient:
        """The S3 client for the job's RoleArn; the outage watch follows its store while the work runs."""
        client = await self._clients.for_job(job)
        self._outages.track(job, client.breaker)
        return client


class LocalJobWork:
    """The steps run in this process, one piece of work per job at a time, failed work retried after growing
    waits (``JobTasks``)."""

    def __init__(self, steps: JobSteps, *, wake: Callable[[], None]) -> None:
        self._steps = steps
        self._tasks = JobTasks(on_end=self._ended, on_done=wake)
        self._finishing: set[str] = set()

    async def start(self) -> None:
        await self._steps.start()

    async def stop(self) -> None:
        await self._steps.stop()
        await self._tasks.cancel_all()

    async def prepare(self, job: Job) -> None:
        self._tasks.spawn(job.id, self._steps.prepare(job.id))

    async def finish(self, job: Job) -> None:
        self._finishing.add(job.id)
        self._tasks.spawn(job.id, self._steps.finish(job.id))

    async def stop_preparing(self, job_id: str) -> None:
        if job_id not in self._finishing:
            self._tasks.cancel(job_id)  # a preparer (maybe not started yet): its checkpoint is already committed

    async def busy(self, job_id: str) -> bool:
        return job_id in self._tasks

    def resting(self, job_id: str) -> bool:
        return self._tasks.resting(job_id)

    def retry_now(self) -> None:
        self._tasks.retry_now()

    def _ended(self, job_id: str) -> None:
        self._finishing.discard(job_id)
