"""P7: DescribeJob latency while P2's tagging job is Active (p50, p99).

P2 leaves its probe's latencies behind; run alone (``--only P7``), this runs P2's batchops job itself.
"""

from __future__ import annotations

from bench import p2_tagging
from bench.harness import Bench, Row, percentile

ID = "P7"
MAX_P99_MS = 20.0


def run(bench: Bench) -> Row:
    latencies: list[float] | None = bench.shared.get(p2_tagging.LATENCIES)
    if latencies is None:
        keys = bench.objects(p2_tagging.SOURCE, bench.count(20_000, 200))
        _, latencies = p2_tagging.tag_with_batchops(bench, keys, "p7")
    assert latencies, "no DescribeJob call landed while the job was Active"
    p99 = percentile(latencies, 0.99)
    return Row(
        ID,
        f"DescribeJob latency during P2's job ({len(latencies)} calls)",
        f"p99 {p99:.1f} ms (p50 {percentile(latencies, 0.5):.1f} ms)",
        "—",
        "—",
        f"p99 ≤ {MAX_P99_MS:.0f} ms",
        None if bench.smoke else p99 <= MAX_P99_MS,
    )
