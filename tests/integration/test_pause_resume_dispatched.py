"""Pause and resume by hand in the scaled-out mode (``--dispatch procrastinate`` with two ``batchops worker``s): a
paused job's chunk jobs leave the queue (queued ones cancelled, running ones end at their next batch, as with
pre-emption), nothing of it runs while another job goes through the workers, and after the resume it completes
with an exact report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import batchops
from tests.integration.test_scale_out import in_flight_chunk_jobs
from tests.support.jobs import (
    TAGGING,
    assert_exact_report,
    create_job,
    put_manifest,
    put_objects,
    wait_for,
    wait_status,
)
from tests.support.server import ACCESS_KEY, ACCOUNT, SECRET_KEY
from tests.support.workers import StartWorkers

pytestmark = [
    pytest.mark.integration,
    pytest.mark.job_databases("postgresql", reason="dispatching needs PostgreSQL"),
]

TASKS, MISSING = 5000, 50
WORKER_ARGS = ("--concurrency", "2", "--task-concurrency", "8")


def test_a_dispatched_job_paused_by_hand_leaves_the_queue_and_resumes_to_an_exact_report(
    queue_database: str, start_server: Any, tmp_path: Path, s3: Any, new_bucket: Any, queue_workers: StartWorkers
) -> None:
    args = ("--database", queue_database, "--dispatch", "procrastinate")
    server = start_server(*args, env={"BATCHOPS_CHUNK_SIZE": "200"}, data_dir=tmp_path / "server")
    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY)
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"o/{i:05d}" for i in range(TASKS - MISSING)]
    put_objects(s3, bucket, keys)
    rows = [f"{bucket},{k}" for k in keys] + [f"{bucket},missing-{i}" for i in range(MISSING)]
    job_id = create_job(server.client(), put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports)
    queue_workers(2, *WORKER_ARGS)
    wait_for(lambda: client.describe_job(job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] > 300, what="progress")

    client.pause_job(job_id)
    paused = wait_status(server.client(), job_id, "Paused", timeout=60)
    assert paused["ProgressSummary"]["NumberOfTasksSucceeded"] < TASKS - MISSING, "paused too late to show anything"
    assert in_flight_chunk_jobs(queue_database) == 0  # none of its chunks queued or running

    # Another job goes through the same workers while it is paused; the paused one runs nothing meanwhile
    other_bucket = new_bucket()
    put_objects(s3, other_bucket, ["x"])
    other = create_job(server.client(), put_manifest(s3, other_bucket, [f"{other_bucket},x"] * 500), TAGGING)
    wait_status(server.client(), other, "Complete", timeout=120)
    still = client.describe_job(job_id)
    assert (still["Status"], still["BatchOpsPausedBy"]) == ("Paused", "User")
    assert still["ProgressSummary"] == paused["ProgressSummary"]

    client.resume_job(job_id)
    job = wait_status(server.client(), job_id, "Complete", timeout=180)
    assert_exact_report(job, s3, reports, job_id, TASKS, MISSING)
