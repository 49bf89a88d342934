"""A worker: runs the tasks of Active jobs.

For each Active job it is asked to run (by the supervisor in this process, or by its own look at the store every
``POLL_SECONDS`` in a worker process) it starts a ``JobRunner``, which claims chunks under leases in the worker's
name, runs their tasks and records the outcomes; the leases are renewed every 20 s. A job that is no longer
Active has its runner stopped, which flushes and gives the leases back. A job whose work has no more chunks to
claim moves to Completing; one past its failure threshold, to Failing. Its own outage watch holds (and past the
bound fails) the jobs it runs while their store is down.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from functools import partial

from batchops.domain.job import FailureReason, Job
from batchops.domain.status import JobStatus
from batchops.engine.clients import StoreClients
from batchops.engine.jobtasks import IDLE_BACKOFF_SECONDS, JobTasks
from batchops.engine.loop import cancel_all, start_loop
from batchops.engine.outages import OUTAGE_WATCH_SECONDS, OutageWatch, ends_none
from batchops.engine.runner import JobRunner, RunnerConfig
from batchops.errors import ManifestError
from batchops.operations.base import Operation
from batchops.operations.registry import get_operation
from batchops.s3.ratecap import JobRate
from batchops.s3.types import S3Client
from batchops.settings import Settings
from batchops.store.base import Store

S = JobStatus
#: How often a worker process looks for Active jobs (one in the server's process is told by the supervisor).
POLL_SECONDS = 0.25
LEASE_SECONDS = 60.0
LEASE_RENEW_SECONDS = 20.0
#: How long stopping waits for the runners to record their last outcomes and give their leases back.
_STOP_SECONDS = 5.0


def _nobody() -> None:
    """No supervisor in this process to wake."""


class Worker:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        clients: StoreClients,
        *,
        owner: str | None = None,
        wake: Callable[[], None] = _nobody,
        alone: bool = False,
    ) -> None:
        self.settings = settings
        self.store = store
        self.owner = owner or f"worker-{uuid.uuid4()}"
        self._clients = clients
        self._slots = asyncio.Semaphore(settings.task_concurrency)
        # The only process running this store's tasks (the server's own worker): its key locks need no store.
        self._alone = alone
        self._runners: dict[str, JobRunner] = {}
        # ``wake`` asks the supervisor in this process for a tick: a job's work here ended, so it can move on.
        self._work = JobTasks(on_end=self._work_ended, on_done=wake)
        self._outages = OutageWatch(
            store,
            settings.store_outage_max_seconds,
            stop_work=partial(self.drain, cut_off=True),
            end_without_report=ends_none,
            wake=wake,
        )
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        rest = self.store.rest
        self._loops = [
            start_loop(self._renew_leases, LEASE_RENEW_SECONDS, rest, "lease-heartbeat"),
            start_loop(self._outages.watch, OUTAGE_WATCH_SECONDS, rest, "outage-watch"),
        ]

    async def stop(self) -> None:
        for runner in self._runners.values():
            runner.stop()
        running = self._work.of(self._runners)
        if running:  # stopped runners flush their last outcomes and give their leases back
            await asyncio.wait(running, timeout=_STOP_SECONDS)
        await cancel_all(self._loops)
        await self._work.cancel_all()

    async def poll(self) -> None:
        """A worker process's look at the store: run every Active job (claiming chunks other workers have not),
        stop the rest."""
        jobs = await self.store.jobs_in((S.ACTIVE,))
        active = {job.id for job in jobs}
        for job_id in list(self._runners):
            if job_id not in active:
                self.drain(job_id)
        for job in jobs:
            self.run(job)

    # --- what the supervisor asks -------------------------------------------------------------

    def run(self, job: Job) -> None:
        # ``job`` was just read (the supervisor's tick, this worker's poll): a change of its caps reaches its tasks.
        self._clients.job_rates.update(job.id, job.rate.max_requests_per_second, job.rate.max_tasks_in_flight)
        if not self._work.resting(job.id):
            self._work.spawn(job.id, self._run(job))

    def drain(self, job_id: str, cut_off: bool = False) -> None:
        runner = self._runners.get(job_id)
        if runner is not None:
            runner.stop(cut_off)
        else:
            self._work.cancel(job_id)  # not claiming yet: it was opening the job's client

    async def busy_with(self, job: Job) -> bool:
        return job.id in self._work

    def retry_now(self) -> None:
        self._work.retry_now()

    # --- the work itself --------------------------------------------------------------------

    async def _run(self, job: Job) -> None:
        operation = get_operation(job.spec.operation.name)
        try:
            client = await self._clients.for_job(job)
        except ManifestError as exc:  # its role is gone
            await self.store.transition(job.id, S.FAILING, str(exc)[:256], FailureReason(exc.code, str(exc)[:256]))
            return
        self._outages.track(job, client.breaker)
        rate = self._clients.job_rates.hold(job.id, job.rate.max_requests_per_second, job.rate.max_tasks_in_flight)
        try:
            await self._run_capped(job, operation, client.s3, rate)
        finally:
            self._clients.job_rates.release(job.id)

    async def _run_capped(self, job: Job, operation: Operation, s3: S3Client, rate: JobRate) -> None:
        runner = JobRunner(
            job,
            self.store,
            s3,
            operation,
            self._slots,
            RunnerConfig(
                owner=self.owner,
                record_attempts=self.settings.outcome_record_attempts,
                shared_key_locks=not self._alone,
            ),
            self._check_threshold,
            functions=await self._clients.function_invoker(),
            stores=self._clients.routes,
            transfer=self._clients.transfer,
            rate=rate,
        )
        self._runners[job.id] = runner
        drained = await runner.run()
        if drained and not await self.store.has_unfinished_chunks(job.id):
            await self.store.transition(job.id, S.COMPLETING, "every task has run")
        elif drained:  # other workers hold the job's remaining chunks
            self._work.rest(job.id, IDLE_BACKOFF_SECONDS)

    async def _check_threshold(self, job: Job, succeeded: int, failed: int) -> bool:
        if not job.spec.failed_too_often(succeeded, failed):
            return False
        ran = succeeded + failed
        reason = (
            f"task failure rate {failed * 100 / ran:.1f}% exceeded {job.spec.threshold.percent:g}% "
            f"after {ran} tasks ({failed} failed); see the completion report for each task's error"
        )
        failure = FailureReason("TaskFailureThresholdExceeded", reason)
        return await self.store.transition(job.id, S.FAILING, reason, failure)

    def _work_ended(self, job_id: str) -> None:
        self._runners.pop(job_id, None)
        self._outages.forget(job_id)

    async def _renew_leases(self) -> None:
        await self.store.renew_leases(self.owner, LEASE_SECONDS)
