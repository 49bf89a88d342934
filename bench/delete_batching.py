"""Throughput of an S3DeleteObject job through the API (tasks batched into DeleteObjects requests).

    python -m bench.delete_batching [--objects 5000] [--concurrency 64]

Populates a fresh local SeaweedFS, starts ``batchops server --task-concurrency <concurrency>``, runs one
delete job over every object and prints tasks/second (CreateJob → Complete, manifest reading included).
To compare with one DeleteObject per task, run it on a checkout of batchops before batching
(``git show c0152b8:batchops/operations/delete.py``). Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from batchops.devstore import LocalSeaweed
from bench.throughput import KEY, SECRET, populate, s3_client, start_server
from tests.integration.conftest import ACCOUNT, describe, put_manifest, s3control_client, wait_for


def create_delete_job(url: str, location: dict[str, str]) -> str:
    body = f"""<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/">
      <ConfirmationRequired>false</ConfirmationRequired><Operation><S3DeleteObject/></Operation>
      <Report><Enabled>false</Enabled></Report><ClientRequestToken>{uuid.uuid4()}</ClientRequestToken>
      <Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format>
        <Fields><member>Bucket</member><member>Key</member></Fields></Spec>
        <Location><ObjectArn>{location["ObjectArn"]}</ObjectArn><ETag>{location["ETag"]}</ETag></Location></Manifest>
      <Priority>1</Priority><RoleArn>arn:aws:iam::{ACCOUNT}:role/r</RoleArn></CreateJobRequest>"""
    request = urllib.request.Request(
        f"{url}/v20180820/jobs", data=body.encode(), method="POST", headers={"x-amz-account-id": ACCOUNT}
    )
    return urllib.request.urlopen(request).read().decode().split("<JobId>")[1].split("</JobId>")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="batchops-bench-delete-"))
    store = LocalSeaweed(work / "seaweed", KEY, SECRET).start()
    server: Any = None
    try:
        s3 = s3_client(store.endpoint, 64)
        keys = populate(s3, "bench-del", args.objects, 64)
        s3.create_bucket(Bucket="bench-manifests")
        location = put_manifest(s3, "bench-manifests", [f"bench-del,{k}" for k in keys])
        server, url = start_server(work / "batchops", store.endpoint, args.concurrency)
        control = s3control_client(url, KEY, SECRET)
        start = time.perf_counter()
        job_id = create_delete_job(url, location)
        job = wait_for(lambda: (j := describe(control, job_id))["Status"] in ("Complete", "Failed") and j, 1800, 0.05)
        elapsed = time.perf_counter() - start
        assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == len(keys), job
        assert "Contents" not in s3.list_objects_v2(Bucket="bench-del")
        print(
            f"delete {len(keys)} objects, concurrency {args.concurrency}: "
            f"{len(keys) / elapsed:8.0f} tasks/s ({elapsed:6.2f} s)",
            flush=True,
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        store.stop()


if __name__ == "__main__":
    main()
