"""Jobs driven through boto3's unmodified s3control client against a real server and SeaweedFS."""

from __future__ import annotations

import csv
import io
import json
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.http import signed_request
from tests.support.jobs import create_job, describe, put_manifest, wait_for, wait_status
from tests.support.server import ACCOUNT

pytestmark = pytest.mark.integration

TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "project", "Value": "batchops"}]}}


def put_objects(s3: Any, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())


def read_report(s3: Any, bucket: str, job_id: str) -> tuple[dict[str, Any], list[list[str]]]:
    index = json.loads(s3.get_object(Bucket=bucket, Key=f"reports/job-{job_id}/manifest.json")["Body"].read())
    rows: list[list[str]] = []
    for result in index["Results"]:
        body = s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read().decode()
        rows += list(csv.reader(io.StringIO(body)))
    return index, rows


def test_tagging_job_runs_to_complete_with_exact_progress_and_report(control: Any, s3: Any, new_bucket: Any) -> None:
    # Given 120 objects (one key with spaces, unicode and a comma) and one missing key in the manifest
    bucket, reports = new_bucket(), new_bucket()
    keys = [f"dir/obj-{i}" for i in range(119)] + ['odd dir/ü, "q"+1.txt']
    put_objects(s3, bucket, keys)
    rows = [f"{bucket},{quote(k)}" for k in keys] + [f"{bucket},does-not-exist"]
    # When a tagging job runs
    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports)
    job = wait_status(control, job_id, "Complete")
    # Then every object is tagged and the counters are exact
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 121
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 120
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 1
    assert "Timers" in job["ProgressSummary"]
    for key in keys:
        assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [{"Key": "project", "Value": "batchops"}]
    assert job["TerminationDate"] is not None
    # And the report has one row per task, the missing key failed with NoSuchKey/404
    index, report = read_report(s3, reports, job_id)
    assert index["Format"] == "Report_CSV_20180820"
    assert len(report) == 121
    by_key = {row[1]: row for row in report}
    assert by_key["does-not-exist"][3:6] == ["failed", "NoSuchKey", "404"]
    assert by_key[quote(keys[-1])][3] == "succeeded"


def test_confirmation_required_waits_in_suspended_until_confirmed(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, ["a", "b"])
    job_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},a", f"{bucket},b"]), TAGGING, confirmation=True)
    job = wait_status(control, job_id, "Suspended")
    assert job["SuspendedCause"]
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 2
    assert s3.get_object_tagging(Bucket=bucket, Key="a")["TagSet"] == []
    response = control.update_job_status(
        AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Ready", StatusUpdateReason="looks right"
    )
    assert response["Status"] in ("Ready", "Active", "Complete")
    wait_status(control, job_id, "Complete")
    assert s3.get_object_tagging(Bucket=bucket, Key="a")["TagSet"] != []


def test_refused_transitions_answer_job_status_exception(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, ["a"])
    job_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},a"]), TAGGING)
    wait_status(control, job_id, "Complete")
    with pytest.raises(control.exceptions.JobStatusException) as refused:
        control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled")
    assert "Complete" in str(refused.value)
    with pytest.raises(control.exceptions.JobStatusException):
        control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Ready")
    with pytest.raises(control.exceptions.BadRequestException) as bad:
        control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Active")
    assert "Ready or Cancelled" in str(bad.value)


