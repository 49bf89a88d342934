"""A real ``batchops server`` process against the test SeaweedFS, and boto3 ``s3control`` clients for it."""

from __future__ import annotations

import os
import re
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from batchops.devstore import LocalSeaweed, free_port
from tests.conftest import ACCESS_KEY, REGION, SECRET_KEY

ACCOUNT = "123456789012"
#: The second store's own keys (the first store's are ACCESS_KEY / SECRET_KEY).
OTHER_KEY, OTHER_SECRET = "other-store-key", "other-store-secret"
TERMINAL = {"Complete", "Cancelled", "Failed"}


def strip_account_from_host(request: Any, **_: Any) -> None:
    """boto3 puts the account id in the host name; the README documents this one-line hook."""
    request.url = re.sub(r"^(https?://)\d{12}\.", r"\1", request.url)


def s3control_client(url: str, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
    client = boto3.client(
        "s3control",
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    client.meta.events.register("before-sign.s3-control.*", strip_account_from_host)
    return client


@dataclass
class Server:
    """One batchops server process; ``restart`` keeps its data dir (the kill -9 tests use it)."""

    data_dir: Path
    s3_endpoint: str
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    #: Run in the child before the server starts (e.g. ``resource.setrlimit`` for a lower open-file limit).
    preexec: Callable[[], None] | None = None

    @property
    def url(self) -> str:
        scheme = "https" if "--tls-cert" in self.extra_args else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.port = self.port or free_port()
        args = [
            sys.executable,
            "-m",
            "batchops",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--s3-endpoint",
            self.s3_endpoint,
            *self.extra_args,
        ]
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "BATCHOPS_ACCOUNT_ID": ACCOUNT,
            **self.env,
        }
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "server.log").open("ab")
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, env=env, preexec_fn=self.preexec
        )
        self._wait_healthy()
        return self

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"batchops server exited: {self.log_tail()}")
            try:
                # A test's self-signed certificate: readiness only, the test itself checks the certificate.
                context = ssl._create_unverified_context() if self.url.startswith("https") else None
                urllib.request.urlopen(f"{self.url}/healthz", timeout=1, context=context).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"batchops server did not become healthy: {self.log_tail()}")

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def client(self) -> Any:
        return s3control_client(self.url)


@pytest.fixture(scope="module")
def other_seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSeaweed]:
    """A second store with credentials of its own: cross-store copies and replicas, roles on another store."""
    store = LocalSeaweed(tmp_path_factory.mktemp("other-seaweed"), OTHER_KEY, OTHER_SECRET).start()
    yield store
    store.stop()


@pytest.fixture(scope="module")
def other_s3(other_seaweed: LocalSeaweed) -> Any:
    """A plain boto3 S3 client on the second store."""
    return boto3.client(
        "s3",
        endpoint_url=other_seaweed.endpoint,
        aws_access_key_id=OTHER_KEY,
        aws_secret_access_key=OTHER_SECRET,
        region_name=REGION,
        config=Config(retries={"mode": "standard", "max_attempts": 5}),
    )


@pytest.fixture
def start_server(seaweed: LocalSeaweed, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(
        *extra_args: str,
        env: dict[str, str] | None = None,
        data_dir: Path | None = None,
        s3_endpoint: str | None = None,
        preexec: Callable[[], None] | None = None,
    ) -> Server:
        """A server on the test SeaweedFS, or on ``s3_endpoint`` (e.g. moto's server for archive restores)."""
        directory = data_dir or tmp_path / f"server-{len(servers)}"
        server = Server(directory, s3_endpoint or seaweed.endpoint, list(extra_args), env or {}, preexec=preexec)
        servers.append(server.start())
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def server(start_server: Callable[..., Server]) -> Server:
    return start_server()


@pytest.fixture
def control(server: Server) -> Any:
    return server.client()


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1, what: str = "") -> Any:
    """Poll until ``predicate()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}; last value {last!r}")


def describe(control: Any, job_id: str, account: str = ACCOUNT) -> dict[str, Any]:
    return dict(control.describe_job(AccountId=account, JobId=job_id)["Job"])


def wait_status(
    control: Any, job_id: str, statuses: set[str] | str, timeout: float = 120.0, account: str = ACCOUNT
) -> dict[str, Any]:
    """Poll DescribeJob until the job is in one of ``statuses``; fail showing where it was instead."""
    wanted = {statuses} if isinstance(statuses, str) else statuses
    seen: list[dict[str, Any]] = []

    def reached() -> dict[str, Any] | None:
        seen[:] = [describe(control, job_id, account)]
        status = seen[0]["Status"]
        if status in TERMINAL and status not in wanted:
            raise AssertionError(f"job {job_id} ended {status}, not {sorted(wanted)}: {seen[0]}")
        return seen[0] if status in wanted else None

    try:
        return wait_for(reached, timeout, what=f"job {job_id} to reach {sorted(wanted)}")  # type: ignore[no-any-return]
    except AssertionError as exc:
        job = seen[0] if seen else {}
        raise AssertionError(
            f"{exc}: it is {job.get('Status')} with {job.get('ProgressSummary')}, failures {job.get('FailureReasons')}"
        ) from None


def put_manifest(s3: Any, bucket: str, rows: list[str], key: str | None = None) -> dict[str, str]:
    """Upload a CSV manifest; returns the CreateJob Manifest.Location for it."""
    key = key or f"manifests/{uuid.uuid4().hex}.csv"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(rows) + "\n").encode())["ETag"]
    return {"ObjectArn": f"arn:aws:s3:::{bucket}/{key}", "ETag": etag}


def create_job(
    control: Any,
    location: dict[str, str],
    operation: dict[str, Any],
    *,
    report_bucket: str | None = None,
    report_scope: str = "AllTasks",
    priority: int = 10,
    confirmation: bool = False,
    fields: list[str] | None = None,
    **extra: Any,
) -> str:
    report: dict[str, Any] = {"Enabled": False}
    if report_bucket:
        report = {
            "Enabled": True,
            "Bucket": f"arn:aws:s3:::{report_bucket}",
            "Format": "Report_CSV_20180820",
            "Prefix": "reports",
            "ReportScope": report_scope,
        }
    response = control.create_job(
        AccountId=ACCOUNT,
        ConfirmationRequired=confirmation,
        Operation=operation,
        Report=report,
        Manifest={
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": fields or ["Bucket", "Key"]},
            "Location": location,
        },
        Priority=priority,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/batch",
        **extra,
    )
    return str(response["JobId"])


def signed_request(
    url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    account: str = ACCOUNT,
    signed_at: datetime | None = None,
    send_body: bytes | None = None,
) -> tuple[int, bytes]:
    """Send a raw S3 Control request signed by botocore's SigV4 signer (as boto3 signs); (status, body).

    ``signed_at`` signs with another clock; ``send_body`` sends a different body than the one signed.
    """
    request = AWSRequest(method=method, url=f"{url}{path}", data=body, headers={"x-amz-account-id": account})
    for name, value in (headers or {}).items():
        request.headers[name] = value
    clock = signed_at or datetime.now(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=clock):
        S3SigV4Auth(Credentials(access_key, secret_key), "s3", REGION).add_auth(request)
    return raw_request(request.url, method, send_body if send_body is not None else body, dict(request.headers))


def raw_request(url: str, method: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One HTTP request as given (no signing); (status, body) whatever the status."""
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def error_code(body: bytes) -> str:
    return body.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode() if b"<Code>" in body else ""
