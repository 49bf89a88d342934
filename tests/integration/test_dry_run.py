"""Dry runs (``BatchOpsDryRun``) on a real server and SeaweedFS: every task is checked, nothing is changed.

Each test snapshots every object version of the buckets a job touches (bytes, ETag, metadata, tags, retention, legal
hold, delete markers, multipart uploads) before and after the dry run: they must be identical. Only the report bucket
changes. The report's rows say what each task would do, or why it would fail.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from botocore.exceptions import ClientError

import batchops
from batchops.devstore import LocalSeaweed, free_port
from batchops.reports.reader import ReportLocation
from batchops.reports.reader import read_report as read_written_report
from tests.integration.test_boto3_extensions import hooked_client
from tests.integration.test_cli_jobs import ok, run
from tests.integration.test_demo import REPO, demo_environment, run_readme_python, running_demo
from tests.support.console import console_session
from tests.support.cos import cos_request, create_body, create_cos_job, put_cos_manifest
from tests.support.jobs import create_job, describe, put_manifest, read_report, wait_for, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
#: Copies above 5 MiB go multipart in 5 MiB parts (as in test_operation_copy.py), so a 12 MiB object shows it.
SMALL_PARTS_CONFIG = "[server]\ncopy_multipart_threshold_bytes = 5242880\ncopy_part_size_bytes = 5242880\n"


@pytest.fixture
def control(server: Server) -> Any:
    """boto3 with batchops' overlay: it sends BatchOpsDryRun and reads it back."""
    return hooked_client(server)


# --- the store, byte for byte ------------------------------------------------------------------------------------


def snapshot(s3: Any, buckets: list[str]) -> dict[str, Any]:
    """Everything a job could change in ``buckets``: each version's bytes, ETag, metadata, tags, retention and
    legal hold, each delete marker, each multipart upload in progress."""
    state: dict[str, Any] = {}
    for bucket in buckets:
        listing = s3.list_object_versions(Bucket=bucket)
        assert not listing.get("IsTruncated"), "a test bucket holds a handful of objects"
        for version in listing.get("Versions", []):
            state[f"{bucket}/{version['Key']}@{version['VersionId']}"] = _version_state(s3, bucket, version)
        for marker in listing.get("DeleteMarkers", []):
            state[f"{bucket}/{marker['Key']}@{marker['VersionId']}"] = ("delete marker", marker["IsLatest"])
        uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        state[f"{bucket} uploads"] = sorted(upload["Key"] for upload in uploads)
    return state


def _version_state(s3: Any, bucket: str, version: dict[str, Any]) -> tuple[Any, ...]:
    where = {"Bucket": bucket, "Key": version["Key"]}
    if version["VersionId"] != "null":
        where["VersionId"] = version["VersionId"]
    got = s3.get_object(**where)
    return (
        got["Body"].read(),
        version["ETag"],
        version["IsLatest"],
        got.get("Metadata"),
        s3.get_object_tagging(**where)["TagSet"],
        _or_none(lambda: s3.get_object_retention(**where)["Retention"]),
        _or_none(lambda: s3.get_object_legal_hold(**where)["LegalHold"]),
    )


