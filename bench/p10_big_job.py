"""P10: a 10,000,000-task ``BatchOpsNoOp`` job end to end on SQLite, with a report of all its tasks.

One job, from CreateJob to Complete: Preparing the manifest (rows/s), running every task (Active → Completing,
tasks/s), and writing the report (rows/s). Status times come from the job's status history; the report's own
time from the server's ``report_written`` log line (the finisher times ``write_report`` alone: Completing →
Complete also holds the supervisor's wait for the next tick). Also the server's peak RSS and its SQLite
file's bytes (database, WAL and shared memory) per task, after the job.

The floor for the report is SQLite's own CSV export of the same rows from the same file, after the job:
``sqlite3 -csv`` writing Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage in task
order to a local file (no URL-encoding of keys, no MD5, no upload). The target is the issue's:
the report written at >= 1,000,000 rows/s.
"""

from __future__ import annotations

import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.harness import NOOP, Bench, JobRun, Row, peak_rss_mb, server_pid
from bench.p4_manifest import write_manifest
from tests.support.server import Server

ID = "P10"
MANIFESTS = "p10-manifests"
REPORTS = "p10-reports"
MIN_REPORT_ROWS_PER_SECOND = 1_000_000
#: Rows per result file (the writer's default).
ROWS_PER_FILE = 100_000
#: The server logs at info, as JSON, so its ``report_written`` line (with the report's seconds) can be read.
LOG_ARGS = ("--log-level", "info", "--log-format", "json")


def run(bench: Bench) -> Row:
    rows = bench.count(10_000_000, 2_000)
    location = upload_manifest(bench, rows)
    bench.bucket(REPORTS)
    with bench.server("p10", *LOG_ARGS, workers=bench.workers) as server:
        job = bench.run_job(server, location, NOOP, report_bucket=REPORTS, timeout=4 * 3600.0)
        rss = peak_rss_mb(server_pid(server))
        database_bytes = sqlite_bytes(server.data_dir)
    assert job.total == rows, f"{job.total} tasks for {rows} rows"
    job_id = str(job.job["JobId"])
    check_report(bench, job_id, rows)
    report_seconds = logged_report_seconds(server, job_id)
    floor_seconds, command = sqlite_export_seconds(server.data_dir, job_id, rows, bench.work / "p10-floor.csv")
    return row(bench, rows, job, report_seconds, floor_seconds, command, rss, database_bytes)


def upload_manifest(bench: Bench, rows: int) -> dict[str, str]:
    path = bench.work / "p10-manifest.csv"
    write_manifest(path, rows)  # P4's: "p4-src,obj/<8 digits>" lines, written in large blocks
    try:
        s3 = bench.s3()
        s3.upload_file(str(path), bench.bucket(MANIFESTS), "big.csv")
        etag = s3.head_object(Bucket=MANIFESTS, Key="big.csv")["ETag"]
    finally:
        path.unlink()
    return {"ObjectArn": f"arn:aws:s3:::{MANIFESTS}/big.csv", "ETag": etag}


def sqlite_bytes(data_dir: Path) -> int:
    """The job store's bytes on disk: the SQLite file, its WAL and its shared-memory file."""
    return sum(path.stat().st_size for path in data_dir.glob("batchops.sqlite3*"))


def check_report(bench: Bench, job_id: str, rows: int) -> None:
    """The report lists every task: the index names ceil(rows / 100,000) succeeded files, the last one as long
    as it should be (reading all 10M rows back would take longer than writing them)."""
    s3 = bench.s3()
    index_key = f"reports/job-{job_id}/manifest.json"
    index: dict[str, Any] = json.loads(s3.get_object(Bucket=REPORTS, Key=index_key)["Body"].read())
    results = index["Results"]
    assert len(results) == math.ceil(rows / ROWS_PER_FILE), f"{len(results)} result files for {rows} rows"
    assert {result["TaskExecutionStatus"] for result in results} == {"succeeded"}, results
    last = s3.get_object(Bucket=REPORTS, Key=results[-1]["Key"])["Body"].read()
    counted, expected = last.count(b"\n"), rows - ROWS_PER_FILE * (len(results) - 1)
    assert counted == expected, f"the last result file has {counted} rows, not {expected}"
    assert last.endswith(f"p4-src,obj/{rows - 1:08d},,succeeded,,200,no-op\n".encode()), last[-200:]


def logged_report_seconds(server: Server, job_id: str) -> float:
    """The seconds the server's ``report_written`` line gives for this job's report."""
    for line in (server.data_dir / "server.log").read_text(errors="replace").splitlines():
        if '"report_written"' not in line:
            continue
        entry = json.loads(line)
        if entry.get("action") == "report_written" and entry.get("job_id") == job_id:
            return float(entry["seconds"])
    raise AssertionError(f"no report_written line for job {job_id}: {server.log_tail()}")


def sqlite_export_seconds(data_dir: Path, job_id: str, rows: int, out: Path) -> tuple[float, str]:
    """``sqlite3 -csv`` of the job's report rows into a local file: (its wall time, its exact command)."""
    query = (
        "SELECT bucket, key, version_id, 'succeeded', error_code, http_status, message FROM tasks "
        f"WHERE job_id = '{job_id}' AND status = 1 ORDER BY seq"
    )
    database = data_dir / "batchops.sqlite3"
    command = f'sqlite3 -csv {database} "{query}" > {out}'
    try:
        with out.open("wb") as sink:
            start = time.perf_counter()
            subprocess.run(["sqlite3", "-csv", str(database), query], stdout=sink, check=True)
            elapsed = time.perf_counter() - start
        with out.open("rb") as written:
            counted = sum(block.count(b"\n") for block in iter(lambda: written.read(1 << 20), b""))
    finally:
        out.unlink(missing_ok=True)
    assert counted == rows, f"sqlite3 -csv wrote {counted} rows, expected {rows}"
    return elapsed, command


def row(
    bench: Bench,
    rows: int,
    job: JobRun,
    report_seconds: float,
    floor_seconds: float,
    command: str,
    rss: float,
    database_bytes: int,
) -> Row:
    total = job.at("Complete") - job.history[0][0]
    prepared = job.at("Ready") if any(status == "Ready" for _, status in job.history) else job.at("Active")
    preparing = rows / (prepared - job.at("Preparing"))
    tasks = rows / (job.at("Completing") - job.at("Active"))
    report, floor = rows / report_seconds, rows / floor_seconds
    return Row(
        ID,
        f"a {rows:,}-task no-op job end to end with an all-tasks report (SQLite)",
        f"report {report:,.0f} rows/s ({report_seconds:.2f} s; Completing → Complete "
        f"{job.at('Complete') - job.at('Completing'):.2f} s); total {total:.1f} s; Preparing {preparing:,.0f} "
        f"rows/s; tasks {tasks:,.0f}/s; peak RSS {rss:.0f} MB; SQLite {database_bytes / rows:.0f} bytes/task",
        f"{floor:,.0f} rows/s (floor: {command})",
        f"{report / floor:.2f}",
        f"report ≥ {MIN_REPORT_ROWS_PER_SECOND:,} rows/s",
        None if bench.smoke else report >= MIN_REPORT_ROWS_PER_SECOND,
    )
