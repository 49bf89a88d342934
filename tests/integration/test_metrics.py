"""/metrics and JSON logs (``--log-format json``) of a real server running real jobs.

A scrape counts each recorded task once, by operation, status and error code (from the worker processes too,
with ``--workers``); the jobs gauge is read from the store; the S3 and API latencies carry bounded labels (a
store's endpoint, an operation, a route template: never a job id). Each JSON log line parses, and the lines
about a job carry its id: its status moves (from, to, why), its engine's lines and the API requests naming it.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from batchops.devstore import LocalSeaweed, free_port
from batchops.metrics_dir import METRICS_PARENT
from batchops.s3.client import StoreCredentials, open_client
from tests.support.faulty_proxy import FaultyProxy
from tests.support.jobs import TAGGING, create_job, put_manifest, put_objects, wait_for, wait_status
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import ACCOUNT, Server
from tests.support.workers import StartWorkers

pytestmark = pytest.mark.integration

OPERATION = "S3PutObjectTagging"


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape: (name, labels) -> value."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        text = reply.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, found), v in samples.items() if n == name and wanted <= found)


def scrape_when_counted(url: str, outcomes: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A scrape of ``url`` once it counts ``outcomes`` task outcomes (the job ends as its last ones are recorded)."""

    def counted() -> dict[tuple[str, frozenset[tuple[str, str]]], float] | None:
        try:
            samples = scrape(url)
        except urllib.error.URLError:  # not listening yet
            return None
        return samples if value(samples, "batchops_tasks_total") == outcomes else None

    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = wait_for(
        counted, timeout=20, what=f"{outcomes} task outcomes in /metrics"
    )
    return found


def tasks(samples: dict[tuple[str, frozenset[tuple[str, str]]], float]) -> dict[tuple[str, str, str], float]:
    found = {}
    for (name, labels), v in samples.items():
        if name == "batchops_tasks_total":
            named = dict(labels)
            found[(named["operation"], named["status"], named["error_code"])] = v
    return found


def run_tagging_job(server: Server, s3: Any, bucket: str, present: list[str], missing: list[str]) -> str:
    put_objects(s3, bucket, present)
    location = put_manifest(s3, bucket, [f"{bucket},{key}" for key in present + missing])
    control = server.client()
    job_id = create_job(control, location, TAGGING)
    job = wait_status(control, job_id, {"Complete", "Failed"})
    assert job["Status"] == "Complete", job
    return job_id


def json_lines(server: Server) -> list[dict[str, Any]]:
    """The server's log, each line parsed (a line that is not one JSON object fails the test)."""
    lines = (server.data_dir / "server.log").read_text().splitlines()
    parsed = [json.loads(line) for line in lines if line.strip()]
    assert all(isinstance(line, dict) for line in parsed)
    return parsed


def test_a_scrape_counts_a_jobs_tasks_by_operation_status_and_code(
    start_server: Callable[..., Server], s3: Any, new_bucket: Callable[..., str], seaweed: Any
) -> None:
    server = start_server("--log-format", "json", "--log-level", "debug")
    bucket = new_bucket()
    job_id = run_tagging_job(server, s3, bucket, ["a", "b", "c"], ["gone-1", "gone-2"])
    samples = scrape_when_counted(server.url, 5)
    assert tasks(samples) == {(OPERATION, "succeeded", ""): 3, (OPERATION, "failed", "NoSuchKey"): 2}
    assert value(samples, "batchops_manifest_rows_read_total") == 5
    jobs = server.client().list_jobs(AccountId=ACCOUNT)["Jobs"]
    assert value(samples, "batchops_jobs", status="Complete") == sum(j["Status"] == "Complete" for j in jobs) >= 1
    assert ("batchops_jobs", frozenset({("status", "Failed")})) in samples  # every status, 0 too
    store = seaweed.endpoint.rstrip("/")
    tagged = value(samples, "batchops_s3_request_duration_seconds_count", store=store, operation="PutObjectTagging")
    assert tagged == 5  # each task one request (the missing keys answer 404 at once)
    assert ("batchops_s3_adaptive_limit", frozenset({("store", store)})) in samples
    assert value(samples, "batchops_s3_throttled_total") == 0
    created = value(
        samples, "batchops_api_request_duration_seconds_count", method="POST", route="/v20180820/jobs", status="200"
    )
    assert created == 1
    assert value(samples, "batchops_api_request_duration_seconds_count", route="/v20180820/jobs/{job_id}") >= 1
    assert not [key for key in samples if any(job_id in v for _, v in key[1])]  # route templates, never ids

    lines = json_lines(server)
    moves = [line for line in lines if line.get("action") == "job_status" and line.get("job_id") == job_id]
    assert [(m["from_status"], m["to_status"]) for m in moves][:2] == [("created", "New"), ("New", "Preparing")]
    assert moves[-1]["to_status"] == "Complete" and all(m["reason"] for m in moves[:1])
    engine = [line for line in lines if line["logger"].startswith("batchops.engine") and job_id in line["message"]]
    assert engine and all(line.get("job_id") == job_id for line in engine)
    described = [line for line in lines if line.get("route") == "/v20180820/jobs/{job_id}"]
    assert described and all(line["job_id"] == job_id and line["account"] == ACCOUNT for line in described)
    access = next(line for line in lines if line.get("route") == "/v20180820/jobs" and line.get("method") == "POST")
    assert access["status"] == 200 and isinstance(access["latency_ms"], float) and access["logger"] == "batchops.access"
    assert {"time", "level", "logger", "message"} <= set(access)


