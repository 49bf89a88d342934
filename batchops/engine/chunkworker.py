"""``batchops worker``'s work: run ONE chunk of one job, as delivered by the chunk queue (procrastinate).

The chunk runs through the same ``JobRunner`` as every other worker: it claims that chunk's lease (under an owner
name of its own, so the run is fenced from any other delivery of the same chunk: a second delivery finds the lease
taken and does nothing), runs its tasks, records their outcomes idempotently per seq and gives the lease back. The
job must be Active when the chunk starts and is looked at again between batches of outcomes: a pause or cancel
stops the run (procrastinate's abort stops it sooner). A worker that dies holding the lease leaves it to expire;
the dispatcher then queues the chunk again. While a chunk's object store is down its tasks wait on the breaker;
this process's outage watch shows why on the job and, past ``store_outage_max_seconds``, fails the job and stops
its chunks here (the server's supervisor watches only its own work: Preparing and reports).

A worker frozen (SIGSTOP, a stalled VM) past its lease finds, at its next renewal, that it holds the chunk no more
(another worker took it after the lease lapsed): it stops that run at once, so no more S3 work is done for it. Until
that renewal answers, it starts no task (``RunnerConfig.lease_guard``): only those already running when it froze
go on.
Whatever it records meanwhile is harmless: outcomes count once per seq, and its status moves are compare-and-set
from Active in the store, so stale knowledge never moves a job that went on without it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from batchops.domain.job import FailureReason, Job
from batchops.domain.status import JobStatus
from batchops.engine.clients import StoreClients
from batchops.engine.loop import cancel_all, start_loop
from batchops.engine.outages import OUTAGE_WATCH_SECONDS, OutageWatch, ends_none
from batchops.engine.runner import JobRunner, RunnerConfig
from batchops.errors import JobNotFound, ManifestError
from batchops.logs import about_job
from batchops.operations.registry import get_operation
from batchops.s3.ratecap import JobRate, JobRates
from batchops.settings import Settings
from batchops.store.base import Store

log = logging.getLogger(__name__)
S = JobStatus
#: A worker moves only an Active job (compare-and-set in the store): it may have slept through later moves.
ACTIVE = frozenset({S.ACTIVE})
#: How often a running chunk looks at its job's status (at its flushes, but no more often than this).
STATUS_CHECK_SECONDS = 1.0


class ChunkWorker:
    """Runs the chunks delivered to this process, each under a lease owner of its own."""

    def __init__(self, settings: Settings, store: Store, clients: StoreClients) -> None:
        self._settings = settings
        self._store = store
        self._clients = clients
        self._slots = asyncio.Semaphore(settings.task_concurrency)
        self._lease_seconds = settings.chunk_lease_seconds
        self._runners: dict[str, JobRunner] = {}  # the runs going on now, by lease owner
        self._running: dict[str, set[JobRunner]] = {}  # job → its chunks' runners here
        self._outages = OutageWatch(
            store,
            settings.store_outage_max_seconds,
            stop_work=self._stop_job,
            end_without_report=ends_none,
            wake=_nobody,
        )
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        rest = self._store.rest
        renew_every = self._lease_seconds / 3  # two renewals may fail before the lease lapses
        self._loops = [
            start_loop(self._renew_leases, renew_every, rest, "lease-heartbeat"),
            start_loop(self._outages.watch, OUTAGE_WATCH_SECONDS, rest, "outage-watch"),
        ]

    async def stop(self) -> None:
        await cancel_all(self._loops)

    async def run_chunk(self, job_id: str, chunk_no: int) -> None:
        with about_job(job_id):
            await self._run_chunk(job_id, chunk_no)

    async def _run_chunk(self, job_id: str, chunk_no: int) -> None:
        try:
            job = await self._store.job_for_engine(job_id)
        except JobNotFound:
            return  # purged since it was queued
        if job.status != S.ACTIVE:
            log.info("job %s is %s: chunk %d not run", job_id, job.status.value, chunk_no)
            return
        owner = f"chunk-{uuid.uuid4().hex}"
        rates = self._clients.job_rates
        rate = rates.hold(job.id, job.rate.max_requests_per_second, job.rate.max_tasks_in_flight)
        try:
            runner = await self._runner(job, chunk_no, owner, rate)
            if runner is None:
                return
            self._runners[owner] = runner
            self._running.setdefault(job.id, set()).add(runner)
            try:
                await runner.run()  # procrastinate's abort cancels it here: its finally flushes and releases
            finally:
                del self._runners[owner]
                self._ended(job.id, runner)
        finally:
            rates.release(job.id)
        # Whichever run ends with no chunk left unfinished moves the job on (its last chunk may have been
        # finished by another run, e.g. one that took it over from this worker while it was frozen).
        if not await self._store.has_unfinished_chunks(job.id):
            await self._store.transition(job.id, S.COMPLETING, "every task has run", only_from=ACTIVE)

    async def _runner(self, job: Job, chunk_no: int, owner: str, rate: JobRate) -> JobRunner | None:
        operation = get_operation(job.spec.operation.name)
        try:
            client = await self._clients.for_job(job)
        except ManifestError as exc:  # its role is gone
            failure = FailureReason(exc.code, str(exc)[:256])
            await self._store.transition(job.id, S.FAILING, str(exc)[:256], failure, only_from=ACTIVE)
            return None
        self._outages.track(job, client.breaker)
        config = RunnerConfig(
            owner=owner,
            lease_seconds=self._lease_seconds,
            record_attempts=self._settings.outcome_record_attempts,
            only_chunk=chunk_no,
            lease_guard=True,  # another worker takes the chunk once its lease lapses
        )
        return JobRunner(
            job,
            self._store,
            client.s3,
            operation,
            self._slots,
            config,
            _ProgressCheck(self._store, self._clients.job_rates).check,
            functions=await self._clients.function_invoker(),
            stores=self._clients.routes,
            transfer=self._clients.transfer,
            rate=rate,
        )

    def _stop_job(self, job_id: str) -> None:
        """The job failed for its store's outage: stop its chunks running here (they record what they ran)."""
        for runner in self._running.get(job_id, ()):
            runner.stop(cut_off=True)

    def _ended(self, job_id: str, runner: JobRunner) -> None:
        runners = self._running.get(job_id, set())
        runners.discard(runner)
        if not runners:  # the job's last chunk here: its store is no longer this process's to watch
            self._running.pop(job_id, None)
            self._outages.forget(job_id)

    async def _renew_leases(self) -> None:
        for owner, runner in list(self._runners.items()):
            # Holding no lease is news only for a run with tasks left before and after asking: not one that has
            # yet to claim its chunk, nor one whose chunk was just finished (done chunks hold no lease).
            working = runner.tasks_left > 0
            asked_at = time.time()
            held = await self._store.renew_leases(owner, self._lease_seconds)
            if held:
                runner.lease_renewed(asked_at)
            if held == 0 and working and runner.tasks_left > 0 and not runner.stopped:
                log.warning(
                    "job %s: this worker lost its chunk's lease (it was frozen or cut off past %.0f s and another "
                    "worker took the chunk): its run stops",
                    runner.job.id,
                    self._lease_seconds,
                )
                runner.stop(cut_off=True)


