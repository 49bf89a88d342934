"""Each operation, run as a job through the S3 Control API, and its effect on real objects (SeaweedFS).

Our extension operations (merge tagging, batched delete, compute checksum, LambdaInvoke) also check the
completion report's rows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.batch_functions import ENTRY_POINT_ARN, REPO, WEBHOOK_ARN, Webhook
from tests.support.faulty_proxy import FaultyProxy
from tests.support.http import signed_request
from tests.support.jobs import TAGGING, create_job, put_manifest, put_objects, read_report, wait_status
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration

KEYS = ["a.txt", "dir/b c.txt"]


def run(control: Any, s3: Any, bucket: str, operation: dict[str, Any]) -> dict[str, Any]:
    rows = [f"{bucket},{key.replace(' ', '%20')}" for key in KEYS]
    job = wait_status(control, create_job(control, put_manifest(s3, bucket, rows), operation), {"Complete", "Failed"})
    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == len(KEYS), job["ProgressSummary"]
    return job


def test_copy_job(control: Any, s3: Any, new_bucket: Any) -> None:
    source, target = new_bucket(), new_bucket()
    put_objects(s3, source, KEYS)
    operation = {
        "S3PutObjectCopy": {
            "TargetResource": f"arn:aws:s3:::{target}",
            "TargetKeyPrefix": "copied/",
            "MetadataDirective": "REPLACE",
            "NewObjectMetadata": {"UserMetadata": {"origin": "batchops"}},
            "NewObjectTagging": [{"Key": "copied", "Value": "yes"}],
            "StorageClass": "STANDARD_IA",
        }
    }
    run(control, s3, source, operation)
    for key in KEYS:
        head = s3.head_object(Bucket=target, Key=f"copied/{key}")
        assert head["Metadata"] == {"origin": "batchops"}
        assert s3.get_object(Bucket=target, Key=f"copied/{key}")["Body"].read() == key.encode()
        assert s3.get_object_tagging(Bucket=target, Key=f"copied/{key}")["TagSet"] == [
            {"Key": "copied", "Value": "yes"}
        ]


def test_delete_tagging_job(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, KEYS)
    for key in KEYS:
        s3.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": [{"Key": "x", "Value": "y"}]})
    run(control, s3, bucket, {"S3DeleteObjectTagging": {}})
    assert all(s3.get_object_tagging(Bucket=bucket, Key=k)["TagSet"] == [] for k in KEYS)


def test_acl_job(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, KEYS)
    run(control, s3, bucket, {"S3PutObjectAcl": {"AccessControlPolicy": {"CannedAccessControlList": "public-read"}}})
    for key in KEYS:
        grants = s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        assert any(g["Grantee"].get("URI", "").endswith("AllUsers") and g["Permission"] == "READ" for g in grants)


def test_retention_and_legal_hold_jobs(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket(object_lock=True)
    put_objects(s3, bucket, KEYS)
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    run(control, s3, bucket, {"S3PutObjectRetention": {"Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": until}}})
    run(control, s3, bucket, {"S3PutObjectLegalHold": {"LegalHold": {"Status": "ON"}}})
    for key in KEYS:
        assert s3.get_object_retention(Bucket=bucket, Key=key)["Retention"]["Mode"] == "GOVERNANCE"
        assert s3.get_object_legal_hold(Bucket=bucket, Key=key)["LegalHold"]["Status"] == "ON"
    run(control, s3, bucket, {"S3PutObjectLegalHold": {"LegalHold": {"Status": "OFF"}}})
    assert s3.get_object_legal_hold(Bucket=bucket, Key=KEYS[0])["LegalHold"]["Status"] == "OFF"


def test_delete_job_our_extension(server: Any, s3: Any, new_bucket: Any) -> None:
    # boto3's model has no S3DeleteObject member, so send the element through the raw (signed) API.
    bucket = new_bucket()
    put_objects(s3, bucket, KEYS)
    location = put_manifest(s3, bucket, [f"{bucket},{k.replace(' ', '%20')}" for k in KEYS])
    body = f"""<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">
      <ConfirmationRequired>false</ConfirmationRequired><Operation><S3DeleteObject/></Operation>
      <Report><Enabled>false</Enabled></Report><ClientRequestToken>delete-1</ClientRequestToken>
      <Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format>
        <Fields><member>Bucket</member><member>Key</member></Fields></Spec>
        <Location><ObjectArn>{location["ObjectArn"]}</ObjectArn><ETag>{location["ETag"]}</ETag></Location></Manifest>
      <Priority>1</Priority><RoleArn>arn:aws:iam::123456789012:role/r</RoleArn></CreateJobRequest>"""
    status, reply_bytes = signed_request(server.url, "POST", "/v20180820/jobs", body.encode())
    assert status == 200, reply_bytes
    reply = reply_bytes.decode()
    job_id = reply.split("<JobId>")[1].split("</JobId>")[0]
    job = wait_status(server.client(), job_id, "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert not {o["Key"] for o in listed} & set(KEYS)


def test_throttled_store_503_slowdown_is_retried_with_backoff(
    start_server: Any, seaweed: Any, s3: Any, new_bucket: Any
) -> None:
    # Given a store that answers every tagging request 503 SlowDown twice before serving it
    proxy = FaultyProxy(seaweed.endpoint, failures_per_request=2).start()
    server = start_server("--s3-endpoint", proxy.endpoint)  # the last --s3-endpoint wins
    control = server.client()
    bucket = new_bucket()
    keys = [f"k{i}" for i in range(20)]
    put_objects(s3, bucket, keys)
    # When a tagging job runs through it
    job_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},{k}" for k in keys]), TAGGING)
    job = wait_status(control, job_id, {"Complete", "Failed"})
    # Then every task succeeded after its retries
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 20
    assert proxy.throttled == 40
    assert all(s3.get_object_tagging(Bucket=bucket, Key=k)["TagSet"] for k in keys)


def create_raw_job(
    server: Server, operation_xml: str, location: dict[str, str], report_bucket: str, versions: bool = False
) -> str:
    """CreateJob for our extension operations, which boto3's model cannot express (the one raw request here)."""
    fields = "".join(f"<member>{f}</member>" for f in ("Bucket", "Key", *(("VersionId",) if versions else ())))
    body = f"""<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">
      <ConfirmationRequired>false</ConfirmationRequired><Operation>{operation_xml}</Operation>
      <Report><Enabled>true</Enabled><Bucket>arn:aws:s3:::{report_bucket}</Bucket><Prefix>reports</Prefix>
        <Format>Report_CSV_20180820</Format><ReportScope>AllTasks</ReportScope></Report>
      <ClientRequestToken>{uuid.uuid4()}</ClientRequestToken>
      <Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format>
        <Fields>{fields}</Fields></Spec>
        <Location><ObjectArn>{location["ObjectArn"]}</ObjectArn><ETag>{location["ETag"]}</ETag></Location></Manifest>
      <Priority>1</Priority><RoleArn>arn:aws:iam::{ACCOUNT}:role/r</RoleArn></CreateJobRequest>"""
    status, reply = signed_request(server.url, "POST", "/v20180820/jobs", body.encode())
    assert status == 200, reply
    return reply.decode().split("<JobId>")[1].split("</JobId>")[0]


