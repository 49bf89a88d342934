"""P2: tag N objects (CreateJob → Complete) against a boto3 ThreadPoolExecutor of 32 threads.

While batchops' job is Active, an ``ApiProbe`` calls DescribeJob and ListJobs every 20 ms and keeps the
latencies for P7 (a job running flat out).
"""

from __future__ import annotations

from typing import Any

from bench.harness import ApiProbe, Bench, Row, in_parallel, time_row

ID = "P2"
SOURCE = "bench-src"
PEER_THREADS = 32
LATENCIES = "p2_api_latencies_ms"  # bench.shared key P7 reads: (DescribeJob, ListJobs) while Active


def tag_with_batchops(bench: Bench, keys: list[str], value: str) -> tuple[float, tuple[list[float], list[float]]]:
    """batchops' tagging job over ``keys``: its CreateJob → Complete time and the probe's latencies."""
    location = bench.manifest(SOURCE, (f"{SOURCE},{key}" for key in keys))
    tagging = {"S3PutObjectTagging": {"TagSet": [{"Key": "bench", "Value": value}]}}
    with bench.server("p2", workers=bench.workers) as server:
        probe = ApiProbe(server, during="Active")
        try:
            job = bench.run_job(server, location, tagging, on_created=probe.start)
        finally:
            latencies = probe.stop()
    return job.at("Complete") - job.created_at, latencies


def run(bench: Bench) -> Row:
    count = bench.count(20_000, 200)
    keys = bench.objects(SOURCE, count)
    ours, bench.shared[LATENCIES] = tag_with_batchops(bench, keys, "batchops")
    s3: Any = bench.s3(PEER_THREADS)
    tags = {"TagSet": [{"Key": "bench", "Value": "pool"}]}
    peer = in_parallel(lambda key: s3.put_object_tagging(Bucket=SOURCE, Key=key, Tagging=tags), keys, PEER_THREADS)
    assert s3.get_object_tagging(Bucket=SOURCE, Key=keys[-1])["TagSet"] == tags["TagSet"]
    bench.record("tag", "batchops", count, ours)
    bench.record("tag", f"boto3 pool ({PEER_THREADS} threads)", count, peer)
    return time_row(bench, ID, f"tag {count:,} objects", ours, f"boto3 {PEER_THREADS} threads", peer, 0.5)
