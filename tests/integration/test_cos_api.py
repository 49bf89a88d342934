"""The COS dialect of the job API on a real server and SeaweedFS: every call, its errors, and COS jobs end to end.

Raw HTTP goes through ONE helper, ``cos_request``, signed with the official COS SDK's signer
(``qcloud_cos.cos_auth.CosS3Auth``) so these tests keep working once signatures are verified.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from tests.support.cos import (
    ROLE,
    TAGGING,
    assert_cos_error,
    cos_request,
    create_body,
    create_cos_job,
    put_cos_manifest,
)
from tests.support.jobs import create_job, describe, put_manifest, wait_for, wait_status
from tests.support.manifests import csv_gz, put_inventory
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration

@pytest.fixture
def suspended_job(server: Server, s3: Any, new_bucket: Callable[..., str]) -> str:
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    arn, etag = put_cos_manifest(s3, bucket, [f"{bucket}, a"])
    job_id = create_cos_job(server, create_body(arn, etag, TAGGING, confirmation=True))
    wait_status(server.client(), job_id, "Suspended")
    return job_id


# --- the calls and their errors ------------------------------------------------------------


def test_x_cos_appid_is_required(server: Server) -> None:
    assert_cos_error(
        cos_request(server, "GET", "/jobs", appid=None), 400, "InvalidArgument", "x-cos-appid cannot be empty"
    )


def test_unknown_paths_answer_in_the_cos_dialect(server: Server) -> None:
    assert_cos_error(cos_request(server, "GET", "/jobs/a/b"), 404, "NoSuchResource", "no such API")


def test_create_job_errors(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    bucket = new_bucket()
    arn, etag = put_cos_manifest(s3, bucket, [f"{bucket},a"])
    assert_cos_error(cos_request(server, "POST", "/jobs", body=b""), 400, "InvalidRequest", "empty")
    assert_cos_error(cos_request(server, "POST", "/jobs", body=b"<CreateJobRequest>"), 400, "MalformedXML")
    bad_priority = create_body(arn, etag, TAGGING, priority=-1)
    assert_cos_error(cos_request(server, "POST", "/jobs", body=bad_priority), 400, "InvalidArgument", "Priority")
    token = str(uuid.uuid4())
    first = create_cos_job(server, create_body(arn, etag, TAGGING, token=token))
    assert create_cos_job(server, create_body(arn, etag, TAGGING, token=token)) == first  # an exact replay
    other = create_body(arn, etag, TAGGING, token=token, priority=11)
    assert_cos_error(cos_request(server, "POST", "/jobs", body=other), 400, "InvalidRequest", "ClientRequestToken")


def test_describe_priority_and_status_calls(server: Server, suspended_job: str) -> None:
    job_id = suspended_job
    described = cos_request(server, "GET", f"/jobs/{job_id}")
    assert described.status == 200 and described.headers["Server"] == "tencent-cos"
    assert described.text("Job/Status") == "Suspended"
    assert described.text("Job/RoleArn") == ROLE
    assert described.text("Job/Operation/COSPutObjectTagging/TagSet/COSTag/Key") == "k"

    moved = cos_request(server, "POST", f"/jobs/{job_id}/priority", params={"priority": "77"})
    assert (moved.status, moved.text("JobId"), moved.text("Priority")) == (200, job_id, "77")
    path = f"/jobs/{job_id}/priority"
    assert_cos_error(cos_request(server, "POST", path), 400, "InvalidRequest", "priority")
    assert_cos_error(cos_request(server, "POST", path, params={"priority": "x"}), 400, "InvalidArgument")

    status_path = f"/jobs/{job_id}/status"
    bad = cos_request(server, "POST", status_path, params={"requestedJobStatus": "Active"})
    assert_cos_error(bad, 400, "InvalidArgument", "must be Cancelled or Paused or Ready")
    cancelled = cos_request(
        server, "POST", status_path, params={"requestedJobStatus": "Canceled", "statusUpdateReason": "not needed"}
    )
    assert cancelled.status == 200
    assert cancelled.text("Status") in {"Cancelling", "Cancelled"}
    assert cancelled.text("StatusUpdateReason") == "not needed"
    wait_status(server.client(), job_id, "Cancelled")
    refused = cos_request(server, "POST", status_path, params={"requestedJobStatus": "Ready"})
    assert_cos_error(refused, 400, "InvalidRequest", "Cancelled")
    assert_cos_error(cos_request(server, "POST", path, params={"priority": "1"}), 404, "NoSuchJob")


def test_missing_jobs_are_no_such_job(server: Server) -> None:
    missing = str(uuid.uuid4())
    assert_cos_error(cos_request(server, "GET", f"/jobs/{missing}"), 404, "NoSuchJob", missing)
    answer = cos_request(server, "POST", f"/jobs/{missing}/status", params={"requestedJobStatus": "Cancelled"})
    assert_cos_error(answer, 404, "NoSuchJob")


def test_list_jobs_pages_by_job_id(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    bucket = new_bucket()
    arn, etag = put_cos_manifest(s3, bucket, [f"{bucket},a"])
    created = {create_cos_job(server, create_body(arn, etag, TAGGING, confirmation=True)) for _ in range(3)}
    seen: list[str] = []
    token: str | None = None
    for _ in range(4):
        params = {"maxResults": "2", **({"nextToken": token} if token else {})}
        page = cos_request(server, "GET", "/jobs", params=params)
        assert page.status == 200 and page.xml is not None
        seen += [member.findtext("JobId") or "" for member in page.xml.iterfind("Jobs/member")]
        token = page.text("NextToken")
        if not token:
            break
        assert token == seen[-1]  # COS: the last JobId of the previous page
    assert set(seen) == created and len(seen) == 3
    everything = cos_request(server, "GET", "/jobs", params={"jobStatuses": "Canceled,Complete"})
    assert everything.xml is not None and everything.xml.findall("Jobs/member") == []
    assert_cos_error(cos_request(server, "GET", "/jobs", params={"maxResults": "0"}), 400, "InvalidArgument")
    assert_cos_error(cos_request(server, "GET", "/jobs", params={"jobStatuses": "Done"}), 400, "InvalidArgument")
    assert_cos_error(cos_request(server, "GET", "/jobs", params={"nextToken": "nope"}), 400, "InvalidArgument")


# --- one store behind both dialects --------------------------------------------------------


def test_a_cos_job_is_described_through_s3_control_and_back(
    server: Server, control: Any, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    arn, etag = put_cos_manifest(s3, bucket, [f"{bucket},a"])
    cos_job = create_cos_job(server, create_body(arn, etag, TAGGING, confirmation=True))
    job = wait_status(control, cos_job, "Suspended")
    assert job["Manifest"]["Spec"]["Format"] == "COSBatchOperations_CSV_V1"
    assert job["Manifest"]["Location"]["ObjectArn"] == arn
    assert job["RoleArn"] == ROLE

    s3_job = create_job(control, put_manifest(s3, bucket, [f"{bucket},a"]), {"S3PutObjectTagging": {"TagSet": []}})
    wait_status(control, s3_job, "Complete")
    described = cos_request(server, "GET", f"/jobs/{s3_job}")
    assert described.text("Job/Status") == "Complete"
    assert described.text("Job/Manifest/Spec/Format") == "S3BatchOperations_CSV_20180820"
    assert described.text("Job/ProgressSummary/NumberOfTasksSucceeded") == "1"
    assert (described.text("Job/TerminationDate") or "").endswith("Z")


# --- COS jobs end to end -------------------------------------------------------------------


def run_cos_job(server: Server, s3: Any, bucket: str, rows: list[str], operation: str, **options: Any) -> str:
    arn, etag = put_cos_manifest(s3, bucket, rows)
    job_id = create_cos_job(server, create_body(arn, etag, operation, **options))
    wait_status(server.client(), job_id, "Complete")
    return job_id


def test_copy_with_add_directives_and_prefix_replace(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    source, target = new_bucket(), new_bucket()
    for key in ("pics/a.jpg", "pics/b c.jpg"):
        s3.put_object(
            Bucket=source, Key=key, Body=b"x", ContentType="image/jpeg", Metadata={"old": "1", "shared": "old"}
        )
        s3.put_object_tagging(Bucket=source, Key=key, Tagging={"TagSet": [{"Key": "keep", "Value": "yes"}]})
    operation = (
        f"<COSPutObjectCopy><TargetResource>qcs::cos:ap-chengdu:uid/{ACCOUNT}:{target}</TargetResource>"
        "<MetadataDirective>Add</MetadataDirective><NewObjectMetadata><UserMetadata>"
        "<member><Key>shared</Key><Value>new</Value></member><member><Key>added</Key><Value>2</Value></member>"
        "</UserMetadata></NewObjectMetadata>"
        "<TaggingDirective>Add</TaggingDirective><NewObjectTagging><COSTag><Key>added</Key><Value>t</Value></COSTag>"
        "</NewObjectTagging><PrefixReplace>true</PrefixReplace><ResourcesPrefix>pics/</ResourcesPrefix>"
        "<TargetKeyPrefix>photos/</TargetKeyPrefix></COSPutObjectCopy>"
    )
    run_cos_job(server, s3, source, [f"{source}, pics/a.jpg", f"{source}, pics/b%20c.jpg"], operation)
    keys = sorted(item["Key"] for item in s3.list_objects_v2(Bucket=target).get("Contents", []))
    assert keys == ["photos/a.jpg", "photos/b c.jpg"]
    head = s3.head_object(Bucket=target, Key="photos/b c.jpg")
    assert head["Metadata"] == {"old": "1", "shared": "new", "added": "2"}
    assert head["ContentType"] == "image/jpeg"
    tags = s3.get_object_tagging(Bucket=target, Key="photos/a.jpg")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("added", "t"), ("keep", "yes")]


def test_replaced_directives_and_a_plain_prefix(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"old": "1"})
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "old", "Value": "1"}]})
    operation = (
        f"<COSPutObjectCopy><TargetResource>qcs::cos:ap-chengdu::{bucket}</TargetResource>"
        "<MetadataDirective>Replaced</MetadataDirective><NewObjectMetadata><ContentType>text/plain</ContentType>"
        "<UserMetadata><member><Key>new</Key><Value>1</Value></member></UserMetadata></NewObjectMetadata>"
        "<TaggingDirective>Replaced</TaggingDirective><NewObjectTagging><COSTag><Key>new</Key><Value>1</Value>"
        "</COSTag></NewObjectTagging><TargetKeyPrefix>copy/</TargetKeyPrefix></COSPutObjectCopy>"
    )
    run_cos_job(server, s3, bucket, [f"{bucket},k"], operation)
    head = s3.head_object(Bucket=bucket, Key="copy/k")
    assert (head["Metadata"], head["ContentType"]) == ({"new": "1"}, "text/plain")
    assert s3.get_object_tagging(Bucket=bucket, Key="copy/k")["TagSet"] == [{"Key": "new", "Value": "1"}]


def test_tagging_with_add_and_a_cos_report(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    bucket, reports = new_bucket(), new_bucket()
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    s3.put_object_tagging(Bucket=bucket, Key="a", Tagging={"TagSet": [{"Key": "old", "Value": "1"}]})
    operation = (
        "<COSPutObjectTagging><TaggingDirective>Add</TaggingDirective><TagSet><COSTag><Key>new</Key>"
        "<Value>2</Value></COSTag></TagSet></COSPutObjectTagging>"
    )
    job_id = run_cos_job(server, s3, bucket, [f"{bucket}, a", f"{bucket}, missing"], operation, report_bucket=reports)
    tags = s3.get_object_tagging(Bucket=bucket, Key="a")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("new", "2"), ("old", "1")]
    index = json.loads(s3.get_object(Bucket=reports, Key=f"cos-reports/job-{job_id}/manifest.json")["Body"].read())
    assert index["Format"] == "Report_CSV_V1"
    rows = []
    for result in index["Results"]:
        rows += s3.get_object(Bucket=reports, Key=result["Key"])["Body"].read().decode().splitlines()
    assert sorted(row.split(",")[:4] for row in rows) == [
        [bucket, "a", "", "succeeded"],
        [bucket, "missing", "", "failed"],
    ]
    assert describe(server.client(), job_id)["ProgressSummary"]["NumberOfTasksFailed"] == 1


def test_delete_object(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    bucket = new_bucket()
    for key in ("gone-1", "gone-2", "kept"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    run_cos_job(server, s3, bucket, [f"{bucket},gone-1", f"{bucket},gone-2"], "<COSDeleteObject></COSDeleteObject>")
    keys = wait_for(lambda: [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]], what="a listing")
    assert sorted(key for key in keys if not key.startswith("manifests/")) == ["kept"]


def test_a_cos_inventory_job(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    # A COS inventory (manifest.json + gzip CSV with AppID, Bucket, Key, ... columns) through the COS API.
    app_id, name = "1250000000", new_bucket()
    bucket = f"{name}-{app_id}"
    s3.create_bucket(Bucket=bucket)
    keys = ["photos/1.jpg", "photos/2 b.jpg"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    rows = [[app_id, name, quote(key), "1"] for key in keys]
    location = put_inventory(
        s3, bucket, [csv_gz(rows)], schema="AppID, Bucket, Key, Size", folder=f"inv/{app_id}/{name}/i/20240102"
    )
    arn = f"qcs::cos:ap-chengdu::{bucket}/{location['ObjectArn'].split('/', 1)[1]}"
    tagging = (
        "<COSPutObjectTagging><TagSet><COSTag><Key>inv</Key><Value>1</Value></COSTag></TagSet></COSPutObjectTagging>"
    )
    body = create_body(arn, location["ETag"], tagging, manifest_format="COSInventoryReport_CSV_V1")
    job_id = create_cos_job(server, body)
    wait_for(lambda: cos_request(server, "GET", f"/jobs/{job_id}").text("Job/Status") == "Complete", 60)
    for key in keys:
        assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [{"Key": "inv", "Value": "1"}]
