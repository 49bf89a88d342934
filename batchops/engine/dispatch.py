"""The server's workforce in the scaled-out mode: it dispatches chunks to ``batchops worker`` processes through
procrastinate's queue (``--dispatch procrastinate``, PostgreSQL only).

A bounded dispatch window: at most ``window`` chunk jobs queued or running cluster-wide, at most ``per_job`` of
them for one job, filled from the Active jobs in priority order (then oldest first). The queue therefore stays
shallow, so a new job of higher priority is served within about one chunk's run, whatever the queue's own order.
The queue row is the chunk's only dispatch mark (no second one to keep in step in our tables): a chunk is
dispatched while a chunk job for it is queued or running, and ``queueing_lock`` keeps it from being queued twice.
A chunk whose run ended without finishing it (its worker stopped or died) is free again once its lease is given
back or expires, and is queued again at the next look.

Draining a job cancels its queued chunk jobs and aborts its running ones (``asyncio.CancelledError`` in the
worker, whose runner then records its outcomes and gives the lease back); the worker also looks at the job's
status between batches. A worker killed with kill -9 (or frozen) leaves its chunk jobs "doing": every
``STALL_CHECK_SECONDS`` (or sooner) the jobs of workers silent for ``stall_seconds`` (``worker_stall_seconds``) are
put back in the queue (procrastinate's stalled-job retry), their chunks' leases given back, so they run again
without waiting for the dead worker's leases to expire.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable

from procrastinate import App, exceptions, jobs

from batchops.domain.job import Job
from batchops.domain.status import JobStatus
from batchops.engine.loop import Wakeup, cancel_all, start_loop
from batchops.engine.queue import QUEUE, QUEUES, RUN_CHUNK, chunk_lock
from batchops.store.base import Store

log = logging.getLogger(__name__)

#: How often the window is refilled: it bounds one job's rate at ``per_job * chunk size / this`` (80,000 tasks/s with
#: the defaults); a step is three small queries.
DISPATCH_SECONDS = 0.2
STALL_CHECK_SECONDS = 5.0
_IN_FLIGHT = ("todo", "doing")


class ProcrastinateWorkforce:
    """Who runs the tasks when ``batchops worker`` processes do: the supervisor's ``Workforce``."""

    def __init__(self, store: Store, app: App, *, window: int, per_job: int, stall_seconds: float) -> None:
        """``window``: chunk jobs queued or running at once, cluster-wide; ``per_job``: of them for one job
        (settings ``dispatch_window``, ``dispatch_per_job``); ``stall_seconds``: a worker silent this long is dead
        (``worker_stall_seconds``)."""
        self._store = store
        self._stall_seconds = stall_seconds
        self._app = app  # ``queue_app`` on the job store's PostgreSQL (tests: an InMemoryConnector's)
        self._window = window
        self._per_job = per_job
        self._wakeup = Wakeup()
        self._loops: list[asyncio.Task[None]] = []
        self._drains: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        await self._app.open_async()
        rest = self._store.rest
        self._loops = [
            start_loop(self.dispatch, DISPATCH_SECONDS, rest, "dispatch", self._wakeup),
            start_loop(self.retry_stalled, min(STALL_CHECK_SECONDS, self._stall_seconds / 2), rest, "retry-stalled"),
        ]

    async def stop(self) -> None:
        await cancel_all(self._loops + list(self._drains))
        await self._app.close_async()

    # --- what the supervisor asks ---------------------------------------------------------------

    def run(self, job: Job) -> None:
        self._wakeup()  # the dispatch step looks at every Active job itself

    def drain(self, job_id: str) -> None:
        task = asyncio.create_task(self.cancel_chunks(job_id), name=f"drain-{job_id}")
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def busy_with(self, job: Job) -> bool:
        """A worker still holds a live lease on one of the job's chunks (given back when its run stops; a dead
        worker's expires)."""
        return await self._store.has_live_lease(job.id)

    def retry_now(self) -> None:
        self._wakeup()

    # --- the steps ------------------------------------------------------------------------------

    async def dispatch(self) -> None:
        """Fill the window: queue free chunks of the Active jobs, highest priority first."""
        queued = await self._in_flight()
        room = self._window - sum(len(chunks) for chunks in queued.values())
        for job in by_priority(await self._store.jobs_in((JobStatus.ACTIVE,))):
            if room <= 0:
                return
            mine = {chunk_no for _, chunk_no in queued.get(job.id, [])}
            wanted = min(room, self._per_job - len(mine))
            if wanted <= 0:
                continue
            free = [no for no in await self._store.free_chunks(job.id, wanted + len(mine)) if no not in mine]
            room -= await self.queue_chunks(job, free[:wanted])

    async def cancel_chunks(self, job_id: str) -> None:
        """Cancel the job's queued chunk jobs and abort its running ones."""
        queued = await self._in_flight()
        for procrastinate_id, _ in queued.get(job_id, []):
            await self._app.job_manager.cancel_job_by_id_async(procrastinate_id, abort=True)

    async def retry_stalled(self) -> None:
        """Put back in the queue the chunk jobs (and the jobs' prepare and finish tasks) of workers that stopped
        sending heartbeats (kill -9, lost host), a chunk's lease given back first: the chunk runs again at once,
        not after the dead lease expires.

        A worker only frozen (SIGSTOP, a paused VM) may wake still running the chunk: the lease is no longer its
        own, which stops its runner (lease fencing); outcomes count once per seq either way."""
        manager = self._app.job_manager
        for queue in QUEUES:
            for stalled in await manager.get_stalled_jobs(queue=queue, seconds_since_heartbeat=self._stall_seconds):
                log.warning("%s %s of a silent worker goes back to the queue", stalled.task_name, stalled.id)
                job_id, chunk_no = stalled.task_kwargs.get("job_id"), stalled.task_kwargs.get("chunk_no")
                if queue == QUEUE and isinstance(job_id, str) and isinstance(chunk_no, int):
                    await self._store.release_chunk(job_id, chunk_no)
                await manager.retry_job(stalled)

    async def queue_chunks(self, job: Job, chunk_nos: list[int]) -> int:
        """Queue the job's chunks ``chunk_nos``; how many were queued (a chunk with a queued job already is not)."""
        return await self._queue([chunk_job(job, chunk_no) for chunk_no in chunk_nos]) if chunk_nos else 0

    async def _queue(self, chunk_jobs: list[jobs.Job]) -> int:
        """Queue chunk jobs in one INSERT; how many were queued. procrastinate refuses the whole batch if one chunk
        has a queued job already (its queueing lock; a rare race), so then each goes alone and the taken one is
        skipped."""
        try:
            await self._app.job_manager.batch_defer_jobs_async(chunk_jobs)
        except exceptions.AlreadyEnqueued:
            if len(chunk_jobs) == 1:
                return 0
            return sum([await self._queue([one]) for one in chunk_jobs])
        return len(chunk_jobs)

    async def _in_flight(self) -> dict[str, list[tuple[int, int]]]:
        """The chunk jobs queued or running (the window holds few): per job id, (procrastinate id, chunk no)."""
        found: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for status in _IN_FLIGHT:
            for row in await self._app.job_manager.list_jobs_async(queue=QUEUE, status=status):
                _add(found, row)
        return found


def _add(found: dict[str, list[tuple[int, int]]], row: jobs.Job) -> None:
    job_id, chunk_no = row.task_kwargs.get("job_id"), row.task_kwargs.get("chunk_no")
    if row.id is not None and isinstance(job_id, str) and isinstance(chunk_no, int):
        found[job_id].append((row.id, chunk_no))


def by_priority(active: Iterable[Job]) -> list[Job]:
    """Highest priority first, then the oldest."""
    return sorted(active, key=lambda job: (-job.priority, job.creation_time))


def chunk_job(job: Job, chunk_no: int) -> jobs.Job:
    """The queue's job "run chunk ``chunk_no`` of ``job``", at the job's priority, locked to that chunk."""
    return jobs.Job(
        id=None,
        queue=QUEUE,
        priority=job.priority,
        lock=None,
        queueing_lock=chunk_lock(job.id, chunk_no),
        task_name=RUN_CHUNK,
        task_kwargs={"job_id": job.id, "chunk_no": chunk_no},
    )