def _or_none(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except ClientError as exc:  # no retention / legal hold on this version (or no Object Lock on its bucket)
        return exc.response["Error"]["Code"]


def dry_run(
    control: Any,
    s3: Any,
    rows: list[str],
    operation: dict[str, Any],
    reports: str,
    fields: list[str] | None = None,
) -> tuple[str, dict[str, list[str]]]:
    """Create a dry-run job, wait for it to end Complete; its id and its report rows by key (URL-encoded)."""
    location = put_manifest(s3, reports, rows)  # the report bucket: the only one a dry run may change
    job_id = create_job(control, location, operation, report_bucket=reports, fields=fields, BatchOpsDryRun=True)
    wait_status(control, job_id, "Complete")
    _, written = read_report(s3, reports, job_id)
    return job_id, {f"{row[1]}@{row[2]}" if row[2] else row[1]: row for row in written}


def outcome(row: list[str]) -> tuple[str, str, str]:
    """(TaskStatus, ErrorCode, HTTPStatusCode) of a report row."""
    return row[3], row[4], row[5]


# --- delete, tagging, merge tagging -------------------------------------------------------------------------------


def test_delete_and_tagging_dry_runs_say_what_would_happen_and_change_nothing(
    server: Server, control: Any, s3: Any, new_bucket: Callable[..., str], versioned_bucket: str
) -> None:
    plain, reports = new_bucket(), new_bucket()
    s3.put_object(Bucket=plain, Key="a", Body=b"a", Tagging="one=1&two=2")
    s3.put_object(Bucket=plain, Key="nine", Body=b"9", Tagging="&".join(f"t{i}=v" for i in range(9)))
    old = s3.put_object(Bucket=versioned_bucket, Key="v", Body=b"old")["VersionId"]
    s3.put_object(Bucket=versioned_bucket, Key="v", Body=b"new")
    before = snapshot(s3, [plain, versioned_bucket])

    delete = {"S3DeleteObject": {}}
    job_id, rows = dry_run(control, s3, [f"{plain},a", f"{plain},missing", f"{versioned_bucket},v"], delete, reports)
    assert outcome(rows["a"]) == ("succeeded", "", "200")
    assert rows["a"][6] == "would delete the object"
    assert outcome(rows["missing"]) == ("failed", "NoSuchKey", "404")
    assert (
        rows["v"][6] == "would add a delete marker (the bucket is versioned: the object stays as a noncurrent version)"
    )
    assert describe(control, job_id)["BatchOpsDryRun"] is True

    versions = [f"{versioned_bucket},v,{old}", f"{versioned_bucket},v,nosuchversion"]
    _, rows = dry_run(control, s3, versions, delete, reports, fields=["Bucket", "Key", "VersionId"])
    assert rows[f"v@{old}"][6] == f"would delete version {old}"
    assert outcome(rows["v@nosuchversion"]) == ("failed", "NoSuchVersion", "404")

    replace = {"S3PutObjectTagging": {"TagSet": [{"Key": "project", "Value": "blue"}]}}
    _, rows = dry_run(control, s3, [f"{plain},a", f"{plain},missing"], replace, reports)
    assert rows["a"][6] == "would replace its 2 tags with 1 tags"
    assert outcome(rows["missing"])[:2] == ("failed", "NoSuchKey")

    merge = {"BatchOpsMergeObjectTagging": {"TagSet": [{"Key": "n1", "Value": "a"}, {"Key": "n2", "Value": "b"}]}}
    _, rows = dry_run(control, s3, [f"{plain},a", f"{plain},nine"], merge, reports)
    assert rows["a"][6] == "would merge tags: 2 tags now, 4 after"
    assert outcome(rows["nine"]) == ("failed", "TooManyTags", "400")
    assert "11 tags (9 existing)" in rows["nine"][6]

    assert snapshot(s3, [plain, versioned_bucket]) == before


# --- copy ---------------------------------------------------------------------------------------------------------


def test_copy_dry_run_checks_source_target_and_size_and_copies_nothing(
    start_server: Callable[..., Server], tmp_path: Path, s3: Any, new_bucket: Callable[..., str]
) -> None:
    config = tmp_path / f"batchops-{os.urandom(4).hex()}.toml"
    config.write_text(SMALL_PARTS_CONFIG)
    control = hooked_client(start_server("--config", str(config)))
    source, target, reports = new_bucket(), new_bucket(), new_bucket()
    s3.put_object(Bucket=source, Key="big one.bin", Body=os.urandom(12 * MIB))
    s3.put_object(Bucket=source, Key="small.txt", Body=b"tiny")
    before = snapshot(s3, [source, target])

    copy = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{target}", "TargetKeyPrefix": "c/"}}
    rows_in = [f"{source},{quote('big one.bin')}", f"{source},small.txt", f"{source},missing"]
    job_id, rows = dry_run(control, s3, rows_in, copy, reports)
    assert rows[quote("big one.bin")][6] == (
        f"would copy {12 * MIB} bytes to {target}/c/big one.bin by multipart copy in 3 parts"
    )
    assert rows["small.txt"][6] == f"would copy 4 bytes to {target}/c/small.txt by one CopyObject"
    assert outcome(rows["missing"]) == ("failed", "NoSuchKey", "404")
    assert describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] == 2

    nowhere = {"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::t-no-such-bucket-dry-run"}}
    _, rows = dry_run(control, s3, [f"{source},small.txt"], nowhere, reports)
    assert outcome(rows["small.txt"]) == ("failed", "NoSuchBucket", "404")
    assert "t-no-such-bucket-dry-run" in rows["small.txt"][6]

    assert snapshot(s3, [source, target]) == before
    assert "Contents" not in s3.list_objects_v2(Bucket=target)


