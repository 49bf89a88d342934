"""``make run`` (``batchops demo``), the quick start's first command: it serves on its own SeaweedFS, the job its
instructions print runs to Complete through the CLI lines it prints, the README's command-line walk-through runs
as pasted in a second terminal, a taken port is named before any "serving" line, and a terminated demo takes its
SeaweedFS (and its env file) with it."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pytest

from batchops.devstore import free_port
from tests.support.jobs import wait_for

pytestmark = pytest.mark.integration

REPO = Path(__file__).parents[2]


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


def make_run_command(port: int) -> list[str]:
    """The Makefile's ``run`` recipe, with this interpreter's batchops and ``port`` for ``$(PORT)``."""
    makefile = (REPO / "Makefile").read_text()
    recipe = re.search(r"^run:.*\n\t(.+)$", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no run target"
    line = recipe.group(1).replace("$(BIN)/batchops", f"{shlex.quote(sys.executable)} -m batchops")
    return shlex.split(line.replace("$(PORT)", str(port)))


def demo_environment(env_file: Path) -> dict[str, str]:
    """The variables ``demo.env`` exports (``PATH`` left out: it extends the shell's)."""
    pairs = (shlex.split(line.removeprefix("export "))[0] for line in env_file.read_text().splitlines())
    found = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
    found.pop("PATH")
    return found


#: The ``client`` of the README's Command line section, which the Python blocks of later sections go on from.
README_CLIENT = (
    "import os\nfrom batchops import Client\nenv = os.environ\n"
    'client = Client(env["BATCHOPS_URL"], env["BATCHOPS_ACCOUNT_ID"], env["AWS_ACCESS_KEY_ID"], '
    'env["AWS_SECRET_ACCESS_KEY"], s3_endpoint=env["BATCHOPS_S3_ENDPOINT"])\n'
)


def run_readme_python(block: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    """A README Python block, after the README's ``client``, against the demo whose data dir is ``data_dir``."""
    return subprocess.run(
        [sys.executable, "-c", README_CLIENT + block],
        cwd=data_dir.parent,
        env={**os.environ, **demo_environment(data_dir / "demo.env")},
        capture_output=True,
        text=True,
        timeout=240,
    )


def readme_walk_through(heading: str = "## Command line") -> str:
    """The first shell block of a README section ("Command line" by default)."""
    section = (REPO / "README.md").read_text().split(f"\n{heading}\n", 1)[1]
    block = re.search(r"^```sh\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert block, f"README.md's {heading} section has no sh block"
    return block.group(1)


@contextmanager
def running_demo(cwd: Path, port: int) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``make run``'s command in ``cwd`` on ``port``, serving; stopped (and its SeaweedFS) afterwards."""
    log_path = cwd / "demo.log"
    with log_path.open("wb") as log:
        demo = subprocess.Popen(make_run_command(port), stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    stores: list[int] = []
    try:
        wait_for(lambda: healthy(f"http://127.0.0.1:{port}"), timeout=120, what="the demo to serve")
        stores += [pid for pid in children(demo.pid) if b"weed" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        yield demo, log_path
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
        for pid in filter(alive, stores):  # what a killed or failed run left behind
            os.kill(pid, signal.SIGKILL)


def test_the_demo_runs_its_printed_job_and_stops_with_its_store(tmp_path: Path) -> None:
    port = free_port()
    with running_demo(tmp_path, port) as (demo, log_path):
        text = log_path.read_text()
        create = re.search(r"(batchops job create (?:.*\\\n)*.*)", text)  # with its continued lines
        assert create, text
        env_file = tmp_path / ".data" / "demo.env"
        assert ". .data/demo.env" in text  # the printed way to the variables
        env = {**os.environ, **demo_environment(env_file)}
        cli = [sys.executable, "-m", "batchops", *shlex.split(create.group(1).replace("\\\n", " "))[1:]]
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

        stores = [pid for pid in children(demo.pid) if b"weed" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(stores) == 1
        demo.send_signal(signal.SIGTERM)
        demo.wait(timeout=30)
        wait_for(lambda: not alive(stores[0]), timeout=20, what="the demo's SeaweedFS to stop with it")
        assert not env_file.exists()  # no stale endpoint for the next terminal


def test_the_readme_walk_through_runs_as_pasted_after_make_run(tmp_path: Path) -> None:
    port = free_port()
    with running_demo(tmp_path, port):
        env_file = tmp_path / ".data" / "demo.env"
        # A fresh terminal: no batchops on PATH, no keys or endpoints, until the walk-through sources demo.env.
        shell = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        walked = subprocess.run(
            ["bash", "-e", "-c", readme_walk_through()],  # -e: a failing step fails the test
            cwd=tmp_path,
            env=shell,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert walked.returncode == 0, walked.stdout + walked.stderr
        out = walked.stdout
        job_id = re.search(r"job (\S+) priority 50", out)
        assert job_id, out
        job = job_id.group(1)
        assert any(job in line and "Suspended" in line for line in out.splitlines()), out  # the list, before Ready
        assert f"job {job} is Ready" in out
        assert f"job {job} Complete: 100 succeeded, 0 failed of 100" in out
        assert "100 row(s)" in out
        assert len((tmp_path / "objects.csv").read_text().splitlines()) == 100

        demo = demo_environment(env_file)
        s3 = boto3.client(
            "s3",
            endpoint_url=demo["BATCHOPS_S3_ENDPOINT"],
            aws_access_key_id=demo["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=demo["AWS_SECRET_ACCESS_KEY"],
            region_name="us-east-1",
        )
        tagged = s3.get_object_tagging(Bucket="demo-source", Key="photos/0099.txt")["TagSet"]
        assert tagged == [{"Key": "project", "Value": "x"}]
        assert s3.get_object_tagging(Bucket="demo-source", Key="photos/0100.txt")["TagSet"] == []

        # The Metrics section's curl, pasted in the same terminal after the walk-through, shows its job's counts
        scraped = subprocess.run(
            ["bash", "-e", "-c", f". .data/demo.env\n{readme_walk_through('### Metrics')}"],
            cwd=tmp_path,
            env=shell,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert scraped.returncode == 0, scraped.stdout + scraped.stderr
        lines = scraped.stdout.splitlines()
        assert 'batchops_tasks_total{error_code="",operation="S3PutObjectTagging",status="succeeded"} 100.0' in lines
        assert 'batchops_jobs{status="Complete"} 1.0' in lines


def readme_boto3_example() -> str:
    """The Python block of the README's "Using it with boto3" section."""
    section = (REPO / "README.md").read_text().split("\n## Using it with boto3\n", 1)[1]
    block = re.search(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert block, "README.md's boto3 section has no python block"
    return block.group(1)


def test_the_readme_boto3_example_runs_with_no_keys_in_the_environment(tmp_path: Path) -> None:
    port = free_port()
    with running_demo(tmp_path, port):
        demo = demo_environment(tmp_path / ".data" / "demo.env")
        # No AWS_* variables and an empty HOME (no ~/.aws): the example's own keys must be enough.
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "BATCHOPS_S3_ENDPOINT": demo["BATCHOPS_S3_ENDPOINT"]}
        example = readme_boto3_example().replace("http://127.0.0.1:8080", f"http://127.0.0.1:{port}")
        ran = subprocess.run(
            [sys.executable, "-c", example], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "'TotalNumberOfTasks'" in ran.stdout, ran.stdout


@pytest.mark.parametrize("command", ["demo", "server"])
def test_a_taken_port_is_named_before_any_serving_line(tmp_path: Path, command: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        started = subprocess.run(
            [sys.executable, "-m", "batchops", command, "--data-dir", str(tmp_path / "data"), "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert started.returncode == 1, started.stdout + started.stderr
    assert "serving" not in started.stdout + started.stderr
    error = started.stderr.strip()
    assert len(error.splitlines()) == 1 and "Traceback" not in error, error
    assert error.startswith(f"error: port {port} on 127.0.0.1 is already in use"), error
    suggested = re.search(r"--port (\d+)", error)
    assert suggested and int(suggested.group(1)) != port, error
    assert ("make run PORT=" in error) == (command == "demo"), error
    assert not (tmp_path / "data" / "seaweed").exists()  # the demo stopped before starting its store


def test_make_run_passes_its_port() -> None:
    planned = subprocess.run(
        ["make", "-n", "run", "PORT=8090"], cwd=REPO, capture_output=True, text=True, check=True, timeout=30
    )
    assert "batchops demo --data-dir .data --port 8090" in planned.stdout, planned.stdout
