"""P8: many small jobs: 1,000 jobs of 3 tagging tasks each, created by 32 concurrent clients, on default settings.

Each client creates its share of the jobs one after another (CreateJob with an AllTasks report, as a tenant
would); a prober calls DescribeJob and ListJobs throughout (P7 reads its latencies). Drained means every job
Complete: from the first CreateJob to the last job's move to Complete (the server's clock, read from its job
history). The peer does the same 3,000 PutObjectTagging calls from a 32-thread boto3 pool, what a user would
script instead, and has no jobs, reports or statuses to keep.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.harness import Bench, Row, in_parallel, percentile, status_history
from tests.support.jobs import TAGGING, create_job
from tests.support.server import ACCOUNT, Server

ID = "P8"
CLIENTS = 32
TASKS_PER_JOB = 3
MIN_JOBS_PER_SECOND = 50.0
MAX_CREATE_P99_MS = 50.0
SOURCE = "p8-src"
REPORTS = "p8-reports"
UNFINISHED = ["New", "Preparing", "Suspended", "Ready", "Active", "Pausing", "Paused", "Completing", "Failing"]
UNFINISHED += ["Cancelling"]
LATENCIES = "p8_api_latencies_ms"  # bench.shared key P7 reads: (DescribeJob, ListJobs) during P8


def run(bench: Bench) -> Row:
    jobs = bench.count(1_000, 40)
    keys = bench.objects(SOURCE, jobs * TASKS_PER_JOB)
    bench.bucket(REPORTS)
    manifests = [
        bench.manifest("p8-manifests", (f"{SOURCE},{key}" for key in keys[i : i + TASKS_PER_JOB]))
        for i in range(0, len(keys), TASKS_PER_JOB)
    ]
    with bench.server("p8", workers=bench.workers) as server:
        prober = Prober(server)
        prober.start()
        try:
            started, job_ids, create_ms = create_all(server, manifests, prober)
            last_complete = wait_all_complete(server, job_ids)
        finally:
            prober.stopped.set()
            prober.join()
    seconds = last_complete - started
    rate = jobs / seconds
    peer = tag_with_pool(bench, keys)
    bench.shared[LATENCIES] = prober.describe_ms, prober.list_ms
    p99 = percentile(create_ms, 0.99)
    met = rate >= MIN_JOBS_PER_SECOND and p99 <= MAX_CREATE_P99_MS
    return Row(
        ID,
        f"{jobs:,} jobs x {TASKS_PER_JOB} tagging tasks from {CLIENTS} concurrent clients "
        f"(default settings, `--workers {bench.workers}`)",
        f"{seconds:.2f} s: {rate:,.1f} jobs/s; CreateJob p99 {p99:.0f} ms (p50 {percentile(create_ms, 0.5):.0f} ms)",
        f"{peer:.2f} s (the same {len(keys):,} PutObjectTagging from a {CLIENTS}-thread boto3 pool)",
        f"{seconds / peer:.2f}",
        f"≥ {MIN_JOBS_PER_SECOND:.0f} jobs/s, CreateJob p99 ≤ {MAX_CREATE_P99_MS:.0f} ms",
        None if bench.smoke else met,
    )


def create_all(server: Server, manifests: list[dict[str, str]], prober: Prober) -> tuple[float, list[str], list[float]]:
    """Every job created by ``CLIENTS`` threads; returns when the first was sent, the ids and the CreateJob
    latencies (ms). The prober learns each new id."""
    clients = [server.client() for _ in range(CLIENTS)]
    for client in clients:  # a boto3 client's first call loads its endpoint rules: not the server's time
        client.list_jobs(AccountId=ACCOUNT, MaxResults=1)
    shares = [manifests[n::CLIENTS] for n in range(CLIENTS)]
    job_ids: list[str] = []
    create_ms: list[float] = []
    lock = threading.Lock()

    def create_share(n: int) -> None:
        for location in shares[n]:
            sent = time.perf_counter()
            job_id = create_job(clients[n], location, TAGGING, report_bucket=REPORTS)
            elapsed = (time.perf_counter() - sent) * 1000
            with lock:
                job_ids.append(job_id)
                create_ms.append(elapsed)
            prober.latest = job_id

    started = time.time()
    with ThreadPoolExecutor(CLIENTS) as pool:
        list(pool.map(create_share, range(CLIENTS)))
    return started, job_ids, create_ms


class Prober(threading.Thread):
    """DescribeJob of the newest job and ListJobs, alternately, until stopped."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.control = server.client()
        self.latest: str | None = None
        self.describe_ms: list[float] = []
        self.list_ms: list[float] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            if self.latest is not None:
                self.describe_ms.append(timed(self.control.describe_job, AccountId=ACCOUNT, JobId=self.latest))
            self.list_ms.append(timed(self.control.list_jobs, AccountId=ACCOUNT, MaxResults=20))
            time.sleep(0.02)  # a client polling, not a load generator


def timed(call: Any, **kwargs: Any) -> float:
    """The call's latency in ms."""
    sent = time.perf_counter()
    call(**kwargs)
    return (time.perf_counter() - sent) * 1000


def wait_all_complete(server: Server, job_ids: list[str], timeout: float = 1800.0) -> float:
    """When the last job moved to Complete (server clock); fails if any ended otherwise."""
    control = server.client()
    deadline = time.monotonic() + timeout
    while control.list_jobs(AccountId=ACCOUNT, JobStatuses=UNFINISHED, MaxResults=1).get("Jobs"):
        if time.monotonic() > deadline:
            raise AssertionError(f"jobs still unfinished after {timeout:.0f} s")
        time.sleep(0.2)
    complete = {job["JobId"] for job in list_all(control, ["Complete"])}  # nothing unfinished: read once
    assert complete >= set(job_ids), f"{len(set(job_ids) - complete)} jobs did not end Complete"
    return max(done_at(server, job_id) for job_id in job_ids)


def list_all(control: Any, statuses: list[str]) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    token: dict[str, str] = {}
    while True:
        page = control.list_jobs(AccountId=ACCOUNT, JobStatuses=statuses, MaxResults=1000, **token)
        jobs += page.get("Jobs", [])
        if not page.get("NextToken"):
            return jobs
        token = {"NextToken": page["NextToken"]}


def done_at(server: Server, job_id: str) -> float:
    return max(when for when, status in status_history(server, job_id) if status == "Complete")


def tag_with_pool(bench: Bench, keys: list[str]) -> float:
    s3 = bench.s3(CLIENTS)
    tagging = {"TagSet": TAGGING["S3PutObjectTagging"]["TagSet"]}
    return in_parallel(lambda key: s3.put_object_tagging(Bucket=SOURCE, Key=key, Tagging=tagging), keys, CLIENTS)