def _nobody() -> None:
    """No supervisor in this process to wake."""


class _ProgressCheck:
    """After each flush: stop the chunk when the job is past its failure threshold or no longer Active."""

    def __init__(self, store: Store, rates: JobRates | None = None) -> None:
        self._store = store
        self._rates = rates or JobRates()
        self._looked = time.monotonic()

    async def check(self, job: Job, succeeded: int, failed: int) -> bool:
        if job.spec.failed_too_often(succeeded, failed):
            ran = succeeded + failed
            reason = (
                f"task failure rate {failed * 100 / ran:.1f}% exceeded {job.spec.threshold.percent:g}% "
                f"after {ran} tasks ({failed} failed); see the completion report for each task's error"
            )
            failure = FailureReason("TaskFailureThresholdExceeded", reason)
            return await self._store.transition(job.id, S.FAILING, reason, failure, only_from=ACTIVE)
        if time.monotonic() - self._looked < STATUS_CHECK_SECONDS:
            return False
        self._looked = time.monotonic()
        fresh = await self._store.job_for_engine(job.id)
        # The same read carries the job's caps: a change reaches this process's tasks within STATUS_CHECK_SECONDS.
        self._rates.update(job.id, fresh.rate.max_requests_per_second, fresh.rate.max_tasks_in_flight)
        return fresh.status != S.ACTIVE
