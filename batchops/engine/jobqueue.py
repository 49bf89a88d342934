"""Preparing and finishing on ``batchops worker``s (``--dispatch procrastinate``): the server's side defers them as
procrastinate tasks (``QueuedJobWork``), the worker's side runs them with the same ``JobSteps`` as a server does
in-process (``serve_job_steps``). A 10-million-row manifest is then read, and a report written, off the API's
process.

Each tick the supervisor may ask again: a step is deferred only while none of the job's is queued or running (so
a lost one, put back by the stalled-task retry, is never doubled), under a ``queueing_lock`` per job and step
and a ``lock`` per job (procrastinate never runs two of one job's steps at once). Cancelling a Preparing job
cancels its queued prepare task and aborts a running one (its checkpoint is kept). A step that fails is tried
again after growing waits (procrastinate's retry), then deferred anew by the next tick.
"""

from __future__ import annotations

import logging

from procrastinate import App, RetryStrategy, exceptions, jobs

from batchops.domain.job import Job
from batchops.engine.clients import StoreClients
from batchops.engine.jobwork import JobSteps
from batchops.engine.queue import FINISH_JOB, JOBS_QUEUE, PREPARE_JOB, job_lock, step_lock
from batchops.settings import Settings
from batchops.store.base import Store

log = logging.getLogger(__name__)

#: A failing step's tries (waits of 2, 4, 8 and 16 s between) before it ends failed; the next tick defers it anew.
STEP_ATTEMPTS = 5
_IN_FLIGHT = ("todo", "doing")


class QueuedJobWork:
    """The supervisor's ``JobWork`` when ``batchops worker``s prepare and finish the jobs."""

    def __init__(self, app: App, chunk_size: int | None = None) -> None:
        self._app = app  # ``queue_app`` on the job store's PostgreSQL (tests: an InMemoryConnector's)
        self._chunk_size = chunk_size  # this server's, sent with each prepare task (workers need not be told)

    async def start(self) -> None:
        await self._app.open_async()

    async def stop(self) -> None:
        await self._app.close_async()

    async def prepare(self, job: Job) -> None:
        await self._defer(PREPARE_JOB, job, chunk_size=self._chunk_size)

    async def finish(self, job: Job) -> None:
        await self._defer(FINISH_JOB, job)

    async def stop_preparing(self, job_id: str) -> None:
        for task in await self._in_flight(job_id):
            if task.task_name == PREPARE_JOB and task.id is not None and not task.abort_requested:
                log.info("job %s: its prepare task %s is cancelled", job_id, task.id)
                await self._app.job_manager.cancel_job_by_id_async(task.id, abort=True)

    async def busy(self, job_id: str) -> bool:
        """A step of the job is queued or running (a dead worker's until the stalled-task retry requeues it)."""
        return bool(await self._in_flight(job_id))

    def resting(self, job_id: str) -> bool:
        return False  # procrastinate's retry waits instead

    def retry_now(self) -> None:
        pass

    async def _defer(self, task_name: str, job: Job, **kwargs: int | None) -> None:
        if await self._in_flight(job.id):
            return
        deferrer = self._app.configure_task(
            task_name,
            queue=JOBS_QUEUE,
            priority=job.priority,
            lock=job_lock(job.id),
            queueing_lock=step_lock(task_name, job.id),
        )
        try:
            await deferrer.defer_async(job_id=job.id, **kwargs)
        except exceptions.AlreadyEnqueued:
            return  # queued meanwhile
        log.debug("job %s: %s deferred", job.id, task_name)

    async def _in_flight(self, job_id: str) -> list[jobs.Job]:
        found = await self._app.job_manager.list_jobs_async(queue=JOBS_QUEUE, lock=job_lock(job_id))
        return [task for task in found if task.status in _IN_FLIGHT]


def serve_job_steps(app: App, settings: Settings, store: Store, clients: StoreClients) -> JobSteps:
    """``batchops worker``'s side: the prepare and finish tasks run ``JobSteps`` here (start and stop it with the
    worker: its outage watch)."""
    steps = JobSteps(settings, store, clients)
    # Not an abort (asyncio.CancelledError): a cancelled Preparing stays aborted; a worker's shutdown leaves the
    # step aborted too, and the next tick defers it anew.
    retry = RetryStrategy(max_attempts=STEP_ATTEMPTS, exponential_wait=2, retry_exceptions=[Exception])

    @app.task(name=PREPARE_JOB, queue=JOBS_QUEUE, retry=retry)
    async def prepare_job(job_id: str, chunk_size: int | None = None) -> None:
        await steps.prepare(job_id, chunk_size)

    @app.task(name=FINISH_JOB, queue=JOBS_QUEUE, retry=retry)
    async def finish_job(job_id: str) -> None:
        await steps.finish(job_id)

    return steps
