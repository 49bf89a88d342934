"""Real ``batchops worker`` processes for the scale-out tests (each in a process group of its own, so kill -9
reaches only it); ``pause`` freezes one (SIGSTOP, as a stalled VM would) and ``resume`` wakes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT


@dataclass
class QueueWorker:
    log_path: Path
    process: subprocess.Popen[bytes]

    def kill9(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.resume()  # a paused one would never see the SIGTERM
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


#: The ``queue_workers`` fixture: starts ``count`` ``batchops worker``s on the test's ``queue_database``:
#: ``(count, *args, env=None, s3_endpoint=None)``.
StartWorkers = Callable[..., list["QueueWorker"]]


def start_worker(
    directory: Path, database: str, s3_endpoint: str, *extra_args: str, env: dict[str, str] | None = None
) -> QueueWorker:
    directory.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "batchops", "worker", "--database", database, "--s3-endpoint", s3_endpoint]
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "BATCHOPS_ACCOUNT_ID": ACCOUNT,
        **(env or {}),
    }
    log_path = directory / "worker.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [*args, *extra_args], stdout=log, stderr=subprocess.STDOUT, env=environment, start_new_session=True
        )
    return QueueWorker(log_path, process)
