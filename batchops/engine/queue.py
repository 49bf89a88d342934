"""The chunk queue of the scaled-out mode: procrastinate on the job store's PostgreSQL.

procrastinate delivers "run chunk C of job J" at least once to some ``batchops worker`` and survives a worker's
death (its heartbeats, and our periodic retry of stalled jobs); batchops' own tables stay the truth, written
idempotently per task seq, so a redelivered chunk never counts a task twice.
"""

from __future__ import annotations

import psycopg
from procrastinate import App, PsycopgConnector

from batchops.errors import DatabaseUnavailable
from batchops.store.sql.urls import DatabaseUrl

#: The procrastinate queue the chunk jobs go through.
QUEUE = "batchops-chunks"
#: The task name of "run chunk C of job J" (a name, not a dotted path: the server defers it without the code).
RUN_CHUNK = "batchops.run_chunk"
RETRY_STALLED = "batchops.retry_stalled"
#: The queue of the jobs' Preparing and finishing (manifest reading, report writing), and its two tasks.
JOBS_QUEUE = "batchops-jobs"
PREPARE_JOB = "batchops.prepare_job"
FINISH_JOB = "batchops.finish_job"
#: Every queue a ``batchops worker`` serves (and whose stalled tasks the server puts back).
QUEUES = (QUEUE, JOBS_QUEUE)
#: How often a worker sends its heartbeat, at most (a worker silent ``worker_stall_seconds`` is dead: its chunk
#: jobs are retried on other workers).
HEARTBEAT_SECONDS = 5.0


def heartbeat_seconds(stall_seconds: float) -> float:
    """Several heartbeats per stall timeout, so a busy but live worker is never taken for dead."""
    return min(HEARTBEAT_SECONDS, stall_seconds / 4)


def conninfo(url: DatabaseUrl) -> str:
    """libpq's spelling of the job store's URL (procrastinate connects with psycopg itself)."""
    return url.sync_url.set(drivername="postgresql").render_as_string(hide_password=False)


def queue_app(url: DatabaseUrl) -> App:
    return App(connector=PsycopgConnector(conninfo=conninfo(url)))


def chunk_lock(job_id: str, chunk_no: int) -> str:
    """The queueing lock of one chunk: it is never queued twice at once."""
    return f"{job_id}:{chunk_no}"


def job_lock(job_id: str) -> str:
    """The lock of a job's Preparing and finishing tasks: never two of them running at once."""
    return f"job:{job_id}"


def step_lock(task_name: str, job_id: str) -> str:
    """The queueing lock of one step of one job: it is never queued twice at once."""
    return f"{task_name}:{job_id}"


async def check_queue(url: DatabaseUrl) -> None:
    """DatabaseUnavailable (one line, the URL without its password) unless the database answers and holds the
    chunk queue's tables (``batchops db upgrade`` or a server's start creates them)."""
    try:
        async with await psycopg.AsyncConnection.connect(conninfo(url), connect_timeout=10) as conn:
            found = await (await conn.execute("SELECT to_regclass('procrastinate_jobs')")).fetchone()
    except psycopg.OperationalError as exc:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnavailable(f"cannot reach the database {url.shown}: {cause}") from None
    if found is None or found[0] is None:
        raise DatabaseUnavailable(f"{url.shown} has no chunk queue yet: run batchops db upgrade (or start the server)")
