"""A store outage holds the job (circuit breaker) instead of failing its tasks; past the bound the job fails.

Every job here runs through the fault-injecting proxy (``faulty_proxy.py``) in front of the real SeaweedFS,
against a real ``batchops server``. The counts are exact: every object tagged, no task failed by the faults.
The long versions (20,000 tasks, 60 s outages) are marked ``soak`` (``make soak``).
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from typing import Any

import pytest

from batchops.devstore import LocalSeaweed
from batchops.s3.breaker import CircuitBreaker, policy_for
from batchops.s3.client import StoreCredentials, open_client
from tests.support.faulty_proxy import FaultyProxy, counts, resume_seconds
from tests.support.jobs import create_job, describe, put_manifest, read_report, wait_for, wait_status
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import Server
from tests.support.workers import StartWorkers

TASKS = 2000
HOLDING = "holding: object store"
#: CreateJob's report-bucket check (batchops.reports.target): HeadBucket, a marker PutObject, its DeleteObject.
REPORT_CHECK_REQUESTS = 3


@pytest.fixture(scope="module")
def objects(s3: Any) -> tuple[str, list[str]]:
    """One bucket of ``TASKS`` objects shared by this module's jobs (each tags them with its own value)."""
    return fill_bucket(s3, TASKS)


def fill_bucket(s3: Any, count: int) -> tuple[str, list[str]]:
    bucket = f"t-outage-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    keys = [f"obj/{i:06d}" for i in range(count)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=key.encode()), keys))
    return bucket, keys


@pytest.fixture
def proxy(seaweed: LocalSeaweed) -> Iterator[FaultyProxy]:
    yield FaultyProxy(seaweed.endpoint).start()


