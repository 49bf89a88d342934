"""The web console in a real browser (Debian's Chromium, driven by Playwright) against a real server and SeaweedFS.

Every page visited is saved as screenshots at desktop and phone width under test-artifacts/screenshots/ (paths
printed; run with -s to see them), and must fit both widths.
"""

from __future__ import annotations

import os
import re
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

import batchops
from batchops.devstore import LocalSeaweed
from tests.support.console import console_session, screenshots
from tests.support.jobs import create_job, describe, put_manifest, wait_for, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = [
    pytest.mark.integration,
    pytest.mark.job_databases("sqlite", reason="the console's pages in a browser: the edge"),
]

CHROMIUM = os.environ.get("BATCHOPS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "via", "Value": "api"}]}}
OTHER_ACCOUNT = "210987654321"
OTHER_PASSWORD = "other-console-password"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium is not at {CHROMIUM}: apt-get install chromium (.ci/run does), or set BATCHOPS_CHROMIUM"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def new_page(browser: Browser, javascript: bool = True) -> Page:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = new_page(browser)
    yield opened
    opened.context.close()


def shot(page: Page, artifacts_dir: Path, name: str) -> None:
    screenshots(page, artifacts_dir, name)


def sign_in(page: Page, server: Server, identity: str = ACCESS_KEY, secret: str = SECRET_KEY) -> None:
    page.goto(f"{server.url}/console/")
    page.get_by_label("Access key ID or account ID").fill(identity)
    page.get_by_label("Secret access key or console password").fill(secret)
    page.get_by_role("button", name="Sign in").click()


def mark_page(page: Page) -> None:
    """Set a flag that a full page load would wipe, to prove later that the page only refreshed in place."""
    page.evaluate("window.__notReloaded = true")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__notReloaded === true"), "the page was reloaded instead of refreshed in place"


def put_objects(s3: Any, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")


def job_row(page: Page, job_id: str) -> Any:
    return page.locator(f'tr[data-job-id="{job_id}"]')


#: The bar's colours: console.css's --ok and --bad.
SUCCEEDED_FILL, FAILED_FILL = "rgb(26, 127, 55)", "rgb(180, 35, 24)"


def assert_bar(where: Any, succeeded: str, failed: str) -> None:
    """The progress bar's succeeded and failed parts: their widths (percent of all tasks) and their own colours."""
    ok, bad = where.get_by_test_id("bar-succeeded"), where.get_by_test_id("bar-failed")
    expect(ok).to_have_attribute("width", succeeded)
    expect(bad).to_have_attribute("width", failed)
    expect(bad).to_have_attribute("x", succeeded)  # the failed part starts where the succeeded part ends
    # waited for, not read once: a live refresh may swap the bar in while the assertion runs
    expect(ok).to_have_css("fill", SUCCEEDED_FILL)
    expect(bad).to_have_css("fill", FAILED_FILL)


# --- sign in ----------------------------------------------------------------------------------


def test_sign_in_refuses_wrong_credentials_and_accepts_the_account_keys(
    page: Page, server: Server, artifacts_dir: Path
) -> None:
    page.goto(f"{server.url}/console/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, artifacts_dir, "01-sign-in")
    sign_in(page, server, secret="not-the-secret")
    expect(page.get_by_test_id("login-error")).to_contain_text("match no account")
    shot(page, artifacts_dir, "01-sign-in-refused")

    sign_in(page, server)

    expect(page.get_by_role("heading", name="Jobs")).to_be_visible()
    expect(page.get_by_test_id("account")).to_have_text(ACCOUNT)
    assert page.url.endswith("/console/jobs")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(f"{server.url}/console/jobs")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out means signed out


# --- create through the form, watch it complete -------------------------------------------------


def test_create_a_job_through_the_form_and_watch_it_complete(
    page: Page, server: Server, s3: Any, new_bucket: Any, artifacts_dir: Path
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    put_objects(s3, bucket, [f"obj-{i}" for i in range(4)])
    manifest = "".join(f"{bucket},obj-{i}\n" for i in range(4)) + f"{bucket},missing-object\n"
    sign_in(page, server)
    page.get_by_role("link", name="Create job").first.click()
    shot(page, artifacts_dir, "02-create-form")

    # A first try with mistakes: each error appears next to its field.
    page.get_by_label("CSV manifest").set_input_files(
        {"name": "objects.csv", "mimeType": "text/csv", "buffer": manifest.encode()}
    )
    page.get_by_label("Upload it to bucket").fill(bucket)
    page.get_by_label("Priority (0").fill("high")
    page.get_by_label("Report bucket").fill("")
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_test_id("error-priority")).to_contain_text("The priority must be an integer")
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    shot(page, artifacts_dir, "03-create-errors")
    assert s3.list_objects_v2(Bucket=bucket, Prefix="manifests/").get("KeyCount", 0) == 0  # nothing uploaded yet

    page.get_by_label("CSV manifest").set_input_files(
        {"name": "objects.csv", "mimeType": "text/csv", "buffer": manifest.encode()}
    )
    page.get_by_label("Priority (0").fill("7")
    page.get_by_label("Report bucket").fill("")
    page.get_by_role("button", name="Create job").click()
    expect(page.get_by_test_id("error-report_bucket")).to_have_text("Choose a report bucket, or switch the report off.")

    page.get_by_label("CSV manifest").set_input_files(
        {"name": "objects.csv", "mimeType": "text/csv", "buffer": manifest.encode()}
    )
    page.get_by_label("Tags, one").fill("team=storage\nsource=console")
    page.get_by_label("Description").fill("console tagging run")
    page.get_by_label("Report bucket").fill(reports)
    page.get_by_label("Wait for my confirmation before running").uncheck()
    page.get_by_role("button", name="Create job").click()

    expect(page.get_by_test_id("flash-ok")).to_contain_text("created")
    job_id = page.get_by_test_id("job-id").inner_text()
    mark_page(page)
    expect(page.get_by_test_id("status")).to_have_text("Complete", timeout=60_000)
    assert_not_reloaded(page)
    expect(page.get_by_test_id("succeeded")).to_have_text("4")
    expect(page.get_by_test_id("failed")).to_have_text("1")
    expect(page.get_by_test_id("failures")).to_contain_text("missing-object")
    expect(page.get_by_test_id("failures")).to_contain_text("NoSuchKey")
    expect(page.get_by_test_id("history")).to_contain_text("Complete")
    expect(page.get_by_test_id("report-files")).to_contain_text("manifest.json")
    expect(page.get_by_test_id("priority")).to_have_text("7")
    assert_bar(page, succeeded="80.00", failed="20.00")  # 4 of 5 succeeded, 1 failed
    expect(page.get_by_test_id("pausing-note")).to_have_count(0)  # an ended job can be neither paused nor resumed
    shot(page, artifacts_dir, "04-job-complete")

    tags = s3.get_object_tagging(Bucket=bucket, Key="obj-0")["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "storage", "source": "console"}
    assert describe(server.client(), job_id)["Description"] == "console tagging run"
    with page.expect_download() as download:
        page.get_by_test_id("report-files").get_by_role("link", name="failed tasks (CSV)").click()
    assert "missing-object" in Path(download.value.path()).read_text()


def upload_form(page: Page, bucket: str, manifest: bytes) -> None:
    """Fill the create form's manifest upload (a file input is empty again each time the form comes back)."""
    csv_file = {"name": "objects.csv", "mimeType": "text/csv", "buffer": manifest}
    page.get_by_label("CSV manifest").set_input_files(csv_file)
    page.get_by_label("Upload it to bucket").fill(bucket)


def test_an_empty_tag_set_is_created_only_once_removing_all_tags_is_confirmed(
    browser: Browser, server: Server, s3: Any, new_bucket: Any, artifacts_dir: Path
) -> None:
    control = server.client()
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="tagged", Body=b"x", Tagging="keep=me")
    page = new_page(browser, javascript=False)  # the warning and its confirmation are the server's, not a script's
    try:
        sign_in(page, server)
        page.goto(f"{server.url}/console/jobs/new")
        upload_form(page, bucket, f"{bucket},tagged\n".encode())
        page.get_by_label("Wait for my confirmation before running").uncheck()
        page.get_by_label("Write a completion report").uncheck()
        expect(page.get_by_label("Yes, remove all tags")).to_have_count(0)  # not asked before the warning
        page.get_by_role("button", name="Create job").click()

        expect(page.get_by_test_id("error-op_tags")).to_contain_text("would lose all of its tags")
        expect(page.get_by_label("Yes, remove all tags")).not_to_be_checked()
        shot(page, artifacts_dir, "10-create-empty-tags-warning")
        assert control.list_jobs(AccountId=ACCOUNT)["Jobs"] == []
        assert s3.list_objects_v2(Bucket=bucket, Prefix="manifests/").get("KeyCount", 0) == 0  # nothing uploaded

        upload_form(page, bucket, f"{bucket},tagged\n".encode())
        page.get_by_label("Yes, remove all tags").check()
        page.get_by_role("button", name="Create job").click()

        expect(page.get_by_test_id("flash-ok")).to_contain_text("created")
        job_id = page.get_by_test_id("job-id").inner_text()
    finally:
        page.context.close()
    assert wait_status(control, job_id, "Complete")["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert s3.get_object_tagging(Bucket=bucket, Key="tagged")["TagSet"] == []


# --- a job that failed before running any task ----------------------------------------------------


def test_a_job_that_failed_before_running_any_task_shows_an_empty_bar(
    page: Page, server: Server, new_bucket: Any, artifacts_dir: Path
) -> None:
    control = server.client()
    bucket = new_bucket()
    missing = {"ObjectArn": f"arn:aws:s3:::{bucket}/missing.csv", "ETag": '"0123456789abcdef0123456789abcdef"'}
    job_id = create_job(control, missing, TAGGING, Description="its manifest is not there")
    assert wait_status(control, job_id, "Failed")["ProgressSummary"]["TotalNumberOfTasks"] == 0
    sign_in(page, server)

    assert_bar(job_row(page, job_id), succeeded="0", failed="0")
    expect(job_row(page, job_id)).to_contain_text("0 succeeded · 0 failed · 0 tasks")
    job_row(page, job_id).get_by_role("link").first.click()

    expect(page.get_by_test_id("status")).to_have_text("Failed")
    assert_bar(page, succeeded="0", failed="0")
    expect(page.get_by_test_id("failure-reasons")).to_contain_text("ManifestNotReadable")
    expect(page.get_by_test_id("total-tasks")).to_have_text("0")
    expect(page.get_by_test_id("manifest-rows")).not_to_contain_text("still")
    expect(page.get_by_test_id("rate-chart-empty")).to_contain_text("or not at all")  # no chart to draw
    expect(page.get_by_test_id("codes-chart-empty")).to_have_text("No task has failed.")
    shot(page, artifacts_dir, "11-job-failed")


# --- list: filter, search, sort, live rows ------------------------------------------------------


def test_list_filters_searches_sorts_and_refreshes_itself(
    page: Page, server: Server, s3: Any, new_bucket: Any, artifacts_dir: Path
) -> None:
    control = server.client()
    bucket = new_bucket()
    put_objects(s3, bucket, ["a"])
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    waiting = create_job(control, location, TAGGING, confirmation=True, priority=3, Description="alpha nightly")
    done = create_job(control, location, TAGGING, priority=50, Description="beta once")
    wait_status(control, waiting, "Suspended")
    wait_status(control, done, "Complete")
    sign_in(page, server)
    expect(job_row(page, waiting)).to_be_visible()
    expect(job_row(page, done)).to_be_visible()
    shot(page, artifacts_dir, "05-jobs-list")

    page.get_by_label("Suspended").check()
    page.get_by_role("button", name="Apply").click()
    expect(job_row(page, waiting)).to_be_visible()
    expect(job_row(page, done)).to_have_count(0)
    expect(job_row(page, waiting).get_by_test_id("status")).to_have_text("Suspended")

    page.get_by_label("Suspended").uncheck()
    page.get_by_label("Search description or job ID").fill("beta")
    page.get_by_role("button", name="Apply").click()
    expect(job_row(page, done)).to_be_visible()
    expect(job_row(page, waiting)).to_have_count(0)

    page.get_by_label("Search description or job ID").fill(waiting[:8])
    page.get_by_role("button", name="Apply").click()
    expect(job_row(page, waiting)).to_be_visible()
    expect(page.locator("tr[data-job-id]")).to_have_count(1)

    page.goto(f"{server.url}/console/jobs")
    page.get_by_role("link", name="Priority").click()
    expect(page.locator("tr[data-job-id]").first).to_have_attribute("data-job-id", done)  # 50 first
    page.get_by_role("link", name="Priority ▼").click()
    expect(page.locator("tr[data-job-id]").first).to_have_attribute("data-job-id", waiting)  # 3 first

    mark_page(page)
    newer = create_job(control, location, TAGGING, confirmation=True, Description="gamma arrives later")
    expect(job_row(page, newer)).to_be_visible(timeout=15_000)
    expect(page.get_by_test_id("total")).to_contain_text("of 3")
    assert_not_reloaded(page)


# --- priority inline, confirm a suspended job ---------------------------------------------------


def test_change_priority_inline_and_confirm_a_suspended_job(
    page: Page, server: Server, s3: Any, new_bucket: Any, artifacts_dir: Path
) -> None:
    control = server.client()
    bucket = new_bucket()
    put_objects(s3, bucket, ["a", "b"])
    job_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},a", f"{bucket},b"]), TAGGING, confirmation=True)
    wait_status(control, job_id, "Suspended")
    sign_in(page, server)

    row = job_row(page, job_id)
    row.get_by_label(f"Priority of job {job_id}").fill("42")
    row.get_by_role("button", name="Set").click()
    expect(page.get_by_test_id("flash-ok")).to_contain_text("is now 42")
    assert describe(control, job_id)["Priority"] == 42

    row.get_by_role("link").first.click()
    expect(page.get_by_test_id("status")).to_have_text("Suspended")
    expect(page.get_by_test_id("confirm-form")).to_be_visible()
    expect(page.get_by_test_id("suspended")).to_contain_text("waiting for your confirmation")
    expect(page.get_by_test_id("suspended")).not_to_contain_text("UpdateJobStatus")
    shot(page, artifacts_dir, "06-job-suspended")
    page.get_by_role("button", name="Confirm and run").click()

    expect(page.get_by_test_id("flash-ok")).to_contain_text("Job confirmed")
    expect(page.get_by_test_id("status")).to_have_text("Complete", timeout=60_000)
    expect(page.get_by_test_id("confirm-form")).to_have_count(0)
    assert describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] == 2


# --- cancel a running job; a stale page's refused action ------------------------------------------


def test_cancel_a_running_job_and_a_stale_page_shows_the_refusal(
    browser: Browser, start_server: Any, s3: Any, new_bucket: Any, artifacts_dir: Path
) -> None:
    server = start_server("--task-concurrency", "1")
    control = server.client()
    bucket = new_bucket()
    put_objects(s3, bucket, ["same"])
    rows = [f"{bucket},same"] * 60000  # one object tagged 60,000 times, one at a time: slow enough to watch
    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING, Description="slow one")
    wait_for(lambda: describe(control, job_id)["ProgressSummary"]["NumberOfTasksSucceeded"] > 0, what="running")

    live, stale = new_page(browser), new_page(browser, javascript=False)
    try:
        for tab in (live, stale):
            sign_in(tab, server)
            tab.goto(f"{server.url}/console/jobs/{job_id}")
        expect(live.get_by_test_id("status")).to_have_text("Active")
        expect(live.get_by_test_id("throughput")).to_contain_text("tasks/s", timeout=15_000)
        expect(live.get_by_test_id("eta")).to_contain_text("about")
        shot(live, artifacts_dir, "07-job-active")

        live.get_by_label("Reason for cancelling").fill("wrong tags")
        live.get_by_role("button", name="Cancel job").click()
        expect(live.get_by_test_id("flash-ok")).to_contain_text("Job cancelled")
        wait_status(control, job_id, "Cancelled")  # the server first: its failure message says where the job is
        expect(live.get_by_test_id("status")).to_have_text("Cancelled", timeout=10_000)
        expect(live.get_by_test_id("history")).to_contain_text("wrong tags")
        job = describe(control, job_id)
        assert job["Status"] == "Cancelled" and job["ProgressSummary"]["NumberOfTasksSucceeded"] < 60000

        stale.get_by_role("button", name="Cancel job").click()  # this tab still shows the job as Active
        expect(stale.get_by_test_id("flash-error")).to_contain_text(f"job {job_id} is Cancelled")
        expect(stale.get_by_test_id("flash-error")).to_contain_text("accepted only while")
        shot(stale, artifacts_dir, "08-refused-action")
    finally:
        live.context.close()
        stale.context.close()


# --- CSRF and account isolation (plain HTTP, one helper) ----------------------------------------


def test_every_post_needs_the_session_csrf_token(server: Server, s3: Any, new_bucket: Any) -> None:
    control = server.client()
    bucket = new_bucket()
    job_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},a"]), TAGGING, confirmation=True)
    wait_status(control, job_id, "Suspended")
    client, token = console_session(server)

    missing = client.post(f"/jobs/{job_id}/cancel", data={"reason": "forged"})
    wrong = client.post(f"/jobs/{job_id}/cancel", data={"reason": "forged", "csrf_token": "x" + token})
    other = httpx.post(f"{server.url}/console/login", data={"identity": ACCESS_KEY, "secret": SECRET_KEY})

    assert missing.status_code == wrong.status_code == other.status_code == 403
    assert "did not come from this console" in missing.text
    assert describe(control, job_id)["Status"] == "Suspended"
    answer = client.post(f"/jobs/{job_id}/cancel", data={"reason": "real", "csrf_token": token})
    assert answer.status_code == 303
    assert wait_status(control, job_id, "Cancelled")["StatusUpdateReason"] == "real"


