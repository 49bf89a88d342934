"""Signed webhook notifications against a real receiver (tests/support/receiver.py) that checks every signature
with ``batchops.webhooks.verify``: every status move and the completion arrive signed and in order; a receiver
that fails or is down gets them later, and the job never waits for it; secrets are never shown or logged."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import tostring

import boto3
import pytest
from botocore.exceptions import ClientError

import batchops
from batchops.devstore import LocalSeaweed, free_port
from batchops.webhooks import verify
from tests.integration.test_cli_jobs import ok, run
from tests.integration.test_demo import REPO, run_readme_python, running_demo
from tests.support.console import console_session
from tests.support.cos import assert_cos_error, cos_request, create_body, create_cos_job, put_cos_manifest
from tests.support.jobs import TAGGING, create_job, describe, put_manifest, put_objects, wait_for, wait_status
from tests.support.receiver import Received, Receiver
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import ACCOUNT, Server
from tests.support.tenancy import CONFIG, KEYS, A, create

pytestmark = pytest.mark.integration

SECRET = "whsec-test-5b1c9e0a"
#: Quick retries, so a receiver that comes back is retried within a second or two.
QUICK_RETRIES = {"BATCHOPS_WEBHOOK_RETRY_SECONDS": "0.2"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver(SECRET).start()
    yield started
    started.stop()


def hooked(server: Server, keys: tuple[str, str] = (ACCESS_KEY, SECRET_KEY)) -> Any:
    """boto3 with batchops's overlay: CreateJob takes BatchOpsWebhook, DescribeJob reads the deliveries."""
    session = boto3.session.Session(aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name=REGION)
    return batchops.boto3_hook(session).client("s3control", endpoint_url=server.url)


@pytest.fixture
def control(server: Server) -> Any:
    return hooked(server)


def small_job(control: Any, s3: Any, bucket: str, **extra: Any) -> str:
    keys = [f"hooked/{n}" for n in range(5)]
    put_objects(s3, bucket, keys)
    location = put_manifest(s3, bucket, [f"{bucket},{k}" for k in keys])
    return create_job(control, location, TAGGING, report_bucket=bucket, **extra)


def webhook(url: str, secret: str = SECRET) -> dict[str, Any]:
    return {"BatchOpsWebhook": {"Url": url, "Secret": secret}}


def finished(receiver: Receiver, job_id: str) -> list[Received]:
    """Wait until the receiver accepted the job's last event; every event it accepted for the job, in order."""

    def done() -> list[Received] | None:
        events = receiver.accepted(job_id)
        return events if events and events[-1].event == "job.finished" else None

    return wait_for(done, timeout=90, what=f"job {job_id}'s job.finished at the receiver")  # type: ignore[no-any-return]


def assert_every_move_in_order(events: list[Received], job_id: str, last: str = "Complete") -> None:
    """From New to ``last``, each event's previous status the one before it: none missing, none twice, in order."""
    assert events[0].body["status"] == "New" and events[0].body["previous_status"] is None
    for before, after in itertools.pairwise(events):
        assert after.body["previous_status"] == before.body["status"], [e.body["status"] for e in events]
    assert events[-1].body["status"] == last
    assert [e.event for e in events] == ["job.status_changed"] * (len(events) - 1) + ["job.finished"]
    assert all(e.verified for e in events)
    assert all(e.body["job_id"] == job_id for e in events)
    assert len({e.delivery for e in events}) == len(events)  # one delivery id per event


