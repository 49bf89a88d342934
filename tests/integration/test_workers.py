"""``batchops server --workers N``: tasks run in worker processes the server supervises.

A job completes with its report; kill -9 of a worker mid-job loses no task and counts none twice (the
server gives the dead worker's leases back and starts another); cancelling and the failure threshold
reach tasks running in other processes; a killed server's workers stop by themselves; rows of one key in
chunks run by different workers keep S3ReplicateObject's version order (the key lock is the store's).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.jobs import (
    TAGGING,
    create_job,
    describe,
    put_manifest,
    put_objects,
    read_report,
    slow_rows,
    wait_for,
    wait_status,
)
from tests.support.server import ACCOUNT, Server
from tests.support.versions import bodies_in_order

pytestmark = pytest.mark.integration


def worker_pids(server: Server) -> list[int]:
    """The server's worker processes (its children started by multiprocessing's spawn)."""
    assert server.process is not None
    pid = server.process.pid
    children: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        children += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return [c for c in children if b"spawn_main" in _cmdline(c)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # already gone
        return b""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def tagged(s3: Any, bucket: str, key: str) -> bool:
    return s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == TAGGING["S3PutObjectTagging"]["TagSet"]


def test_job_runs_in_worker_processes_and_survives_a_killed_worker(
    start_server: Any, s3: Any, new_bucket: Any
) -> None:
    server = start_server("--workers", "2", "--task-concurrency", "8")
    control = server.client()
    workers = wait_for(lambda: len(worker_pids(server)) == 2 and worker_pids(server), what="two workers")
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"o/{i:05d}" for i in range(2500)]
    put_objects(s3, bucket, keys)
    rows = [f"{bucket},{k}" for k in keys] + [f"{bucket},missing-{i}" for i in range(50)]
    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports)
    wait_for(lambda: describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] > 300, what="progress")

    # When one worker is killed mid-job
    victim = workers[0]
    os.kill(victim, signal.SIGKILL)
    assert describe(control, job_id)["Status"] == "Active"

    # Then the server starts another, and the job completes with every task counted once
    job = wait_status(control, job_id, "Complete", timeout=240)
    assert job["ProgressSummary"] == {
        **job["ProgressSummary"],
        "TotalNumberOfTasks": 2550,
        "NumberOfTasksSucceeded": 2500,
        "NumberOfTasksFailed": 50,
    }
    _, report = read_report(s3, reports, job_id)
    assert len(report) == 2550
    assert sorted(row[1] for row in report) == sorted([*keys, *(f"missing-{i}" for i in range(50))])
    assert sum(row[3] == "failed" for row in report) == 50
    assert tagged(s3, bucket, keys[0]) and tagged(s3, bucket, keys[-1])
    now = wait_for(lambda: len(worker_pids(server)) == 2 and worker_pids(server), what="the worker restarted")
    assert victim not in now
    assert "exited with code -9" in server.log_tail(400)


def test_cancel_and_failure_threshold_reach_tasks_in_workers(start_server: Any, s3: Any, new_bucket: Any) -> None:
    control = start_server("--workers", "2", "--task-concurrency", "4").client()
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"o/{i:05d}" for i in range(1000)]
    put_objects(s3, bucket, keys)
    job_id = create_job(control, put_manifest(s3, bucket, slow_rows(bucket, keys)), TAGGING, report_bucket=reports)
    wait_for(lambda: describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] > 10, what="running")
    control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled")
    job = wait_status(control, job_id, "Cancelled")
    done = job["ProgressSummary"]["NumberOfTasksSucceeded"]
    assert 0 < done < 10000
    # The report was written after every worker stopped: it has exactly the counted tasks
    _, report = read_report(s3, reports, job_id)
    assert len(report) == done

    missing = [f"{bucket},missing-{i}" for i in range(1300)]
    failed = wait_status(control, create_job(control, put_manifest(s3, bucket, missing), TAGGING), "Failed")
    assert failed["FailureReasons"][0]["FailureCode"] == "TaskFailureThresholdExceeded"
    assert failed["ProgressSummary"]["NumberOfTasksFailed"] > 1000


def test_workers_of_a_killed_server_stop_by_themselves(start_server: Any) -> None:
    server = start_server("--workers", "2")
    workers = wait_for(lambda: len(worker_pids(server)) == 2 and worker_pids(server), what="two workers")
    server.kill9()
    wait_for(lambda: not any(alive(pid) for pid in workers), timeout=15, what="orphaned workers to exit")


def test_replicate_keeps_version_order_when_rows_of_a_key_run_in_two_workers(
    start_server: Any, tmp_path: Path, s3: Any, new_bucket: Any
) -> None:
    source, replica, reports = new_bucket(), new_bucket(), new_bucket()
    for bucket in (source, replica):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    config = tmp_path / "replicas.toml"
    config.write_text(f'[[replicas]]\nsource_bucket = "{source}"\ntarget_bucket = "{replica}"\n')
    # One row per chunk and one task at a time per worker: each worker claims the next chunk or two, so a key's
    # rows (listed together, newest first, as inventory reports list them) run in both workers at once.
    server = start_server(
        "--workers", "2", "--task-concurrency", "2", "--config", str(config), env={"BATCHOPS_CHUNK_SIZE": "1"}
    )
    control = server.client()
    wait_for(lambda: len(worker_pids(server)) == 2, what="two workers")
    keys = ["a.txt", "b c.txt", "d/e.txt"]
    rows = []
    for key in keys:
        ids = [s3.put_object(Bucket=source, Key=key, Body=f"{key} v{n}".encode())["VersionId"] for n in range(4)]
        rows += [f"{source},{quote(key)},{version}" for version in reversed(ids)]
    operation = {"S3ReplicateObject": {}}
    location = put_manifest(s3, source, rows)
    job_id = create_job(control, location, operation, report_bucket=reports, fields=["Bucket", "Key", "VersionId"])

    job = wait_status(control, job_id, "Complete")

    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 12, job["ProgressSummary"]
    for key in keys:  # each version copied once, oldest first, whichever worker ran which row
        assert bodies_in_order(s3, replica, key) == [f"{key} v{n}".encode() for n in range(4)]
    _, report = read_report(s3, reports, job_id)
    copied = [int(row[6].split()[1]) for row in report if row[6].startswith("replicated ")]
    assert sum(copied) == 12, [row[6] for row in report]
