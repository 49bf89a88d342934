"""Jobs through boto3's s3control client: create one, describe it, wait for a status; manifests and reports."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from batchops.reports.reader import ReportLocation
from batchops.reports.reader import read_report as read_written_report
from tests.support.server import ACCOUNT

TERMINAL = {"Complete", "Cancelled", "Failed"}
TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "project", "Value": "batchops"}]}}


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll until ``predicate()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; last value {last!r}")


def describe(control: Any, job_id: str, account: str = ACCOUNT) -> dict[str, Any]:
    return dict(control.describe_job(AccountId=account, JobId=job_id)["Job"])


def wait_status(
    control: Any, job_id: str, statuses: set[str] | str, timeout: float = 120.0, account: str = ACCOUNT
) -> dict[str, Any]:
    """Poll DescribeJob until the job is in one of ``statuses``; fail showing where it was instead."""
    wanted = {statuses} if isinstance(statuses, str) else statuses
    seen: list[dict[str, Any]] = []

    def reached() -> dict[str, Any] | None:
        seen[:] = [describe(control, job_id, account)]
        status = seen[0]["Status"]
        if status in TERMINAL and status not in wanted:
            raise AssertionError(f"job {job_id} ended {status}, not {sorted(wanted)}: {seen[0]}")
        return seen[0] if status in wanted else None

    try:
        return wait_for(reached, timeout, what=f"job {job_id} to reach {sorted(wanted)}")  # type: ignore[no-any-return]
    except AssertionError as exc:
        job = seen[0] if seen else {}
        raise AssertionError(
            f"{exc}: it is {job.get('Status')} with {job.get('ProgressSummary')}, failures {job.get('FailureReasons')}"
        ) from None


def put_manifest(s3: Any, bucket: str, rows: list[str], key: str | None = None) -> dict[str, str]:
    """Upload a CSV manifest; returns the CreateJob Manifest.Location for it."""
    key = key or f"manifests/{uuid.uuid4().hex}.csv"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(rows) + "\n").encode())["ETag"]
    return {"ObjectArn": f"arn:aws:s3:::{bucket}/{key}", "ETag": etag}


def create_job(
    control: Any,
    location: dict[str, str],
    operation: dict[str, Any],
    *,
    report_bucket: str | None = None,
    report_scope: str = "AllTasks",
    priority: int = 10,
    confirmation: bool = False,
    fields: list[str] | None = None,
    **extra: Any,
) -> str:
    report: dict[str, Any] = {"Enabled": False}
    if report_bucket:
        report = {
            "Enabled": True,
            "Bucket": f"arn:aws:s3:::{report_bucket}",
            "Format": "Report_CSV_20180820",
            "Prefix": "reports",
            "ReportScope": report_scope,
        }
    response = control.create_job(
        AccountId=ACCOUNT,
        ConfirmationRequired=confirmation,
        Operation=operation,
        Report=report,
        Manifest={
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": fields or ["Bucket", "Key"]},
            "Location": location,
        },
        Priority=priority,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/batch",
        **extra,
    )
    return str(response["JobId"])


def put_objects(s3: Any, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())


def read_report(s3: Any, bucket: str, job_id: str) -> tuple[dict[str, Any], list[list[str]]]:
    """The report of a job ``create_job`` made (prefix ``reports``): its manifest.json and every row as written."""

    def get(bucket: str, key: str) -> bytes:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    written = read_written_report(get, ReportLocation.of(bucket, "reports", job_id))
    return written.index.document, written.rows


def slow_rows(bucket: str, keys: list[str], times: int = 10) -> list[str]:
    """Each key listed ``times`` over: a job long enough to pause or cancel while it runs (tasks are fast)."""
    return [f"{bucket},{k}" for _ in range(times) for k in keys]


def assert_exact_report(job: dict[str, Any], s3: Any, reports: str, job_id: str, tasks: int, failed: int) -> None:
    """The ended job counted ``tasks`` tasks, ``failed`` of them failed, and its report lists each task once."""
    assert job["ProgressSummary"] == {
        **job["ProgressSummary"],
        "TotalNumberOfTasks": tasks,
        "NumberOfTasksSucceeded": tasks - failed,
        "NumberOfTasksFailed": failed,
    }
    _, report = read_report(s3, reports, job_id)
    assert len(report) == tasks
    assert len({row[1] for row in report}) == tasks  # every task exactly once
    assert sum(row[3] == "failed" for row in report) == failed
