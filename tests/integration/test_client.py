"""batchops.Client against a real server and SeaweedFS: the whole lifecycle, and its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import batchops
from batchops.client import CredentialsRefused, RequestRefused, ServerUnreachable
from batchops.devstore import LocalSeaweed, free_port
from tests.support.jobs import put_manifest, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration


def client_for(server: Server, seaweed: LocalSeaweed, account: str = ACCOUNT, secret: str = SECRET_KEY) -> Any:
    return batchops.Client(server.url, account, ACCESS_KEY, secret, s3_endpoint=seaweed.endpoint)


def test_lifecycle_through_the_client(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Any, tmp_path: Path
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    for key in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    client = client_for(server, seaweed)
    location = put_manifest(s3, bucket, [f"{bucket},a", f"{bucket},b"])
    tagging = {"S3PutObjectTagging": {"TagSet": [{"Key": "by", "Value": "client"}]}}

    job_id = client.create_job(  # no ETag given: the client reads it from the store
        operation=tagging, manifest_arn=location["ObjectArn"], confirmation_required=True, report_bucket=reports
    )
    wait_status(server.client(), job_id, "Suspended")
    assert [j["JobId"] for j in client.list_jobs(["Suspended"])] == [job_id]
    assert client.update_priority(job_id, 77) == 77
    assert client.confirm(job_id) == "Ready"
    seen: list[str] = []
    final = client.wait(job_id, interval=0.1, on_progress=lambda job: seen.append(job["Status"]))

    assert final["Status"] == "Complete" and seen[-1] == "Complete" and len(seen) >= 1
    assert final["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    report = client.report(job_id)
    assert sorted(row["Key"] for row in report.rows) == ["a", "b"]
    assert {row["TaskStatus"] for row in report.rows} == {"succeeded"}
    assert report.manifest["Results"]

    manifest = tmp_path / "m.csv"
    manifest.write_text(f"{bucket},a\n")
    uploaded = client.create_job(operation=tagging, manifest_file=manifest, manifest_bucket=bucket, priority=3)
    assert client.describe_job(uploaded)["Manifest"]["Location"]["ObjectArn"].endswith("-m.csv")
    with pytest.raises(RequestRefused, match=f"job {job_id} is Complete; requestedJobStatus=Cancelled"):
        client.cancel(job_id)
    with pytest.raises(RequestRefused, match="has no completion report"):
        client.report(uploaded)


def test_client_errors_say_what_to_do(server: Server, seaweed: LocalSeaweed, new_bucket: Any) -> None:
    with pytest.raises(ServerUnreachable, match="cannot reach the batchops server"):
        batchops.Client(f"http://127.0.0.1:{free_port()}", ACCOUNT, ACCESS_KEY, SECRET_KEY).list_jobs()
    with pytest.raises(CredentialsRefused, match="belongs to account 123456789012, not to x-amz-account-id 99999"):
        client_for(server, seaweed, account="999999999999").list_jobs()
    with pytest.raises(CredentialsRefused, match="SignatureDoesNotMatch"):
        client_for(server, seaweed, secret="not-the-secret").list_jobs()
    with pytest.raises(RequestRefused, match="does not exist") as missing:
        client_for(server, seaweed).describe_job("00000000-0000-0000-0000-000000000000")
    assert missing.value.code == "NotFoundException"
    with pytest.raises(RequestRefused, match="no such object in bucket no-such-bucket-here, or no such bucket"):
        client_for(server, seaweed).manifest_etag("arn:aws:s3:::no-such-bucket-here/m.csv")
    with pytest.raises(RequestRefused, match="Priority"):
        client_for(server, seaweed).create_job(
            operation={"S3DeleteObjectTagging": {}},
            manifest_arn=f"arn:aws:s3:::{new_bucket()}/m.csv",
            manifest_etag="x",
            priority=-1,
        )
