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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from batchops.domain.job import Job
from batchops.domain.task import TaskOutcome, TaskStatus
from batchops.functions import FunctionInvoker
from batchops.manifests.chunks import ChunkRow, decode
from batchops.operations.base import Operation, TaskContext
from batchops.s3.breaker import BREAKERS, outage_of
from batchops.s3.errors import to_task_error
from batchops.s3.pool import NO_ROUTES, StoreRoutes, TransferLimits
from batchops.store.sqlstore import ClaimedChunk, Store

log = logging.getLogger(__name__)

#: Called after each flush with the job's (succeeded, failed); returns True to stop the job.
ProgressCheck = Callable[[Job, int, int], Awaitable[bool]]


@dataclass
class RunnerConfig:
    owner: str
    lease_seconds: float = 60.0
    flush_interval: float = 0.1
    flush_max: int = 10_000  # outcomes that make a flush start before its interval is up


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
        # In-flight tasks: the engine's slots, shared by every job, unless the operation sets its own limit.
        self._slots = slots if operation.max_in_flight is None else asyncio.Semaphore(operation.max_in_flight)
        self._params = job.spec.operation.params
        self._fields = job.spec.manifest.fields if job.spec.manifest is not None else ()
        self._config = config
        self._on_progress = on_progress
        self._stopping = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._left_in_chunk: dict[int, int] = {}
        self._pending = _Pending()
        self._flush_now = asyncio.Event()

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
            self._flush_now.set()
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
            rows = self._rows(claim)
            log.debug("job %s: claimed chunk %d with %d tasks to run", self.job.id, claim.chunk_no, len(rows))
            if not rows:
                self._pending.finished_chunks.append(claim.chunk_no)
                continue
            self._left_in_chunk[claim.chunk_no] = len(rows)
            await self._spawn_all(claim.chunk_no, rows)

    def _rows(self, claim: ClaimedChunk) -> list[ChunkRow]:
        rows = decode(claim.data, claim.first_seq, self._fields)
        return [row for row in rows if row.seq not in claim.ended] if claim.ended else rows

    async def _spawn_all(self, chunk_no: int, rows: list[ChunkRow]) -> None:
        for row in rows:
            if row.target is None:  # a manifest row that names no object: failed, nothing to run
                self._ended(chunk_no, _malformed(row))
                continue
            if not await self._acquire_slot():
                return
            running = asyncio.create_task(self._run_task(chunk_no, row))
            self._inflight.add(running)
            running.add_done_callback(self._inflight.discard)

    async def _acquire_slot(self) -> bool:
        """A slot for one more task, or False once the runner is stopped (a pause or cancel must not wait
        for a slot that a slow request holds)."""
        if self.stopped:
            return False
        if not self._slots.locked():  # the common case: a slot is free, no race to set up
            await self._slots.acquire()
            return True
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

    async def _run_task(self, chunk_no: int, row: ChunkRow) -> None:
        try:
            outcome = await self._execute(row)
        finally:
            self._slots.release()
        self._ended(chunk_no, outcome)

    def _ended(self, chunk_no: int, outcome: TaskOutcome) -> None:
        pending = self._pending
        pending.outcomes.append(outcome)
        left = self._left_in_chunk[chunk_no] - 1
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
                message = await self._operation.run(self._ctx, self._params, target)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of one task is that task's outcome, never the job's crash
                if outage_of(exc) is not None and await BREAKERS.held_since(trips):
                    continue  # the store went down under it, not the task failed: run it again, the store is back
                error = to_task_error(exc)
                return TaskOutcome(row.seq, TaskStatus.FAILED, error.http_status, error.code, error.message, target)
            return TaskOutcome(row.seq, TaskStatus.SUCCEEDED, 200, "", message, target)

    async def _flush_loop(self, done: asyncio.Event) -> None:
        # Never cancelled mid-write: a cancelled transaction would drop the outcomes it held.
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._flush_now.wait(), self._config.flush_interval)
            self._flush_now.clear()
            await self._flush()
        await self._flush()  # outcomes that arrived while the last flush was writing

    async def _flush(self) -> None:
        pending, self._pending = self._pending, _Pending()
        if not pending.outcomes and not pending.finished_chunks:
            return
        succeeded, failed = await self._store.record_outcomes(self.job.id, pending.outcomes, pending.finished_chunks)
        if await self._on_progress(self.job, succeeded, failed):
            self.stop()


def _malformed(row: ChunkRow) -> TaskOutcome:
    return TaskOutcome(row.seq, TaskStatus.FAILED, 400, "InvalidManifestRow", row.error, None, row.raw)
