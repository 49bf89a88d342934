"""Scaled-out mode: one ``batchops server --database postgresql://… --dispatch procrastinate`` dispatches the
chunks and two ``batchops worker`` processes run them; a job completes with every task exactly once, also when
one worker is killed with kill -9 mid-job (its chunk goes to the other after the stall timeout); a cancel stops
the chunks queued and running."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.support.jobs import (
    TAGGING,
    assert_exact_report,
    create_job,
    describe,
    put_manifest,
    put_objects,
    wait_for,
    wait_status,
)
from tests.support.server import ACCOUNT
from tests.support.workers import StartWorkers

pytestmark = [
    pytest.mark.integration,
    # The scaled-out mode needs PostgreSQL; each test brings a fresh database (the queue's tables are in it too).
    pytest.mark.job_databases("postgresql", reason="dispatching needs PostgreSQL"),
]

TASKS = 5000
MISSING = 50


#: Two chunks at a time per worker, 8 requests in flight.
WORKER_ARGS = ("--concurrency", "2", "--task-concurrency", "8")


def _run_job(start_server: Any, tmp_path: Path, s3: Any, new_bucket: Any, database: str) -> tuple[Any, str, str]:
    args = ("--database", database, "--dispatch", "procrastinate")
    server = start_server(*args, env={"BATCHOPS_CHUNK_SIZE": "200"}, data_dir=tmp_path / "server")
    control = server.client()
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"o/{i:05d}" for i in range(TASKS - MISSING)]
    put_objects(s3, bucket, keys)
    rows = [f"{bucket},{k}" for k in keys] + [f"{bucket},missing-{i}" for i in range(MISSING)]
    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports)
    return control, job_id, reports




def test_two_workers_run_a_dispatched_job_to_an_exact_report(
    queue_database: str, start_server: Any, tmp_path: Path, s3: Any, new_bucket: Any, queue_workers: StartWorkers
) -> None:
    control, job_id, reports = _run_job(start_server, tmp_path, s3, new_bucket, queue_database)
    started = queue_workers(2, *WORKER_ARGS)

    job = wait_status(control, job_id, "Complete", timeout=180)

    assert_exact_report(job, s3, reports, job_id, TASKS, MISSING)
    assert all(worker.process.poll() is None for worker in started)


def test_kill_9_of_a_worker_mid_job_still_completes_with_every_task_once(
    queue_database: str, start_server: Any, tmp_path: Path, s3: Any, new_bucket: Any, queue_workers: StartWorkers
) -> None:
    control, job_id, reports = _run_job(start_server, tmp_path, s3, new_bucket, queue_database)
    doomed, survivor = queue_workers(2, *WORKER_ARGS)
    wait_for(lambda: describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] > 500, what="progress")

    assert describe(control, job_id)["Status"] == "Active"
    doomed.kill9()

    # the dead worker's chunk jobs come back after the stall timeout (30 s), their leases given back with them
    job = wait_status(control, job_id, "Complete", timeout=240)
    assert_exact_report(job, s3, reports, job_id, TASKS, MISSING)
    assert survivor.process.poll() is None


def test_cancelling_a_dispatched_job_stops_its_chunks_on_the_workers(
    queue_database: str, start_server: Any, tmp_path: Path, s3: Any, new_bucket: Any, queue_workers: StartWorkers
) -> None:
    control, job_id, _ = _run_job(start_server, tmp_path, s3, new_bucket, queue_database)
    started = queue_workers(2, *WORKER_ARGS)
    wait_for(lambda: describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] > 500, what="progress")

    control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled")

    job = wait_status(control, job_id, "Cancelled", timeout=60)
    progress = job["ProgressSummary"]
    assert progress["NumberOfTasksSucceeded"] + progress["NumberOfTasksFailed"] < TASKS
    assert in_flight_chunk_jobs(queue_database) == 0  # queued ones cancelled, running ones aborted or ended
    assert all(worker.process.poll() is None for worker in started)


def in_flight_chunk_jobs(url: str) -> int:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')").fetchone()
    return int(row[0]) if row else 0
