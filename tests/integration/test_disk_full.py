"""A full disk under the server's data directory, for real: the data directory is a small tmpfs mount that the
test fills to the last byte (SQLite then fails every write with SQLITE_FULL) and empties again.

While it is full the server says so (``/healthz`` 503, CreateJob 503 in both dialects, the job's reason), the
tasks that ended keep their outcomes in memory, no new work is claimed and the log stays small; when space
returns the job ends with exact counts and no task ran twice (a webhook function counts each key's calls).
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from botocore.exceptions import ClientError

from tests.support.batch_functions import REPO, WEBHOOK_ARN, Webhook
from tests.support.cos import TAGGING, assert_cos_error, cos_request, create_body, put_cos_manifest
from tests.support.http import raw_request
from tests.support.jobs import create_job, describe, put_manifest, wait_for, wait_status
from tests.support.server import Server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.job_databases("sqlite", reason="fills the disk under the SQLite file: a test of SQLite itself"),
]

TASKS = 40
CHUNK = 10  # tasks per claimed chunk: a full disk stops the job after its first chunk
IN_FLIGHT = 4


class GatedFunction:
    """LambdaInvoke's answers that count each key's calls and hold every call until ``gate`` opens."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.gate = threading.Event()
        self.calls: Counter[str] = Counter()
        self.waiting = 0
        self._lock = threading.Lock()

    def respond(self, event: dict[str, Any]) -> dict[str, Any]:
        task = event["tasks"][0]
        with self._lock:
            self.calls[unquote(task["s3Key"])] += 1
            self.waiting += 1
        self.gate.wait(60)
        with self._lock:
            self.waiting -= 1
        result = {"taskId": task["taskId"], "resultCode": "Succeeded", "resultString": "done"}
        return {"invocationSchemaVersion": "1.0", "invocationId": event["invocationId"], "results": [result]}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs: a disk of its own that the test can fill."""
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"a full disk is made with a tmpfs mount, which needs root: {mounted.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk has no byte left (ENOSPC); deleting it gives the space back."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def healthz(server: Server) -> tuple[int, bytes]:
    return raw_request(f"{server.url}/healthz", "GET")


def log_bytes(server: Server) -> int:
    return (server.data_dir / "server.log").stat().st_size


def record_failures(server: Server) -> int:
    return (server.data_dir / "server.log").read_text(errors="replace").count("task outcomes failed (attempt")


@pytest.fixture
def function() -> Iterator[GatedFunction]:
    gated = GatedFunction("")
    with Webhook(gated.respond) as webhook:
        gated.url = webhook.url
        yield gated
        gated.gate.set()  # no call stays held while the webhook shuts down


@pytest.fixture(params=[0, 2], ids=["one-process", "two-workers"])
def workers(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def full_disk_server(
    start_server: Callable[..., Server], function: GatedFunction, small_disk: Path, tmp_path: Path, workers: int
) -> Server:
    config = tmp_path / "functions.toml"
    config.write_text(f'[[functions]]\narn = "{WEBHOOK_ARN}"\nurl = "{function.url}"\ntimeout_seconds = 60\n')
    # The second --data-dir wins: the store lives on the small disk, the server's log stays on the real one.
    return start_server(
        "--config",
        str(config),
        "--data-dir",
        str(small_disk),
        "--workers",
        str(workers),
        env={"PYTHONPATH": str(REPO), "BATCHOPS_CHUNK_SIZE": str(CHUNK), "BATCHOPS_TASK_CONCURRENCY": str(IN_FLIGHT)},
    )


def test_a_full_disk_holds_the_job_visibly_and_it_ends_exactly_once_when_space_returns(
    full_disk_server: Server,
    function: GatedFunction,
    small_disk: Path,
    workers: int,
    s3: Any,
    new_bucket: Callable[..., str],
) -> None:
    server, control, bucket = full_disk_server, full_disk_server.client(), new_bucket()
    keys = [f"k{n:02d}" for n in range(TASKS)]
    manifest = put_manifest(s3, bucket, [f"{bucket},{key}" for key in keys])
    invoke = {"LambdaInvoke": {"FunctionArn": WEBHOOK_ARN}}
    job_id = create_job(control, manifest, invoke)
    wait_for(lambda: function.waiting == IN_FLIGHT, 30, what="the first tasks to reach the function")
    log_before = log_bytes(server)

    # Given the disk fills up while tasks are in flight
    filler = fill(small_disk)

    # Then the server says so: not ready, new jobs refused with a 503 in both dialects, the job's reason
    _status, body = wait_for(lambda: (answer := healthz(server))[0] == 503 and answer, 15, what="healthz 503")
    assert json.loads(body)["status"] == "not ready" and "disk is full" in json.loads(body)["reason"]
    with pytest.raises(ClientError) as refused:
        create_job(control, manifest, invoke)
    error = refused.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (503, "ServiceUnavailable")
    assert "disk is full" in error["Error"]["Message"] and "free space" in error["Error"]["Message"]
    arn, etag = put_cos_manifest(s3, bucket, [f"{bucket},k00"])
    cos_refused = cos_request(server, "POST", "/jobs", body=create_body(arn, etag, TAGGING))
    assert_cos_error(cos_refused, 503, "ServiceUnavailable", "disk is full")
    job = describe(control, job_id)
    assert job["Status"] == "Active" and "disk is full" in job["StatusUpdateReason"]
    assert "disk is full" in (cos_request(server, "GET", f"/jobs/{job_id}").text("Job/StatusUpdateReason") or "")

    # When the tasks in flight end while nothing can be recorded
    function.gate.set()
    wait_for(lambda: record_failures(server) >= 3, 30, what="three failed attempts to record the outcomes")

    # Then the outcomes wait in memory, no other chunk is claimed, and the log grows by a few lines only
    assert sum(function.calls.values()) == CHUNK * max(workers, 1)  # the chunk each worker had claimed
    assert describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] == 0
    log_growth = log_bytes(server) - log_before
    print(f"\nlog bytes while the disk was full: {log_growth} ({record_failures(server)} failed record attempts)")
    assert log_growth < 20_000

    # When space returns, the job ends with every task run exactly once and counted exactly once
    filler.unlink()
    job = wait_status(control, job_id, "Complete", 60)
    assert function.calls == Counter({key: 1 for key in keys})
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == TASKS
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 0
    assert "disk is full" not in (job.get("StatusUpdateReason") or "")
    assert healthz(server) == (200, b'{"status":"ok","role":"leader"}')
    create_job(control, put_manifest(s3, bucket, [f"{bucket},k00"]), invoke, confirmation=True)
