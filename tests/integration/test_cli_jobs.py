"""``batchops job …`` through the real command, against a real server and SeaweedFS."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from batchops.devstore import LocalSeaweed, free_port
from tests.support.jobs import describe, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration


def batchops_command() -> list[str]:
    installed = Path(sys.executable).parent / "batchops"
    return [str(installed)] if installed.exists() else [shutil.which("batchops") or "batchops"]


def run(
    server_url: str, seaweed: LocalSeaweed, *args: str, secret: str = SECRET_KEY
) -> subprocess.CompletedProcess[str]:
    """One ``batchops job`` command with the connection taken from the environment, as a user would set it."""
    env = {
        **os.environ,
        "BATCHOPS_URL": server_url,
        "BATCHOPS_ACCOUNT_ID": ACCOUNT,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": secret,
        "BATCHOPS_S3_ENDPOINT": seaweed.endpoint,
        "COLUMNS": "200",
    }
    return subprocess.run(
        [*batchops_command(), "job", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], after_progress: bool = False) -> str:
    """The one error line on stderr (after the progress bar's last frame, for ``wait``), exit code 1."""
    assert result.returncode == 1, f"exit {result.returncode}: {result.stdout} {result.stderr}"
    lines = result.stderr.strip().splitlines()
    if after_progress:
        lines = lines[-1:]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def write_manifest(tmp_path: Path, bucket: str, keys: list[str]) -> Path:
    path = tmp_path / "objects.csv"
    path.write_text("".join(f"{bucket},{key}\n" for key in keys))
    return path


def test_create_from_a_local_csv_then_list_describe_wait_and_report(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Any, tmp_path: Path
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    manifest = write_manifest(tmp_path, bucket, ["a", "b", "c", "gone"])

    created = ok(
        run(
            server.url,
            seaweed,
            "create",
            "--manifest-file",
            str(manifest),
            "--manifest-bucket",
            bucket,
            "--put-object-tag",
            "team=cli",
            "--report-bucket",
            reports,
            "--report-prefix",
            "out",
            "--description",
            "cli tagging",
            "--priority",
            "12",
            "--no-confirmation-required",
            "--output",
            "json",
        )
    )
    job_id = json.loads(created)["JobId"]

    waited = run(server.url, seaweed, "wait", job_id, "--interval", "0.2")
    assert f"job {job_id} Complete: 3 succeeded, 1 failed of 4 in" in ok(waited)
    assert "succeeded" in waited.stderr  # the progress bar's last frame
    assert s3.get_object_tagging(Bucket=bucket, Key="a")["TagSet"] == [{"Key": "team", "Value": "cli"}]

    listed = ok(run(server.url, seaweed, "list"))
    assert job_id in listed and "cli tagging" in listed and "Complete" in listed
    as_json = json.loads(ok(run(server.url, seaweed, "list", "--status", "Complete", "--output", "json")))
    assert job_id in [j["JobId"] for j in as_json]
    assert json.loads(ok(run(server.url, seaweed, "list", "--status", "Failed", "--output", "json"))) == []

    described = ok(run(server.url, seaweed, "describe", job_id))
    assert "Complete" in described and "3 succeeded, 1 failed of 4" in described and "cli tagging" in described
    detail = json.loads(ok(run(server.url, seaweed, "describe", job_id, "--output", "json")))
    assert detail["Priority"] == 12 and detail["Manifest"]["Location"]["ObjectArn"].startswith(
        f"arn:aws:s3:::{bucket}/"
    )

    report = json.loads(ok(run(server.url, seaweed, "report", job_id, "--output", "json")))
    statuses = {row["Key"]: row["TaskStatus"] for row in report["Rows"]}
    assert statuses == {"a": "succeeded", "b": "succeeded", "c": "succeeded", "gone": "failed"}
    table = ok(run(server.url, seaweed, "report", job_id))
    assert "NoSuchKey" in table and "4 row(s)" in table


def test_priority_confirm_cancel_and_a_refused_transition(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Any, tmp_path: Path
) -> None:
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    manifest = write_manifest(tmp_path, bucket, ["a"])
    create = ["create", "--manifest-file", str(manifest), "--manifest-bucket", bucket]  # waits for confirmation
    first = ok(run(server.url, seaweed, *create, "--operation-json", '{"S3DeleteObjectTagging": {}}')).strip()
    second = ok(run(server.url, seaweed, *create, "--put-object-tag", "k=v")).strip()
    control = server.client()
    suspended = ok(run(server.url, seaweed, "wait", first, "--until", "Suspended", "--interval", "0.2"))
    assert suspended.startswith(f"job {first} Suspended: 0 succeeded, 0 failed of 1"), suspended
    wait_status(control, second, "Suspended")

    assert ok(run(server.url, seaweed, "update-priority", first, "99")).strip() == f"job {first} priority 99"
    assert describe(control, first)["Priority"] == 99
    assert "is Ready" in ok(run(server.url, seaweed, "update-status", first, "--requested-job-status", "Ready"))
    ok(run(server.url, seaweed, "wait", first, "--interval", "0.2"))

    cancelled = run(
        server.url,
        seaweed,
        "update-status",
        second,
        "--requested-job-status",
        "Cancelled",
        "--status-update-reason",
        "not needed",
    )
    assert "Cancel" in ok(cancelled)
    ended = run(server.url, seaweed, "wait", second, "--interval", "0.2")
    assert one_line_error(ended, after_progress=True) == f"error: job {second} ended Cancelled"

    never = run(server.url, seaweed, "wait", first, "--until", "Suspended", "--interval", "0.2")
    assert one_line_error(never, after_progress=True) == f"error: job {first} ended Complete before it was Suspended"

    refused = run(server.url, seaweed, "update-status", first, "--requested-job-status", "Cancelled")
    line = one_line_error(refused)
    assert f"job {first} is Complete" in line and "accepted only while" in line


def test_unreachable_server_and_refused_credentials_are_one_line_each(
    server: Server, seaweed: LocalSeaweed, new_bucket: Any, tmp_path: Path
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(run(nowhere, seaweed, "list"))
    assert line.startswith(f"error: cannot reach the batchops server at {nowhere}")
    assert "--url" in line

    unknown = run(server.url, seaweed, "list", "--account-id", "999999999999")
    assert "refused the credentials" in one_line_error(unknown) and "999999999999" in unknown.stderr

    bucket = new_bucket()
    manifest = write_manifest(tmp_path, bucket, ["a"])
    upload = run(
        server.url,
        seaweed,
        "create",
        "--manifest-file",
        str(manifest),
        "--manifest-bucket",
        bucket,
        "--put-object-tag",
        "k=v",
        secret="wrong-secret",
    )
    line = one_line_error(upload)
    assert "the object store refused the credentials" in line and "--secret-access-key" in line

    missing = run(server.url, seaweed, "describe", "00000000-0000-0000-0000-000000000000")
    assert "does not exist" in one_line_error(missing)


def test_a_failed_job_a_malformed_account_id_and_a_bad_argument_each_say_what_is_wrong(
    server: Server, seaweed: LocalSeaweed, new_bucket: Any
) -> None:
    bucket = new_bucket()
    missing = ["--manifest-arn", f"arn:aws:s3:::{bucket}/missing.csv", "--manifest-etag", "0123abcd"]
    failed = ok(run(server.url, seaweed, "create", *missing, "--put-object-tag", "k=v")).strip()
    ended = run(server.url, seaweed, "wait", failed, "--interval", "0.2")
    assert "None" not in ended.stdout + ended.stderr
    assert ended.stdout.strip().startswith(f"job {failed} Failed: 0 succeeded, 0 failed of 0 in ")
    reason = one_line_error(ended, after_progress=True)
    assert reason.startswith(f"error: job {failed} ended Failed: ManifestNotReadable")

    malformed = one_line_error(run(server.url, seaweed, "list", "--account-id", "12345"))
    assert malformed.startswith("error: account id '12345' is not 12 digits") and "cannot reach" not in malformed

    # the two refusals read alike: the server's words after the one prefix
    priority = one_line_error(run(server.url, seaweed, "update-priority", failed, "5"))
    assert priority == f"error: job {failed} has already ended (Failed); its priority is final"
    status = one_line_error(run(server.url, seaweed, "update-status", failed, "--requested-job-status", "Cancelled"))
    assert status.startswith(f"error: job {failed} is Failed; requestedJobStatus=Cancelled is accepted only while")

    usage = run(server.url, seaweed, "update-priority", failed, "99999999999")
    assert usage.returncode == 2 and usage.stderr.count("\n") == 1, usage.stderr
    assert usage.stderr.startswith("error: Invalid value for 'PRIORITY'")
    assert usage.stderr.strip().endswith("see `batchops job update-priority --help`")
