"""CreateJob looks at a manifest it can read: a wrong ETag or a header row is refused in the request's dialect
instead of creating a job that can only fail; the server log tells every job's status moves and every request.

Real server processes on a real SeaweedFS, through boto3 (S3 Control) and the COS SDK's signer (COS).
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.cos import TAGGING as COS_TAGGING
from tests.support.cos import assert_cos_error, cos_request, create_body, put_cos_manifest
from tests.support.http import signed_request
from tests.support.jobs import create_job, put_manifest, put_objects, wait_for, wait_status
from tests.support.manifests import csv_gz, put_inventory
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration

TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "project", "Value": "batchops"}]}}
WRONG = '"0123456789ABCDEF0123456789ABCDEF"'


def refusal(call: Any) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    answer = caught.value.response
    return answer["Error"]["Code"], answer["ResponseMetadata"]["HTTPStatusCode"], answer["Error"]["Message"]


def test_an_etag_that_does_not_match_is_refused_at_createjob_naming_both(
    control: Any, s3: Any, new_bucket: Any
) -> None:
    bucket = new_bucket()
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    actual = location["ETag"].strip('"')
    code, status, message = refusal(lambda: create_job(control, {**location, "ETag": WRONG}, TAGGING))
    assert (code, status) == ("BadRequestException", 400)
    assert message.startswith("Manifest.Location.ETag: 0123456789abcdef0123456789abcdef is not the ETag")
    assert f"s3://{bucket}/" in message and f"which is {actual}" in message
    assert control.list_jobs(AccountId=ACCOUNT)["Jobs"] == []  # no job that could only fail


def test_an_etag_in_another_case_or_without_quotes_is_the_same_etag(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, ["a"])
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    job_id = create_job(control, {**location, "ETag": location["ETag"].strip('"').upper()}, TAGGING)
    assert wait_status(control, job_id, {"Complete", "Failed"})["Status"] == "Complete"


def test_an_inventory_manifest_is_checked_with_a_head(control: Any, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    location = put_inventory(s3, bucket, [csv_gz([[bucket, "a"]])])
    spec = {"Format": "S3InventoryReport_CSV_20161130"}
    code, _, message = refusal(
        lambda: control.create_job(
            AccountId=ACCOUNT,
            ConfirmationRequired=True,
            Operation=TAGGING,
            Report={"Enabled": False},
            Manifest={"Spec": spec, "Location": {**location, "ETag": WRONG}},
            Priority=1,
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/batch",
        )
    )
    assert code == "BadRequestException" and "is not the ETag of the manifest" in message


@pytest.mark.parametrize("header", ["Bucket,Key", "BUCKET,KEY"])
def test_a_header_row_is_refused_at_createjob(control: Any, s3: Any, new_bucket: Any, header: str) -> None:
    bucket = new_bucket()
    location = put_manifest(s3, bucket, [header, f"{bucket},a", f"{bucket},b"])
    code, status, message = refusal(lambda: create_job(control, location, TAGGING))
    assert (code, status) == ("BadRequestException", 400)
    assert f"manifests have no header row: remove the first line `{header}` from the manifest s3://{bucket}/" in message


def test_a_lower_case_first_row_is_an_object_not_a_header(control: Any, s3: Any) -> None:
    # `bucket,key` names the object `key` in a bucket named `bucket`: it runs as a task.
    # The store is shared by every database's run of this test, so the bucket may be there already.
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
        s3.create_bucket(Bucket="bucket")
    put_objects(s3, "bucket", ["key"])
    location = put_manifest(s3, "bucket", ["bucket,key"])
    job = wait_status(control, create_job(control, location, TAGGING), {"Complete", "Failed"})
    assert (job["Status"], job["ProgressSummary"]["NumberOfTasksSucceeded"]) == ("Complete", 1)


def test_the_cos_dialect_refuses_them_too(server: Server, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    arn, etag = put_cos_manifest(s3, bucket, [f"{bucket},a"])
    answer = cos_request(server, "POST", "/jobs", body=create_body(arn, WRONG, COS_TAGGING))
    assert_cos_error(answer, 400, "InvalidArgument", f"which is {etag.strip(chr(34))}")
    arn, etag = put_cos_manifest(s3, bucket, ["Bucket,Key", f"{bucket},a"])
    answer = cos_request(server, "POST", "/jobs", body=create_body(arn, etag, COS_TAGGING))
    assert_cos_error(answer, 400, "InvalidArgument", "manifests have no header row")


def test_a_manifest_not_readable_at_createjob_still_makes_a_job_that_says_why(control: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    location = {"ObjectArn": f"arn:aws:s3:::{bucket}/not-yet.csv", "ETag": WRONG}
    job = wait_status(control, create_job(control, location, TAGGING), "Failed")
    assert job["FailureReasons"][0]["FailureCode"] == "ManifestNotReadable"


def test_a_malformed_account_id_is_named_in_each_dialect(server: Server) -> None:
    status, body = signed_request(server.url, "GET", "/v20180820/jobs", account="12345")
    assert status == 400 and b"BadRequestException" in body and b"x-amz-account-id must be 12 digits" in body
    answer = cos_request(server, "GET", "/jobs", appid="12345")
    assert_cos_error(answer, 403, "AccessDenied", "x-cos-appid '12345' is not the APPID of the account")


def test_the_log_tells_each_requests_and_each_status_move(server: Server, control: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    location = {"ObjectArn": f"arn:aws:s3:::{bucket}/missing.csv", "ETag": WRONG}
    job_id = create_job(control, location, TAGGING)
    wait_status(control, job_id, "Failed")
    wait_for(
        lambda: f"job {job_id}: Failing -> Failed" in server.log_tail(400),
        timeout=10,
        what="the job's last status move in the log",
    )
    log = server.log_tail(400)
    assert f"job {job_id}: created -> New: job created for account {ACCOUNT}" in log
    assert re.search(rf"job {job_id}: Preparing -> Failing \(ManifestNotReadable\): could not read the manifest", log)
    assert re.search(rf"POST /v20180820/jobs account {ACCOUNT}: 200 in \d+\.\d ms", log)
    assert re.search(rf"GET /v20180820/jobs/{{job_id}} account {ACCOUNT}: 200 in \d+\.\d ms", log)
    assert job_id not in "".join(line for line in log.splitlines() if " ms" in line)  # route templates only
    assert signed_request(server.url, "GET", "/v20180820/nothing-here")[0] == 404
    wait_for(lambda: "GET (no route) account -: 404 in" in server.log_tail(50), timeout=10, what="the 404's line")


def test_a_copy_into_a_bucket_that_does_not_exist_is_refused_at_createjob(
    server: Server, control: Any, s3: Any, new_bucket: Any
) -> None:
    # SeaweedFS answers such a CopyObject with HTTP 500, which would hold the job as if the store were down
    bucket = new_bucket()
    put_objects(s3, bucket, ["a"])
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    copy = {"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::no-such-copy-target"}}
    code, status, message = refusal(lambda: create_job(control, location, copy))
    assert (code, status) == ("BadRequestException", 400)
    assert "bucket no-such-copy-target does not exist in the job's store; create it first" in message
    arn, etag = put_cos_manifest(s3, bucket, [f"{bucket},a"])
    target = "<TargetResource>qcs::cos:ap-chengdu:uid/1:no-such-copy-target</TargetResource>"
    cos_copy = f"<COSPutObjectCopy>{target}</COSPutObjectCopy>"
    answer = cos_request(server, "POST", "/jobs", body=create_body(arn, etag, cos_copy))
    assert_cos_error(answer, 400, "InvalidArgument", "no-such-copy-target does not exist")
    # (a dry run is let through: its report says it task by task, NoSuchBucket; tests/integration/test_dry_run.py)
