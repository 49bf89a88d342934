"""P4: Preparing an N-row CSV manifest (rows/s, server peak RSS) against ``wc -l`` of the same file.

The manifest is written to a local file, uploaded, and a job needing confirmation is created, so no task
runs: Preparing → Suspended is the time to stream, parse and store every row. ``wc -l`` on the local
file (already in the page cache) is the floor: no parser counts lines faster. The server is fresh, so
its VmHWM is this workload's peak.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.harness import ApiProbe, Bench, Row, peak_rss_mb, server_pid

ID = "P4"
BUCKET = "p4-manifests"
MIN_ROWS_PER_SECOND = 1_000_000
MAX_RSS_MB = 150
LATENCIES = "p4_api_latencies_ms"  # bench.shared key P7 reads: (DescribeJob, ListJobs) while Preparing


def write_manifest(path: Path, rows: int) -> None:
    with path.open("w") as out:
        for start in range(0, rows, 100_000):
            out.write("".join(f"p4-src,obj/{i:08d}\n" for i in range(start, min(start + 100_000, rows))))


def wc_lines_per_second(path: Path, rows: int) -> float:
    start = time.perf_counter()
    counted = int(subprocess.run(["wc", "-l", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])
    elapsed = time.perf_counter() - start
    assert counted == rows, f"wc -l counted {counted} lines, expected {rows}"
    return rows / elapsed


def run(bench: Bench) -> Row:
    rows = bench.count(10_000_000, 20_000)
    path = bench.work / "p4-manifest.csv"
    write_manifest(path, rows)
    try:
        s3 = bench.s3()
        s3.upload_file(str(path), bench.bucket(BUCKET), "big.csv")
        etag = s3.head_object(Bucket=BUCKET, Key="big.csv")["ETag"]
        wc_rate = wc_lines_per_second(path, rows)
    finally:
        path.unlink()
    tagging = {"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}
    location = {"ObjectArn": f"arn:aws:s3:::{BUCKET}/big.csv", "ETag": etag}
    with bench.server("p4") as server:
        job = bench.run_job(server, location, tagging, until="Suspended")
        rss = peak_rss_mb(server_pid(server))
    # Again on a fresh server, probed this time (P7): the probe's calls share the event loop with Preparing
    with bench.server("p4-probed") as server:
        probe = ApiProbe(server, during="Preparing")
        try:
            bench.run_job(server, location, tagging, until="Suspended", on_created=probe.start)
        finally:
            bench.shared[LATENCIES] = probe.stop()
    assert job.total == rows, f"Preparing stored {job.total} tasks for {rows} rows"
    rate = rows / (job.at("Suspended") - job.at("Preparing"))
    return Row(
        ID,
        f"Preparing a {rows:,}-row CSV manifest",
        f"{rate:,.0f} rows/s, peak RSS {rss:.0f} MB",
        f"{wc_rate:,.0f} rows/s (wc -l, floor)",
        f"{rate / wc_rate:.3f}",
        f"≥ {MIN_ROWS_PER_SECOND:,} rows/s, RSS ≤ {MAX_RSS_MB} MB",
        None if bench.smoke else rate >= MIN_ROWS_PER_SECOND and rss <= MAX_RSS_MB,
    )
