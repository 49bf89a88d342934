"""Peak memory of the server while Preparing a large manifest (bounded memory check).

    python -m bench.manifest_memory [--rows 10000000]

Uploads a manifest of N rows to a local SeaweedFS, creates a job that needs confirmation (so no task
runs), waits for Suspended, and prints the server's peak resident memory (VmHWM) and the rows/second.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path

from batchops.devstore import LocalSeaweed
from bench.throughput import KEY, SECRET, s3_client, start_server
from tests.integration.conftest import create_job, describe, s3control_client, wait_for

TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}


class ManifestStream(io.RawIOBase):
    """Generates the manifest's bytes on the fly so the benchmark itself stays small."""

    def __init__(self, rows: int) -> None:
        self._rows, self._next, self._buffer = rows, 0, b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray) -> int:  # type: ignore[override]
        while len(self._buffer) < len(target) and self._next < self._rows:
            end = min(self._next + 10_000, self._rows)
            self._buffer += "".join(f"bench-src,objects/{i:09d}\n" for i in range(self._next, end)).encode()
            self._next = end
        count = min(len(target), len(self._buffer))
        target[:count], self._buffer = self._buffer[:count], self._buffer[count:]
        return count


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="batchops-membench-"))
    store = LocalSeaweed(work / "seaweed", KEY, SECRET).start()
    server = None
    try:
        s3 = s3_client(store.endpoint, 8)
        s3.create_bucket(Bucket="bench-src")
        s3.upload_fileobj(io.BufferedReader(ManifestStream(args.rows), 1 << 20), "bench-src", "big.csv")
        etag = s3.head_object(Bucket="bench-src", Key="big.csv")["ETag"]
        server, url = start_server(work / "batchops", store.endpoint, 64)
        control = s3control_client(url, KEY, SECRET)
        start = time.perf_counter()
        location = {"ObjectArn": "arn:aws:s3:::bench-src/big.csv", "ETag": etag}
        job_id = create_job(control, location, TAGGING, confirmation=True)
        job = wait_for(
            lambda: (j := describe(control, job_id))["Status"] in ("Suspended", "Failed") and j,
            timeout=3600,
            interval=1.0,
        )
        elapsed = time.perf_counter() - start
        total = job["ProgressSummary"]["TotalNumberOfTasks"]
        print(
            f"prepared {total} rows in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s); "
            f"server peak RSS {peak_rss_mb(server.pid):.0f} MB; status {job['Status']}",
            flush=True,
        )
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        store.stop()


if __name__ == "__main__":
    main()
