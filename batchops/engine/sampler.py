"""Progress samples for the console's throughput chart: the supervisor's housekeeping, every ``SAMPLE_SECONDS``.

Each running job's cumulative counts are read from the job rows the store already keeps (one ``jobs_in`` read for
every job), never from its tasks; a job that stopped running since the last look (it ended or paused) gets one
more sample, so the chart reaches its end.
"""

from __future__ import annotations

import time

from batchops.domain.job import Job
from batchops.domain.status import JobStatus
from batchops.domain.throughput import ProgressSample
from batchops.errors import JobNotFound
from batchops.store.base import Clock, Store

#: How often running jobs are sampled: a few seconds between points, a few hundred points an hour.
SAMPLE_SECONDS = 2.0
#: Statuses whose tasks may still end (those being drained finish the tasks they hold).
_RUNNING = (JobStatus.ACTIVE, JobStatus.PAUSING, JobStatus.COMPLETING, JobStatus.CANCELLING, JobStatus.FAILING)


class ProgressSampler:
    def __init__(self, store: Store, clock: Clock = time.time) -> None:
        self._store = store
        self._clock = clock
        self._running: dict[str, float] = {}  # the jobs sampled last time, and when

    async def sample(self) -> None:
        """One sample per running job, and a last one per job that stopped running since the last call."""
        if self._store.write_fault is not None:  # a full disk: no sample is worth a failed write (a gap shows)
            return
        now = self._clock()
        running = await self._store.jobs_in(_RUNNING)
        samples = [(job.id, _sample(job, now)) for job in running]
        stopped = set(self._running) - {job.id for job in running}
        for job_id in stopped:
            last = await self._last_sample(job_id, self._running[job_id], now)
            if last is not None:
                samples.append((job_id, last))
        # One write for every job: a write each (a hundred small jobs running) would queue the server's other
        # writes behind them.
        await self._store.add_progress_samples(samples)
        self._running = {job.id: now for job in running}

    async def _last_sample(self, job_id: str, sampled_at: float, now: float) -> ProgressSample | None:
        """At the job's end if it ended (not later), never before its previous sample (a clock step back)."""
        try:
            job = await self._store.job_for_engine(job_id)
        except JobNotFound:  # purged meanwhile: nothing to draw
            return None
        ended = job.termination_time.timestamp() if job.termination_time is not None else now
        return _sample(job, max(min(ended, now), sampled_at))


def _sample(job: Job, at: float) -> ProgressSample:
    return ProgressSample(at, job.progress.succeeded, job.progress.failed)
