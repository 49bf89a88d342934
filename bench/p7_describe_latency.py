"""P7: DescribeJob and ListJobs latency (p99, p50) in three situations, each probed by a client polling every 20 ms:

- a job running flat out (P2's tagging job, while Active);
- a 10,000,000-row manifest being prepared (P4's job, while Preparing);
- 1,000 small jobs created by 32 clients and drained (P8, throughout).

Each situation's workload leaves its probe's latencies behind; run alone (``--only P7``), this runs the
missing workloads itself (their rows are not shown). P2's and P8's servers run the recommended
``BATCHOPS_BENCH_WORKERS`` worker processes, P4's the default (none); ``BATCHOPS_BENCH_WORKERS=0`` measures
every situation on the default settings.
"""

from __future__ import annotations

from collections.abc import Callable

from bench import p2_tagging, p4_manifest, p8_small_jobs
from bench.harness import Bench, Row, percentile

ID = "P7"
MAX_P99_MS = 20.0
SITUATIONS: list[tuple[str, str, Callable[[Bench], Row]]] = [
    ("job flat out", p2_tagging.LATENCIES, p2_tagging.run),
    ("10M-row Preparing", p4_manifest.LATENCIES, p4_manifest.run),
    ("1,000 small jobs", p8_small_jobs.LATENCIES, p8_small_jobs.run),
]


def run(bench: Bench) -> Row:
    figures, worst = [], 0.0
    for name, key, workload in SITUATIONS:
        if key not in bench.shared:
            workload(bench)
        described, listed = bench.shared[key]
        assert described and listed, f"no API call landed during {name}"
        p99s = percentile(described, 0.99), percentile(listed, 0.99)
        worst = max(worst, *p99s)
        figures.append(
            f"{name}: Describe p99 {p99s[0]:.1f} (p50 {percentile(described, 0.5):.1f}), "
            f"List p99 {p99s[1]:.1f} (p50 {percentile(listed, 0.5):.1f}) ms, {len(described)} calls"
        )
    return Row(
        ID,
        "DescribeJob / ListJobs latency: during a job flat out (P2), a 10M-row Preparing (P4), 1,000 small jobs (P8)",
        "; ".join(figures),
        "—",
        "—",
        f"every p99 ≤ {MAX_P99_MS:.0f} ms",
        None if bench.smoke else worst <= MAX_P99_MS,
    )
