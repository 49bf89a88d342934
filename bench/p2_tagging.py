"""P2: tag N objects (CreateJob → Complete) against a boto3 ThreadPoolExecutor of 32 threads.

While batchops' job is Active, a client thread calls DescribeJob every 20 ms and keeps the latencies
for P7 (one call per 20 ms is a light load; it does not stand in for the job's own work).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from bench.harness import Bench, Row, in_parallel, time_row
from tests.support.jobs import describe
from tests.support.server import Server

ID = "P2"
SOURCE = "bench-src"
PEER_THREADS = 32
LATENCIES = "describe_latencies_ms"  # bench.shared key P7 reads


class DescribeProbe:
    """Calls DescribeJob every ``interval`` seconds from its own thread; keeps latencies seen while Active."""

    def __init__(self, server: Server, interval: float = 0.02) -> None:
        self._control = server.client()
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.latencies_ms: list[float] = []

    def start(self, job_id: str) -> None:
        self._thread = threading.Thread(target=self._loop, args=(job_id,), daemon=True)
        self._thread.start()

    def stop(self) -> list[float]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return self.latencies_ms

    def _loop(self, job_id: str) -> None:
        while not self._stop.wait(self._interval):
            start = time.perf_counter()
            status = describe(self._control, job_id)["Status"]
            elapsed = (time.perf_counter() - start) * 1000
            if status == "Active":
                self.latencies_ms.append(elapsed)


def tag_with_batchops(bench: Bench, keys: list[str], value: str) -> tuple[float, list[float]]:
    """batchops' tagging job over ``keys``: its CreateJob → Complete time and the probe's latencies."""
    location = bench.manifest(SOURCE, (f"{SOURCE},{key}" for key in keys))
    tagging = {"S3PutObjectTagging": {"TagSet": [{"Key": "bench", "Value": value}]}}
    with bench.server("p2", workers=bench.workers) as server:
        probe = DescribeProbe(server)
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