def test_an_account_sees_none_of_another_accounts_jobs(
    browser: Browser, start_server: Any, tmp_path: Path, s3: Any, new_bucket: Any, artifacts_dir: Path
) -> None:
    config = tmp_path / "accounts.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            [[accounts]]
            id = "{ACCOUNT}"
            access_key_id = "{ACCESS_KEY}"
            secret_access_key = "{SECRET_KEY}"
            [[accounts.roles]]
            arn = "arn:aws:iam::{ACCOUNT}:role/batch"

            [[accounts]]
            id = "{OTHER_ACCOUNT}"
            access_key_id = "other-account-key"
            secret_access_key = "other-account-secret"
            console_password = "{OTHER_PASSWORD}"
            """
        )
    )
    server = start_server("--config", str(config))
    control = server.client()
    bucket = new_bucket()
    job_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},a"]), TAGGING, Description="first account's")

    page = new_page(browser)
    try:
        sign_in(page, server, OTHER_ACCOUNT, OTHER_PASSWORD)
        expect(page.get_by_test_id("account")).to_have_text(OTHER_ACCOUNT)
        expect(page.get_by_test_id("total")).to_have_text("No jobs")
        expect(page.locator("tr[data-job-id]")).to_have_count(0)
        shot(page, artifacts_dir, "09-other-account-empty")
        page.goto(f"{server.url}/console/jobs/{job_id}")
        expect(page.get_by_test_id("error-message")).to_contain_text("does not exist for this account")
    finally:
        page.context.close()

    client, token = console_session(server, OTHER_ACCOUNT, OTHER_PASSWORD)
    assert client.get(f"/api/jobs/{job_id}").status_code == 404
    assert client.get("/api/jobs").json()["total"] == 0
    refused = client.post(f"/jobs/{job_id}/cancel", data={"csrf_token": token})
    assert refused.status_code == 404
    assert describe(control, job_id)["Status"] != "Cancelling"
    first, _ = console_session(server)
    assert first.get("/api/jobs").json()["total"] == 1


# --- a job chain ------------------------------------------------------------------------------


def test_a_chain_reads_at_a_glance_from_its_middle_step(
    page: Page, server: Server, s3: Any, new_bucket: Any, artifacts_dir: Path
) -> None:
    import batchops

    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY)
    source = new_bucket()
    put_objects(s3, source, ["photos/a.jpg", "photos/b.jpg"])
    location = put_manifest(s3, source, [f"{source},photos/a.jpg", f"{source},photos/b.jpg", f"{source},gone"])
    first = client.create_job(
        operation={"BatchOpsNoOp": {}},
        manifest_arn=location["ObjectArn"],
        manifest_etag=location["ETag"],
        description="archive the photos",
        then=[
            {"S3PutObjectTagging": {"TagSet": [{"Key": "stage", "Value": "archived"}]}},
            {"S3DeleteObjectTagging": {}},
        ],
    )
    steps = wait_for(
        lambda: (c := client.describe_job(first)["BatchOpsChain"])["State"] != "Running" and c["Steps"],
        what="the chain to end",
    )
    middle = steps[1]["JobId"]
    sign_in(page, server)
    page.goto(f"{server.url}/console/jobs/{middle}")
    chain = page.locator('section[aria-labelledby="chain-h"]')
    expect(chain.get_by_test_id("chain-state")).to_contain_text("Step 2 of 3")
    expect(chain.locator("li[aria-current=step]")).to_contain_text("S3PutObjectTagging")
    expect(chain.locator("li[aria-current=step]")).to_contain_text("(this job)")
    expect(chain.get_by_role("link", name=first[:8])).to_be_visible()
    shot(page, artifacts_dir, "job-chain")


# --- charts -----------------------------------------------------------------------------------


def test_the_job_page_charts_throughput_and_failures_and_the_list_adds_up(
    page: Page, server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Any, artifacts_dir: Path
) -> None:
    bucket = new_bucket()
    keys = [f"obj-{i:03d}" for i in range(60)]
    put_objects(s3, bucket, keys)
    rows = [f"{bucket},{key}" for key in keys]
    rows[10:10] = [f"{bucket},missing-{i}" for i in range(6)]  # NoSuchKey
    rows[30:30] = [f"no-such-bucket-{uuid.uuid4().hex[:8]},k-{i}" for i in range(3)]  # NoSuchBucket
    location = put_manifest(s3, bucket, rows)
    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)
    job_id = client.create_job(
        operation=TAGGING,
        manifest_arn=location["ObjectArn"],
        manifest_etag=location["ETag"],
        description="charted tagging run",
        max_requests_per_second=12,  # about 6 s of work: three samples or more
    )
    sign_in(page, server)
    page.goto(f"{server.url}/console/jobs/{job_id}")
    mark_page(page)

    # The chart appears on the live page once the server has sampled the running job twice.
    expect(page.get_by_test_id("rate-chart")).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("status")).to_have_text("Complete", timeout=60_000)
    assert_not_reloaded(page)
    chart = page.get_by_test_id("rate-chart")
    expect(chart).to_have_attribute("role", "img")
    expect(chart).to_have_attribute("aria-label", re.compile(r"^Tasks per second from .* Peak: \d"))
    bars = page.get_by_test_id("codes-chart")
    expect(bars).to_have_attribute("aria-label", "9 failed tasks by error code: NoSuchKey 6; NoSuchBucket 3.")
    assert page.get_by_test_id("succeeded-line").evaluate("e => getComputedStyle(e).stroke") == SUCCEEDED_FILL
    assert page.get_by_test_id("failed-line").evaluate("e => getComputedStyle(e).stroke") == FAILED_FILL
    page.get_by_test_id("charts").scroll_into_view_if_needed()
    shot(page, artifacts_dir, "12-job-charts")

    page.get_by_role("link", name="All jobs").click()
    expect(page.get_by_test_id("total-succeeded")).to_have_text("60")
    expect(page.get_by_test_id("total-failed")).to_have_text("9")
    expect(page.get_by_test_id("total-active")).to_have_text("0")
    shot(page, artifacts_dir, "13-jobs-totals")
