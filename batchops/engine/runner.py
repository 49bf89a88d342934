"""A worker for one Active job: claims chunks, runs their tasks concurrently, records outcomes.

Outcomes are flushed in small batches; each flush writes task rows and counters in one
transaction, so the progress is exact and live, and a crash loses only unflushed outcomes,
whose tasks are still pending and simply run again (at-least-once execution, exactly-once
accounting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from batchops.domain.job import Job
from batchops.domain.task import Task, TaskOutcome, TaskStatus
from batchops.functions import FunctionInvoker
from batchops.operations.base import Operation, TaskContext
from batchops.s3.errors import to_task_error
from batchops.s3.pool import NO_ROUTES, StoreRoutes, TransferLimits
from batchops.store.sqlstore import Store

log = logging.getLogger(__name__)

#: Called after each flush with the job's (succeeded, failed); returns True to stop the job.
ProgressCheck = Callable[[Job, int, int], Awaitable[bool]]


@dataclass
class RunnerConfig:
    owner: str
    lease_seconds: float = 60.0
    flush_interval: float = 0.1


@dataclass
class _Pending:
    outcomes: list[TaskOutcome] = field(default_factory=list)
    finished_chunks: list[int] = field(default_factory=list)


class JobRunner:
    def __init__(
        self,
        job: Job,
        store: Store,
        s3: Any,
        operation: Operation,
        slots: asyncio.Semaphore,
        config: RunnerConfig,
        on_progress: ProgressCheck,
        functions: FunctionInvoker | None = None,
        stores: StoreRoutes = NO_ROUTES,
        transfer: TransferLimits | None = None,
    ) -> None:
        self.job = job
        self._store = store
        self._ctx = TaskContext(
            s3=s3, job_id=job.id, functions=functions, stores=stores, transfer=transfer or TransferLimits()
        )
        self._operation = operation
        self._slots = slots
        self._config = config
        self._on_progress = on_progress
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._left_in_chunk: dict[int, int] = {}
        self._pending = _Pending()
        self._flushed = asyncio.Event()

    def stop(self) -> None:
        """Stop claiming and cancel running tasks; ``run`` then flushes and returns."""
        self._stopping.set()
        for task in self._inflight:
            task.cancel()

    @property
    def stopped(self) -> bool:
        return self._stopping.is_set()

    async def run(self) -> bool:
        """Run until the job has no claimable work (True) or until stopped (False)."""
        done = asyncio.Event()
        flusher = asyncio.create_task(self._flush_loop(done), name=f"flush-{self.job.id}")
        try:
            await self._claim_loop()
            await self._drain()
        finally:
            for task in self._inflight:
                task.cancel()
            await asyncio.gather(*self._inflight, return_exceptions=True)
            done.set()
            await flusher  # its last flush writes every outcome gathered so far
            # Chunks still unfinished (tasks cancelled or lost) go back to the pool for the next claim.
            await self._store.release_chunks(job_id=self.job.id, owner=self._config.owner)
        log.debug("job %s: runner ends, stopped=%s", self.job.id, self.stopped)
        return not self.stopped

    async def _claim_loop(self) -> None:
        while not self.stopped:
            claim = await self._store.claim_chunk(self.job.id, self._config.owner, self._config.lease_seconds)
            if claim is None:
                return
            chunk_no, tasks = claim
            log.debug("job %s: claimed chunk %d with %d pending tasks", self.job.id, chunk_no, len(tasks))
            if not tasks:
                self._pending.finished_chunks.append(chunk_no)
                continue
            self._left_in_chunk[chunk_no] = len(tasks)
            await self._spawn_all(chunk_no, tasks)

    async def _spawn_all(self, chunk_no: int, tasks: list[Task]) -> None:
        for task in tasks:
            if not await self._acquire_slot():
                return
            running = asyncio.create_task(self._run_task(chunk_no, task))
            self._inflight.add(running)
            running.add_done_callback(self._inflight.discard)

    async def _acquire_slot(self) -> bool:
        """A slot for one more task, or False once the runner is stopped (a pause or cancel must not wait
        for a slot that a slow request holds)."""
        acquiring = asyncio.ensure_future(self._slots.acquire())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait({acquiring, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not acquiring.done():
            acquiring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await acquiring
        if acquiring.done() and not acquiring.cancelled() and self.stopped:
            self._slots.release()
            return False
        return acquiring.done() and not acquiring.cancelled()

    async def _drain(self) -> None:
        # Until every task has ended, or the runner is stopped: then run()'s cleanup cancels the rest, whose
        # tasks stay pending (a paused job runs them later; a cancelled one never does).
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            while self._inflight and not self.stopped:
                await asyncio.wait({*self._inflight, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()

    async def _run_task(self, chunk_no: int, task: Task) -> None:
        try:
            outcome = await self._execute(task)
        finally:
            self._slots.release()
        self._pending.outcomes.append(outcome)
        self._left_in_chunk[chunk_no] -= 1
        if self._left_in_chunk[chunk_no] == 0:
            del self._left_in_chunk[chunk_no]
            self._pending.finished_chunks.append(chunk_no)

    async def _execute(self, task: Task) -> TaskOutcome:
        try:
            message = await self._operation.run(self._ctx, self.job.spec.operation.params, task.target)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of one task is that task's outcome, never the job's crash
            error = to_task_error(exc)
            return TaskOutcome(task.seq, TaskStatus.FAILED, error.http_status, error.code, error.message)
        return TaskOutcome(task.seq, TaskStatus.SUCCEEDED, 200, "", message)

    async def _flush_loop(self, done: asyncio.Event) -> None:
        # Never cancelled mid-write: a cancelled transaction would drop the outcomes it held.
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self._config.flush_interval)
            await self._flush()
        await self._flush()  # outcomes that arrived while the last flush was writing

    async def _flush(self) -> None:
        pending, self._pending = self._pending, _Pending()
        if not pending.outcomes and not pending.finished_chunks:
            return
        succeeded, failed = await self._store.record_outcomes(self.job.id, pending.outcomes, pending.finished_chunks)
        if await self._on_progress(self.job, succeeded, failed):
            self.stop()
