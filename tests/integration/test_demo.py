"""``make run`` (``batchops demo``), the quick start's first command: it serves on its own SeaweedFS, the job its
instructions print runs to Complete through the CLI lines it prints, and a terminated demo takes its SeaweedFS
with it (no store left running, orphaned)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from batchops.devstore import free_port
from tests.support.jobs import wait_for

pytestmark = pytest.mark.integration


def healthy(url: str) -> bool:
    try:
        urllib.request.urlopen(f"{url}/healthz", timeout=1).close()
    except OSError:
        return False
    return True


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        found += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def printed_environment(text: str) -> dict[str, str]:
    """The variables of the ``export …`` lines the demo prints for the command line."""
    block = text.split("export ", 1)[1].split("batchops job create", 1)[0]
    return dict(re.findall(r"(\w+)=(\S+)", block))


def test_the_demo_runs_its_printed_job_and_stops_with_its_store(tmp_path: Path) -> None:
    port, log_path = free_port(), tmp_path / "demo.log"
    command = [sys.executable, "-m", "batchops", "demo", "--data-dir", str(tmp_path / "data"), "--port", str(port)]
    with log_path.open("wb") as log:
        demo = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    stores: list[int] = []
    try:
        wait_for(lambda: healthy(f"http://127.0.0.1:{port}"), timeout=120, what="the demo to serve")
        text = log_path.read_text()
        create = re.search(r"(batchops job create .*)", text)
        assert create, text
        env = {**os.environ, **printed_environment(text)}
        cli = [sys.executable, "-m", "batchops", *create.group(1).split()[1:]]
        job_id = subprocess.run(cli, env=env, capture_output=True, text=True, check=True, timeout=60).stdout.strip()
        waited = subprocess.run(
            [sys.executable, "-m", "batchops", "job", "wait", job_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert waited.returncode == 0, waited.stdout + waited.stderr
        assert "Complete: 300 succeeded, 0 failed of 300" in waited.stdout

        stores += [pid for pid in children(demo.pid) if b"weed" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(stores) == 1
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
        wait_for(lambda: not alive(stores[0]), timeout=20, what="the demo's SeaweedFS to stop with it")
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        for pid in filter(alive, stores):  # what a failed run left behind
            os.kill(pid, signal.SIGKILL)