def test_a_job_sends_every_status_move_and_its_completion_signed(
    server: Server, control: Any, s3: Any, bucket: str, receiver: Receiver
) -> None:
    job_id = small_job(control, s3, bucket, **webhook(receiver.url))
    wait_status(control, job_id, "Complete")

    events = finished(receiver, job_id)

    assert_every_move_in_order(events, job_id)
    statuses = [e.body["status"] for e in events]
    assert statuses[:2] == ["New", "Preparing"] and statuses[-2:] == ["Completing", "Complete"]
    done = events[-1].body
    assert done["account_id"] == "123456789012"
    assert done["progress"] == {**done["progress"], "total_tasks": 5, "succeeded": 5, "failed": 0}
    assert done["terminated"] is not None
    report = done["report"]
    assert report["bucket"] == bucket
    assert s3.head_object(Bucket=bucket, Key=report["manifest_key"])["ContentLength"] > 0  # the report is there
    # DescribeJob: the URL but never the secret, and each attempt (one each here, all delivered)
    job = describe(control, job_id)
    assert job["BatchOpsWebhook"] == {"Url": receiver.url}
    attempts = job["BatchOpsWebhookDeliveries"]
    assert [a["JobStatus"] for a in attempts] == statuses
    assert all(a["Delivered"] and a["HttpStatus"] == 204 and a["Attempt"] == 1 for a in attempts)
    assert SECRET not in (server.data_dir / "server.log").read_text()


def test_a_receiver_that_is_down_then_fails_gets_every_event_when_it_is_back_and_the_job_never_waits(
    start_server: Callable[..., Server], s3: Any, bucket: str, receiver: Receiver
) -> None:
    server = start_server(env=QUICK_RETRIES)
    control = hooked(server)
    receiver.stop()  # down: nothing answers on its port
    job_id = small_job(control, s3, bucket, **webhook(receiver.url))

    wait_status(control, job_id, "Complete")  # completed while its receiver was down

    def refused() -> list[dict[str, Any]]:
        attempts = describe(control, job_id).get("BatchOpsWebhookDeliveries", [])
        return [a for a in attempts if "HttpStatus" not in a and a.get("Error") and not a["Delivered"]]

    wait_for(lambda: len(refused()) >= 2, what="attempts that found the receiver down, retried")
    assert {a["JobStatus"] for a in refused()} == {"New"}  # later events wait behind the first
    receiver.failing = True  # back, but answering 500 to everything
    receiver.start()
    wait_for(lambda: len(receiver.posts()) >= 2, what="the first event retried against the failing receiver")
    assert receiver.accepted(job_id) == [] and {p.body["status"] for p in receiver.posts()} == {"New"}
    receiver.failing = False

    events = finished(receiver, job_id)
    assert_every_move_in_order(events, job_id)
    assert all(p.verified for p in receiver.posts())
    attempts = describe(control, job_id)["BatchOpsWebhookDeliveries"]
    first = [a for a in attempts if a["JobStatus"] == "New"]
    assert any(a.get("HttpStatus") == 500 and not a["Delivered"] for a in first)
    assert first[-1]["Delivered"] and first[-1]["Attempt"] > 4
    assert [a["Attempt"] for a in first] == list(range(first[0]["Attempt"], first[-1]["Attempt"] + 1))
    assert all(a["Delivered"] and a["Attempt"] == 1 for a in attempts if a["JobStatus"] != "New")


def test_a_cancelled_jobs_last_event_is_its_end_and_no_secret_reaches_a_debug_log(
    start_server: Callable[..., Server], s3: Any, bucket: str, receiver: Receiver
) -> None:
    server = start_server("--log-level", "debug")
    control = hooked(server)
    job_id = small_job(control, s3, bucket, confirmation=True, **webhook(receiver.url))
    wait_status(control, job_id, "Suspended")
    control.update_job_status(AccountId=ACCOUNT, JobId=job_id, RequestedJobStatus="Cancelled")

    events = finished(receiver, job_id)

    assert_every_move_in_order(events, job_id, last="Cancelled")
    assert "Suspended" in [e.body["status"] for e in events]
    assert "report" not in events[-1].body  # only a Complete event names a report
    assert SECRET not in (server.data_dir / "server.log").read_text()


