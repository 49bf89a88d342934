"""Live task results (issue 15) against a real server and SeaweedFS, on both job databases: a job's failures are
listed while it runs (newest first, counts by error code growing with them) through boto3 (the overlay's
``batch_ops_list_job_tasks``), the Python client, the CLI and COS; filters by outcome, error code and key prefix
page with the token; hostile keys come back exactly; bad values are each dialect's XML error naming the value."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from playwright.sync_api import Browser, Page, expect

import batchops
from batchops.devstore import LocalSeaweed
from tests.integration.test_cli_jobs import ok, one_line_error, run
from tests.integration.test_console import assert_not_reloaded, mark_page, new_page, shot, sign_in
from tests.integration.test_console import browser as browser  # the module's Chromium, a fixture
from tests.support.console import console_session
from tests.support.cos import cos_request
from tests.support.http import signed_request
from tests.support.jobs import put_manifest, wait_for, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server, hooked
from tests.support.strategies import missing_keys, one_real_example

pytestmark = pytest.mark.integration

TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "listed", "Value": "yes"}]}}
NO_BUCKET = "no-such-bucket-for-listing"
#: Tasks a second while the live test watches (it lifts the cap once it has seen what it needs).
LIVE_RATE = 20.0



def client_of(server: Server, seaweed: LocalSeaweed) -> batchops.Client:
    return batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)



def tagging_job(client: batchops.Client, s3: Any, bucket: str, rows: list[str], **options: Any) -> str:
    location = put_manifest(s3, bucket, rows)
    return client.create_job(  # type: ignore[no-any-return]
        operation=TAGGING, manifest_arn=location["ObjectArn"], manifest_etag=location["ETag"], **options
    )


def every_page(control: Any, job_id: str, **filters: Any) -> list[dict[str, Any]]:
    """Every task of a listing through boto3, page by page, names URL-decoded."""
    found: list[dict[str, Any]] = []
    arguments: dict[str, Any] = {"AccountId": ACCOUNT, "JobId": job_id, **filters}
    while True:
        answer = control.batch_ops_list_job_tasks(**arguments)
        assert answer["EncodingType"] == "url"
        found += [{**task, "Key": unquote(task["Key"], errors="strict")} for task in answer.get("Tasks", [])]
        assert ("ErrorCodeCounts" in answer) == ("NextToken" not in arguments)  # counts come with the first page
        if "NextToken" not in answer:
            return found
        arguments["NextToken"] = answer["NextToken"]


def mixed_job(client: batchops.Client, s3: Any, bucket: str) -> tuple[str, list[str], list[str]]:
    """A job over 4 objects that exist (2 under logs/), 6 missing keys (NoSuchKey, 3 under logs/) and one in a
    bucket that does not exist (NoSuchBucket), run to Complete; (job id, existing keys, missing keys)."""
    here = ["logs/a", "logs/b", "data/c", "data/d"]
    missing = ["logs/gone-1", "logs/gone-2", "logs/gone-3", "data/gone-4", "data/gone-5", "other/gone-6"]
    for key in here:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    rows = [f"{bucket},{key}" for key in [*here, *missing]] + [f"{NO_BUCKET},lost"]
    job_id = tagging_job(client, s3, bucket, rows)
    job = wait_status(client._control, job_id, "Complete")
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == len(missing) + 1
    return job_id, here, missing


def test_failures_are_listed_while_the_job_runs_newest_first_with_live_counts(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket = new_bucket()
    missing = [f"gone/{n:04d}" for n in range(400)]
    client = client_of(server, seaweed)
    job_id = tagging_job(client, s3, bucket, [f"{bucket},{key}" for key in missing], max_requests_per_second=LIVE_RATE)

    def some_failed_while_active() -> dict[str, Any] | None:
        counts = client.task_counts(job_id)
        return counts if counts["Failed"] >= 20 and client.describe_job(job_id)["Status"] == "Active" else None

    counts = wait_for(some_failed_while_active, 60.0, 0.2, "20 failures while the job is Active")
    listed = list(client.tasks(job_id, page_size=7))
    still = client.describe_job(job_id)
    assert still["Status"] == "Active", "the job ended while the test listed it: lower LIVE_RATE"

    assert counts["ByErrorCode"] == {"NoSuchKey": counts["Failed"]} and counts["Succeeded"] == 0
    assert counts["Failed"] <= len(listed) <= still["ProgressSummary"]["NumberOfTasksFailed"] < len(missing)
    indexes = [task["TaskIndex"] for task in listed]
    assert indexes == sorted(indexes, reverse=True) and len(set(indexes)) == len(indexes)  # newest first, once each
    assert all(task["Key"] == missing[task["TaskIndex"]] and task["ErrorCode"] == "NoSuchKey" for task in listed)
    assert all(task["Status"] == "Failed" and task["HttpStatus"] == 404 for task in listed)

    client.update_rate(job_id, max_requests_per_second="none")
    wait_status(client._control, job_id, "Complete")
    everything = list(client.tasks(job_id, order="key", page_size=1000))
    assert [task["Key"] for task in everything] == missing
    assert client.task_counts(job_id) == {"Succeeded": 0, "Failed": len(missing), "ByErrorCode": {"NoSuchKey": 400}}


def test_filters_by_outcome_error_code_and_prefix_through_boto3_and_cos(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket = new_bucket()
    job_id, here, missing = mixed_job(client_of(server, seaweed), s3, bucket)
    control = hooked(server)

    first = control.batch_ops_list_job_tasks(AccountId=ACCOUNT, JobId=job_id, MaxResults=2)
    assert (first["NumberOfTasksSucceeded"], first["NumberOfTasksFailed"]) == (len(here), len(missing) + 1)
    counted = {count["ErrorCode"]: count["Count"] for count in first["ErrorCodeCounts"]}
    assert counted == {"NoSuchKey": len(missing), "NoSuchBucket": 1}
    assert [unquote(task["Key"]) for task in first["Tasks"]] == ["lost", "other/gone-6"] and "NextToken" in first

    no_such_key = every_page(control, job_id, ErrorCodes=["NoSuchKey"], Prefix="logs/", MaxResults=1)
    assert [task["Key"] for task in no_such_key] == ["logs/gone-3", "logs/gone-2", "logs/gone-1"]
    succeeded = every_page(control, job_id, Status="Succeeded", Order="key", MaxResults=3)
    assert [task["Key"] for task in succeeded] == sorted(here)
    assert all("ErrorCode" not in task and task["Status"] == "Succeeded" for task in succeeded)
    by_bucket = every_page(control, job_id, ErrorCodes=["NoSuchBucket"])
    assert [(unquote(task["Bucket"]), task["Key"]) for task in by_bucket] == [(NO_BUCKET, "lost")]

    answer = cos_request(
        server, "GET", f"/jobs/{job_id}/batchops-tasks", {"status": "Succeeded", "prefix": "data/", "order": "key"}
    )
    assert answer.status == 200
    assert answer.xml is not None
    assert [unquote(key.text or "") for key in answer.xml.iter("Key")] == ["data/c", "data/d"]
    assert answer.text("NumberOfTasksFailed") == str(len(missing) + 1)


def test_the_cli_lists_failures_and_counts_as_a_table_and_as_json(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket = new_bucket()
    job_id, here, missing = mixed_job(client_of(server, seaweed), s3, bucket)

    table = ok(run(server.url, seaweed, "tasks", job_id, "--prefix", "logs/", "--limit", "2"))
    assert "logs/gone-3" in table and "logs/gone-2" in table and "logs/gone-1" not in table
    assert "2 task(s) shown; more with a larger --limit" in table
    assert f"{len(here)} succeeded, {len(missing) + 1} failed (NoSuchKey 6, NoSuchBucket 1)" in table

    data = json.loads(
        ok(run(server.url, seaweed, "tasks", job_id, "--succeeded", "--order", "key", "--output", "json"))
    )
    assert [task["Key"] for task in data["Tasks"]] == sorted(here) and data["More"] is False
    assert data["Counts"]["ByErrorCode"] == {"NoSuchKey": 6, "NoSuchBucket": 1}
    coded = json.loads(
        ok(run(server.url, seaweed, "tasks", job_id, "--error-code", "NoSuchBucket", "--output", "json"))
    )
    assert [(task["Bucket"], task["Key"]) for task in coded["Tasks"]] == [(NO_BUCKET, "lost")]
    readme = ["tasks", job_id, "--error-code", "NoSuchKey", "--prefix", "logs/", "--order", "key", "--limit", "0"]
    readme += ["--output", "json"]
    assert [task["Key"] for task in json.loads(ok(run(server.url, seaweed, *readme)))["Tasks"]] == missing[:3]

    error = one_line_error(run(server.url, seaweed, "tasks", "no-such-job-1"))
    assert "no-such-job-1" in error and "does not exist" in error


def test_bad_values_are_each_dialects_xml_error_naming_the_value(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    job_id, _, _ = mixed_job(client_of(server, seaweed), s3, new_bucket())
    path = f"/v20180820/jobs/{job_id}/batchops-tasks"
    for query, code, said in [
        ({"order": "oldest"}, "BadRequestException", "order must be newest or key, not 'oldest'"),
        ({"status": "Pending"}, "BadRequestException", "status must be Failed or Succeeded"),
        ({"maxResults": "5000"}, "BadRequestException", "maxResults must be a whole number from 1 to 1000"),
        ({"nextToken": "garbage"}, "InvalidNextTokenException", "nextToken is not a token this server gave"),
    ]:
        status, body = signed_request(server.url, "GET", f"{path}?{urlencode(query)}")
        assert status == 400, body
        assert f"<Code>{code}</Code>" in body.decode() and said in body.decode()

    control = hooked(server)
    token = control.batch_ops_list_job_tasks(AccountId=ACCOUNT, JobId=job_id, MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as refused:
        control.batch_ops_list_job_tasks(AccountId=ACCOUNT, JobId=job_id, NextToken=token, Order="key")
    assert refused.value.response["Error"]["Code"] == "InvalidNextTokenException"
    assert "other filters or another order" in refused.value.response["Error"]["Message"]

    answer = cos_request(server, "GET", f"/jobs/{job_id}/batchops-tasks", {"maxResults": "0"})
    assert answer.status == 400 and answer.text("Code") == "InvalidArgument"
    assert "maxResults must be a whole number from 1 to 1000" in (answer.text("Message") or "")
    assert cos_request(server, "GET", "/jobs/no-such-job-1/batchops-tasks").text("Code") == "NoSuchJob"


#: Keys every example fails on: XML and URL specials, a newline, NUL, a character XML cannot carry.
FIXED_MISSING = ["gone/amp&<lt>", "gone/new\nline", "gone/pct%2F%zz+ x", "gone/nul\x00key", "gone/\ufffe\x1b"]


@one_real_example
@given(drawn=missing_keys)
def test_hostile_keys_round_trip_exactly_and_filter_by_their_own_prefix(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str], drawn: list[str]
) -> None:
    bucket = new_bucket()
    missing = sorted(set(FIXED_MISSING + drawn))
    client = client_of(server, seaweed)
    job_id = tagging_job(client, s3, bucket, [f"{bucket},{quote(key, safe='/')}" for key in missing])
    wait_status(client._control, job_id, "Complete")

    listed = [task["Key"] for task in client.tasks(job_id, order="key", page_size=2)]
    assert listed == sorted(missing, key=lambda key: key.encode())
    newest_first = every_page(hooked(server), job_id, Prefix="gone/", MaxResults=3)
    assert [task["Key"] for task in newest_first] == missing[::-1]  # the manifest lists them in this order
    for key in missing:
        found = [task["Key"] for task in client.tasks(job_id, prefix=key)]
        assert found == [k for k in reversed(missing) if k.startswith(key)], repr(key)

    answer = cos_request(server, "GET", f"/jobs/{job_id}/batchops-tasks", {"order": "key", "maxResults": "1000"})
    assert answer.xml is not None
    assert [unquote(k.text or "", errors="strict") for k in answer.xml.iter("Key")] == listed


def test_a_job_nobody_has_is_not_found_and_the_page_size_is_kept(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    control = hooked(server)
    with pytest.raises(ClientError) as refused:
        control.batch_ops_list_job_tasks(AccountId=ACCOUNT, JobId=f"nojob-{uuid.uuid4().hex[:8]}")
    assert refused.value.response["Error"]["Code"] == "NotFoundException"

    job_id, _, missing = mixed_job(client_of(server, seaweed), s3, new_bucket())
    first = control.batch_ops_list_job_tasks(AccountId=ACCOUNT, JobId=job_id, MaxResults=3)
    assert len(first["Tasks"]) == 3 and first["NextToken"]
    assert len(every_page(control, job_id, MaxResults=3)) == len(missing) + 1


# --- the console ------------------------------------------------------------------------------


def links(html: str, rel: str) -> list[str]:
    """The console paths of the page's links with ``rel`` (the task pager's Next and Previous)."""
    return [unescape(href).removeprefix("/console") for href in re.findall(rf'<a href="([^"]+)" rel="{rel}"', html)]


def table_keys(html: str) -> list[str]:
    section = html.split('data-testid="failures"', 1)[1].split("</table>", 1)[0]
    return [unescape(key) for key in re.findall(r'<td class="mono" data-label="Key">([^<]*)</td>', section)]


def test_the_console_pages_filters_and_counts_the_tasks(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket = new_bucket()
    client = client_of(server, seaweed)
    missing = [f"gone/{n:03d}" for n in range(60)]
    s3.put_object(Bucket=bucket, Key="here/ok", Body=b"x")
    rows = [f"{bucket},{key}" for key in [*missing, "here/ok"]] + [f"{NO_BUCKET},lost"]
    job_id = tagging_job(client, s3, bucket, rows)
    wait_status(client._control, job_id, "Complete")
    http, _ = console_session(server)

    first = http.get(f"/jobs/{job_id}").text
    assert 'data-testid="task-counts">1 succeeded, 61 failed' in first
    assert table_keys(first) == ["lost", *missing[::-1][:24]]  # newest first, 25 a page
    assert links(first, "prev") == []
    second = http.get(links(first, "next")[0]).text
    assert table_keys(second) == missing[::-1][24:49]
    third = http.get(links(second, "next")[0]).text
    assert table_keys(third) == missing[::-1][49:] and links(third, "next") == []
    assert table_keys(http.get(links(third, "prev")[0]).text) == table_keys(second)
    assert table_keys(http.get(links(second, "prev")[0]).text) == table_keys(first)

    code_links = re.findall(r'<a class="chip[^"]*" href="([^"]+)" data-testid="code-link">([^<]+)<', first)
    by_code = {text.strip(): unescape(href).removeprefix("/console") for href, text in code_links}
    assert set(by_code) == {"NoSuchKey", "NoSuchBucket"}
    assert table_keys(http.get(by_code["NoSuchBucket"]).text) == ["lost"]

    filtered = http.get(f"/jobs/{job_id}", params={"prefix": "gone/05", "order": "key"}).text
    assert table_keys(filtered) == [f"gone/05{n}" for n in range(10)]
    succeeded = http.get(f"/jobs/{job_id}", params={"status": "Succeeded"}).text
    assert table_keys(succeeded) == ["here/ok"]
    none = http.get(f"/jobs/{job_id}", params={"prefix": "nothing/"}).text
    assert "No task matches the filter." in none
    bad = http.get(f"/jobs/{job_id}", params={"order": "sideways"})
    assert bad.status_code == 200 and "order must be newest or key, not &#39;sideways&#39;" in bad.text

    live = http.get(f"/api/jobs/{job_id}", params={"errorCode": "NoSuchBucket"}).json()
    assert "lost" in live["parts"]["failures"] and "gone/000" not in live["parts"]["failures"]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = new_page(browser)
    yield opened
    opened.context.close()


def test_the_console_table_follows_a_running_job_in_place_and_its_code_links_filter(
    page: Page, server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str], artifacts_dir: Path
) -> None:
    bucket = new_bucket()
    client = client_of(server, seaweed)
    s3.put_object(Bucket=bucket, Key="here/ok", Body=b"x")
    rows = [f"{bucket},here/ok", f"{NO_BUCKET},lost", *(f"{bucket},gone/{n:04d}" for n in range(300))]
    job_id = tagging_job(client, s3, bucket, rows, max_requests_per_second=LIVE_RATE)
    sign_in(page, server)
    wait_for(lambda: client.task_counts(job_id)["Failed"] >= 5, 60.0, 0.2, "the first failures")
    page.goto(f"{server.url}/console/jobs/{job_id}")
    mark_page(page)
    counts = page.get_by_test_id("task-counts")
    shown = int(counts.inner_text().split(" failed")[0].rsplit(" ", 1)[-1])

    expect(counts).not_to_contain_text(f"{shown} failed", timeout=20_000)  # refreshed in place as tasks fail
    assert_not_reloaded(page)
    assert client.describe_job(job_id)["Status"] == "Active"
    newest = page.get_by_test_id("failures").locator("tbody tr").first.locator("td").first.inner_text()
    assert int(newest) > shown  # the newest failure is at the top
    shot(page, artifacts_dir, "tasks-live")

    page.get_by_test_id("code-link").filter(has_text="NoSuchBucket").click()
    expect(page.get_by_test_id("failures").locator("tbody tr")).to_have_count(1)
    expect(page.get_by_test_id("failures")).to_contain_text("lost")
    page.get_by_label("Key prefix", exact=True).fill("gone/000")
    page.get_by_label("Error code", exact=True).fill("")
    page.get_by_label("Order").select_option("key")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("failures").locator("tbody tr")).to_have_count(10)
    expect(page.get_by_test_id("failures").locator("tbody tr").first).to_contain_text("gone/0000")
    shot(page, artifacts_dir, "tasks-filtered")
    client.cancel(job_id)
