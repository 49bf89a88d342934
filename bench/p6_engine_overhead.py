"""P6: the engine's own overhead: tasks/s of a ``BatchOpsNoOp`` job on one core, Active → Complete.

The no-op operation never calls the store, so what remains is batchops: claiming chunks, scheduling
tasks, recording outcomes and counters in SQLite. Every thread of the server is pinned to core 0 (like
``taskset -a -p -c 0``) before the job starts; the benchmark client and SeaweedFS stay unpinned.
"""

from __future__ import annotations

import os

from bench.harness import NOOP, Bench, Row

ID = "P6"
MIN_TASKS_PER_SECOND = 30_000


def run(bench: Bench) -> Row:
    rows = bench.count(200_000, 2_000)
    location = bench.manifest("p6-manifests", (f"p6-src,obj/{i:07d}" for i in range(rows)))
    core = min(os.sched_getaffinity(0))
    with bench.server("p6", cpus={core}) as server:
        job = bench.run_job(server, location, NOOP)
    assert job.total == rows, f"{job.total} tasks for {rows} rows"
    rate = rows / (job.at("Complete") - job.at("Active"))
    return Row(
        ID,
        f"engine overhead: {rows:,} no-op tasks, server on core {core}",
        f"{rate:,.0f} tasks/s",
        "—",
        "—",
        f"≥ {MIN_TASKS_PER_SECOND:,} tasks/s",
        None if bench.smoke else rate >= MIN_TASKS_PER_SECOND,
    )
