"""A worker for one Active job: claims chunks, runs their tasks concurrently, records outcomes.

A claimed chunk's blob is decoded into its rows (a CSV manifest's lines are parsed here; a malformed
one is a failed task at once); rows whose seq already has an outcome (the chunk ran before a crash)
are skipped. Outcomes are flushed in batches, at most every ``flush_interval`` or ``flush_max``
outcomes; each flush inserts them (a seq that has one already is ignored) and moves the counters by
the rows actually inserted, in one transaction. So the progress is exact and live, and a crash loses
only unflushed outcomes, whose tasks simply run again (at-least-once execution, exactly-once accounting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError

from batchops.domain.job import FailureReason, Job
from batchops.domain.status import TERMINAL, JobStatus
from batchops.domain.task import TaskOutcome, TaskStatus
from batchops.engine.backoff import Backoff
from batchops.engine.keylocks import StoreKeyLocks
from batchops.errors import StoreFull, TaskError
from batchops.functions import FunctionInvoker
from batchops.logs import about_job
from batchops.manifests.chunks import ChunkRow, decode
from batchops.metrics import count_tasks
from batchops.operations.base import Operation, TaskContext
from batchops.operations.keylocks import LOCAL_KEY_LOCKS
from batchops.s3.breaker import BREAKERS, outage_of
from batchops.s3.errors import to_task_error
from batchops.s3.pool import NO_ROUTES, StoreRoutes, TransferLimits
from batchops.s3.ratecap import JOB_RATE, JobRate
from batchops.s3.types import S3Client
from batchops.store.base import ClaimedChunk, Store

log = logging.getLogger(__name__)

#: Called after each flush with the job's (succeeded, failed); returns True to stop the job.
ProgressCheck = Callable[[Job, int, int], Awaitable[bool]]


@dataclass
class RunnerConfig:
    owner: str
    lease_seconds: float = 60.0
    flush_interval: float = 0.1
    flush_max: int = 10_000  # outcomes that make a flush start before its interval is up
    #: Attempts to record a batch of outcomes before the job goes Failing (``OutcomeRecordFailed``).
    record_attempts: int = 20
    #: The waits between those attempts (and between failed claims) double from ``retry_first`` to ``retry_most``.
    retry_first: float = 0.25
    retry_most: float = 30.0
    #: Run this chunk only (one delivered by the queue to ``batchops worker``), rather than claim chunk after chunk.
    only_chunk: int | None = None
    #: Other processes run this store's tasks too (``--workers N``, ``batchops worker``): key locks go through the
    #: store. False where this process runs every task (``--workers 0``): the in-process lock is enough.
    shared_key_locks: bool = True
    #: A pause or cancel lets tasks already running end for up to this long, and records them, before it cuts off
    #: the rest: a request cut off may still take effect at the store (and then runs again after a resume).
    stop_grace: float = 3.0
    #: Start no task once the chunk's lease may have lapsed (two renewals, a third of the lease each, were not
    #: heard of) until a renewal confirms it (``lease_renewed``): a worker frozen past its lease (SIGSTOP, a stalled
    #: VM) starts nothing more on waking before it learns whether another worker took the chunk. For processes
    #: whose chunks another process may take (``batchops worker``); the wall clock, which runs on through a freeze.
    lease_guard: bool = False
    clock: Callable[[], float] = time.time


@dataclass
class _Pending:
    outcomes: list[TaskOutcome] = field(default_factory=list)
    finished_chunks: list[int] = field(default_factory=list)

    def __add__(self, later: _Pending) -> _Pending:
        return _Pending(self.outcomes + later.outcomes, self.finished_chunks + later.finished_chunks)


class JobRunner:
    def __init__(
        self,
        job: Job,
        store: Store,
        s3: S3Client,
        operation: Operation,
        slots: asyncio.Semaphore,
        config: RunnerConfig,
        on_progress: ProgressCheck,
        functions: FunctionInvoker | None = None,
        stores: StoreRoutes = NO_ROUTES,
        transfer: TransferLimits | None = None,
        rate: JobRate | None = None,
    ) -> None:
        self.job = job
        # The job's rate caps in this process (shared with its other runners here); None: uncapped.
        self._rate = rate
        self._store = store
        self._ctx = TaskContext(
            s3=s3,
            job_id=job.id,
            functions=functions,
            stores=stores,
            transfer=transfer or TransferLimits(),
            key_locks=StoreKeyLocks(store, job.id) if config.shared_key_locks else LOCAL_KEY_LOCKS,
        )
        self._operation = operation
        # In-flight tasks: the engine's slots, shared by every job, unless the operation sets its own limit.
        self._slots = slots if operation.max_in_flight is None else asyncio.Semaphore(operation.max_in_flight)
        self._params = operation.decode(job.spec.operation.params)
        # A dry run checks each task instead of running it: chosen once for the job, so no task can do otherwise.
        self._act = operation.check if job.spec.dry_run else operation.run
        # An operation that acts on many objects at once gets a chunk's rows in groups (not in a dry run, which
        # checks each): no asyncio task per row.
        grouped = operation.group_size > 0 and not job.spec.dry_run
        self._groups = asyncio.Semaphore(operation.groups_in_flight) if grouped else None
        self._fields = job.spec.manifest.fields if job.spec.manifest is not None else ()
        self._config = config
        self._on_progress = on_progress
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._left_in_chunk: dict[int, int] = {}
        self._pending = _Pending()
        self._flush_now = asyncio.Event()
        # Set while outcomes get recorded: no new chunk is claimed while they cannot be (its tasks would only
        # pile up unrecorded outcomes in memory).
        self._recording = asyncio.Event()
        self._recording.set()
        self._record_retry = Backoff(config.retry_first, config.retry_most)
        self._claim_retry = Backoff(config.retry_first, config.retry_most)
        self._holding = False  # this runner set the job's hold reason
        self._lease_until = 0.0  # by this process's clock: from the claim, then each renewal heard of
        # False while no claim of this run may have taken a lease (every one answered "nothing"): then there is
        # nothing to give back, and no write for it. A claim that raised or was cancelled may have committed.
        self._may_hold_lease = False
        self._lease_heard = asyncio.Event()

    def stop(self, cut_off: bool = False) -> None:
        """Stop claiming; ``run`` then lets running tasks end (up to ``stop_grace``), flushes and returns.
        ``cut_off``: cancel them now (this run's lease is lost, or its store is out: letting them end helps none)."""
        self._stopping.set()
        if cut_off:
            for task in self._inflight:
                task.cancel()

    def lease_renewed(self, asked_at: float) -> None:
        """This run's lease was renewed by a request sent at ``asked_at`` (by ``RunnerConfig.clock``)."""
        self._lease_until = max(self._lease_until, asked_at + self._config.lease_seconds)
        self._lease_heard.set()

    async def _lease_fresh(self) -> bool:
        """Wait while the lease may have lapsed (``RunnerConfig.lease_guard``); False once the runner is stopped."""
        while self._config.clock() > self._lease_until - self._config.lease_seconds / 3 and not self.stopped:
            self._lease_heard.clear()
            await _first_of(self._lease_heard.wait(), self._stopping.wait())
        return not self.stopped

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    @property
    def tasks_left(self) -> int:
        """Tasks of its claimed chunks that have not ended yet (0 before its first claim and once all ended)."""
        return sum(self._left_in_chunk.values())

    async def run(self) -> bool:
        """Run until the job has no claimable work (True) or until stopped (False)."""
        with about_job(self.job.id):  # every line its tasks log carries the job id
            return await self._run()

    async def _run(self) -> bool:
        done = asyncio.Event()
        flusher = asyncio.create_task(self._flush_loop(done), name=f"flush-{self.job.id}")
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            await self._end_inflight()
            done.set()
            self._flush_now.set()
            # Shielded: an abort may cancel this task again while it cleans up (procrastinate repeats it); the last
            # flush goes on regardless, and a lease not given back would hold a cancelled job in Cancelling until
            # it expires.
            try:
                await asyncio.shield(flusher)  # its last flush records every outcome gathered so far
            finally:
                await asyncio.shield(self._release())
        log.debug("job %s: runner ends, stopped=%s", self.job.id, self.stopped)
        return not self.stopped

    async def _release(self) -> None:
        """Chunks still unfinished (tasks cancelled or lost) go back to the pool for the next claim; if the store
        cannot write now, their leases expire instead."""
        if not self._may_hold_lease:
            return
        try:
            await self._store.release_chunks(job_id=self.job.id, owner=self._config.owner)
        except Exception as exc:
            log.warning("job %s: leases not given back (%s); they expire by themselves", self.job.id, _cause(exc))

    async def _claim_loop(self) -> None:
        while await self._until_recording():
            try:
                asked_at = self._config.clock()
                held_before, self._may_hold_lease = self._may_hold_lease, True
                claim = await self._store.claim_chunk(
                    self.job.id, self._config.owner, self._config.lease_seconds, self._config.only_chunk
                )
            except Exception as exc:  # the store cannot write: tasks already running go on, claims wait
                await self._claim_failed(exc)
                continue
            self._claim_retry.succeeded()
            if claim is None:
                self._may_hold_lease = held_before
                return
            self._lease_until = asked_at + self._config.lease_seconds
            rows = self._rows(claim)
            log.debug("job %s: claimed chunk %d with %d tasks to run", self.job.id, claim.chunk_no, len(rows))
            if not rows:
                self._pending.finished_chunks.append(claim.chunk_no)
            else:
                self._left_in_chunk[claim.chunk_no] = len(rows)
                await self._spawn_all(claim.chunk_no, rows)
            if self._config.only_chunk is not None:
                return

    async def _until_recording(self) -> bool:
        """Wait while outcomes cannot be recorded; False once the runner is stopped."""
        if not self._recording.is_set() and not self.stopped:
            await _first_of(self._recording.wait(), self._stopping.wait())
        return not self.stopped

    async def _claim_failed(self, exc: Exception) -> None:
        wait = self._claim_retry.failed()
        log.warning(
            "job %s: claiming work failed (%s); trying again in %.2fs",
            self.job.id,
            _cause(exc),
            wait,
            exc_info=None if isinstance(exc, StoreFull) else exc,
            extra={"action": "claim_failed"},
        )
        await _first_of(self._store.rest(wait), self._stopping.wait())

    def _rows(self, claim: ClaimedChunk) -> list[ChunkRow]:
        rows = decode(claim.data, claim.first_seq, self._fields)
        return [row for row in rows if row.seq not in claim.ended] if claim.ended else rows

    async def _spawn_all(self, chunk_no: int, rows: list[ChunkRow]) -> None:
        if self._groups is not None and (self._rate is None or self._rate.tasks.size is None):
            # A cap on tasks in flight counts tasks: under one, chunks run a task per row (a cap set while
            # groups run applies from the next chunk on).
            return await self._spawn_groups(chunk_no, rows, self._groups)
        for row in rows:
            if row.target is None:  # a manifest row that names no object: failed, nothing to run
                self._ended(chunk_no, _malformed(row))
                continue
            if not await self._acquire_slot():
                return
            if self._config.lease_guard and not await self._lease_fresh():
                self._give_back_slot()
                return
            running = asyncio.create_task(self._run_task(chunk_no, row))
            self._inflight.add(running)
            running.add_done_callback(self._task_done)

    async def _spawn_groups(self, chunk_no: int, rows: list[ChunkRow], groups: asyncio.Semaphore) -> None:
        runnable = []
        for row in rows:
            if row.target is None:
                self._ended(chunk_no, _malformed(row))
            else:
                runnable.append(row)
        size = self._operation.group_size
        for start in range(0, len(runnable), size):
            if not await self._until_stopped(groups.acquire(), groups.release):
                return
            if self._config.lease_guard and not await self._lease_fresh():
                groups.release()
                return
            running = asyncio.create_task(self._run_group(chunk_no, runnable[start : start + size]))
            self._inflight.add(running)
            running.add_done_callback(self._group_done)

    def _group_done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        assert self._groups is not None
        self._groups.release()

    async def _acquire_slot(self) -> bool:
        """A slot for one more task (the job's own cap first, then the engine's), or False once the runner is
        stopped (a pause or cancel must not wait for a slot that a slow request holds)."""
        if self._rate is None:
            return await self._acquire_engine_slot()
        gate = self._rate.tasks
        if not await self._until_stopped(gate.acquire(), gate.release):
            return False
        if await self._acquire_engine_slot():
            return True
        gate.release()
        return False

    async def _until_stopped(self, acquire: Coroutine[Any, Any, object], release: Callable[[], None]) -> bool:
        """Wait for ``acquire`` unless the runner stops first; True once it acquired (and still runs)."""
        if self.stopped:
            acquire.close()
            return False
        acquiring = asyncio.ensure_future(acquire)
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not acquiring.done():
            acquiring.cancel()
            await asyncio.gather(acquiring, return_exceptions=True)  # a cancel of this task itself still raises
        got = acquiring.done() and not acquiring.cancelled()
        if got and self.stopped:
            release()
            return False
        return got

    async def _acquire_engine_slot(self) -> bool:
        if self.stopped:
            return False
        if not self._slots.locked():  # the common case: a slot is free, no race to set up
            await self._slots.acquire()
            return True
        return await self._until_stopped(self._slots.acquire(), self._slots.release)

    async def _drain(self) -> None:
        # Until every task has ended, or the runner is stopped: then run()'s cleanup gives the rest a grace period
        # and cancels those still running, whose tasks stay pending (a paused job runs them later).
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while self._inflight and not self.stopped:
                await asyncio.wait({*self._inflight, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    async def _end_inflight(self) -> None:
        try:
            if self._inflight and self.stopped:
                await asyncio.wait(set(self._inflight), timeout=self._config.stop_grace)
        finally:
            for task in self._inflight:
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        # Here, not in the task's own ``finally``: a task cancelled before it started never runs its body, and
        # the slots are the engine's, shared by every job: one lost is lost for good.
        self._inflight.discard(task)
        self._give_back_slot()

    def _give_back_slot(self) -> None:
        self._slots.release()
        if self._rate is not None:
            self._rate.tasks.release()

    async def _run_task(self, chunk_no: int, row: ChunkRow) -> None:
        if self._rate is not None:  # this task's own context: every S3 request it sends takes a token of the job's
            JOB_RATE.set(self._rate.requests)
        self._ended(chunk_no, await self._execute(row))

    async def _run_group(self, chunk_no: int, rows: list[ChunkRow]) -> None:
        if self._rate is not None:  # every S3 request of the group takes a token of the job's rate
            JOB_RATE.set(self._rate.requests)
        self._ended(chunk_no, *await self._execute_group(rows))

    def _ended(self, chunk_no: int, *outcomes: TaskOutcome) -> None:
        pending = self._pending
        pending.outcomes.extend(outcomes)
        left = self._left_in_chunk[chunk_no] - len(outcomes)
        if left:
            self._left_in_chunk[chunk_no] = left
        else:
            del self._left_in_chunk[chunk_no]
            pending.finished_chunks.append(chunk_no)
        if len(pending.outcomes) >= self._config.flush_max:
            self._flush_now.set()

    async def _execute(self, row: ChunkRow) -> TaskOutcome:
        target = row.target
        assert target is not None
        while True:
            trips = BREAKERS.trips
            try:
                message = await self._act(self._ctx, self._params, target)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of one task is that task's outcome, never the job's crash
                if outage_of(exc) is not None and await BREAKERS.held_since(trips):
                    continue  # the store went down under it, not the task failed: run it again, the store is back
                error = to_task_error(exc)
                return TaskOutcome(row.seq, TaskStatus.FAILED, error.http_status, error.code, error.message, target)
            return TaskOutcome(row.seq, TaskStatus.SUCCEEDED, 200, "", message, target)

    async def _execute_group(self, rows: list[ChunkRow]) -> list[TaskOutcome]:
        """``_execute`` for a group of rows: the operation's ``run_many`` acts on them all; those that failed for an
        outage run again once the store is back, like a single task."""
        outcomes: list[TaskOutcome] = []
        while rows:
            trips = BREAKERS.trips
            targets = [row.target for row in rows if row.target is not None]
            try:
                results = await self._operation.run_many(self._ctx, self._params, targets)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the whole group failed: so did each of its tasks
                results = [exc] * len(rows)
            if len(results) != len(rows):  # an operation's bug: its rows fail, with what went wrong, not the runner
                wrong = f"{self._operation.name} answered for {len(results)} of {len(rows)} objects; report this bug"
                results = [TaskError("InternalError", 500, wrong)] * len(rows)
            again: list[ChunkRow] = []
            for row, target, result in zip(rows, targets, results, strict=True):
                if not isinstance(result, Exception):
                    outcomes.append(TaskOutcome(row.seq, TaskStatus.SUCCEEDED, 200, "", result, target))
                elif outage_of(result) is not None and (again or await BREAKERS.held_since(trips)):
                    again.append(row)
                else:
                    error = to_task_error(result)
                    outcomes.append(
                        TaskOutcome(row.seq, TaskStatus.FAILED, error.http_status, error.code, error.message, target)
                    )
            rows = again
        return outcomes

    async def _flush_loop(self, done: asyncio.Event) -> None:
        # Never cancelled mid-write: a cancelled transaction would drop the outcomes it held.
        while True:
            ending = done.is_set()  # then this flush is the last one, unless it could not record
            wait = await self._flush()
            if wait is not None:  # not recorded: kept, and tried again after this wait
                await self._store.rest(wait)
                continue
            if ending:
                return
            with contextlib.suppress(TimeoutError):  # not wait_for: on 3.11 it can swallow this task's cancel
                async with asyncio.timeout(self._config.flush_interval):
                    await self._flush_now.wait()
            self._flush_now.clear()

    async def _flush(self) -> float | None:
        """Record the pending outcomes; None once they are recorded (or the job was failed for it), else the wait
        before the next attempt. Outcomes that could not be recorded are kept: their chunks are never given back
        for their tasks to run again because the bookkeeping failed."""
        pending, self._pending = self._pending, _Pending()
        if not pending.outcomes and not pending.finished_chunks:
            return None
        try:
            succeeded, failed = await self._store.record_outcomes(
                self.job.id, pending.outcomes, pending.finished_chunks
            )
        except Exception as exc:
            self._pending = pending + self._pending
            return await self._record_failed(exc)
        self._count(pending.outcomes)
        await self._recorded()
        await self._check_progress(succeeded, failed)
        return None

    async def _recorded(self) -> None:
        if self._record_retry.failures:
            log.info("job %s: outcomes recorded again", self.job.id, extra={"action": "outcomes_recorded"})
        self._record_retry.succeeded()
        self._recording.set()
        if self._holding:
            with contextlib.suppress(Exception):  # best effort: the reason is only informative
                await self._store.set_hold_reason(self.job.id, None)
                self._holding = False

    async def _check_progress(self, succeeded: int, failed: int) -> None:
        try:
            stop = await self._on_progress(self.job, succeeded, failed)
        except Exception as exc:  # the threshold is checked again after the next flush
            log.warning("job %s: failure threshold not checked: %s", self.job.id, _cause(exc))
            return
        if stop:
            self.stop()

    async def _record_failed(self, exc: Exception) -> float | None:
        self._recording.clear()
        wait = self._record_retry.failed()
        attempt, cause = self._record_retry.failures, _cause(exc)
        log.warning(
            "job %s: recording %d task outcomes failed (attempt %d of %d): %s",
            self.job.id,
            len(self._pending.outcomes),
            attempt,
            self._config.record_attempts,
            cause,
            exc_info=exc if attempt == 1 and not isinstance(exc, StoreFull) else None,
            extra={"action": "record_failed"},
        )
        if attempt >= self._config.record_attempts and await self._give_up(cause):
            return None
        await self._hold(f"task outcomes cannot be recorded ({cause}); retrying, the job fails if this lasts")
        return wait

    async def _hold(self, reason: str) -> None:
        with contextlib.suppress(Exception):  # best effort: a full disk cannot take this write either
            await self._store.set_hold_reason(self.job.id, reason[:256])
            self._holding = True

    async def _give_up(self, cause: str) -> bool:
        """Fail the job for it; True once the job can never run these tasks again (so the outcomes may go)."""
        attempts = self._record_retry.failures
        reason = f"task outcomes could not be recorded after {attempts} attempts: {cause}"[:256]
        try:
            moved = await self._store.transition(
                self.job.id, JobStatus.FAILING, reason, FailureReason("OutcomeRecordFailed", reason)
            )
            status = (await self._store.job_for_engine(self.job.id)).status
        except Exception as failing:  # the store cannot take that either: keep the outcomes, try again later
            log.warning("job %s: cannot be failed yet: %s", self.job.id, _cause(failing))
            return False
        if not moved and status not in _NEVER_RUNS_AGAIN:
            return False  # e.g. Pausing: it may run again, so its outcomes must be recorded first
        log.error("job %s: %s; the job fails", self.job.id, reason, extra={"action": "record_gave_up"})
        await self._record_last_time()
        self.stop()
        return True

    async def _record_last_time(self) -> None:
        """The failed job's report should list the tasks that ran: one more try, now that the store wrote."""
        pending, self._pending = self._pending, _Pending()
        try:
            await self._store.record_outcomes(self.job.id, pending.outcomes, pending.finished_chunks)
        except Exception as exc:
            log.warning(
                "job %s: %d task outcomes left out of its report: %s", self.job.id, len(pending.outcomes), _cause(exc)
            )
            return
        self._count(pending.outcomes)

    def _count(self, outcomes: list[TaskOutcome]) -> None:
        """batchops_tasks_total: once per outcome recorded (a batch that could not be recorded is counted when it
        is). A chunk run again skips its recorded rows; only a second runner of a chunk whose lease lapsed
        could count a task twice, where the store's counters ignore the second outcome."""
        operation = self.job.spec.operation.name
        tally = Counter((outcome.status, outcome.error_code) for outcome in outcomes)
        for (status, code), n in tally.items():
            count_tasks(operation, status.name.lower(), code, n)


#: A job in these statuses never runs a task again, so outcomes it could not record may be dropped.
_NEVER_RUNS_AGAIN = frozenset({JobStatus.FAILING, JobStatus.CANCELLING, *TERMINAL})


def _cause(exc: BaseException) -> str:
    """What went wrong, in one line: the database's own message, never the statement and its parameters."""
    if isinstance(exc, StoreFull):
        return exc.cause
    if isinstance(exc, DBAPIError):
        return str(exc.orig)[:200]
    return f"{type(exc).__name__}: {exc}"[:200]


async def _first_of(*waits: Coroutine[Any, Any, Any]) -> None:
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _malformed(row: ChunkRow) -> TaskOutcome:
    return TaskOutcome(row.seq, TaskStatus.FAILED, 400, "InvalidManifestRow", row.error, None, row.raw)
