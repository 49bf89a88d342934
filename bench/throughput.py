"""Throughput of batchops jobs against a boto3 thread pool doing the same work, on the same SeaweedFS.

    python -m bench.throughput [--objects 20000] [--threads 64]

Prints tasks/second for each and the ratio batchops / boto3. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from batchops.devstore import LocalSeaweed, free_port
from tests.integration.conftest import ACCOUNT, create_job, describe, put_manifest, s3control_client, wait_for

KEY, SECRET = "bench-key", "bench-secret"


def s3_client(endpoint: str, threads: int) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(max_pool_connections=threads, retries={"mode": "standard", "max_attempts": 5}),
    )


def populate(s3: Any, bucket: str, count: int, threads: int) -> list[str]:
    keys = [f"bench/{i:06d}" for i in range(count)]
    s3.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=b"x" * 1024), keys))
    return keys


def run_pool(call: Callable[[str], Any], keys: list[str], threads: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(call, keys))
    return time.perf_counter() - start


def run_job(control: Any, location: dict[str, str], operation: dict[str, Any], total: int) -> float:
    start = time.perf_counter()
    job_id = create_job(control, location, operation)
    job = wait_for(
        lambda: (j := describe(control, job_id))["Status"] in ("Complete", "Failed") and j,
        timeout=1800,
        interval=0.05,
    )
    elapsed = time.perf_counter() - start
    progress = job["ProgressSummary"]
    assert job["Status"] == "Complete" and progress["NumberOfTasksSucceeded"] == total, job
    return elapsed


def start_server(data_dir: Path, endpoint: str, concurrency: int) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "BATCHOPS_ACCOUNT_ID": ACCOUNT,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batchops",
            "server",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--s3-endpoint",
            endpoint,
            "--task-concurrency",
            str(concurrency),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _healthy(url), timeout=30)
    return process, url


def _healthy(url: str) -> bool:
    import urllib.request

    try:
        urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
        return True
    except OSError:
        return False


def report(name: str, count: int, ours: float, theirs: float) -> None:
    print(
        f"{name:8s} {count} objects: batchops {count / ours:8.0f} tasks/s ({ours:6.1f} s)   "
        f"boto3 pool {count / theirs:8.0f} ops/s ({theirs:6.1f} s)   ratio {theirs / ours:4.2f}x",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--objects", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="batchops-bench-"))
    store = LocalSeaweed(work / "seaweed", KEY, SECRET).start()
    server = None
    try:
        s3 = s3_client(store.endpoint, args.threads)
        keys = populate(s3, "bench-src", args.objects, args.threads)
        s3.create_bucket(Bucket="bench-dst")
        location = put_manifest(s3, "bench-src", [f"bench-src,{k}" for k in keys])
        server, url = start_server(work / "batchops", store.endpoint, args.threads)
        control = s3control_client(url, KEY, SECRET)
        tagging = {"S3PutObjectTagging": {"TagSet": [{"Key": "bench", "Value": "1"}]}}
        ours = run_job(control, location, tagging, len(keys))
        theirs = run_pool(
            lambda k: s3.put_object_tagging(
                Bucket="bench-src", Key=k, Tagging={"TagSet": [{"Key": "bench", "Value": "2"}]}
            ),
            keys,
            args.threads,
        )
        report("tagging", len(keys), ours, theirs)
        copy = {"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::bench-dst", "TargetKeyPrefix": "job/"}}
        ours = run_job(control, location, copy, len(keys))
        theirs = run_pool(
            lambda k: s3.copy_object(Bucket="bench-dst", Key=f"pool/{k}", CopySource={"Bucket": "bench-src", "Key": k}),
            keys,
            args.threads,
        )
        report("copy", len(keys), ours, theirs)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        store.stop()


if __name__ == "__main__":
    main()
