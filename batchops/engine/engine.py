"""The supervisor: one loop that drives every job from New to its end.

Each tick it reads the jobs' statuses from the store and acts: starts Preparing, applies the
scheduler's decisions, runs workers for Active jobs, drains Pausing and Cancelling ones and
finishes the ending ones. All state is in the store, so a restart (even after kill -9) picks
up where the last process stopped.

Roles (``EngineRole``): ``all`` (``workers = 0``) does everything in the server process. With worker
processes the server's engine is the ``supervisor`` (it runs no task: an ending job is drained once no
worker holds a live lease on its chunks) and each worker process runs a ``worker`` engine, whose tick
only starts a JobRunner for every Active job and stops those whose job is no longer Active
(``engine/worker.py``). The failure threshold and the move to Completing are decided by whichever
process flushed the outcomes, through the store's guarded transitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Coroutine
from contextlib import AsyncExitStack
from typing import Any, Literal

from batchops.domain.job import FailureReason, Job
from batchops.domain.status import JobStatus
from batchops.engine import scheduler
from batchops.engine.backoff import Backoff
from batchops.engine.finisher import ENDINGS, finish
from batchops.engine.preparer import prepare
from batchops.engine.runner import JobRunner, RunnerConfig
from batchops.engine.worker import WorkerPool
from batchops.errors import ManifestError, StoreFull
from batchops.functions import FunctionInvoker
from batchops.operations.registry import get_operation
from batchops.s3.breaker import BREAKERS, HOLD_PREFIX, CircuitBreaker, outage_of, policy_for
from batchops.s3.client import StoreCredentials, open_client
from batchops.s3.pool import StoreRoutes, TransferLimits
from batchops.s3.resolver import credentials_for
from batchops.settings import Settings
from batchops.store.base import Store

log = logging.getLogger(__name__)

S = JobStatus
EngineRole = Literal["all", "supervisor", "worker"]
#: A worker that found nothing to claim in an Active job (other workers hold the rest) looks again after this.
IDLE_BACKOFF_SECONDS = 1.0
#: Failed steps and failed work on a job are retried after waits that double up to this.
STEP_RETRY_MOST_SECONDS = 30.0
#: How often the server looks at whether its store can write, and after how long without a write it probes one.
STORE_PROBE_SECONDS = 1.0
STORE_QUIET_SECONDS = 5.0
#: How often the jobs with work here are checked for a store outage (hold reason shown, bound applied).
OUTAGE_WATCH_SECONDS = 0.5
#: Preparing's reads broken by an outage in a row without a chunk committed, before the job fails as before.
MAX_STALLED_READS = 20
#: The statuses a store outage holds (and, past the bound, fails): the ones whose work reads or acts on objects.
_HOLDABLE = frozenset({S.PREPARING, S.ACTIVE})
_WATCHED = (S.NEW, S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED, S.COMPLETING, S.CANCELLING, S.FAILING)


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        tick_seconds: float = 0.25,
        *,
        role: EngineRole | None = None,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.role: EngineRole = role or ("supervisor" if settings.workers else "all")
        self.owner = owner or f"worker-{uuid.uuid4()}"
        self._workers: WorkerPool | None = None
        self._idle_until: dict[str, float] = {}  # job id → when to try its work again
        self._retries: dict[str, Backoff] = {}  # job id → waits after its work failed
        self._tick_seconds = tick_seconds
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.task_concurrency)
        self._clients: dict[StoreCredentials, Any] = {}
        self._breakers: dict[StoreCredentials, CircuitBreaker] = {}  # one per store client
        self._job_breakers: dict[str, CircuitBreaker] = {}  # job with work here → its store's breaker
        self._hold_shown: dict[str, str] = {}  # job → the hold reason this process last wrote
        self._stack = AsyncExitStack()
        self._work: dict[str, asyncio.Task[Any]] = {}  # job id → its preparer, runner or finisher
        self._finishing: set[str] = set()
        self._runners: dict[str, JobRunner] = {}
        self._side_tasks: list[asyncio.Task[None]] = []
        self._functions: FunctionInvoker | None = None
        # Buckets on other stores (copy targets, replicas) and the copy limits every job shares.
        self._routes = StoreRoutes(settings.targets, settings.replicas, self._open_client)
        self._transfer = TransferLimits.from_settings(settings)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self.role == "worker":
            await self._start_worker()
            return
        # This process (with the workers it starts) is the only one on its store: leases held by a
        # previous (killed) run are void.
        await self.store.release_chunks()
        self._side_tasks = [
            asyncio.create_task(self._loop(self.tick, self._tick_seconds, wakeable=True), name="engine-tick"),
            asyncio.create_task(self._loop(self._purge, 3600.0), name="purge-expired"),
            asyncio.create_task(self._loop(self._watch_store, STORE_PROBE_SECONDS), name="store-watch"),
            asyncio.create_task(self._loop(self._watch_outages, OUTAGE_WATCH_SECONDS), name="outage-watch"),
        ]
        if self.role == "all":  # a supervisor runs no task, so it holds no lease to renew
            self._side_tasks.append(asyncio.create_task(self._loop(self._renew_leases, 20.0), name="lease-heartbeat"))
        else:
            self._workers = WorkerPool(self.settings, self.store)
            self._workers.start()
            self._side_tasks.append(asyncio.create_task(self._loop(self._workers.supervise, 1.0), name="workers"))

    async def _start_worker(self) -> None:
        self._side_tasks = [
            asyncio.create_task(self._loop(self._worker_tick, self._tick_seconds), name="worker-tick"),
            asyncio.create_task(self._loop(self._renew_leases, 20.0), name="lease-heartbeat"),
            asyncio.create_task(self._loop(self._watch_outages, OUTAGE_WATCH_SECONDS), name="outage-watch"),
        ]

    async def stop(self) -> None:
        for runner in self._runners.values():
            runner.stop()
        running = [self._work[job_id] for job_id in self._runners if job_id in self._work]
        if running:  # stopped runners flush their last outcomes and give their leases back
            await asyncio.wait(running, timeout=5.0)
        for task in [*self._side_tasks, *self._work.values()]:
            task.cancel()
        await asyncio.gather(*self._side_tasks, *self._work.values(), return_exceptions=True)
        if self._workers is not None:
            await self._workers.stop()
        await self._stack.aclose()

    def wake(self) -> None:
        """Ask for a tick now (after an API call changed a job)."""
        self._wake.set()

    async def _loop(self, step: Any, every: float, wakeable: bool = False) -> None:
        retry = Backoff(every, STEP_RETRY_MOST_SECONDS)
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failed step is logged and retried, later each time; the engine goes on
                wait = retry.failed()
                name = step.__name__
                _log_failure(exc, "engine step %s failed (%d in a row; next in %.1fs)", name, retry.failures, wait)
                await self.store.rest(wait)
                continue
            retry.succeeded()
            if wakeable:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), every)
                self._wake.clear()
            else:
                await asyncio.sleep(every)

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
        if self._idle_until.get(job.id, 0.0) > time.monotonic():
            return  # its last work failed (or found nothing to claim): not yet
        if job.status is S.NEW:
            if await self.store.transition(job.id, S.PREPARING, "reading the manifest"):
                self._spawn(job.id, self._prepare(job))
        elif job.status is S.PREPARING:
            self._spawn(job.id, self._prepare(job))
        elif job.status is S.ACTIVE:
            if self.role == "all":  # else worker processes run it
                self._spawn(job.id, self._run(job))
        elif job.status in (S.PAUSING, S.CANCELLING, S.FAILING, S.COMPLETING):
            self._stop_work(job.id)
            if job.id not in self._work and not await self._leased_by_a_worker(job):
                await self._after_drain(job)

    async def _leased_by_a_worker(self, job: Job) -> bool:
        """Supervisor: a worker process still runs some of the job's tasks (it gives its leases back when it
        stops; a dead worker's are given back by the WorkerPool, or expire)."""
        return self.role == "supervisor" and await self.store.has_live_lease(job.id)

    async def _worker_tick(self) -> None:
        """Worker: run every Active job (claiming chunks other workers have not), stop the rest."""
        jobs = await self.store.jobs_in((S.ACTIVE,))
        active = {job.id for job in jobs}
        for job_id in list(self._runners):
            if job_id not in active:
                self._stop_work(job_id)
        now = time.monotonic()
        for job in jobs:
            if self._idle_until.get(job.id, 0.0) <= now:
                self._spawn(job.id, self._run(job))

    async def _after_drain(self, job: Job) -> None:
        if job.status is S.PAUSING:
            await self.store.transition(job.id, S.PAUSED, "paused: a higher-priority job is running")
        else:
            self._finishing.add(job.id)
            self._spawn(job.id, self._finish(job))

    def _spawn(self, job_id: str, work: Coroutine[Any, Any, None]) -> None:
        if job_id in self._work:
            work.close()
            return
        log.debug("job %s: start %s", job_id, work.cr_code.co_name)  # type: ignore[attr-defined]
        task = asyncio.create_task(work, name=f"job-{job_id}")
        self._work[job_id] = task
        task.add_done_callback(lambda _t: self._work_done(job_id))

    def _work_done(self, job_id: str) -> None:
        task = self._work.pop(job_id, None)
        self._runners.pop(job_id, None)
        self._job_breakers.pop(job_id, None)
        self._finishing.discard(job_id)
        error = task.exception() if task is not None and not task.cancelled() else None
        if error is not None:  # the job's work is tried again after a wait that grows while it keeps failing
            retry = self._retries.setdefault(job_id, Backoff(IDLE_BACKOFF_SECONDS, STEP_RETRY_MOST_SECONDS))
            wait = retry.failed()
            _log_failure(error, "work on job %s failed (%d in a row; next in %.1fs)", job_id, retry.failures, wait)
            self._idle_until[job_id] = time.monotonic() + wait
        else:
            self._retries.pop(job_id, None)
        self.wake()

    def _stop_work(self, job_id: str) -> None:
        runner = self._runners.get(job_id)
        if runner is not None:
            runner.stop()
        elif job_id in self._work and job_id not in self._finishing:
            self._work[job_id].cancel()  # a preparer: its checkpoint is already committed

    # --- the work itself --------------------------------------------------------------------

    async def _prepare(self, job: Job) -> None:
        try:
            await self._read_manifest(job)
        except ManifestError as exc:
            failure = FailureReason(exc.code, str(exc)[:256])
            await self.store.transition(job.id, S.FAILING, str(exc)[:256], failure)
            return
        fresh = await self.store.get_job(None, job.id)
        target = S.SUSPENDED if fresh.spec.confirmation_required else S.READY
        await self.store.transition(job.id, target, f"manifest read: {fresh.progress.total} tasks")

    async def _read_manifest(self, job: Job) -> None:
        """Preparing; a store outage holds it (it resumes from its checkpoint once the store answers again)
        instead of failing the job; ``_watch_outages`` shows why and fails the job past the bound. A read that
        keeps breaking while the store answers fails as before, after ``MAX_STALLED_READS`` tries."""
        s3 = await self._client(job)
        breaker = self._job_breakers[job.id]
        stalled, checkpoint = 0, await self.store.prepare_checkpoint(job.id)
        while True:
            try:
                await prepare(self.store, s3, job, self.settings.chunk_size)
                return
            except Exception as exc:
                outage = outage_of(exc)
                reached = await self.store.prepare_checkpoint(job.id)
                stalled, checkpoint = (stalled + 1 if reached == checkpoint else 0), reached
                if outage is None or stalled > MAX_STALLED_READS:
                    raise
                log.warning("job %s: reading the manifest waits for the store: %s", job.id, outage)
                breaker.note_outage(outage)  # a body read that broke midway is no answer of the store
                await breaker.wait_closed()

    async def _run(self, job: Job) -> None:
        operation = get_operation(job.spec.operation.name)
        try:
            s3 = await self._client(job)
        except ManifestError as exc:  # its role is gone
            await self.store.transition(job.id, S.FAILING, str(exc)[:256], FailureReason(exc.code, str(exc)[:256]))
            return
        runner = JobRunner(
            job,
            self.store,
            s3,
            operation,
            self._slots,
            RunnerConfig(owner=self.owner, record_attempts=self.settings.outcome_record_attempts),
            self._check_threshold,
            functions=await self._function_invoker(),
            stores=self._routes,
            transfer=self._transfer,
        )
        self._runners[job.id] = runner
        drained = await runner.run()
        if drained and not await self.store.has_unfinished_chunks(job.id):
            await self.store.transition(job.id, S.COMPLETING, "every task has run")
        elif drained:  # other workers hold the job's remaining chunks
            self._idle_until[job.id] = time.monotonic() + IDLE_BACKOFF_SECONDS

    async def _check_threshold(self, job: Job, succeeded: int, failed: int) -> bool:
        if not job.spec.threshold.exceeded(succeeded, failed):
            return False
        ran = succeeded + failed
        reason = (
            f"task failure rate {failed * 100 / ran:.1f}% exceeded {job.spec.threshold.percent:g}% "
            f"after {ran} tasks ({failed} failed); see the completion report for each task's error"
        )
        failure = FailureReason("TaskFailureThresholdExceeded", reason)
        return await self.store.transition(job.id, S.FAILING, reason, failure)

    async def _finish(self, job: Job) -> None:
        if job.status not in ENDINGS:
            return
        try:
            s3 = await self._client(job)
        except ManifestError as exc:  # its role is gone: end the job without a report
            await self.store.add_failure(job.id, FailureReason(exc.code, str(exc)[:256]))
            await self.store.transition(job.id, ENDINGS[job.status], f"ended without a report: {exc}"[:256])
            return
        await finish(self.store, s3, job)

    async def _client(self, job: Job) -> Any:
        """The S3 client for the job's RoleArn: one per (endpoint, region, keys), shared by its jobs."""
        creds = credentials_for(self.settings, job.account_id, job.spec.role_arn)
        if creds not in self._clients:
            self._clients[creds] = await self._open_client(creds)
        self._job_breakers[job.id] = self._breakers[creds]
        if job.hold_reason and job.hold_reason.startswith(HOLD_PREFIX):
            self._hold_shown.setdefault(job.id, job.hold_reason)  # left by a process that stopped: cleared if not held
        return self._clients[creds]

    async def _function_invoker(self) -> FunctionInvoker:
        """One invoker (one HTTP session) for every LambdaInvoke job, closed with the engine."""
        if self._functions is None:
            self._functions = await self._stack.enter_async_context(FunctionInvoker(self.settings.functions))
        return self._functions

    async def _open_client(self, creds: StoreCredentials) -> Any:
        """A new S3 client (closed with the engine): for a role's store, or a target/replica store's."""
        policy = policy_for(self.settings.s3_max_attempts, self.settings.s3_timeout_seconds)
        self._breakers[creds] = breaker = BREAKERS.new(creds.endpoint_url or f"s3.{creds.region}.amazonaws.com", policy)
        return await open_client(
            self._stack,
            creds,
            max_connections=self.settings.task_concurrency,
            max_attempts=self.settings.s3_max_attempts,
            timeout=self.settings.s3_timeout_seconds,
            kind=self.settings.s3_client,
            breaker=breaker,
        )

    async def _watch_store(self) -> None:
        """Notice a full disk even when nothing else writes (and when space returns): a one-page write while the
        store is faulted, or has been quiet a while. /healthz, CreateJob and the job views read the outcome."""
        faulted = self.store.write_fault is not None
        quiet = time.monotonic() - self.store.last_write_ok > STORE_QUIET_SECONDS
        if (faulted or quiet) and await self.store.probe_write() and faulted:
            log.info("the store can write again", extra={"action": "disk_space_back"})
            self._idle_until.clear()  # jobs whose work failed on the full disk go on now
            self.wake()

    # --- store outages ----------------------------------------------------------------------

    async def _watch_outages(self) -> None:
        """Show why a job holds while its store is down (cleared when it answers again); past
        ``store_outage_max_seconds`` the job fails with StoreUnavailable."""
        for job_id, breaker in list(self._job_breakers.items()):
            if not breaker.is_open:
                continue
            if breaker.down_for() >= self.settings.store_outage_max_seconds and await self._give_up(job_id, breaker):
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
        await self.store.set_hold_reason(job_id, reason)
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
        moved = await self.store.transition(job_id, S.FAILING, reason, failure, only_from=_HOLDABLE)
        if moved:
            self._stop_work(job_id)
        else:
            moved = await self._end_without_report(job_id, failure)
        if moved:
            log.error("job %s: %s", job_id, reason, extra={"action": "store_unavailable"})
            self._job_breakers.pop(job_id, None)
            await self._show_hold(job_id, None)
            self.wake()
        return moved

    async def _end_without_report(self, job_id: str, failure: FailureReason) -> bool:
        """Stop writing an ending job's report to a store that does not answer, and end the job without it."""
        work = self._work.get(job_id)
        if work is None or job_id not in self._finishing:
            return False
        job = await self.store.get_job(None, job_id)
        if job.status not in ENDINGS:
            return False
        report_failure = FailureReason("ReportWriteFailed", f"the completion report was not written: {failure.reason}")
        await self.store.add_failure(job_id, FailureReason(report_failure.code, report_failure.reason[:256]))
        ended = await self.store.transition(job_id, ENDINGS[job.status], f"ended without a report: {failure.reason}")
        work.cancel()  # after the move: a terminal job gets no new finisher
        await asyncio.gather(work, return_exceptions=True)
        return ended

    async def _renew_leases(self) -> None:
        await self.store.renew_leases(self.owner, 60.0)

    async def _purge(self) -> None:
        purged = await self.store.purge_ended_before(time.time() - self.settings.retention_days * 86400)
        if purged:
            log.info("purged %d jobs that ended over %d days ago", purged, self.settings.retention_days)


def _log_failure(exc: BaseException, message: str, *args: Any) -> None:
    """A full disk is one line (it is expected, and says what to do); anything else keeps its traceback."""
    if isinstance(exc, StoreFull):
        log.warning(message + ": %s", *args, exc.cause, extra={"action": "disk_full"})
    else:
        log.error(message, *args, exc_info=exc, extra={"action": "engine_step_failed"})