def test_an_accounts_webhook_is_signed_with_the_accounts_secret_and_fails_any_other(
    start_server: Callable[..., Server], tmp_path: Path, s3: Any, bucket: str, receiver: Receiver
) -> None:
    account_secret = "account-a-hook-secret"
    settings = f'webhook_url = "{receiver.url}"\nwebhook_secret = "{account_secret}"\n'
    config = tmp_path / "accounts.toml"
    config.write_text(CONFIG.replace('appid = "1250000001"\n', 'appid = "1250000001"\n' + settings))
    server = start_server("--config", str(config))
    control = hooked(server, KEYS[A])
    put_objects(s3, bucket, ["account/one"])
    job_id = create(control, A, put_manifest(s3, bucket, [f"{bucket},account/one"]), ConfirmationRequired=False)

    events = finished(receiver, job_id)  # the receiver checks with its own SECRET, not the account's

    assert events[-1].body["account_id"] == A and events[-1].body["status"] == "Complete"
    assert not any(e.verified for e in events)  # a wrong secret fails verification
    assert all(verify(e.raw, e.signature, account_secret) for e in events)  # the account's passes
    assert not verify(events[-1].raw.replace(b"Complete", b"Failed"), events[-1].signature, account_secret)
    assert "BatchOpsWebhook" not in describe(control, job_id, A)  # no webhook of its own: the account's
    log = (server.data_dir / "server.log").read_text()
    assert account_secret not in log


def test_the_cli_the_python_client_and_the_console_set_and_show_a_webhook(
    server: Server, control: Any, seaweed: LocalSeaweed, s3: Any, bucket: str, receiver: Receiver
) -> None:
    put_objects(s3, bucket, ["cli/one"])
    manifest = put_manifest(s3, bucket, [f"{bucket},cli/one"])["ObjectArn"]
    common = ("create", "--manifest-arn", manifest, "--put-object-tag", "a=b", "--no-confirmation-required")
    by_cli = ok(run(server.url, seaweed, *common, "--webhook-url", receiver.url, "--webhook-secret", SECRET)).strip()
    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)
    operation = {"S3PutObjectTagging": {"TagSet": [{"Key": "a", "Value": "b"}]}}
    by_client = client.create_job(
        operation=operation, manifest_arn=manifest, webhook_url=receiver.url, webhook_secret=SECRET
    )

    for job_id in (by_cli, by_client):
        assert_every_move_in_order(finished(receiver, job_id), job_id)
    assert client.describe_job(by_client)["BatchOpsWebhook"] == {"Url": receiver.url}
    shown = ok(run(server.url, seaweed, "describe", by_cli))
    assert receiver.url in shown and "Complete attempt 1: 204 delivered" in shown and SECRET not in shown
    half = run(server.url, seaweed, *common, "--webhook-url", receiver.url)
    assert half.returncode == 2 and half.stderr.startswith("error: give both --webhook-url and --webhook-secret")
    assert len(half.stderr.strip().splitlines()) == 1 and "Traceback" not in half.stderr

    browser, _ = console_session(server)
    page = browser.get(f"/jobs/{by_client}").text
    assert f'data-testid="webhook-url">{receiver.url}<' in page and 'data-testid="webhook-deliveries"' in page
    assert page.count('<td data-label="Delivered">yes</td>') == len(receiver.accepted(by_client))
    live = browser.get(f"/api/jobs/{by_client}").json()
    assert "webhook-deliveries" in live["parts"]["webhooks"]
    assert SECRET not in page and SECRET not in json.dumps(live)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://hooks.example.com/x", "must be an http:// or https:// URL"),
        ("https://" + "h" * 2050, "must be 1 to 2048 characters"),
        ("not a url", "must be an http:// or https:// URL"),
    ],
)
def test_a_bad_webhook_url_is_refused_naming_the_fix(
    server: Server, control: Any, s3: Any, bucket: str, url: str, says: str
) -> None:
    location = put_manifest(s3, bucket, [f"{bucket},k"])
    with pytest.raises(ClientError) as refused:
        create_job(control, location, TAGGING, **webhook(url))
    assert refused.value.response["Error"]["Code"] == "BadRequestException"
    assert says in refused.value.response["Error"]["Message"]


