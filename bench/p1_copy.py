"""P1: copy N x 1 KiB objects (CreateJob → Complete) against ``s5cmd run`` with the same N ``cp`` lines.

Both copy server-side (CopyObject) from the same source objects to one destination bucket, under
different prefixes, with the same concurrency (batchops' task concurrency = s5cmd's ``--numworkers``).
"""

from __future__ import annotations

from bench.harness import Bench, Row, time_row

ID = "P1"
SOURCE = "bench-src"
TARGET = "p1-dst"


def run(bench: Bench) -> Row:
    count = bench.count(20_000, 200)
    keys = bench.objects(SOURCE, count)
    bench.bucket(TARGET)
    location = bench.manifest(SOURCE, (f"{SOURCE},{key}" for key in keys))
    copy = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{TARGET}", "TargetKeyPrefix": "batchops/"}}
    with bench.server("p1") as server:
        job = bench.run_job(server, location, copy)
    ours = job.at("Complete") - job.created_at
    peer = bench.s5cmd_run("p1-copy", (f"cp s3://{SOURCE}/{key} s3://{TARGET}/s5cmd/{key}" for key in keys))
    for prefix in ("batchops/", "s5cmd/"):
        copied = bench.count_objects(TARGET, prefix)
        assert copied == count, f"{copied} objects under {TARGET}/{prefix}, expected {count}"
    bench.record("copy", "batchops", count, ours)
    bench.record("copy", "s5cmd run", count, peer)
    return time_row(bench, ID, f"copy {count:,} x 1 KiB objects", ours, "s5cmd run", peer, 0.8)
