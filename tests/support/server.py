"""A real ``batchops server`` process for the integration tests, and boto3 ``s3control`` clients for it."""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

import batchops
from batchops.aws_hooks import strip_account_from_host
from batchops.devstore import free_port
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY

ACCOUNT = "123456789012"


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
    #: The job store's ``--database`` URL; None: the SQLite file in ``data_dir``. A ``--database`` among
    #: ``extra_args`` wins (the scale-out tests bring a database of their own).
    database: str | None = None

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
            *self._database_args(),
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

    def _database_args(self) -> list[str]:
        return ["--database", self.database] if self.database and "--database" not in self.extra_args else []

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

    def health(self) -> dict[str, Any]:
        """What /healthz answers (``role``: whether this server supervises), or {} while it does not answer."""
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as reply:
                return dict(json.loads(reply.read()))
        except OSError:
            return {}

    def log_tail(self, lines: int = 40) -> str:
        path = self.data_dir / "server.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def client(self) -> Any:
        return s3control_client(self.url)


def hooked(server: Server) -> Any:
    """boto3's s3control client on ``server`` with batchops's hook: the overlay's extensions, the account off the
    host name."""
    session = boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)
    return batchops.boto3_hook(session).client("s3control", endpoint_url=server.url)
