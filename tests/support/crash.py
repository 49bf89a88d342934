"""The kill -9 check every job store must pass: a server killed mid-job and restarted on the same store completes
the job with every task counted once and one report row per task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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

OBJECTS, MISSING = 3000, 100


def kill_9_mid_job_then_exact_report(
    start_server: Any, s3: Any, new_bucket: Any, data_dir: Path, *server_args: str
) -> None:
    server = start_server(*server_args, data_dir=data_dir)
    control = server.client()
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"o/{i:05d}" for i in range(OBJECTS)]
    put_objects(s3, bucket, keys)
    rows = [f"{bucket},{k}" for k in keys] + [f"{bucket},missing-{i}" for i in range(MISSING)]
    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports)
    wait_for(lambda: describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] > 500, what="progress")
    # When the server is killed mid-job and restarted on the same store
    server.kill9()
    control = start_server(*server_args, data_dir=data_dir).client()
    job = wait_status(control, job_id, "Complete", timeout=240)
    # Then every task is counted exactly once and the report has exactly one row per task
    assert job["ProgressSummary"] == {
        **job["ProgressSummary"],
        "TotalNumberOfTasks": OBJECTS + MISSING,
        "NumberOfTasksSucceeded": OBJECTS,
        "NumberOfTasksFailed": MISSING,
    }
    _, report = read_report(s3, reports, job_id)
    assert len(report) == OBJECTS + MISSING
    assert len({row[1] for row in report}) == OBJECTS + MISSING
    assert sum(row[3] == "failed" for row in report) == MISSING