def test_worker_processes_counts_are_in_the_servers_scrape(
    start_server: Callable[..., Server], s3: Any, new_bucket: Callable[..., str]
) -> None:
    server = start_server("--workers", "2", "--log-format", "json", env={"BATCHOPS_CHUNK_SIZE": "5"})
    bucket = new_bucket()
    present = [f"k{i}" for i in range(30)]
    run_tagging_job(server, s3, bucket, present, ["nope"])
    # the server process runs no task: every count comes from the workers' files
    samples = scrape_when_counted(server.url, 31)
    assert tasks(samples) == {(OPERATION, "succeeded", ""): 30, (OPERATION, "failed", "NoSuchKey"): 1}
    assert value(samples, "batchops_s3_request_duration_seconds_count", operation="PutObjectTagging") == 31
    assert value(samples, "batchops_jobs", status="Complete") >= 1
    # they were counted in the workers' own files (multiprocess mode: one file per process and kind)
    assert server.process is not None
    files = METRICS_PARENT / str(server.process.pid)  # off the data dir, whose disk may fill
    counting = {int(path.stem.rsplit("_", 1)[1]) for path in files.glob("counter_*.db")}
    assert counting - {server.process.pid}, counting
    workers = {line["process"] for line in json_lines(server) if "process" in line}
    assert workers and all(name.startswith("worker ") for name in workers)  # their lines are JSON too


def answer_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_metrics_move_to_a_port_of_their_own_or_are_switched_off(start_server: Callable[..., Server]) -> None:
    port = free_port()
    moved = start_server("--metrics-port", str(port), "--log-format", "json")
    assert answer_status(f"{moved.url}/metrics") == 404
    assert value(scrape(f"http://127.0.0.1:{port}"), "batchops_jobs") == 0
    said = [line["message"] for line in json_lines(moved)]  # its listener's lines are JSON too
    assert f"serving /metrics at http://127.0.0.1:{port}/metrics" in said
    off = start_server("--metrics", "off")
    assert answer_status(f"{off.url}/metrics") == 404
    assert answer_status(f"{off.url}/healthz") == 200


def sample(name: str, **labels: str) -> float:
    """This process's value of one series (0 if it has none yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_throttling_latency_and_the_adaptive_limit_per_store(
    seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    # Given a store that answers each tagging request 503 SlowDown twice before serving it
    proxy = FaultyProxy(seaweed.endpoint, failures_per_request=2).start()
    store = proxy.endpoint.rstrip("/")
    bucket = new_bucket()
    keys = [f"k{i}" for i in range(5)]
    put_objects(s3, bucket, keys)
    tagging = {"TagSet": [{"Key": "t", "Value": "1"}]}
    latency = "batchops_s3_request_duration_seconds_count"
    async with AsyncExitStack() as stack:
        creds = StoreCredentials(proxy.endpoint, REGION, ACCESS_KEY, SECRET_KEY)
        fast = await open_client(stack, creds, max_connections=16, max_attempts=3)
        assert sample("batchops_s3_adaptive_limit", store=store) == 16
        # When the lean client tags them (each on its third try)
        await asyncio.gather(*(fast.put_object_tagging(Bucket=bucket, Key=k, Tagging=tagging) for k in keys))
        # Then every attempt has its latency, the throttled ones are counted, and the limit shows the cut
        assert sample(latency, store=store, operation="PutObjectTagging") == 15
        assert sample("batchops_s3_throttled_total", store=store, operation="PutObjectTagging") == 10
        assert sample("batchops_s3_adaptive_limit", store=store) == int(fast.lean.limit.limit) < 16
        assert sample("batchops_s3_requests_in_flight", store=store) == 0
        # and a call the SDK sends (not a lean one) is timed too
        await fast.list_objects_v2(Bucket=bucket)
        assert sample(latency, store=store, operation="ListObjectsV2") == 1
    assert sample("batchops_s3_adaptive_limit", store=store) == 0  # the client closed: its limit left the sum


@pytest.mark.job_databases("postgresql", reason="batchops worker needs PostgreSQL")
def test_a_batchops_worker_serves_its_own_metrics_and_json_lines(
    queue_database: str,
    start_server: Callable[..., Server],
    s3: Any,
    new_bucket: Callable[..., str],
    queue_workers: StartWorkers,
) -> None:
    server = start_server("--database", queue_database, "--dispatch", "procrastinate")
    port = free_port()
    (worker,) = queue_workers(1, "--metrics-port", str(port), "--log-format", "json")
    job_id = run_tagging_job(server, s3, new_bucket(), ["a", "b"], ["gone"])
    # The worker prepared and ran the job: its counts are on its own port, the job count on the server's
    samples = scrape_when_counted(f"http://127.0.0.1:{port}", 3)
    assert tasks(samples) == {(OPERATION, "succeeded", ""): 2, (OPERATION, "failed", "NoSuchKey"): 1}
    assert value(samples, "batchops_manifest_rows_read_total") == 3
    assert value(scrape(server.url), "batchops_jobs", status="Complete") == 1
    lines = [json.loads(line) for line in worker.log_path.read_text().splitlines() if line.strip()]
    assert any(line.get("job_id") == job_id for line in lines)
