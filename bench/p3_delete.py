"""P3: delete N objects (CreateJob → Complete, ``S3DeleteObject``) against ``s5cmd run`` with N ``rm`` lines.

Fairness: the peer is ``s5cmd run`` with one ``rm s3://bucket/key`` line per key, because that is what a
user with a list of keys runs, and it sends one request per key (a one-key DeleteObjects), as batchops
does (one DeleteObject per task). ``s5cmd rm 's3://bucket/prefix/*'`` lists the keys and deletes them
1,000 per DeleteObjects request; it is measured too, on a third copy of the keys, but only as a
candidate for the store's delete ceiling, not as the row's peer.
"""

from __future__ import annotations

from bench.harness import Bench, Row, time_row

ID = "P3"
DELETE = "<S3DeleteObject/>"  # a batchops extension: boto3's model lacks it


def run(bench: Bench) -> Row:
    count = bench.count(50_000, 200)
    ours_bucket, peer_bucket, batch_bucket = "p3-batchops", "p3-s5cmd-run", "p3-s5cmd-rm"
    keys = bench.objects(ours_bucket, count)
    bench.objects(peer_bucket, count)
    bench.objects(batch_bucket, count)
    location = bench.manifest("p3-manifests", (f"{ours_bucket},{key}" for key in keys))
    with bench.server("p3") as server:
        job = bench.run_job(server, location, DELETE)
    ours = job.at("Complete") - job.created_at
    peer = bench.s5cmd_run("p3-rm", (f"rm s3://{peer_bucket}/{key}" for key in keys))
    batch = bench.s5cmd("rm", f"s3://{batch_bucket}/obj/*")
    for bucket in (ours_bucket, peer_bucket, batch_bucket):
        left = bench.count_objects(bucket)
        assert left == 0, f"{left} objects left in {bucket}"
    bench.record("delete", "batchops", count, ours)
    bench.record("delete", "s5cmd run (rm lines)", count, peer)
    bench.record("delete", "s5cmd rm prefix/* (DeleteObjects, 1,000 keys each)", count, batch)
    return time_row(bench, ID, f"delete {count:,} objects", ours, "s5cmd run rm", peer, 1.0)
