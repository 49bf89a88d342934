"""P5: CreateJob → Active latency for a 1,000-row manifest, median over several jobs.

From the client's clock just before CreateJob to the server's recorded move to Active (same machine,
same wall clock), so no polling interval shows. The jobs run ``BatchOpsNoOp`` one after another (each
finishes before the next is created), so only the control path is measured: CreateJob, Preparing,
scheduling.
"""

from __future__ import annotations

import statistics

from bench.harness import NOOP, Bench, Row

ID = "P5"
MAX_MEDIAN_SECONDS = 0.5


def run(bench: Bench) -> Row:
    jobs = bench.count(21, 3)
    location = bench.manifest("p5-manifests", (f"p5-src,obj/{i:07d}" for i in range(1000)))
    latencies = []
    with bench.server("p5") as server:
        for _ in range(jobs):
            job = bench.run_job(server, location, NOOP)
            latencies.append(job.at("Active") - job.created_at)
    median = statistics.median(latencies)
    return Row(
        ID,
        f"CreateJob → Active, 1,000-row manifest ({jobs} jobs)",
        f"median {median:.3f} s (max {max(latencies):.3f} s)",
        "—",
        "—",
        f"median ≤ {MAX_MEDIAN_SECONDS} s",
        None if bench.smoke else median <= MAX_MEDIAN_SECONDS,
    )