# --- retention ----------------------------------------------------------------------------------------------------


def test_retention_dry_run_refuses_to_shorten_a_lock_and_changes_nothing(
    server: Server, control: Any, s3: Any, new_bucket: Callable[..., str], locked_bucket: str
) -> None:
    reports = new_bucket()
    now = datetime.now(UTC).replace(microsecond=0)
    for key, mode in (("compliance", "COMPLIANCE"), ("governance", "GOVERNANCE")):
        s3.put_object(Bucket=locked_bucket, Key=key, Body=key.encode())
        s3.put_object_retention(
            Bucket=locked_bucket, Key=key, Retention={"Mode": mode, "RetainUntilDate": now + timedelta(days=2)}
        )
    s3.put_object(Bucket=locked_bucket, Key="free", Body=b"free")
    before = snapshot(s3, [locked_bucket])
    keys = [f"{locked_bucket},compliance", f"{locked_bucket},governance", f"{locked_bucket},free"]

    def retention(mode: str, days: int, bypass: bool = False) -> dict[str, Any]:
        wanted = {"Retention": {"Mode": mode, "RetainUntilDate": now + timedelta(days=days)}}
        return {"S3PutObjectRetention": {**wanted, **({"BypassGovernanceRetention": True} if bypass else {})}}

    _, rows = dry_run(control, s3, keys, retention("GOVERNANCE", 1), reports)
    assert outcome(rows["compliance"]) == ("failed", "RetentionShortened", "403")
    assert "COMPLIANCE retention until" in rows["compliance"][6]
    assert outcome(rows["governance"]) == ("failed", "RetentionShortened", "403")
    assert "BypassGovernanceRetention" in rows["governance"][6]
    assert rows["free"][6].startswith("would set retention GOVERNANCE until ")

    _, rows = dry_run(control, s3, keys, retention("GOVERNANCE", 1, bypass=True), reports)
    assert outcome(rows["compliance"])[:2] == ("failed", "RetentionShortened")  # no bypass for COMPLIANCE
    assert outcome(rows["governance"])[0] == "succeeded"

    _, rows = dry_run(control, s3, keys, retention("COMPLIANCE", 5), reports)
    assert [outcome(rows[key])[0] for key in ("compliance", "governance", "free")] == ["succeeded"] * 3

    assert snapshot(s3, [locked_bucket]) == before


# --- a generated manifest, the CLI, the Python client ------------------------------------------------------------