def rows_by_key(s3: Any, reports: str, job_id: str) -> dict[str, list[str]]:
    _, rows = read_report(s3, reports, job_id)
    return {row[1]: row for row in rows}


# --- BatchOpsMergeObjectTagging ------------------------------------------------------------------


def test_merge_tagging_job(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    bucket, reports = new_bucket(), new_bucket()
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", Tagging="keep=1&old=x")
    s3.put_object(Bucket=bucket, Key="full", Body=b"x", Tagging="&".join(f"t{i}=v" for i in range(10)))
    location = put_manifest(s3, bucket, [f"{bucket},a", f"{bucket},full", f"{bucket},absent"])
    operation = (
        "<BatchOpsMergeObjectTagging><TagSet><member><Key>new</Key><Value>2</Value></member></TagSet>"
        "<RemoveKeys><member>old</member></RemoveKeys></BatchOpsMergeObjectTagging>"
    )
    job = wait_status(server.client(), create_raw_job(server, operation, location, reports), "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key="a")["TagSet"]} == {
        "keep": "1",
        "new": "2",
    }
    rows = rows_by_key(s3, reports, job["JobId"])
    assert rows["a"][3:] == ["succeeded", "", "200", "tags merged (2 tags)"]
    assert rows["full"][3:6] == ["failed", "TooManyTags", "400"]
    assert "11 tags (10 existing)" in rows["full"][6]
    assert rows["absent"][3:6] == ["failed", "NoSuchKey", "404"]


# --- S3DeleteObject, batched ---------------------------------------------------------------------


def test_batched_delete_job_reports_each_key(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    bucket, versioned, reports = new_bucket(), new_bucket(), new_bucket()
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Enabled"})
    keys = [f"obj {i}" for i in range(300)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    older = s3.put_object(Bucket=versioned, Key="doc", Body=b"1")["VersionId"]
    latest = s3.put_object(Bucket=versioned, Key="doc", Body=b"2")["VersionId"]
    rows = [f"{bucket},{k.replace(' ', '%20')}" for k in keys] + [f"no-such-bucket-{uuid.uuid4().hex[:8]},gone"]
    control = server.client()
    job = wait_status(
        control, create_raw_job(server, "<S3DeleteObject/>", put_manifest(s3, reports, rows), reports), "Complete"
    )
    assert (job["ProgressSummary"]["NumberOfTasksSucceeded"], job["ProgressSummary"]["NumberOfTasksFailed"]) == (300, 1)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    report = rows_by_key(s3, reports, job["JobId"])
    assert len(report) == 301
    assert report["obj%2042"][3:] == ["succeeded", "", "200", "deleted"]
    assert report["gone"][3:6] == ["failed", "NoSuchBucket", "404"]
    # A manifest VersionId deletes that version only.
    location = put_manifest(s3, reports, [f"{versioned},doc,{older}"])
    job = wait_status(
        control, create_raw_job(server, "<S3DeleteObject/>", location, reports, versions=True), "Complete"
    )
    assert [v["VersionId"] for v in s3.list_object_versions(Bucket=versioned)["Versions"]] == [latest]
    assert rows_by_key(s3, reports, job["JobId"])["doc"][2:] == [
        older,
        "succeeded",
        "",
        "200",
        f"version {older} deleted",
    ]


# --- S3ComputeObjectChecksum (boto3's own model member) ----------------------------------------


def test_compute_checksum_job_writes_checksums_into_the_report(
    control: Any, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    bodies = {"a.txt": b"alpha", "dir/b c.bin": bytes(range(256)) * 4000}
    etags = {k: s3.put_object(Bucket=bucket, Key=k, Body=v)["ETag"].strip('"') for k, v in bodies.items()}
    rows = [f"{bucket},a.txt", f"{bucket},dir/b%20c.bin", f"{bucket},missing"]
    operation = {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"}}
    job_id = create_job(control, put_manifest(s3, bucket, rows), operation, report_bucket=reports)
    job = wait_status(control, job_id, "Complete")
    assert job["Operation"] == operation
    report = rows_by_key(s3, reports, job_id)
    for key, encoded in (("a.txt", "a.txt"), ("dir/b c.bin", "dir/b%20c.bin")):
        digest = hashlib.sha256(bodies[key]).digest()
        assert report[encoded][3:6] == ["succeeded", "", "200"]
        assert json.loads(report[encoded][6]) == {
            "checksum_base64": base64.b64encode(digest).decode(),
            "ETag": etags[key],
            "checksumAlgorithm": "SHA256",
            "checksumType": "FULL_OBJECT",
            "checksum_hex": digest.hex().upper(),
        }
    assert report["missing"][3:6] == ["failed", "NoSuchKey", "404"]


def test_compute_checksum_refusals_are_bad_requests(control: Any, s3: Any, new_bucket: Callable[..., str]) -> None:
    location = put_manifest(s3, new_bucket(), ["b,k"])
    operation = {"S3ComputeObjectChecksum": {"ChecksumAlgorithm": "XXHASH3", "ChecksumType": "FULL_OBJECT"}}
    with pytest.raises(ClientError) as info:
        create_job(control, location, operation)
    assert info.value.response["Error"]["Code"] == "BadRequestException"
    assert "XXHASH3 is not supported by batchops" in info.value.response["Error"]["Message"]


# --- LambdaInvoke ------------------------------------------------------------------------------


LAMBDA_KEYS = ["ok/a b.jpg", "perm/x.txt", "retry-once/c.jpg", "busy/d.jpg", "crash/e.jpg"]


@pytest.fixture
def webhook() -> Any:
    with Webhook() as hook:
        yield hook


@pytest.fixture
def lambda_server(start_server: Callable[..., Server], webhook: Webhook, tmp_path: Path) -> Server:
    config = tmp_path / "functions.toml"
    config.write_text(
        f'[[functions]]\narn = "{WEBHOOK_ARN}"\nurl = "{webhook.url}"\nmax_attempts = 3\n\n'
        f'[[functions]]\narn = "{ENTRY_POINT_ARN}"\nentry_point = "tests.support.batch_functions:async_handler"\n'
        "max_attempts = 3\ntimeout_seconds = 10\n"
    )
    return start_server("--config", str(config), env={"PYTHONPATH": str(REPO)})


def lambda_job(server: Server, s3: Any, bucket: str, reports: str, invoke: dict[str, Any]) -> dict[str, list[str]]:
    control = server.client()
    rows = [f"{bucket},{k.replace(' ', '%20')}" for k in LAMBDA_KEYS]
    job_id = create_job(control, put_manifest(s3, bucket, rows), {"LambdaInvoke": invoke}, report_bucket=reports)
    job = wait_status(control, job_id, "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 3
    return rows_by_key(s3, reports, job_id)


def check_lambda_rows(report: dict[str, list[str]], user_arguments: dict[str, str], crash_detail: str) -> None:
    assert report["ok/a%20b.jpg"][3:] == ["succeeded", "", "200", f"processed ok/a b.jpg with {user_arguments}"]
    assert report["retry-once/c.jpg"][3:] == [
        "succeeded",
        "",
        "200",
        f"processed retry-once/c.jpg with {user_arguments}",
    ]
    assert report["perm/x.txt"][3:] == ["failed", "PermanentFailure", "200", "perm/x.txt is not an image"]
    assert report["busy/d.jpg"][3:] == ["failed", "TemporaryFailure", "200", "downstream busy"]
    crash = report["crash/e.jpg"]
    assert crash[3:6] == ["failed", "PermanentFailure", "200"]
    assert crash[6].startswith("Lambda returned function error: ")
    assert crash_detail in json.loads(crash[6].removeprefix("Lambda returned function error: "))["errorMessage"]


def test_lambda_webhook_schema_1(
    lambda_server: Server, webhook: Webhook, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    report = lambda_job(lambda_server, s3, bucket, reports, {"FunctionArn": WEBHOOK_ARN})
    check_lambda_rows(report, {}, "HTTP 500: cannot open crash/e.jpg")
    first = next(e for e in webhook.behaviour.events if e["tasks"][0]["s3Key"] == "ok/a%20b.jpg")
    assert first["invocationSchemaVersion"] == "1.0"
    assert first["job"] == {"id": first["job"]["id"]} and len(first["job"]["id"]) >= 5
    assert first["tasks"][0]["s3BucketArn"] == f"arn:aws:s3:::{bucket}"
    assert first["tasks"][0]["s3VersionId"] is None
    assert webhook.behaviour.calls("busy/d.jpg") == 3  # max_attempts
    assert webhook.behaviour.calls("retry-once/c.jpg") == 2
    assert webhook.behaviour.calls("perm/x.txt") == 1


def test_lambda_entry_point_schema_2_with_user_arguments(
    lambda_server: Server, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    invoke = {"FunctionArn": ENTRY_POINT_ARN, "InvocationSchemaVersion": "2.0", "UserArguments": {"size": "small"}}
    report = lambda_job(lambda_server, s3, bucket, reports, invoke)
    check_lambda_rows(report, {"size": "small"}, "cannot open crash/e.jpg")


def test_lambda_with_an_unconfigured_function_is_refused(
    lambda_server: Server, s3: Any, new_bucket: Callable[..., str]
) -> None:
    location = put_manifest(s3, new_bucket(), ["b,k"])
    unknown = "arn:aws:lambda:us-east-1:123456789012:function:nobody"
    with pytest.raises(ClientError) as info:
        create_job(lambda_server.client(), location, {"LambdaInvoke": {"FunctionArn": unknown}})
    error = info.value.response["Error"]
    assert error["Code"] == "BadRequestException"
    assert f"{unknown} is not configured on this server" in error["Message"]
    assert WEBHOOK_ARN in error["Message"] and "[[functions]]" in error["Message"]
