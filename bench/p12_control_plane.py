"""P12: the control plane's ceiling: task outcomes PostgreSQL records per second, and how many workers that serves.

Every ``batchops worker`` records its outcomes with ``store.record_outcomes`` (one transaction per batch: insert
the outcomes, bump the job's counters). Here ``WRITERS`` processes, each with its own store, do only that, for
one job, in batches of ``BATCH`` (a chunk's worth), on a fresh PostgreSQL database, and then the same on a SQLite
file. PostgreSQL's rate divided by one worker's tasks/s (P11, when it ran) is how many such workers one
PostgreSQL keeps up with before recording outcomes is the bottleneck.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from multiprocessing.synchronize import Barrier
from typing import Any

from batchops.domain.job import FailureThreshold, JobSpec, ManifestLocation, ManifestSpec, OperationSpec, ReportSpec
from batchops.domain.task import ObjectRef, TaskOutcome, TaskStatus
from batchops.store.sql import open_store
from bench import postgres
from bench.harness import Bench, Row

ID = "P12"
WRITERS = 4
ROUNDS = 2
BATCH = 1000
ACCOUNT = "123456789012"


def run(bench: Bench) -> Row:
    batches = bench.count(50, 3)
    rounds = 1 if bench.smoke else ROUNDS
    on_postgres = on_sqlite = 0.0
    for n in range(rounds):  # the best of each: the machines are shared and noisy
        with postgres.fresh_database() as url:
            on_postgres = max(on_postgres, outcomes_per_second(url, batches))
        sqlite = bench.work / f"p12-{n}" / "batchops.sqlite3"
        sqlite.parent.mkdir(parents=True, exist_ok=True)
        on_sqlite = max(on_sqlite, outcomes_per_second(str(sqlite), batches))
    per_worker = bench.shared.get("worker_tasks_per_second")
    bench.shared["capacity"] = capacity(on_postgres, per_worker, bench.shared.get("worker_tasks_per_cpu_second"))
    total = WRITERS * batches * BATCH
    return Row(
        ID,
        f"control-plane ceiling: {total:,} outcomes recorded by {WRITERS} processes in batches of {BATCH:,}, "
        f"best of {rounds}",
        f"{on_postgres:,.0f} outcomes/s (PostgreSQL)",
        f"{on_sqlite:,.0f} outcomes/s (SQLite)",
        f"{on_postgres / on_sqlite:.2f}",
        "— (measured; see the capacity line)",
        None,
    )


def capacity(ceiling: float, per_worker: float | None, per_cpu_second: float | None) -> str:
    """What the ceiling means in workers (one worker's no-op rate and CPU cost from P11)."""
    line = f"control plane: PostgreSQL records {ceiling:,.0f} outcomes/s"
    if not per_worker or not per_cpu_second:
        return f"{line} (run P11 too to see how many workers that serves)"
    return (
        f"{line}; one batchops worker ran {per_worker:,.0f} no-op tasks/s (P11; {per_cpu_second:,.0f} per CPU-second), "
        f"so one PostgreSQL serves ≈ {ceiling / per_worker:.1f} such workers (≈ {ceiling / per_cpu_second:.1f} "
        "worker cores busy with no-op tasks; more of slower tasks: ceiling / their tasks/s)"
    )


def outcomes_per_second(url: str, batches: int) -> float:
    """``WRITERS`` processes record ``batches`` batches each, starting together; outcomes / wall time."""
    job_id = asyncio.run(new_job(url))
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(WRITERS)
    results: Any = spawn.Queue()
    writers = [
        spawn.Process(target=write, args=(url, job_id, n * batches * BATCH, batches, barrier, results))
        for n in range(WRITERS)
    ]
    for process in writers:
        process.start()
    spans: list[tuple[float, float]] = [results.get(timeout=600) for _ in writers]
    for process in writers:
        process.join(timeout=60)
        assert process.exitcode == 0, f"an outcome writer exited {process.exitcode}"
    recorded = asyncio.run(recorded_outcomes(url, job_id))
    assert recorded == WRITERS * batches * BATCH, f"{recorded} outcomes recorded of {WRITERS * batches * BATCH}"
    return recorded / (max(end for _, end in spans) - min(start for start, _ in spans))


def write(url: str, job_id: str, first_seq: int, batches: int, barrier: Barrier, results: Any) -> None:
    """One writer process: its own store, its batches built before the start line; (start, end) wall times."""
    results.put(asyncio.run(write_batches(url, job_id, first_seq, batches, barrier)))


async def write_batches(url: str, job_id: str, first_seq: int, batches: int, barrier: Barrier) -> tuple[float, float]:
    store = await open_store(url, migrate_schema=False)
    try:
        work = [outcomes(first_seq + b * BATCH) for b in range(batches)]
        barrier.wait(timeout=120)  # every writer connected and ready: the clock starts for all at once
        start = time.time()
        for batch in work:
            await store.record_outcomes(job_id, batch, [])
        return start, time.time()
    finally:
        await store.close()


def outcomes(first_seq: int) -> list[TaskOutcome]:
    return [
        TaskOutcome(seq, TaskStatus.SUCCEEDED, 200, target=ObjectRef("p12-src", f"obj/{seq:07d}"))
        for seq in range(first_seq, first_seq + BATCH)
    ]


async def new_job(url: str) -> str:
    """A job to record outcomes for (opening the store migrates a new SQLite file)."""
    store = await open_store(url)
    try:
        job_id, _ = await store.create_job(ACCOUNT, job_spec(), [])
        return job_id
    finally:
        await store.close()


async def recorded_outcomes(url: str, job_id: str) -> int:
    store = await open_store(url, migrate_schema=False)
    try:
        job = await store.job_for_engine(job_id)
        return job.progress.succeeded
    finally:
        await store.close()


def job_spec() -> JobSpec:
    return JobSpec(
        client_request_token=f"p12-{time.time_ns()}",
        priority=10,
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/batch",
        manifest=ManifestSpec(
            "S3BatchOperations_CSV_20180820", ("Bucket", "Key"), ManifestLocation("arn:aws:s3:::p9/m.csv", "etag")
        ),
        operation=OperationSpec("BatchOpsNoOp", {}, "<BatchOpsNoOp/>"),
        report=ReportSpec(enabled=False),
        description="P12 outcome writers",
        threshold=FailureThreshold(),
    )