def test_a_generator_dry_run_lists_but_saves_no_manifest(
    server: Server, control: Any, s3: Any, new_bucket: Callable[..., str]
) -> None:
    source, output, reports = new_bucket(), new_bucket(), new_bucket()
    for key in ("a", "b"):
        s3.put_object(Bucket=source, Key=key, Body=key.encode())
    before = snapshot(s3, [source, output])
    response = control.create_job(
        AccountId=ACCOUNT,
        ConfirmationRequired=False,
        Operation={"S3DeleteObject": {}},
        Report={
            "Enabled": True,
            "Bucket": f"arn:aws:s3:::{reports}",
            "Format": "Report_CSV_20180820",
            "Prefix": "reports",
            "ReportScope": "AllTasks",
        },
        ManifestGenerator={
            "S3JobManifestGenerator": {
                "SourceBucket": f"arn:aws:s3:::{source}",
                "EnableManifestOutput": True,
                "ManifestOutputLocation": {
                    "Bucket": f"arn:aws:s3:::{output}",
                    "ManifestFormat": "S3InventoryReport_CSV_20211130",
                },
            }
        },
        Priority=10,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/batch",
        BatchOpsDryRun=True,
    )
    job = wait_status(control, response["JobId"], "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    assert "GeneratedManifestDescriptor" not in job
    _, rows = read_report(s3, reports, response["JobId"])
    assert sorted((row[1], row[6]) for row in rows) == [
        ("a", "would delete the object"),
        ("b", "would delete the object"),
    ]
    assert snapshot(s3, [source, output]) == before


def test_cli_and_python_client_create_a_dry_run_and_show_its_counts_by_outcome(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    s3.put_object(Bucket=bucket, Key="k", Body=b"k", Tagging="a=1")
    manifest = put_manifest(s3, reports, [f"{bucket},k", f"{bucket},gone1", f"{bucket},gone2"])["ObjectArn"]
    before = snapshot(s3, [bucket])

    create = ["create", "--manifest-arn", manifest, "--report-bucket", reports, "--no-confirmation-required"]
    job_id = ok(run(server.url, seaweed, *create, "--put-object-tag", "b=2", "--dry-run")).strip()
    ok(run(server.url, seaweed, "wait", job_id, "--interval", "0.2"))
    assert "yes: checks every task, changes nothing" in ok(run(server.url, seaweed, "describe", job_id))
    report = ok(run(server.url, seaweed, "report", job_id))
    assert "would replace its 1 tags with 1 tags" in report
    assert "by outcome: 1 succeeded, 2 failed (NoSuchKey 2)" in report
    as_json = json.loads(ok(run(server.url, seaweed, "report", job_id, "--output", "json")))
    assert as_json["Counts"] == {"succeeded": 1, "NoSuchKey": 2}

    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)
    deleting = client.create_job(
        operation={"S3DeleteObject": {}}, manifest_arn=manifest, report_bucket=reports, dry_run=True
    )
    wait_status(hooked_client(server), deleting, "Complete")
    assert client.describe_job(deleting)["BatchOpsDryRun"] is True
    assert client.report(deleting).outcome_counts() == {"succeeded": 1, "NoSuchKey": 2}
    assert snapshot(s3, [bucket]) == before
    # Any other job's DescribeJob stays the dialect's own: no BatchOpsDryRun element at all.
    held = client.create_job(operation={"S3DeleteObject": {}}, manifest_arn=manifest, confirmation_required=True)
    assert "BatchOpsDryRun" not in client.describe_job(held)


# --- the console ---------------------------------------------------------------------------------------------------


def test_the_console_creates_a_dry_run_marks_it_and_counts_its_outcomes(
    server: Server, control: Any, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    s3.put_object(Bucket=bucket, Key="k", Body=b"k")
    before = snapshot(s3, [bucket])
    client, token = console_session(server)
    assert 'name="dry_run"' in client.get("/jobs/new").text
    fields = {
        "csrf_token": token,
        "client_request_token": str(uuid.uuid4()),
        "manifest_source": "upload",
        "upload_bucket": reports,
        "manifest_fields": "Bucket,Key",
        "operation": "S3DeleteObjectTagging",
        "priority": "10",
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/batchops",
        "report_enabled": "on",
        "report_bucket": reports,
        "report_prefix": "reports",
        "report_scope": "AllTasks",
        "dry_run": "on",
    }
    manifest = f"{bucket},k\n{bucket},gone\n".encode()
    answer = client.post("/jobs/new", data=fields, files={"manifest_file": ("m.csv", manifest, "text/csv")})
    assert answer.status_code == 303, answer.text[:3000]
    job_id = answer.headers["location"].rsplit("/", 1)[-1]

    assert describe(control, job_id)["BatchOpsDryRun"] is True
    wait_status(control, job_id, "Complete")
    page = client.get(f"/jobs/{job_id}").text
    assert 'data-testid="dry-run-mark"' in page
    assert "1 task would succeed, 1 would fail:" in page
    assert "<strong>NoSuchKey</strong>: 1" in page
    listed = client.get("/jobs").text
    row = listed[listed.index(f'data-job-id="{job_id}"') :]
    assert 'data-testid="dry-run-mark"' in row[: row.index("</tr>")]
    _, rows = read_report(s3, reports, job_id)
    assert sorted((row[1], row[3], row[6]) for row in rows)[1] == (
        "k",
        "succeeded",
        "would run S3DeleteObjectTagging (the object exists, 1 byte)",
    )
    assert snapshot(s3, [bucket]) == before


# --- the COS dialect, and the failure threshold ---------------------------------------------------------------------


def test_a_cos_dry_run_of_tags_added_past_ten_fails_those_tasks_and_changes_nothing(
    server: Server, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    s3.put_object(Bucket=bucket, Key="few", Body=b"f", Tagging="a=1")
    s3.put_object(Bucket=bucket, Key="many", Body=b"m", Tagging="&".join(f"t{i}=v" for i in range(10)))
    before = snapshot(s3, [bucket])
    arn, etag = put_cos_manifest(s3, reports, [f"{bucket},few", f"{bucket},many"])
    adding = (
        "<COSPutObjectTagging><TaggingDirective>Add</TaggingDirective><TagSet><COSTag><Key>k</Key><Value>v</Value>"
        "</COSTag></TagSet></COSPutObjectTagging>"
    )
    body = create_body(arn, etag, adding, report_bucket=reports).replace(
        b"</CreateJobRequest>", b"<BatchOpsDryRun>true</BatchOpsDryRun></CreateJobRequest>"
    )
    job_id = create_cos_job(server, body)

    def ended() -> Any:
        answer = cos_request(server, "GET", f"/jobs/{job_id}")
        return answer if answer.text("Job/Status") == "Complete" else None

    described = wait_for(ended, what=f"COS job {job_id} to complete")
    assert described.text("Job/BatchOpsDryRun") == "true"
    written = read_written_report(
        lambda b, k: bytes(s3.get_object(Bucket=b, Key=k)["Body"].read()),
        ReportLocation.of(reports, "cos-reports", job_id),
    )
    rows = {row[1]: row for row in written.rows}
    assert rows["few"][6] == "would merge tags: 1 tags now, 2 after"
    assert outcome(rows["many"]) == ("failed", "TooManyTags", "400")
    assert snapshot(s3, [bucket]) == before


def test_a_dry_run_checks_every_task_past_the_failure_threshold(
    control: Any, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    s3.put_object(Bucket=bucket, Key="here", Body=b"h")
    rows = [f"{bucket},here", *(f"{bucket},gone-{n}" for n in range(5))]
    location = put_manifest(s3, reports, rows)
    job_id = create_job(
        control,
        location,
        {"S3DeleteObject": {}},
        report_bucket=reports,
        BatchOpsDryRun=True,
        BatchOpsFailureThreshold={"MinTasks": 0, "Percent": 0},
    )
    job = wait_status(control, job_id, "Complete")  # a job that is not a dry run fails at its first failure
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 5
    assert "FailureReasons" not in job or job["FailureReasons"] == []


# --- the README's example, as pasted ---------------------------------------------------------------------------------


def readme_dry_run_blocks() -> tuple[str, str]:
    """The shell and Python blocks of the README's "Dry run" section."""
    section = (REPO / "README.md").read_text().split("\n### Dry run\n", 1)[1].split("\n## ", 1)[0]
    shell = re.search(r"^```sh\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    python = re.search(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert shell and python, "README.md's Dry run section needs an sh and a python block"
    return shell.group(1), python.group(1)


def test_the_readme_dry_run_example_runs_as_pasted_after_make_run(tmp_path: Path) -> None:
    shell_block, python_block = readme_dry_run_blocks()
    with running_demo(tmp_path, free_port()):
        fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        walked = subprocess.run(
            ["bash", "-e", "-c", shell_block], cwd=tmp_path, env=fresh, capture_output=True, text=True, timeout=240
        )
        assert walked.returncode == 0, walked.stdout + walked.stderr
        assert "yes: checks every task, changes nothing" in walked.stdout
        assert "would merge tags: 0 tags now, 1 after" in walked.stdout
        assert "by outcome: 10 succeeded, 1 failed (NoSuchKey 1)" in walked.stdout

        demo = demo_environment(tmp_path / ".data" / "demo.env")
        ran = run_readme_python(python_block, tmp_path / ".data")
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert ran.stdout.strip() == "{'succeeded': 10, 'NoSuchKey': 1}"

        s3 = boto3.client(
            "s3",
            endpoint_url=demo["BATCHOPS_S3_ENDPOINT"],
            aws_access_key_id=demo["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=demo["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        assert s3.get_object_tagging(Bucket="demo-source", Key="photos/0000.txt")["TagSet"] == []
        assert s3.get_object(Bucket="demo-source", Key="photos/0009.txt")["Body"].read()  # not deleted