def test_the_cos_wire_takes_a_webhook_shows_its_url_only_and_refuses_a_bad_one(
    server: Server, s3: Any, bucket: str, receiver: Receiver
) -> None:
    arn, etag = put_cos_manifest(s3, bucket, [f"{bucket},cos/one"])
    hook = f"<BatchOpsWebhook><Url>{receiver.url}</Url><Secret>{SECRET}</Secret></BatchOpsWebhook>"
    tagging = (
        "<COSPutObjectTagging><TagSet><COSTag><Key>k</Key><Value>v</Value></COSTag></TagSet></COSPutObjectTagging>"
    )
    body = create_body(arn, etag, tagging, confirmation=True)
    job_id = create_cos_job(server, with_element(body, hook))

    shown = cos_request(server, "GET", f"/jobs/{job_id}")
    assert shown.text("Job/BatchOpsWebhook/Url") == receiver.url
    assert shown.xml is not None and SECRET not in tostring(shown.xml, encoding="unicode")

    def suspended() -> list[Received] | None:
        events = receiver.accepted(job_id)
        return events if events and events[-1].body["status"] == "Suspended" else None

    events = wait_for(suspended, what="the COS job's moves up to Suspended at the receiver")
    assert events[0].body["status"] == "New" and all(e.verified for e in events)

    refused = cos_request(server, "POST", "/jobs", body=with_element(body, hook.replace(receiver.url, "file:///x")))
    assert_cos_error(refused, 400, "InvalidArgument", "BatchOpsWebhook.Url must be an http:// or https:// URL")


def with_element(body: bytes, element: str) -> bytes:
    return body.replace(b"</CreateJobRequest>", element.encode() + b"</CreateJobRequest>")


# --- the README's example, as pasted (its receiver's port made free) -------------------------------------------------


def readme_notification_blocks() -> tuple[str, str, str]:
    """The receiver, the shell block and the client block of the README's "Notifications" section."""
    section = (REPO / "README.md").read_text().split("\n### Notifications\n", 1)[1].split("\n## ", 1)[0]
    shell = re.findall(r"^```sh\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    python = re.findall(r"^```python\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert len(shell) == 1 and len(python) == 2, "README.md's Notifications section: a receiver, sh, and client"
    return python[0], shell[0], python[1]


def test_the_readme_notifications_example_runs_as_pasted_after_make_run(tmp_path: Path) -> None:
    port = str(free_port())
    receiver, shell_block, python_block = (block.replace("9000", port) for block in readme_notification_blocks())
    (tmp_path / "receiver.py").write_text(receiver)
    with running_demo(tmp_path, free_port()):
        fresh = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
        printed = tmp_path / "printed.txt"
        # Its own session: the receiver the block starts in the background is stopped with it afterwards.
        with printed.open("w") as out:
            walk = subprocess.Popen(
                ["bash", "-e", "-c", shell_block],
                cwd=tmp_path,
                env=fresh,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            assert walk.wait(timeout=240) == 0, printed.read_text()
            job_id = re.search(r"Job ID\s*│\s*(\S+)", printed.read_text())
            assert job_id, printed.read_text()
            finished_line = f"job.finished {job_id.group(1)} Complete"
            wait_for(lambda: finished_line in printed.read_text(), what="the receiver to print the job's end")
            text = printed.read_text()
            assert f"job.status_changed {job_id.group(1)} New" in text
            assert "204 delivered" in text and "Webhook" in text

            ran = run_readme_python(python_block, tmp_path / ".data")
            assert ran.returncode == 0, ran.stdout + ran.stderr
            assert "'Event': 'job.status_changed'" in ran.stdout and "'Delivered': True" in ran.stdout
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(walk.pid, signal.SIGTERM)
