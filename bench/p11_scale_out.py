"""P11: scale-out: tasks/s of a ``BatchOpsNoOp`` job, Active → Complete, run by 1, 2 and 4 worker processes.

On PostgreSQL: ``batchops server --database postgresql://… --dispatch procrastinate`` dispatches the chunks and N
``batchops worker`` processes run them (a fresh database per N). Beside it, the same job on SQLite with
``batchops server --workers N``. Nothing is pinned: the server, the workers, PostgreSQL and SeaweedFS share the
machine's cores, so N beyond the cores shows the machine's limit, not batchops' (the row says how many cores).
The no-op touches no object: what is measured is claiming chunks, running tasks and recording outcomes.
"""

from __future__ import annotations

import os
from pathlib import Path

from bench import postgres
from bench.harness import CONCURRENCY, NOOP, WORKER_ENV, Bench, Row

ID = "P11"
WORKER_COUNTS = (1, 2, 4)
#: Runs of each configuration; the best counts (the machines are shared and noisy).
ROUNDS = 2
#: Chunks one ``batchops worker`` runs at once (the README's example).
CHUNKS_PER_WORKER = 4


def run(bench: Bench) -> Row:
    rows = bench.count(60_000, 2_000)
    location = bench.manifest("p11-manifests", (f"p11-src,obj/{i:07d}" for i in range(rows)))
    rounds = 1 if bench.smoke else ROUNDS
    on_postgres: dict[int, float] = {}
    on_sqlite: dict[int, float] = {}
    per_core = 0.0  # no-op tasks per CPU-second of the batchops workers (the machine's load moves it little)
    for _ in range(rounds):  # interleaved, so a burst of load elsewhere on the machine hits one round, not one N
        for n in WORKER_COUNTS:
            rate, cpu_seconds = postgres_rate(bench, location, rows, n)
            on_postgres[n] = max(on_postgres.get(n, 0.0), rate)
            per_core = max(per_core, rows / cpu_seconds)
            on_sqlite[n] = max(on_sqlite.get(n, 0.0), sqlite_rate(bench, location, rows, n))
    bench.shared["worker_tasks_per_second"] = on_postgres[1]
    bench.shared["worker_tasks_per_cpu_second"] = per_core
    counts = "/".join(str(n) for n in WORKER_COUNTS)
    return Row(
        ID,
        f"scale-out: {rows:,} no-op tasks by {counts} `batchops worker`s on PostgreSQL, best of {rounds}; "
        f"{os.cpu_count()} cores",
        f"{figures(on_postgres)} tasks/s; {per_core:,.0f} per worker CPU-second",
        f"{figures(on_sqlite)} tasks/s (SQLite, `--workers {counts}`)",
        f"{ratios(on_postgres)} (SQLite {ratios(on_sqlite)})",
        "— (measured; ratio to 1 worker)",
        None,
    )


def postgres_rate(bench: Bench, location: dict[str, str], rows: int, workers: int) -> tuple[float, float]:
    """Tasks/s, and the CPU-seconds the workers spent on the job."""
    name = f"p11-pg-{workers}"
    worker_args = ("--concurrency", str(CHUNKS_PER_WORKER), "--task-concurrency", str(CONCURRENCY))
    with postgres.fresh_database() as url:
        server_args = ("--database", url, "--dispatch", "procrastinate")
        with (
            bench.server(name, *server_args) as server,
            postgres.queue_workers(
                bench.work / name, url, bench.endpoint, workers, WORKER_ENV, *worker_args, "--log-level", "warning"
            ) as processes,
        ):
            before = sum(cpu_seconds(p.pid) for p in processes)
            job = bench.run_job(server, location, NOOP, database=url)
            spent = sum(cpu_seconds(p.pid) for p in processes) - before
    return tasks_per_second(job.total, rows, job.at("Complete") - job.at("Active")), spent


def sqlite_rate(bench: Bench, location: dict[str, str], rows: int, workers: int) -> float:
    with bench.server(f"p11-sqlite-{workers}", workers=workers) as server:
        job = bench.run_job(server, location, NOOP)
    return tasks_per_second(job.total, rows, job.at("Complete") - job.at("Active"))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process so far (``/proc/PID/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tasks_per_second(total: int, rows: int, seconds: float) -> float:
    assert total == rows, f"{total} tasks for {rows} rows"
    return rows / seconds


def figures(rates: dict[int, float]) -> str:
    return " / ".join(f"{rate:,.0f}" for rate in rates.values())


def ratios(rates: dict[int, float]) -> str:
    one = rates[WORKER_COUNTS[0]]
    return " / ".join(f"{rate / one:.2f}" for rate in rates.values())
