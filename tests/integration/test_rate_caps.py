"""A job's rate cap, measured where it matters: at a counting proxy in front of the real SeaweedFS.

A real ``batchops server`` runs a tagging job (one PutObjectTagging per task) capped at ``FIRST_CAP`` requests a
second: the store sees that rate, within 10 %, over 20 s. The cap is then raised while the job runs, and the store
sees the new rate in the window that starts 2 s after the change. The CLI, the Python client and DescribeJob show
the caps; an ended job's caps are final.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import batchops
from batchops.devstore import LocalSeaweed
from tests.integration.test_cli_jobs import ok, run
from tests.support.console import console_session
from tests.support.faulty_proxy import FaultyProxy, rate_between
from tests.support.jobs import put_manifest, wait_for, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration

FIRST_CAP = 40.0
SECOND_CAP = 80.0
MEASURED_SECONDS = 20.0
#: How soon a change must show at the store, and how long the rate after it is measured.
FOLLOW_SECONDS = 2.0
AFTER_SECONDS = 3.0
#: Enough objects that the job is still running when the last window ends.
OBJECTS = int(FIRST_CAP * (MEASURED_SECONDS + 2) + SECOND_CAP * (FOLLOW_SECONDS + AFTER_SECONDS + 3))


@pytest.fixture(scope="module")
def objects(s3: Any) -> tuple[str, list[str]]:
    bucket = f"t-rate-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    keys = [f"obj/{i:06d}" for i in range(OBJECTS)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=b"x"), keys))
    return bucket, keys


@pytest.fixture
def proxy(seaweed: LocalSeaweed) -> Iterator[FaultyProxy]:
    yield FaultyProxy(seaweed.endpoint).start()


def tagging(method: str, url: str) -> bool:
    return method == "PUT" and "tagging" in url


def client_of(server: Server, seaweed: LocalSeaweed) -> batchops.Client:
    return batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)


def first_tagging(proxy: FaultyProxy) -> float | None:
    return next((t for t, method, url in list(proxy.forwarded_log) if tagging(method, url)), None)


def sleep_until(moment: float) -> None:
    """The end of a measuring window (the window is the measurement, not a wait for a state)."""
    time.sleep(max(0.0, moment - time.monotonic()))


def test_the_store_sees_the_cap_within_10_percent_and_a_changed_cap_within_2_s(
    start_server: Callable[..., Server],
    proxy: FaultyProxy,
    seaweed: LocalSeaweed,
    s3: Any,
    objects: tuple[str, list[str]],
) -> None:
    bucket, keys = objects
    server = start_server(s3_endpoint=proxy.endpoint)
    client = client_of(server, seaweed)
    location = put_manifest(s3, bucket, [f"{bucket},{k}" for k in keys])
    job_id = client.create_job(
        operation={"S3PutObjectTagging": {"TagSet": [{"Key": "run", "Value": uuid.uuid4().hex}]}},
        manifest_arn=location["ObjectArn"],
        manifest_etag=location["ETag"],
        max_requests_per_second=FIRST_CAP,
    )
    started = wait_for(lambda: first_tagging(proxy), 30.0, 0.05, "the job's first request at the store")

    sleep_until(started + MEASURED_SECONDS)
    first = rate_between(proxy, started, started + MEASURED_SECONDS, tagging)
    assert FIRST_CAP * 0.9 <= first <= FIRST_CAP * 1.1, f"{first:.1f} requests/s at the store, cap {FIRST_CAP}"

    changed = time.monotonic()
    assert client.update_rate(job_id, max_requests_per_second=SECOND_CAP)["MaxRequestsPerSecond"] == SECOND_CAP
    window = (changed + FOLLOW_SECONDS, changed + FOLLOW_SECONDS + AFTER_SECONDS)
    sleep_until(window[1])
    second = rate_between(proxy, *window, tagging)
    assert SECOND_CAP * 0.9 <= second <= SECOND_CAP * 1.1, f"{second:.1f} requests/s after the change to {SECOND_CAP}"

    job = client.describe_job(job_id)
    assert job["Status"] == "Active", "the job ended before the windows did: give it more objects"
    assert (job["BatchOpsMaxRequestsPerSecond"], job.get("BatchOpsMaxTasksInFlight")) == (SECOND_CAP, None)
    client.cancel(job_id)


def test_the_cli_changes_and_shows_the_caps_and_an_ended_jobs_caps_are_final(
    start_server: Callable[..., Server], seaweed: LocalSeaweed, s3: Any, objects: tuple[str, list[str]]
) -> None:
    bucket, keys = objects
    server = start_server()
    client = client_of(server, seaweed)
    location = put_manifest(s3, bucket, [f"{bucket},{k}" for k in keys[:3]])
    job_id = client.create_job(
        operation={"BatchOpsNoOp": {}},
        manifest_arn=location["ObjectArn"],
        manifest_etag=location["ETag"],
        confirmation_required=True,
        max_tasks_in_flight=2,
    )
    wait_status(server.client(), job_id, "Suspended")

    out = ok(run(server.url, seaweed, "update-rate", job_id, "--max-requests-per-second", "12.5"))
    assert out.strip() == f"job {job_id} max 12.5 requests/s, max 2 tasks in flight"
    ok(run(server.url, seaweed, "update-rate", job_id, "--max-tasks-in-flight", "none"))
    assert "max 12.5 requests/s" in ok(run(server.url, seaweed, "describe", job_id))
    job = client.describe_job(job_id)
    assert (job["BatchOpsMaxRequestsPerSecond"], job.get("BatchOpsMaxTasksInFlight")) == (12.5, None)

    refused = run(server.url, seaweed, "update-rate", job_id, "--max-requests-per-second", "0")
    assert refused.returncode == 1 and "maxRequestsPerSecond must be above 0" in refused.stderr, refused.stderr

    client.cancel(job_id)
    wait_status(server.client(), job_id, "Cancelled")
    ended = run(server.url, seaweed, "update-rate", job_id, "--max-requests-per-second", "5")
    assert ended.returncode == 1 and "its rate caps can no longer change" in ended.stderr, ended.stderr


def test_the_console_shows_the_caps_and_its_form_changes_them(
    start_server: Callable[..., Server], seaweed: LocalSeaweed, s3: Any, objects: tuple[str, list[str]]
) -> None:
    bucket, keys = objects
    server = start_server()
    client = client_of(server, seaweed)
    location = put_manifest(s3, bucket, [f"{bucket},{k}" for k in keys[:3]])
    job_id = client.create_job(
        operation={"BatchOpsNoOp": {}},
        manifest_arn=location["ObjectArn"],
        manifest_etag=location["ETag"],
        confirmation_required=True,
        max_requests_per_second=30,
    )
    console, token = console_session(server)
    page = console.get(f"/jobs/{job_id}").text
    assert re.search(r'data-testid="rate-caps-now">at most 30 requests/s<', page), page

    form = {"csrf_token": token, "max_requests_per_second": "", "max_tasks_in_flight": "4"}
    assert console.post(f"/jobs/{job_id}/rate", data=form).status_code == 303
    page = console.get(f"/jobs/{job_id}").text
    assert "Rate caps of job" in page and 'data-testid="rate-caps-now">at most 4 tasks at once<' in page
    job = client.describe_job(job_id)
    assert (job.get("BatchOpsMaxRequestsPerSecond"), job["BatchOpsMaxTasksInFlight"]) == (None, 4)

    form["max_tasks_in_flight"] = "0"
    console.post(f"/jobs/{job_id}/rate", data=form)
    assert "Refused: maxTasksInFlight must be from 1 to 100000, not 0" in console.get(f"/jobs/{job_id}").text