def test_cancel_a_suspended_job_writes_a_report_and_ends_cancelled(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket, reports = new_bucket(), new_bucket()
    put_objects(s3, bucket, ["a"])
    job_id = create_job(
        control, put_manifest(s3, bucket, [f"{bucket},a"]), TAGGING, confirmation=True, report_bucket=reports
    )
    wait_status(control, job_id, "Suspended")
    response = control.update_job_status(
        AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled", StatusUpdateReason="changed my mind"
    )
    assert response["Status"] in ("Cancelling", "Cancelled")
    assert response["StatusUpdateReason"] == "changed my mind"
    job = wait_status(control, job_id, "Cancelled")
    assert job["TerminationDate"] is not None
    index, rows = read_report(s3, reports, job_id)
    assert rows == []  # no task ran
    assert index["Format"] == "Report_CSV_20180820"


def test_unreadable_manifest_fails_the_job_with_a_reason(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    location = {"ObjectArn": f"arn:aws:s3:::{bucket}/missing.csv", "ETag": "abc"}
    job_id = create_job(control, location, TAGGING)
    job = wait_status(control, job_id, "Failed")
    assert job["FailureReasons"][0]["FailureCode"] == "ManifestNotReadable"
    assert "missing.csv" in job["FailureReasons"][0]["FailureReason"]


def test_manifest_etag_mismatch_is_refused_at_createjob(control: Any, s3: Any, new_bucket: Any) -> None:
    # The manifest is readable, so CreateJob checks its ETag (test_manifest_checks.py has the rest).
    bucket = new_bucket()
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    location["ETag"] = '"0123456789abcdef0123456789abcdef"'
    with pytest.raises(control.exceptions.BadRequestException, match="is not the ETag of the manifest"):
        create_job(control, location, TAGGING)


def test_malformed_rows_become_failed_tasks_not_a_failed_job(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket, reports = new_bucket(), new_bucket()
    put_objects(s3, bucket, ["good"])
    rows = [f"{bucket},good", "only-one-field", "", f"{bucket},bad%ZZ%FF"]
    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports)
    job = wait_status(control, job_id, "Complete")
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 3
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 2
    _, report = read_report(s3, reports, job_id)
    failed = [r for r in report if r[3] == "failed"]
    assert len(failed) == 2 and all(r[6] for r in failed)


def test_versioned_manifest_acts_on_the_given_version(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=bucket, Key="v", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"2")
    location = put_manifest(s3, new_bucket(), [f"{bucket},v,{old}"])
    job_id = create_job(control, location, TAGGING, fields=["Bucket", "Key", "VersionId"])
    wait_status(control, job_id, "Complete")
    assert s3.get_object_tagging(Bucket=bucket, Key="v", VersionId=old)["TagSet"] != []
    assert s3.get_object_tagging(Bucket=bucket, Key="v")["TagSet"] == []


def test_idempotent_create_job(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    first = create_job(control, location, TAGGING, ClientRequestToken="token-1")
    again = create_job(control, location, TAGGING, ClientRequestToken="token-1")
    assert first == again
    with pytest.raises(control.exceptions.IdempotencyException):
        create_job(control, location, TAGGING, ClientRequestToken="token-1", priority=99)


def test_describe_unknown_job_is_not_found(control: Any) -> None:
    with pytest.raises(control.exceptions.NotFoundException) as missing:
        control.describe_job(AccountId=ACCOUNT, JobId="00000000-0000-0000-0000-000000000000")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_list_jobs_filters_and_paginates_newest_first(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    ids = [create_job(control, location, TAGGING, confirmation=True) for _ in range(5)]
    for job_id in ids:
        wait_status(control, job_id, "Suspended")
    seen: list[str] = []
    token = None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = control.list_jobs(AccountId=ACCOUNT, JobStatuses=["Suspended"], MaxResults=2, **kwargs)
        assert len(page["Jobs"]) <= 2
        seen += [j["JobId"] for j in page["Jobs"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == list(reversed(ids))
    listed = control.list_jobs(AccountId=ACCOUNT, JobStatuses=["Complete"])["Jobs"]
    assert not set(ids) & {j["JobId"] for j in listed}
    with pytest.raises(control.exceptions.InvalidRequestException):
        control.list_jobs(AccountId=ACCOUNT, JobStatuses=["Bogus"])
    with pytest.raises(control.exceptions.InvalidNextTokenException):
        control.list_jobs(AccountId=ACCOUNT, NextToken="not-a-token")


def test_update_priority_and_bad_input(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    job_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},a"]), TAGGING, confirmation=True)
    response = control.update_job_priority(AccountId=ACCOUNT, JobId=job_id, Priority=77)
    assert response == {**response, "JobId": job_id, "Priority": 77}
    assert describe(control, job_id)["Priority"] == 77
    with pytest.raises(control.exceptions.BadRequestException):
        control.update_job_priority(AccountId=ACCOUNT, JobId=job_id, Priority=2**31)
    with pytest.raises(control.exceptions.BadRequestException) as bad:
        control.create_job(
            AccountId=ACCOUNT,
            Operation=TAGGING,
            Report={"Enabled": False},
            Priority=1,
            RoleArn="not-an-arn",
            Manifest={
                "Spec": {"Format": "S3BatchOperations_CSV_20180820"},
                "Location": {"ObjectArn": f"arn:aws:s3:::{bucket}/m", "ETag": "e"},
            },
        )
    assert "RoleArn" in str(bad.value)


def test_any_host_header_and_wrong_account_id(server: Any) -> None:
    headers = {"Host": "whatever.example"}
    status, body = signed_request(server.url, "GET", "/v20180820/jobs", headers=headers, account="12345")
    assert status == 400
    assert b"BadRequestException" in body
    headers = {"Host": f"{ACCOUNT}.anything:1"}
    status, body = signed_request(server.url, "GET", "/v20180820/jobs", headers=headers)
    assert status == 200
    assert b"ListJobsResult" in body


def test_progress_is_live_while_active(start_server: Any, s3: Any, new_bucket: Any) -> None:
    control = start_server("--task-concurrency", "2").client()  # slow enough to watch
    bucket = new_bucket()
    keys = [f"k{i}" for i in range(1500)]
    rows = [f"{bucket},{k}" for k in keys]
    put_objects(s3, bucket, keys[:800])  # 700 fail (NoSuchKey): under the 50 % threshold
    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING)
    seen = wait_for(
        lambda: (
            (p := describe(control, job_id)["ProgressSummary"])
            and 0 < p["NumberOfTasksSucceeded"] + p["NumberOfTasksFailed"] < 1500
            and p
        ),
        what="a partial progress summary",
        interval=0.02,
    )
    assert seen["TotalNumberOfTasks"] == 1500
    job = wait_status(control, job_id, "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 800
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 700
