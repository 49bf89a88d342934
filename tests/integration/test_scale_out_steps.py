"""Scaled-out mode, Preparing and finishing: with ``--dispatch procrastinate`` the server reads no manifest and
writes no report; a ``batchops worker`` does both (its log says so, the server's does not), and a cancel while
a worker reads a large manifest aborts that read and ends the job Cancelled."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from batchops.devstore import LocalSeaweed
from tests.support.faulty_proxy import FaultyProxy
from tests.support.jobs import (
    TAGGING,
    create_job,
    describe,
    put_manifest,
    put_objects,
    read_report,
    wait_for,
    wait_status,
)
from tests.support.server import ACCOUNT
from tests.support.workers import QueueWorker, StartWorkers

pytestmark = [
    pytest.mark.integration,
    # The scaled-out mode needs PostgreSQL; each test brings a fresh database (the queue's tables are in it too).
    pytest.mark.job_databases("postgresql", reason="dispatching needs PostgreSQL"),
]

#: CreateJob's report-bucket check (HeadBucket, a marker PutObject, its DeleteObject), as in test_store_outage.
REPORT_CHECK_REQUESTS = 3


@pytest.fixture
def start_both(
    queue_database: str,
    start_server: Any,
    tmp_path: Path,
    queue_workers: StartWorkers,
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., tuple[Any, QueueWorker]]:
    """A dispatching server and one worker (the server's chunk size travels with the prepare task)."""

    def start(chunk_size: int, endpoint: str | None = None, **env: str) -> tuple[Any, QueueWorker]:
        for name, value in {"BATCHOPS_CHUNK_SIZE": str(chunk_size), **env}.items():
            monkeypatch.setenv(name, value)
        args = ("--database", queue_database, "--dispatch", "procrastinate")
        server = start_server(*args, data_dir=tmp_path / "server", s3_endpoint=endpoint)
        [worker] = queue_workers(1, "--concurrency", "2", s3_endpoint=endpoint)
        return server, worker

    return start


def test_a_worker_reads_the_manifest_and_writes_the_report(
    start_both: Any, tmp_path: Path, s3: Any, new_bucket: Any, queue_database: str
) -> None:
    server, worker = start_both(50)
    control = server.client()
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"o/{i:04d}" for i in range(300)]
    put_objects(s3, bucket, keys)
    location = put_manifest(s3, bucket, [f"{bucket},{k}" for k in keys])
    job_id = create_job(control, location, TAGGING, report_bucket=reports)

    job = wait_status(control, job_id, "Complete", timeout=120)

    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 300
    assert len(read_report(s3, reports, job_id)[1]) == 300
    worker_log, server_log = worker.log_path.read_text(), (tmp_path / "server" / "server.log").read_text()
    assert f"job {job_id}: manifest read: 300 tasks" in worker_log
    assert f"report for job {job_id} written" in worker_log
    assert "manifest read" not in server_log and "report for job" not in server_log
    assert steps_of(queue_database, job_id) == set()  # both ran and succeeded (the worker deletes succeeded tasks)


def test_cancel_while_a_worker_prepares_aborts_the_read_and_cancels_the_job(
    start_both: Any, tmp_path: Path, s3: Any, new_bucket: Any, queue_database: str
) -> None:
    rows = 200_000  # one row per chunk: Preparing takes a while, long enough to cancel it midway
    server, worker = start_both(1)
    control = server.client()
    bucket, reports = new_bucket(), new_bucket()
    job_id = create_job(
        control, put_manifest(s3, bucket, [f"{bucket},k{i}" for i in range(rows)]), TAGGING, report_bucket=reports
    )
    wait_for(lambda: describe(control, job_id)["ProgressSummary"]["TotalNumberOfTasks"] > 0, what="chunks stored")
    assert describe(control, job_id)["Status"] == "Preparing"

    control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled")

    job = wait_status(control, job_id, "Cancelled", timeout=60)
    assert job["ProgressSummary"]["TotalNumberOfTasks"] < rows  # the read stopped midway
    assert steps_of(queue_database, job_id) == {("batchops.prepare_job", "aborted")}  # the finish succeeded (deleted)
    assert f"report for job {job_id} written" in worker.log_path.read_text()
    assert worker.process.poll() is None


def steps_of(url: str, job_id: str) -> set[tuple[str, str]]:
    """The job's prepare and finish tasks in procrastinate's queue, with their ends."""
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(conninfo) as conn:
        found = conn.execute(
            "SELECT task_name, status::text FROM procrastinate_jobs WHERE queue_name = 'batchops-jobs' AND lock = %s",
            (f"job:{job_id}",),
        ).fetchall()
    return {(name, status) for name, status in found}


def test_a_store_down_while_a_worker_prepares_fails_the_job_there_with_a_clear_reason(
    start_both: Any, seaweed: LocalSeaweed, s3: Any, new_bucket: Any
) -> None:
    # Given workers that wait at most 2 s for their store, and a store that goes down for good after CreateJob
    proxy = FaultyProxy(seaweed.endpoint).start()
    server, worker = start_both(100, proxy.endpoint, BATCHOPS_STORE_OUTAGE_MAX_SECONDS="2")
    control = server.client()
    bucket, reports = new_bucket(), new_bucket()
    proxy.outage(after=proxy.forwarded + REPORT_CHECK_REQUESTS, seconds=3600)
    job_id = create_job(
        control, put_manifest(s3, bucket, [f"{bucket},k{i}" for i in range(100)]), TAGGING, report_bucket=reports
    )

    # Then the worker's Preparing holds, fails past the bound, and its finishing gives the report up
    job = wait_status(control, job_id, "Failed", timeout=60)
    failure, report_failure = job["FailureReasons"]
    assert failure["FailureCode"] == "StoreUnavailable"
    assert f"the object store at {proxy.endpoint} has not answered for" in failure["FailureReason"]
    assert report_failure["FailureCode"] == "ReportWriteFailed"
    gave_up = f"job {job_id}: the object store at {proxy.endpoint} has not answered"
    assert gave_up in worker.log_path.read_text()  # the worker's outage watch, not the server's
    assert gave_up not in (server.data_dir / "server.log").read_text()
