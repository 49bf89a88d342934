"""P3: delete N objects (CreateJob → Complete, ``S3DeleteObject``) against the strongest peer a user would pick.

The peer is ``s5cmd rm 's3://bucket/obj/*'``: it lists the keys and deletes them 1,000 per DeleteObjects request,
``--numworkers`` requests at once, so it runs at the store's delete ceiling. Target: batchops within 1.0x its
time. Beside it, ``s5cmd run`` with one ``rm s3://bucket/key`` line per key (what a user with a list of keys
that share no prefix runs: one request per key); target: batchops within 0.5x its time. Each client deletes
its own copy of the same keys.
"""

from __future__ import annotations

from bench.harness import CONCURRENCY, Bench, Row

ID = "P3"
DELETE = "<S3DeleteObject/>"  # a batchops extension: boto3's model lacks it
RM_PREFIX = "s5cmd --numworkers {workers} rm 's3://{bucket}/obj/*'"
RM_LINES = "s5cmd --numworkers {workers} run FILE (one `rm s3://{bucket}/KEY` line per key)"
#: batchops' time as a fraction of each peer's, at most.
VS_PREFIX, VS_LINES = 1.0, 0.5


def run(bench: Bench) -> Row:
    count = bench.count(50_000, 200)
    ours_bucket, lines_bucket, prefix_bucket = "p3-batchops", "p3-s5cmd-run", "p3-s5cmd-rm"
    keys = bench.objects(ours_bucket, count)
    bench.objects(lines_bucket, count)
    bench.objects(prefix_bucket, count)
    location = bench.manifest("p3-manifests", (f"{ours_bucket},{key}" for key in keys))
    with bench.server("p3") as server:
        job = bench.run_job(server, location, DELETE)
    ours = job.at("Complete") - job.created_at
    prefix = bench.s5cmd("rm", f"s3://{prefix_bucket}/obj/*")
    lines = bench.s5cmd_run("p3-rm", (f"rm s3://{lines_bucket}/{key}" for key in keys))
    for bucket in (ours_bucket, lines_bucket, prefix_bucket):
        left = bench.count_objects(bucket)
        assert left == 0, f"{left} objects left in {bucket}"
    bench.record("delete", "batchops", count, ours)
    bench.record("delete", "s5cmd rm prefix/* (DeleteObjects, 1,000 keys each)", count, prefix)
    bench.record("delete", "s5cmd run (rm lines)", count, lines)
    met = ours <= VS_PREFIX * prefix and ours <= VS_LINES * lines
    return Row(
        ID,
        f"delete {count:,} objects (CreateJob → Complete)",
        f"{ours:.2f} s ({count / ours:,.0f}/s)",
        f"{prefix:.2f} s `{RM_PREFIX.format(workers=CONCURRENCY, bucket=prefix_bucket)}`; "
        f"{lines:.2f} s `{RM_LINES.format(workers=CONCURRENCY, bucket=lines_bucket)}`",
        f"{ours / prefix:.2f}; {ours / lines:.2f}",
        f"≤ {VS_PREFIX:.1f} x rm prefix/*; ≤ {VS_LINES:.1f} x rm lines",
        None if bench.smoke else met,
    )
