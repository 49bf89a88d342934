"""Archive restores (S3InitiateRestoreObject / COSInitiateRestoreObject) against moto's standalone S3 server.

SeaweedFS has no archive tier, so these jobs run on a batchops server whose store is ``moto_server``.
moto finishes a restore at once by default; its state manager (``/moto-api/state-manager``) makes a
restore stay "ongoing" for a number of reads ("manual" progression), which the wait option must sit out.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from batchops.devstore import free_port
from tests.support.cos import cos_request, create_body, create_cos_job, put_cos_manifest
from tests.support.jobs import create_job, put_manifest, wait_for, wait_status
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import Server

pytestmark = pytest.mark.integration

RESTORE_MODEL = "s3::keyrestore"


class Moto:
    def __init__(self, port: int) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"

    def set_restore_progression(self, transition: dict[str, Any] | None) -> None:
        """None: moto's default (a restore finishes at once)."""
        action = "set-transition" if transition else "unset-transition"
        body = {"model_name": RESTORE_MODEL, **({"transition": transition} if transition else {})}
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/state-manager/{action}", data=json.dumps(body).encode(), method="POST"
        )
        urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log
    )
    server = Moto(port)

    def up() -> bool:
        try:
            urllib.request.urlopen(f"{server.endpoint}/moto-api/", timeout=1).close()
            return True
        except OSError:
            return process.poll() is not None  # ends the wait; the assert below says why

    wait_for(up, timeout=60, what="moto_server to answer")
    assert process.poll() is None, "moto_server exited at start"
    yield server
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="session")
def moto_s3(moto: Moto) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=moto.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name=REGION,
    )


@pytest.fixture
def archive(moto_s3: Any) -> tuple[str, list[str]]:
    """A bucket with GLACIER and DEEP_ARCHIVE objects (and the manifest/report space next to them)."""
    bucket = f"archive-{uuid.uuid4().hex[:12]}"
    moto_s3.create_bucket(Bucket=bucket)
    keys = ["cold/a.txt", "cold/deep b.txt"]
    moto_s3.put_object(Bucket=bucket, Key=keys[0], Body=b"a", StorageClass="GLACIER")
    moto_s3.put_object(Bucket=bucket, Key=keys[1], Body=b"b", StorageClass="DEEP_ARCHIVE")
    return bucket, keys


@pytest.fixture
def moto_server(start_server: Callable[..., Server], moto: Moto) -> Iterator[Server]:
    yield start_server(s3_endpoint=moto.endpoint)
    moto.set_restore_progression(None)


def report_rows(s3: Any, bucket: str, prefix: str, job_id: str) -> list[list[str]]:
    index = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/job-{job_id}/manifest.json")["Body"].read())
    lines: list[str] = []
    for result in index["Results"]:
        lines += s3.get_object(Bucket=bucket, Key=result["Key"])["Body"].read().decode().splitlines()
    return sorted(line.split(",", 6) for line in lines)


def test_s3_restore_job_restores_archived_objects(moto_server: Server, moto_s3: Any, archive: Any) -> None:
    bucket, keys = archive
    moto_s3.put_object(Bucket=bucket, Key="hot.txt", Body=b"h")  # STANDARD: nothing to restore
    control = moto_server.client()
    manifest = put_manifest(moto_s3, bucket, [f"{bucket},{k.replace(' ', '%20')}" for k in [*keys, "hot.txt"]])
    operation = {"S3InitiateRestoreObject": {"ExpirationInDays": 3, "GlacierJobTier": "BULK"}}
    job_id = create_job(control, manifest, operation, report_bucket=bucket)
    job = wait_status(control, job_id, "Complete")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    for key in keys:
        assert 'ongoing-request="false"' in moto_s3.head_object(Bucket=bucket, Key=key)["Restore"]
    rows = report_rows(moto_s3, bucket, "reports", job_id)
    assert [row[3:6] for row in rows] == [
        ["succeeded", "", "200"],
        ["succeeded", "", "200"],
        ["failed", "InvalidObjectState", "403"],
    ]
    assert rows[0][6] == "restore started"


def test_cos_restore_job_waits_until_the_restore_finished(
    moto_server: Server, moto: Moto, moto_s3: Any, archive: Any
) -> None:
    bucket, keys = archive
    # Each restore now stays ongoing for two reads after the first, so the wait has to poll.
    moto.set_restore_progression({"progression": "manual", "times": 2})
    arn, etag = put_cos_manifest(moto_s3, bucket, [f"{bucket}, {k.replace(' ', '%20')}" for k in keys])
    operation = (
        "<COSInitiateRestoreObject><ExpirationInDays>1</ExpirationInDays><JobTier>Standard</JobTier>"
        "<BatchOpsWaitForRestore>60</BatchOpsWaitForRestore></COSInitiateRestoreObject>"
    )
    job_id = create_cos_job(moto_server, create_body(arn, etag, operation, report_bucket=bucket))
    wait_status(moto_server.client(), job_id, "Complete")
    assert cos_request(moto_server, "GET", f"/jobs/{job_id}").text("Job/ProgressSummary/NumberOfTasksSucceeded") == "2"
    rows = report_rows(moto_s3, bucket, "cos-reports", job_id)
    for row in rows:
        waited = re.search(r"restore started; restored copy readable after ([0-9.]+)s", row[6])
        assert waited, row
        assert float(waited.group(1)) >= 0.5  # at least one poll saw ongoing-request="true"
    for key in keys:
        assert 'ongoing-request="false"' in moto_s3.head_object(Bucket=bucket, Key=key)["Restore"]


def test_the_wait_is_bounded(moto_server: Server, moto: Moto, moto_s3: Any, archive: Any) -> None:
    bucket, keys = archive
    # Put the object's restore "in progress" (moto moves it there on the next read)...
    moto.set_restore_progression({"progression": "manual", "times": 1})
    moto_s3.restore_object(Bucket=bucket, Key=keys[0], RestoreRequest={"Days": 1})
    assert 'ongoing-request="true"' in moto_s3.head_object(Bucket=bucket, Key=keys[0])["Restore"]
    moto.set_restore_progression({"progression": "manual", "times": 1_000_000})  # ...and it never finishes
    control = moto_server.client()
    # boto3 cannot send our extension element, so the bounded job goes through the COS dialect.
    arn, etag = put_cos_manifest(moto_s3, bucket, [f"{bucket},{keys[0]}"])
    xml = (
        "<COSInitiateRestoreObject><ExpirationInDays>1</ExpirationInDays><JobTier>Bulk</JobTier>"
        "<BatchOpsWaitForRestore>2</BatchOpsWaitForRestore></COSInitiateRestoreObject>"
    )
    bounded = create_cos_job(moto_server, create_body(arn, etag, xml, report_bucket=bucket))
    wait_status(control, bounded, "Complete", timeout=60)
    [row] = report_rows(moto_s3, bucket, "cos-reports", bounded)
    assert row[3:5] == ["failed", "RestoreNotFinished"]
    assert "had not finished after 2s" in row[6]