def etags(s3: Any, bucket: str) -> dict[str, str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {o["Key"]: o["ETag"] for page in pages for o in page.get("Contents", [])}


def tag_job(control: Any, s3: Any, bucket: str, keys: list[str], value: str, reports: str | None = None) -> str:
    operation = {"S3PutObjectTagging": {"TagSet": [{"Key": "run", "Value": value}]}}
    manifest = put_manifest(s3, bucket, [f"{bucket},{k}" for k in keys], key=f"manifests/{value}.csv")
    return create_job(control, manifest, operation, report_bucket=reports)


def wait_holding(control: Any, job_id: str, status: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll DescribeJob until it says the job holds for the store (in ``status``) with no task failed."""

    def holding() -> dict[str, Any] | None:
        job = describe(control, job_id)
        assert job["ProgressSummary"]["NumberOfTasksFailed"] == 0, job
        return job if job["Status"] == status and job.get("StatusUpdateReason", "").startswith(HOLDING) else None

    return wait_for(holding, timeout, 0.1, f"job {job_id} to hold in {status}")  # type: ignore[no-any-return]


def assert_all_tagged_once(
    s3: Any, bucket: str, keys: list[str], value: str, before: dict[str, str], job: dict[str, Any], report: list[Any]
) -> None:
    progress = job["ProgressSummary"]
    assert (progress["TotalNumberOfTasks"], progress["NumberOfTasksSucceeded"], progress["NumberOfTasksFailed"]) == (
        len(keys),
        len(keys),
        0,
    )
    assert not job.get("StatusUpdateReason", "").startswith(HOLDING)  # cleared once the store answered again
    assert sorted(row[1] for row in report) == sorted(keys)  # one report row per object, each succeeded
    assert {row[3] for row in report} == {"succeeded"}
    with ThreadPoolExecutor(8) as pool:
        tags = list(pool.map(lambda key: s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"], keys))
    assert all(t == [{"Key": "run", "Value": value}] for t in tags)
    after = etags(s3, bucket)
    assert {k: after[k] for k in before} == before  # no object's data changed


def run_through_faults(
    start_server: Callable[..., Server], proxy: FaultyProxy, s3: Any, bucket: str, keys: list[str], *args: str
) -> tuple[Any, str, str, str, dict[str, str]]:
    server = start_server(*args, s3_endpoint=proxy.endpoint)
    control = server.client()
    reports = f"t-reports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=reports)
    value = uuid.uuid4().hex
    before = etags(s3, bucket)
    return control, tag_job(control, s3, bucket, keys, value, reports), value, reports, before


# --- the lean and SDK clients on their own -----------------------------------------------------


async def test_a_request_during_an_outage_waits_for_the_store_and_keeps_its_attempts(
    proxy: FaultyProxy, s3: Any, new_bucket: Any
) -> None:
    # Given a store that goes down for 3 s, and clients that give each call only 2 attempts
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    async with AsyncExitStack() as stack:
        creds = StoreCredentials(proxy.endpoint, REGION, ACCESS_KEY, SECRET_KEY)
        breaker = CircuitBreaker(proxy.endpoint, policy_for(max_attempts=2, timeout=30.0))
        fast = await open_client(stack, creds, max_attempts=2, breaker=breaker)
        proxy.outage(after=0, seconds=3)
        # When a lean call and an SDK call are made during it
        tags = {"TagSet": [{"Key": "t", "Value": "1"}]}
        _, listed = await asyncio.gather(
            fast.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags),
            fast.list_objects_v2(Bucket=bucket),  # delegated to aiobotocore
        )
    # Then both succeeded once the store was back, after the breaker held them
    assert proxy.back.is_set() and fast.lean.breaker.trips >= 1 and not fast.lean.breaker.is_open
    assert [o["Key"] for o in listed["Contents"]] == ["k"]
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == tags["TagSet"]


# --- jobs ----------------------------------------------------------------------------------------


def test_an_outage_mid_job_holds_it_and_fails_no_task(
    start_server: Callable[..., Server], proxy: FaultyProxy, s3: Any, objects: tuple[str, list[str]]
) -> None:
    # Given a store that goes down for 8 s (connections refused and reset) after serving 600 requests
    bucket, keys = objects
    proxy.outage(after=600, seconds=8)
    # When a 2,000-task tagging job runs through it
    control, job_id, value, reports, before = run_through_faults(start_server, proxy, s3, bucket, keys)
    assert proxy.down.wait(60), "the job never reached the outage"
    # Then DescribeJob says the job holds for the store while it is down, with no task failed
    held = wait_holding(control, job_id, "Active")
    assert ":" in held["StatusUpdateReason"] and "probing every" in held["StatusUpdateReason"]
    assert not proxy.back.is_set(), "the hold was seen only after the store was back"
    # And the job completes once it is back: every object tagged once, none failed
    job = wait_status(control, job_id, {"Complete"}, timeout=120)
    assert_all_tagged_once(s3, bucket, keys, value, before, job, read_report(s3, reports, job_id)[1])
    assert proxy.injected["reset"] >= 1 and resume_seconds(proxy) < 3.0
    print(f"outage mid-job: faults {counts(proxy)}, resumed {resume_seconds(proxy):.2f} s after the store was back")


def test_a_burst_of_503_and_500_among_mixed_faults_fails_no_task(
    start_server: Callable[..., Server], proxy: FaultyProxy, s3: Any, objects: tuple[str, list[str]]
) -> None:
    # Given a store that answers 5 % of requests with a fault (503 SlowDown, 500, a reset, a delay) and,
    # after 600 requests, every request 503 SlowDown or 500 InternalError for 8 s
    bucket, keys = objects
    proxy.mixed(0.05, seed=10).burst(after=600, seconds=8)
    # When a 2,000-task tagging job runs through it, its tasks in two worker processes
    control, job_id, value, reports, before = run_through_faults(
        start_server, proxy, s3, bucket, keys, "--workers", "2"
    )
    assert proxy.down.wait(60), "the job never reached the burst"
    held = wait_holding(control, job_id, "Active")
    assert "HTTP 50" in held["StatusUpdateReason"]
    # Then it completes with every object tagged once and no task failed by the faults
    job = wait_status(control, job_id, {"Complete"}, timeout=120)
    assert_all_tagged_once(s3, bucket, keys, value, before, job, read_report(s3, reports, job_id)[1])
    assert proxy.injected["slowdown"] >= 10 and proxy.injected["internal"] >= 10
    assert proxy.injected["reset"] >= 1 and proxy.injected["delay"] >= 1
    print(f"burst mid-job: faults {counts(proxy)}, resumed {resume_seconds(proxy):.2f} s after the burst")


def test_an_outage_during_preparing_holds_it_until_the_store_is_back(
    start_server: Callable[..., Server], proxy: FaultyProxy, s3: Any, objects: tuple[str, list[str]]
) -> None:
    # Given a store that goes down for 8 s once CreateJob has checked the report bucket
    bucket, keys = objects
    server = start_server(s3_endpoint=proxy.endpoint)
    control = server.client()
    value = uuid.uuid4().hex
    before = etags(s3, bucket)
    reports = f"t-reports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=reports)
    proxy.outage(after=proxy.forwarded + REPORT_CHECK_REQUESTS, seconds=8)
    job_id = tag_job(control, s3, bucket, keys, value, reports)
    # Then reading the manifest holds (Preparing, the reason shown) instead of failing the job
    wait_holding(control, job_id, "Preparing")
    assert not proxy.back.is_set()
    # And once the store is back the job runs to the end, every object tagged once
    job = wait_status(control, job_id, {"Complete"}, timeout=120)
    assert_all_tagged_once(s3, bucket, keys, value, before, job, read_report(s3, reports, job_id)[1])
    assert resume_seconds(proxy) < 3.0
    print(f"outage in Preparing: faults {counts(proxy)}, resumed {resume_seconds(proxy):.2f} s after")


@pytest.mark.parametrize("after", [0, 300], ids=["in-preparing", "mid-job"])
def test_a_store_down_past_the_bound_fails_the_job_with_a_clear_reason(
    start_server: Callable[..., Server], proxy: FaultyProxy, s3: Any, objects: tuple[str, list[str]], after: int
) -> None:
    # Given a server that waits at most 2 s for its store, and a store that goes down for good
    bucket, keys = objects
    server = start_server(s3_endpoint=proxy.endpoint, env={"BATCHOPS_STORE_OUTAGE_MAX_SECONDS": "2"})
    control = server.client()
    reports = f"t-reports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=reports)
    proxy.outage(after=proxy.forwarded + REPORT_CHECK_REQUESTS + after, seconds=3600)
    job_id = tag_job(control, s3, bucket, keys, uuid.uuid4().hex, reports)
    # When the outage outlasts the bound, the job fails saying why and what to do; no task counts as failed
    started = time.monotonic()
    job = wait_status(control, job_id, {"Failed"}, timeout=60)
    assert time.monotonic() - started < 30
    failure, report_failure = job["FailureReasons"]
    assert failure["FailureCode"] == "StoreUnavailable"
    assert f"the object store at {proxy.endpoint} has not answered for" in failure["FailureReason"]
    assert "check the store and create the job again" in failure["FailureReason"]
    # and its report, which the store cannot take either, is given up rather than waited for forever
    assert report_failure["FailureCode"] == "ReportWriteFailed"
    assert "the completion report was not written: the object store at" in report_failure["FailureReason"]
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 0
    assert (job["ProgressSummary"]["NumberOfTasksSucceeded"] > 0) is (after > 0)
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] < len(keys)
    assert not job.get("StatusUpdateReason", "").startswith(HOLDING)


@pytest.mark.job_databases("postgresql", reason="batchops worker needs PostgreSQL; the test has a database of its own")
def test_a_batchops_worker_holds_its_chunks_shows_why_and_fails_the_job_past_the_bound(
    queue_database: str,
    start_server: Callable[..., Server],
    queue_workers: StartWorkers,
    proxy: FaultyProxy,
    s3: Any,
    objects: tuple[str, list[str]],
) -> None:
    # Given a dispatching server and a batchops worker that wait at most 4 s for their store
    bucket, keys = objects
    bound = {"BATCHOPS_STORE_OUTAGE_MAX_SECONDS": "4"}
    args = ("--database", queue_database, "--dispatch", "procrastinate")
    server = start_server(*args, s3_endpoint=proxy.endpoint, env={**bound, "BATCHOPS_CHUNK_SIZE": "200"})
    [worker] = queue_workers(1, env=bound, s3_endpoint=proxy.endpoint)
    control = server.client()
    reports = f"t-reports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=reports)
    # and a store that goes down for good once the worker has run some of the job's tasks
    proxy.outage(after=proxy.forwarded + REPORT_CHECK_REQUESTS + 300, seconds=3600)
    job_id = tag_job(control, s3, bucket, keys, uuid.uuid4().hex, reports)
    # Then the job holds while Active, saying why (the worker's chunks wait on its breaker)
    assert proxy.down.wait(60), "the job never reached the outage"
    held = wait_holding(control, job_id, "Active")
    assert f"{HOLDING} {proxy.endpoint} unreachable since" in held["StatusUpdateReason"]
    # And past the bound the worker fails it, clearly; no task counts as failed
    job = wait_status(control, job_id, {"Failed"}, timeout=60)
    assert job["FailureReasons"][0]["FailureCode"] == "StoreUnavailable"
    assert f"the object store at {proxy.endpoint} has not answered for" in job["FailureReasons"][0]["FailureReason"]
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 0
    assert 0 < job["ProgressSummary"]["NumberOfTasksSucceeded"] < len(keys)
    assert "has not answered" in worker.log_tail(200)  # the worker failed it: the server watches no Active job


# --- the long version -----------------------------------------------------------------------------


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_soak_outages_in_preparing_and_mid_job_and_mixed_faults_over_20000_tasks(
    start_server: Callable[..., Server], proxy: FaultyProxy, s3: Any
) -> None:
    if not os.environ.get("BATCHOPS_SOAK"):
        pytest.skip("make soak runs this (BATCHOPS_SOAK=1)")
    bucket, keys = fill_bucket(s3, 20_000)
    server = start_server(s3_endpoint=proxy.endpoint)
    control = server.client()
    value = uuid.uuid4().hex
    before = etags(s3, bucket)
    reports = f"t-reports-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=reports)
    # A 60 s outage from the job's creation (Preparing), with 5 % mixed faults throughout
    proxy.mixed(0.05, seed=20).outage(after=proxy.forwarded + REPORT_CHECK_REQUESTS, seconds=60)
    job_id = tag_job(control, s3, bucket, keys, value, reports)
    wait_holding(control, job_id, "Preparing", timeout=60)
    assert proxy.back.wait(90)
    preparing_resume = resume_seconds(proxy)
    # then a 60 s outage mid-job, then a 20 s burst of 503/500
    proxy.outage(after=proxy.forwarded + 6000, seconds=60)
    assert proxy.down.wait(300)
    wait_holding(control, job_id, "Active", timeout=60)
    assert proxy.back.wait(90)
    outage_resume = resume_seconds(proxy)
    proxy.burst(after=proxy.forwarded + 6000, seconds=20)
    assert proxy.down.wait(300)
    job = wait_status(control, job_id, {"Complete"}, timeout=900)
    assert_all_tagged_once(s3, bucket, keys, value, before, job, read_report(s3, reports, job_id)[1])
    print(
        f"soak: faults {counts(proxy)}; resumed {preparing_resume:.2f} s after the Preparing outage, "
        f"{outage_resume:.2f} s after the mid-job outage, {resume_seconds(proxy):.2f} s after the burst"
    )
