"""Each operation, run as a job through the S3 Control API, and its effect on real objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.conftest import create_job, put_manifest, signed_request, wait_status
from tests.integration.faulty_proxy import FaultyProxy
from tests.integration.test_job_lifecycle import TAGGING, put_objects

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
