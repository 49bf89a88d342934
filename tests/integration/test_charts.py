"""The console's charts from a real server's progress samples: a tagging job capped at ``CAP`` requests a second
runs for several seconds against the real SeaweedFS; its page's tasks/s chart has intervals whose rates are those
of the cap (not the bursts of a recount from tasks), its failures-by-code chart counts the missing objects, and the
jobs page adds up the account's tasks. Run on each job database."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import batchops
from batchops.console.charts import HEIGHT
from batchops.devstore import LocalSeaweed
from tests.support.console import console_session
from tests.support.jobs import put_manifest, wait_for, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration

CAP = 20.0
PRESENT, MISSING = 200, 20  # about 11 s at the cap; each missing object fails with NoSuchKey


def test_the_job_page_charts_the_capped_rate_and_the_jobs_page_adds_up(
    start_server: Callable[..., Server], seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket = new_bucket()
    keys = [f"obj/{i:04d}" for i in range(PRESENT)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda key: s3.put_object(Bucket=bucket, Key=key, Body=b"x"), keys))
    rows: list[str] = []
    for i, key in enumerate(keys):  # the missing objects spread over the first part of the run
        rows.append(f"{bucket},{key}")
        if i % 6 == 0 and i // 6 < MISSING:
            rows.append(f"{bucket},gone/{i:04d}")
    server = start_server()
    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)
    location = put_manifest(s3, bucket, rows)
    job_id = client.create_job(
        operation={"S3PutObjectTagging": {"TagSet": [{"Key": "run", "Value": uuid.uuid4().hex}]}},
        manifest_arn=location["ObjectArn"],
        manifest_etag=location["ETag"],
        max_requests_per_second=CAP,
    )
    console, _ = console_session(server)

    def chart_while_active() -> str | None:
        page = console.get(f"/jobs/{job_id}").text
        summary = rate_summary(page)
        return page if summary is not None and intervals(summary) >= 2 else None

    page = wait_for(chart_while_active, 30.0, 0.5, "two intervals on the job page's chart")
    assert 'role="img"' in page
    running = console.get("/jobs").text  # the summary strip while the job runs: its current rate
    assert number(running, "total-active") == 1
    now = re.search(r'data-testid="total-succeeded-rate">([\d.]+)<', running)
    assert now is not None and 0 < float(now.group(1)) <= CAP * 1.3, running
    wait_status(server.client(), job_id, "Complete", timeout=60.0)
    page = console.get(f"/jobs/{job_id}").text

    summary = rate_summary(page)
    assert summary is not None, page
    assert intervals(summary) >= 3, summary  # about 11 s of work sampled every 2 s
    peak_ok, peak_failed = peak(summary)  # the interval with the most tasks
    assert 0 < peak_ok + peak_failed <= CAP * 1.3, summary  # the cap, not a burst
    line = re.search(r'points="([^"]+)" data-testid="succeeded-line"', page)
    assert line is not None and len(line.group(1).split()) >= 6, page  # two corners per interval
    failed = re.search(r'points="([^"]+)" data-testid="failed-line"', page)
    assert failed is not None and any(float(p.split(",")[1]) < HEIGHT for p in failed.group(1).split()), page
    codes = re.search(r'role="img" aria-label="([^"]+)" data-testid="codes-chart"', page)
    assert codes is not None and codes.group(1) == f"{MISSING} failed tasks by error code: NoSuchKey {MISSING}.", page

    jobs_page = console.get("/jobs").text
    assert number(jobs_page, "total-succeeded") == PRESENT
    assert number(jobs_page, "total-failed") == MISSING
    assert number(jobs_page, "total-active") == 0


def rate_summary(page: str) -> str | None:
    found = re.search(r'role="img" aria-label="(Tasks per second[^"]+)" data-testid="rate-chart"', page)
    return None if found is None else found.group(1)


def intervals(summary: str) -> int:
    found = re.search(r"(\d+) intervals?\.", summary)
    assert found, summary
    return int(found.group(1))


def peak(summary: str) -> tuple[float, float]:
    found = re.search(r"Peak: ([\d.]+)/s succeeded, ([\d.]+)/s failed", summary)
    assert found, summary
    return float(found.group(1)), float(found.group(2))


def number(page: str, testid: str) -> int:
    found = re.search(rf'data-testid="{testid}">(\d+)<', page)
    assert found, f"{testid} not on the page"
    return int(found.group(1))
