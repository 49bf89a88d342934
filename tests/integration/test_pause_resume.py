"""Pause and resume by hand against a real server and SeaweedFS: a paused job makes no progress and touches no
object while another job runs to its end in the free slot, then resumes to an exact report; and a paused job
survives kill -9 of the server, stays paused after the restart, and resumes losing and repeating nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import batchops
from batchops.devstore import LocalSeaweed
from batchops.errors import RequestRefused
from tests.integration.test_cli_jobs import ok, one_line_error, run
from tests.support import cos
from tests.support.cos import cos_request, create_cos_job, put_cos_manifest
from tests.support.jobs import (
    TAGGING,
    assert_exact_report,
    create_job,
    put_manifest,
    put_objects,
    wait_for,
    wait_status,
)
from tests.support.server import ACCESS_KEY, ACCOUNT, SECRET_KEY, Server

pytestmark = pytest.mark.integration

OBJECTS, MISSING = 1500, 20


def _copy_job(control: Any, s3: Any, new_bucket: Any) -> tuple[str, str, str]:
    """A copy job of OBJECTS objects (and MISSING missing ones) into a fresh bucket: (job id, target, reports)."""
    source, target, reports = new_bucket(), new_bucket(), new_bucket()
    keys = [f"o/{i:05d}" for i in range(OBJECTS)]
    put_objects(s3, source, keys)
    rows = [f"{source},{k}" for k in keys] + [f"{source},missing-{i}" for i in range(MISSING)]
    operation = {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{target}", "TargetKeyPrefix": "c/"}}
    return create_job(control, put_manifest(s3, source, rows), operation, report_bucket=reports), target, reports


def _copies(s3: Any, bucket: str) -> int:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sum(page.get("KeyCount", 0) for page in pages)


def _done(job: dict[str, Any]) -> int:
    progress = job["ProgressSummary"]
    return int(progress["NumberOfTasksSucceeded"]) + int(progress["NumberOfTasksFailed"])


def _paused_mid_run(server: Any, s3: Any, new_bucket: Any) -> tuple[batchops.Client, str, str, str]:
    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY)
    job_id, target, reports = _copy_job(server.client(), s3, new_bucket)
    wait_for(lambda: _done(client.describe_job(job_id)) > 50, what="the copy job running")
    assert client.pause_job(job_id, "maintenance window") in {"Pausing", "Paused"}
    job = wait_status(server.client(), job_id, "Paused", timeout=60)
    assert 0 < _done(job) < OBJECTS + MISSING, "paused too late to show anything"
    described = client.describe_job(job_id)
    assert (described["BatchOpsPausedBy"], described["StatusUpdateReason"]) == ("User", "maintenance window")
    return client, job_id, target, reports


def test_a_paused_job_holds_while_another_runs_then_resumes_to_an_exact_report(
    start_server: Any, s3: Any, new_bucket: Any
) -> None:
    server = start_server("--task-concurrency", "2", "--max-active-jobs", "1")
    client, job_id, target, reports = _paused_mid_run(server, s3, new_bucket)
    paused = client.describe_job(job_id)
    copied = _copies(s3, target)
    # a task cut off by the pause may have copied before its outcome was dropped: it runs again after the resume
    assert copied >= paused["ProgressSummary"]["NumberOfTasksSucceeded"]

    # While it is paused, another job takes the only slot and runs to its end: the engine ticked many times over
    other_bucket = new_bucket()
    put_objects(s3, other_bucket, ["x"])
    other = create_job(server.client(), put_manifest(s3, other_bucket, [f"{other_bucket},x"] * 200), TAGGING)
    wait_status(server.client(), other, "Complete")

    # Then the paused job never moved: same counts, no new copy, still Paused by its owner
    still = client.describe_job(job_id)
    assert (still["Status"], still["BatchOpsPausedBy"]) == ("Paused", "User")
    assert still["ProgressSummary"] == paused["ProgressSummary"]
    assert _copies(s3, target) == copied

    # When it is resumed it runs again and completes with every task once
    assert client.resume_job(job_id) in {"Ready", "Active", "Completing", "Complete"}
    job = wait_status(server.client(), job_id, "Complete", timeout=180)
    assert "BatchOpsPausedBy" not in client.describe_job(job_id)
    assert_exact_report(job, s3, reports, job_id, OBJECTS + MISSING, MISSING)
    assert _copies(s3, target) == OBJECTS


def test_pause_then_kill_9_then_restart_then_resume_loses_and_repeats_nothing(
    start_server: Any, s3: Any, new_bucket: Any, tmp_path: Path
) -> None:
    args = ("--task-concurrency", "2")
    data_dir = tmp_path / "crash"
    server = start_server(*args, data_dir=data_dir)
    client, job_id, target, reports = _paused_mid_run(server, s3, new_bucket)
    paused = client.describe_job(job_id)

    # When the server is killed with the job paused and started again on the same store
    server.kill9()
    server = start_server(*args, data_dir=data_dir)
    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY)

    # Then the job is still paused by its owner, counts as before; a job created after the restart runs to its end
    # meanwhile (the scheduler has had its chances to resume it, and did not)
    other_bucket = new_bucket()
    put_objects(s3, other_bucket, ["x"])
    other = create_job(server.client(), put_manifest(s3, other_bucket, [f"{other_bucket},x"]), TAGGING)
    wait_status(server.client(), other, "Complete")
    after = client.describe_job(job_id)
    assert (after["Status"], after["BatchOpsPausedBy"]) == ("Paused", "User")
    assert after["ProgressSummary"]["NumberOfTasksSucceeded"] == paused["ProgressSummary"]["NumberOfTasksSucceeded"]
    assert after["ProgressSummary"]["NumberOfTasksFailed"] == paused["ProgressSummary"]["NumberOfTasksFailed"]

    # When it is resumed, it completes with every task counted once and one report row per task
    client.resume_job(job_id)
    job = wait_status(server.client(), job_id, "Complete", timeout=240)
    assert_exact_report(job, s3, reports, job_id, OBJECTS + MISSING, MISSING)
    assert _copies(s3, target) == OBJECTS


def test_a_suspended_job_paused_by_hand_is_confirmed_by_its_resume(start_server: Any, s3: Any, new_bucket: Any) -> None:
    server = start_server("--task-concurrency", "1")
    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY)
    bucket = new_bucket()
    put_objects(s3, bucket, ["k"])
    job_id = create_job(server.client(), put_manifest(s3, bucket, [f"{bucket},k"]), TAGGING, confirmation=True)
    wait_status(server.client(), job_id, "Suspended")
    assert client.pause_job(job_id) == "Paused"
    assert client.describe_job(job_id)["BatchOpsPausedBy"] == "User"

    # One request, Ready, both resumes and confirms: the job runs to its end
    assert client.resume_job(job_id) in {"Ready", "Active", "Completing", "Complete"}
    assert wait_status(server.client(), job_id, "Complete")["ProgressSummary"]["NumberOfTasksSucceeded"] == 1

    # An ended job refuses a pause, naming the statuses that accept one
    with pytest.raises(RequestRefused, match=f"job {job_id} is Complete; requestedJobStatus=Paused is accepted only"):
        client.pause_job(job_id)


def test_cos_pauses_and_resumes_and_its_describe_job_says_who_paused(server: Server, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    arn, etag = put_cos_manifest(s3, bucket, [f"{bucket}, a"])
    job_id = create_cos_job(server, cos.create_body(arn, etag, cos.TAGGING, confirmation=True))
    wait_status(server.client(), job_id, "Suspended")
    status_path = f"/jobs/{job_id}/status"

    paused = cos_request(server, "POST", status_path, params={"requestedJobStatus": "Paused"})
    assert (paused.status, paused.text("Status")) == (200, "Paused")
    described = cos_request(server, "GET", f"/jobs/{job_id}")
    assert (described.text("Job/Status"), described.text("Job/BatchOpsPausedBy")) == ("Paused", "User")

    resumed = cos_request(server, "POST", status_path, params={"requestedJobStatus": "Ready"})
    assert resumed.status == 200
    wait_status(server.client(), job_id, "Complete")
    assert cos_request(server, "GET", f"/jobs/{job_id}").text("Job/BatchOpsPausedBy") is None


def test_the_cli_pauses_and_resumes(server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, ["k"])
    job_id = create_job(server.client(), put_manifest(s3, bucket, [f"{bucket},k"]), TAGGING, confirmation=True)
    wait_status(server.client(), job_id, "Suspended")

    assert ok(run(server.url, seaweed, "pause", job_id, "--reason", "hold")) == f"job {job_id} is Paused\n"
    described = json.loads(ok(run(server.url, seaweed, "describe", job_id, "--output", "json")))
    assert (described["Status"], described["BatchOpsPausedBy"], described["StatusUpdateReason"]) == (
        "Paused",
        "User",
        "hold",
    )
    again = run(server.url, seaweed, "update-status", job_id, "--requested-job-status", "Paused")
    assert ok(again) == f"job {job_id} is Paused\n"  # pausing a paused job changes nothing

    assert ok(run(server.url, seaweed, "resume", job_id)).startswith(f"job {job_id} is ")
    wait_status(server.client(), job_id, "Complete")
    refused = one_line_error(run(server.url, seaweed, "pause", job_id))
    assert f"job {job_id} is Complete; requestedJobStatus=Paused is accepted only while" in refused


def test_the_console_pauses_and_resumes_and_says_who_paused(server: Server, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, ["k"])
    job_id = create_job(server.client(), put_manifest(s3, bucket, [f"{bucket},k"]), TAGGING, confirmation=True)
    wait_status(server.client(), job_id, "Suspended")
    console = httpx.Client(base_url=f"{server.url}/console", follow_redirects=True, timeout=60)
    login = console.get("/login")
    console.post("/login", data={"identity": ACCESS_KEY, "secret": SECRET_KEY, "csrf_token": _csrf(login)})
    page = console.get(f"/jobs/{job_id}")
    assert 'data-testid="pause-form"' in page.text and 'data-testid="resume-form"' not in page.text

    page = console.post(f"/jobs/{job_id}/pause", data={"csrf_token": _csrf(page), "reason": "by the console"})
    assert "Job paused: it is Paused until you resume it." in page.text
    assert "paused by hand: it stays paused until you resume it" in page.text
    assert 'data-testid="resume-form"' in page.text and 'data-testid="pause-form"' not in page.text
    assert client_view(server, job_id) == ("Paused", "User", "by the console")

    page = console.post(f"/jobs/{job_id}/resume", data={"csrf_token": _csrf(page)})
    assert "Job resumed: it is" in page.text
    wait_status(server.client(), job_id, "Complete")


def client_view(server: Server, job_id: str) -> tuple[str, str, str]:
    job = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY).describe_job(job_id)
    return job["Status"], job["BatchOpsPausedBy"], job["StatusUpdateReason"]


def _csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, f"no CSRF token in the page: {page.status_code} {page.text[:300]}"
    return match.group(1)
