"""Priorities, pre-emption and auto-resume, the failure threshold, and kill -9 recovery."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.crash import kill_9_mid_job_then_exact_report
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
from tests.support.server import ACCOUNT

pytestmark = pytest.mark.integration


def many_objects(s3: Any, bucket: str, count: int) -> list[str]:
    keys = [f"o/{i:05d}" for i in range(count)]
    put_objects(s3, bucket, keys)
    return keys


def test_higher_priority_job_pauses_lower_one_which_resumes_by_itself(
    start_server: Any, s3: Any, new_bucket: Any
) -> None:
    control = start_server("--task-concurrency", "2", "--max-active-jobs", "1").client()
    bucket = new_bucket()
    keys = many_objects(s3, bucket, 1500)
    low = create_job(control, put_manifest(s3, bucket, slow_rows(bucket, keys)), TAGGING, priority=1)
    wait_for(
        lambda: describe(control, low)["ProgressSummary"]["NumberOfTasksSucceeded"] > 20,
        what="low job running",
    )
    # When a higher-priority job arrives, the low one is paused and the high one runs
    high = create_job(control, put_manifest(s3, bucket, [f"{bucket},{k}" for k in keys[:50]]), TAGGING, priority=9)
    wait_status(control, low, {"Pausing", "Paused"}, timeout=30)
    wait_status(control, high, "Complete")
    # Then the low job resumes by itself and completes with exact counts
    job = wait_status(control, low, "Complete", timeout=180)
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 15000
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 0


def test_lower_priority_job_waits_in_ready(start_server: Any, s3: Any, new_bucket: Any) -> None:
    control = start_server("--task-concurrency", "1").client()
    bucket = new_bucket()
    keys = many_objects(s3, bucket, 1500)
    high = create_job(control, put_manifest(s3, bucket, slow_rows(bucket, keys)), TAGGING, priority=50)
    wait_status(control, high, "Active")
    low = create_job(control, put_manifest(s3, bucket, [f"{bucket},{keys[0]}"]), TAGGING, priority=5)
    assert wait_status(control, low, "Ready")["Status"] == "Ready"
    assert describe(control, high)["Status"] == "Active"
    # Raising the waiting job's priority pre-empts the running one at once
    control.update_job_priority(AccountId=ACCOUNT, JobId=low, Priority=100)
    wait_status(control, low, {"Active", "Complete"}, timeout=30)
    wait_status(control, low, "Complete")
    wait_status(control, high, "Complete", timeout=180)


def test_a_small_job_of_the_same_priority_runs_beside_a_big_one(start_server: Any, s3: Any, new_bucket: Any) -> None:
    control = start_server("--task-concurrency", "1").client()
    bucket = new_bucket()
    keys = many_objects(s3, bucket, 1500)
    big = create_job(control, put_manifest(s3, bucket, slow_rows(bucket, keys)), TAGGING, priority=10)
    wait_status(control, big, "Active")
    small = create_job(control, put_manifest(s3, bucket, [f"{bucket},{k}" for k in keys[:3]]), TAGGING, priority=10)
    # It has a slot of its own: it completes while the big job, holding the only main slot, still runs
    assert wait_status(control, small, "Complete")["ProgressSummary"]["NumberOfTasksSucceeded"] == 3
    assert describe(control, big)["Status"] == "Active"
    control.update_job_status(AccountId=ACCOUNT, JobId=big, RequestedJobStatus="Cancelled")
    wait_status(control, big, "Cancelled", timeout=60)


def test_cancel_an_active_job(start_server: Any, s3: Any, new_bucket: Any) -> None:
    control = start_server("--task-concurrency", "2").client()
    bucket, reports = new_bucket(), new_bucket()
    keys = many_objects(s3, bucket, 1000)
    job_id = create_job(control, put_manifest(s3, bucket, slow_rows(bucket, keys)), TAGGING, report_bucket=reports)
    wait_for(lambda: describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] > 10, what="running")
    control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled")
    job = wait_status(control, job_id, "Cancelled")
    done = job["ProgressSummary"]["NumberOfTasksSucceeded"]
    assert 0 < done < 10000
    _, report = read_report(s3, reports, job_id)
    assert len(report) == done


def test_failure_threshold_fails_the_job(server: Any, control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    rows = [f"{bucket},missing-{i}" for i in range(1300)]
    job = wait_status(control, create_job(control, put_manifest(s3, bucket, rows), TAGGING), "Failed")
    progress = job["ProgressSummary"]
    assert progress["NumberOfTasksFailed"] > 1000
    assert job["FailureReasons"][0]["FailureCode"] == "TaskFailureThresholdExceeded"
    assert "50%" in job["FailureReasons"][0]["FailureReason"]


def test_failure_threshold_is_a_setting(start_server: Any, tmp_path: Any, s3: Any, new_bucket: Any) -> None:
    config = tmp_path / "batchops.toml"
    config.write_text("[threshold]\nmin_tasks = 10\npercent = 20\n")
    control = start_server("--config", str(config)).client()
    bucket = new_bucket()
    put_objects(s3, bucket, [f"k{i}" for i in range(50)])
    rows = [f"{bucket},k{i}" for i in range(50)] + [f"{bucket},missing-{i}" for i in range(50)]
    job = wait_status(control, create_job(control, put_manifest(s3, bucket, rows), TAGGING), {"Failed", "Complete"})
    assert job["Status"] == "Failed"


@pytest.mark.parametrize("workers", ["0", "2"], ids=["in-process", "2-workers"])
def test_kill_9_mid_job_loses_no_task_and_counts_none_twice(
    start_server: Any, tmp_path: Any, s3: Any, new_bucket: Any, workers: str
) -> None:
    args = ("--task-concurrency", "4", "--workers", workers)
    kill_9_mid_job_then_exact_report(start_server, s3, new_bucket, tmp_path / "crash", *args)
