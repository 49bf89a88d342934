"""The work one side of the engine runs for each job, at most one piece at a time (a preparer, a runner or a
finisher), as asyncio tasks. Work that failed is tried again after a wait that grows while it keeps failing."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from batchops.engine.backoff import Backoff
from batchops.engine.loop import STEP_RETRY_MOST_SECONDS, log_failure
from batchops.logs import about_job

log = logging.getLogger(__name__)

#: The first wait before failed work on a job is tried again (it doubles up to STEP_RETRY_MOST_SECONDS); also how
#: long a worker that found nothing to claim in an Active job (other workers hold the rest) waits to look again.
IDLE_BACKOFF_SECONDS = 1.0


class JobTasks:
    def __init__(self, *, on_end: Callable[[str], None], on_done: Callable[[], None]) -> None:
        self._on_end = on_end  # the side forgets what it kept for the job's work (runner, breaker)
        self._on_done = on_done  # asks for the next tick now: the job can move on
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._idle_until: dict[str, float] = {}  # job id → when to try its work again
        self._retries: dict[str, Backoff] = {}  # job id → waits after its work failed

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._tasks

    def get(self, job_id: str) -> asyncio.Task[None] | None:
        return self._tasks.get(job_id)

    def of(self, job_ids: Iterable[str]) -> list[asyncio.Task[None]]:
        """The running work of these jobs."""
        return [self._tasks[job_id] for job_id in job_ids if job_id in self._tasks]

    def resting(self, job_id: str) -> bool:
        """The job's last work failed (or found nothing to claim): not yet."""
        return self._idle_until.get(job_id, 0.0) > time.monotonic()

    def rest(self, job_id: str, seconds: float) -> None:
        self._idle_until[job_id] = time.monotonic() + seconds

    def retry_now(self) -> None:
        """Every resting job may go on at once (the store writes again)."""
        self._idle_until.clear()

    def spawn(self, job_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Start the job's work, unless it already has some running here."""
        if job_id in self._tasks:
            work.close()
            return
        with about_job(job_id):  # the task's context is copied here: its lines carry the job id
            log.debug("job %s: start %s", job_id, work.cr_code.co_name)  # type: ignore[attr-defined]
            task = asyncio.create_task(work, name=f"job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._done(job_id))

    def cancel(self, job_id: str) -> None:
        if job_id in self._tasks:
            self._tasks[job_id].cancel()

    async def cancel_all(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _done(self, job_id: str) -> None:
        task = self._tasks.pop(job_id, None)
        self._on_end(job_id)
        error = task.exception() if task is not None and not task.cancelled() else None
        if error is not None:  # the job's work is tried again after a wait that grows while it keeps failing
            retry = self._retries.setdefault(job_id, Backoff(IDLE_BACKOFF_SECONDS, STEP_RETRY_MOST_SECONDS))
            wait = retry.failed()
            log_failure(error, "work on job %s failed (%d in a row; next in %.1fs)", job_id, retry.failures, wait)
            self.rest(job_id, wait)
        else:
            self._retries.pop(job_id, None)
        self._on_done()
