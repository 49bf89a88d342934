"""P6: the engine's own overhead: tasks/s of a ``BatchOpsNoOp`` job on one core, Active → Complete.

The no-op operation never calls the store, so what remains is batchops: claiming chunks, decoding their rows,
running them, recording outcomes and counters in SQLite. The no-op acts on a chunk's rows together (``run_many``, as
deletes do), so this is the engine's grouped path; operations that act on one object per request (tagging, copy) pay
one asyncio task per row on top, which P2 and P1 measure against their peers. Every thread of the server is pinned
to core 0 (like ``taskset -a -p -c 0``) before the job starts; the benchmark client and SeaweedFS stay unpinned.
"""

from __future__ import annotations

import os
import time

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
    speed = core_speed(core)
    return Row(
        ID,
        f"engine overhead: {rows:,} no-op tasks, server on core {core} (which runs the reference loop at "
        f"{speed:.1f} M steps/s)",
        f"{rate:,.0f} tasks/s ({rate / speed:,.0f} per M reference steps/s)",
        "—",
        "—",
        f"≥ {MIN_TASKS_PER_SECOND:,} tasks/s",
        None if bench.smoke else rate >= MIN_TASKS_PER_SECOND,
    )


def core_speed(core: int, steps: int = 3_000_000) -> float:
    """Millions of steps/s of a fixed pure-Python loop on ``core``, the best of three: what one core of this
    machine gives Python now. The same code ran P6 at 16,000 and at 33,000 tasks/s on two machines of one kind;
    this figure says how much of that is the machine."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            total = 0
            for i in range(steps):
                total += i & 7
            best = min(best, time.perf_counter() - start)
    finally:
        os.sched_setaffinity(0, before)
    return steps / best / 1e6
