"""The scaled-out cluster under faults: TWO ``batchops server --dispatch procrastinate`` on one fresh PostgreSQL
database (one supervises, chosen by an advisory lock; both serve the API) and THREE ``batchops worker`` processes
run a 20,000-task tagging job on SeaweedFS. Mid-job one worker is killed with kill -9, another is frozen
(SIGSTOP) until its chunks have gone to others, then woken (SIGCONT), and the supervising server is killed with
kill -9: the other server takes over within seconds, and the job still ends Complete with every task exactly
once in its report, exact counters and a legal status history."""

from __future__ import annotations

import itertools
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest

from batchops.domain.status import JobStatus, can_move
from tests.support.jobs import TAGGING, assert_exact_report, create_job, describe, put_manifest, wait_for, wait_status
from tests.support.server import Server
from tests.support.workers import StartWorkers

pytestmark = [
    pytest.mark.integration,
    # The scaled-out mode needs PostgreSQL; each test brings a fresh database (the queue's tables are in it too).
    pytest.mark.job_databases("postgresql", reason="dispatching needs PostgreSQL"),
]

TASKS = 20_000
MISSING = 100
STALL_SECONDS = 6  # a silent worker is dead after this (30 s by default)
LEASE_SECONDS = 8  # a chunk lease lapses after this unless renewed (60 s by default)
CLUSTER_ENV = {
    "BATCHOPS_CHUNK_SIZE": "200",
    "BATCHOPS_WORKER_STALL_SECONDS": str(STALL_SECONDS),
    "BATCHOPS_CHUNK_LEASE_SECONDS": str(LEASE_SECONDS),
}
#: How soon the standby must supervise once the leader is gone (it tries the lock every second).
TAKEOVER_SECONDS = 10.0


def test_two_servers_and_three_workers_ride_out_kill_9_a_frozen_worker_and_a_lost_leader(
    queue_database: str, start_server: Any, s3: Any, new_bucket: Any, queue_workers: StartWorkers
) -> None:
    database = queue_database
    args = ("--database", database, "--dispatch", "procrastinate")
    servers: list[Server] = [start_server(*args, env=CLUSTER_ENV) for _ in range(2)]
    leader = wait_for(lambda: _the_leader(servers), 15, what="one of the two servers to supervise")
    standby = next(server for server in servers if server is not leader)
    assert standby.health()["role"] == "standby"

    control = standby.client()  # the standby serves the API too; the leader's tick picks the job up
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"o/{i:05d}" for i in range(TASKS - MISSING)]
    _put_objects(s3, bucket, keys)
    rows = [f"{bucket},{k}" for k in keys] + [f"{bucket},missing-{i}" for i in range(MISSING)]
    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports)
    doomed, frozen, steady = queue_workers(3, "--concurrency", "2", "--task-concurrency", "4", env=CLUSTER_ENV)
    wait_for(lambda: _ran(control, job_id) > 2000, 120, what="the job to be well under way")

    frozen.pause()
    runs_when_frozen = _runs_in_progress(frozen.log_tail(100_000))
    doomed.kill9()
    leased_when_frozen = _leases(database, job_id)  # the frozen worker's among them
    leader.kill9()
    killed = time.monotonic()
    assert describe(control, job_id)["Status"] == "Active"  # the faults strike mid-job

    wait_for(lambda: standby.health().get("role") == "leader", TAKEOVER_SECONDS, what="the standby to lead")
    print(f"the standby supervises {time.monotonic() - killed:.1f} s after the leader's kill -9")
    # The frozen worker sleeps (a deliberate wait, through its stall timeout and past its leases) until every chunk
    # leased when it froze is finished or leased by another worker: its chunks went on without it.
    wait_for(lambda: _all_moved_on(database, job_id, leased_when_frozen), 90, what="the frozen worker's chunks")
    frozen.resume()
    # On waking it learns at its next lease renewal that its chunk is someone else's, and stops that run; or, when
    # the run's last tasks end before that renewal (CI saw it once), the run ends and its outcomes, recorded already
    # by the chunk's new owner, are ignored (the exact report below).
    wait_for(lambda: _stopped_or_ended(frozen.log_tail(100_000), runs_when_frozen), 30, what="the woken worker's runs")

    job = wait_status(control, job_id, "Complete", timeout=150)

    assert_exact_report(job, s3, reports, job_id, TASKS, MISSING)
    _assert_legal_history(database, job_id)
    assert frozen.process.poll() is None and steady.process.poll() is None  # the survivors are still serving
    assert "lost its chunk's lease" not in steady.log_tail(100_000)  # a worker never frozen never stops a run so


def _runs_in_progress(log: str) -> set[str]:
    """The procrastinate jobs a worker's log shows started and not yet ended (``run_chunk[N]``)."""
    started = set(re.findall(r"Starting job (batchops\.run_chunk\[\d+\])", log))
    return started - set(re.findall(r"Job (batchops\.run_chunk\[\d+\])\(.*\) ended with status", log))


def _stopped_or_ended(log: str, runs: set[str]) -> bool:
    """The worker stopped a run for its lost lease, or every one of ``runs`` (at least one) has ended."""
    return "lost its chunk's lease" in log or (bool(runs) and all(f"Job {run}(" in log for run in runs))


def _the_leader(servers: list[Server]) -> Server | None:
    leaders = [server for server in servers if server.health().get("role") == "leader"]
    return leaders[0] if len(leaders) == 1 else None


def _put_objects(s3: Any, bucket: str, keys: list[str]) -> None:
    """Many small objects, put 16 at a time (boto3 clients are thread-safe)."""
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))


def _ran(control: Any, job_id: str) -> int:
    progress = describe(control, job_id)["ProgressSummary"]
    return int(progress["NumberOfTasksSucceeded"]) + int(progress["NumberOfTasksFailed"])


def _query(database: str, sql: str, *params: object) -> list[tuple[Any, ...]]:
    with psycopg.connect(database.replace("postgresql+psycopg://", "postgresql://")) as conn:
        return conn.execute(sql, params).fetchall()


def _leases(database: str, job_id: str) -> dict[int, str]:
    """The job's unfinished chunks that a lease holds now, and by whom."""
    rows = _query(
        database,
        "SELECT chunk_no, lease_owner FROM chunks WHERE job_id = %s AND NOT done AND lease_owner IS NOT NULL",
        job_id,
    )
    return {int(chunk_no): str(owner) for chunk_no, owner in rows}


def _all_moved_on(database: str, job_id: str, leased: dict[int, str]) -> bool:
    """Every chunk in ``leased`` is finished, or leased by another owner than then."""
    rows = _query(database, "SELECT chunk_no, done, lease_owner FROM chunks WHERE job_id = %s", job_id)
    now = {int(chunk_no): (done, owner) for chunk_no, done, owner in rows}
    return all(now[no][0] or now[no][1] not in (None, owner) for no, owner in leased.items())




def _assert_legal_history(database: str, job_id: str) -> None:
    """Each recorded move starts where the last one ended and is allowed by the status table."""
    moves = _query(database, "SELECT from_status, to_status FROM job_events WHERE job_id = %s ORDER BY id", job_id)
    assert moves[0] == (None, "New")
    for (_, before), (source, target) in itertools.pairwise(moves):
        assert source == before, moves
        assert can_move(JobStatus(source), JobStatus(target)), moves
    assert moves[-1][1] == "Complete"
