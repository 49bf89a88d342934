"""``batchops job apply`` (and ``Client.apply``) against a real server and SeaweedFS: every file in examples/
creates its job, which runs to its end; applying a file again gives the same job.

The two restore examples need an archive tier, which SeaweedFS lacks (test_restore.py runs restores on moto's
server): they are checked with ``--dry-run`` only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import batchops
from batchops.devstore import LocalSeaweed
from tests.support.batch_functions import ENTRY_POINT_ARN, REPO
from tests.support.jobs import put_manifest, put_objects, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration

EXAMPLES = REPO / "examples"
KEYS = ["a.txt", "dir/b c.txt"]
#: Archive restores: SeaweedFS has no archive tier, so these are validated only.
DRY_RUN_ONLY = {"initiate-restore-object", "cos-initiate-restore-object"}
#: Retention and legal holds need a bucket with Object Lock.
OBJECT_LOCK = {"put-object-legal-hold", "put-object-retention"}


@pytest.fixture
def apply_server(start_server: Callable[..., Server], tmp_path: Path) -> Server:
    """A server whose [[functions]] has the function the LambdaInvoke example calls (an in-process entry point)."""
    config = tmp_path / "functions.toml"
    config.write_text(
        f'[[functions]]\narn = "{ENTRY_POINT_ARN}"\nentry_point = "tests.support.batch_functions:async_handler"\n'
    )
    return start_server("--config", str(config), env={"PYTHONPATH": str(REPO)})


def apply(server: Server, seaweed: LocalSeaweed, *args: str) -> subprocess.CompletedProcess[str]:
    """``batchops job apply …`` as a user runs it, the connection from the environment."""
    installed = Path(sys.executable).parent / "batchops"
    command = [str(installed)] if installed.exists() else [shutil.which("batchops") or "batchops"]
    env = {
        **os.environ,
        "BATCHOPS_URL": server.url,
        "BATCHOPS_ACCOUNT_ID": ACCOUNT,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "BATCHOPS_S3_ENDPOINT": seaweed.endpoint,
    }
    return subprocess.run(
        [*command, "job", "apply", *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def applied(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """(job id, "created" or "exists") from ``job <id> created``."""
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    words = result.stdout.split()
    assert len(words) == 3 and words[0] == "job", result.stdout
    return words[1], words[2]


def variables_for(example: str, s3: Any, new_bucket: Callable[..., str]) -> dict[str, str]:
    """Fresh buckets for one example: BUCKET with KEYS in it, an empty TARGET_BUCKET."""
    bucket = new_bucket(object_lock=example in OBJECT_LOCK)
    put_objects(s3, bucket, KEYS)
    until = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    return {
        "BUCKET": bucket,
        "TARGET_BUCKET": new_bucket(),
        "RETAIN_UNTIL": until.isoformat().replace("+00:00", "Z"),
        "FUNCTION_ARN": ENTRY_POINT_ARN,
    }


def var_options(variables: dict[str, str]) -> list[str]:
    return [option for name, value in variables.items() for option in ("--var", f"{name}={value}")]


@pytest.mark.parametrize("example", sorted(path.stem for path in EXAMPLES.glob("*.yaml")))
def test_every_example_applies_once_and_its_job_runs_to_the_end(
    example: str, apply_server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    path = str(EXAMPLES / f"{example}.yaml")
    options = var_options(variables_for(example, s3, new_bucket))
    if example in DRY_RUN_ONLY:
        checked = apply(apply_server, seaweed, path, "--dry-run", *options)
        assert checked.returncode == 0, checked.stderr
        assert checked.stdout.startswith(f"{path} is valid; it would create (nothing sent):")
        assert apply_server.client().list_jobs(AccountId=ACCOUNT).get("Jobs", []) == []
        return
    # When the example is applied twice
    job_id, state = applied(apply(apply_server, seaweed, path, *options))
    again, state_again = applied(apply(apply_server, seaweed, path, *options))
    # Then the first created the job, the second found it, and the account has that one job
    assert (state, again, state_again) == ("created", job_id, "exists")
    control = apply_server.client()
    assert [job["JobId"] for job in control.list_jobs(AccountId=ACCOUNT)["Jobs"]] == [job_id]
    # And it ran to its end, every object a success
    job = wait_status(control, job_id, {"Complete", "Failed"})
    assert job["Status"] == "Complete", job.get("FailureReasons")
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == len(KEYS), job["ProgressSummary"]


def test_the_tagging_example_tags_the_objects(
    apply_server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    variables = variables_for("put-object-tagging", s3, new_bucket)
    job_id, _ = applied(
        apply(apply_server, seaweed, str(EXAMPLES / "put-object-tagging.yaml"), *var_options(variables))
    )
    wait_status(apply_server.client(), job_id, "Complete")
    for key in KEYS:
        assert s3.get_object_tagging(Bucket=variables["BUCKET"], Key=key)["TagSet"] == [
            {"Key": "project", "Value": "blue"}
        ]


JOB_FILE = """
description: tag from a local manifest
confirmation_required: true
priority: 33
failure_threshold: {min_tasks: 5, percent: 20}
rate: {max_tasks_in_flight: 4}
tags: {team: storage}
manifest:
  file: objects.csv
  bucket: ${BUCKET}
operation:
  S3PutObjectTagging:
    TagSet:
      - Key: colour
        Value: ${COLOUR}
"""


def test_client_apply_with_a_local_manifest_is_idempotent_and_a_change_is_a_new_job(
    apply_server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str], tmp_path: Path
) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, KEYS)
    (tmp_path / "objects.csv").write_text("".join(f"{bucket},{key.replace(' ', '%20')}\n" for key in KEYS))
    job_file = tmp_path / "tag.yaml"
    job_file.write_text(JOB_FILE)
    client = batchops.Client(apply_server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)
    # Given the file applied once (its manifest uploaded under a key named by the file's token)
    first = client.apply(job_file, {"BUCKET": bucket, "COLOUR": "blue"})
    assert first.created and first.job_id
    # When it is applied again, the same manifest uploaded again: the same job
    second = client.apply(job_file, {"BUCKET": bucket, "COLOUR": "blue"})
    assert (second.job_id, second.created) == (first.job_id, False)
    # When a variable or the manifest changes: a new job each
    other_colour = client.apply(job_file, {"BUCKET": bucket, "COLOUR": "red"})
    (tmp_path / "objects.csv").write_text(f"{bucket},a.txt\n")
    other_manifest = client.apply(job_file, {"BUCKET": bucket, "COLOUR": "blue"})
    ids = {first.job_id, other_colour.job_id, other_manifest.job_id}
    assert len(ids) == 3 and other_colour.created and other_manifest.created
    assert {job["JobId"] for job in client.list_jobs()} == ids
    # And the job is the file's: it waits for confirmation, its manifest the uploaded file
    job = client.wait(str(first.job_id), until="Suspended", timeout=60)
    assert job["Status"] == "Suspended"
    assert job["Manifest"]["Location"]["ObjectArn"] == f"arn:aws:s3:::{bucket}/manifests/{first.token}-objects.csv"
    assert (job["Priority"], job["BatchOpsMaxTasksInFlight"]) == (33, 4)
    assert job["BatchOpsFailureThreshold"] == {"MinTasks": 5, "Percent": 20}
    tagging = apply_server.client().get_job_tagging(AccountId=ACCOUNT, JobId=first.job_id)
    assert tagging["Tags"] == [{"Key": "team", "Value": "storage"}]


def test_apply_errors_are_one_line_naming_the_file_and_path(
    apply_server: Server, seaweed: LocalSeaweed, tmp_path: Path
) -> None:
    (tmp_path / "objects.csv").write_text("b,a.txt\n")
    job_file = tmp_path / "tag.yaml"
    job_file.write_text(JOB_FILE.replace("${COLOUR}", "${COLOUR}\n        Colour: x"))
    result = apply(apply_server, seaweed, str(job_file), "--var", "BUCKET=b", "--var", "COLOUR=c")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {job_file}: operation.S3PutObjectTagging.TagSet[0].Colour: unknown key; use one of Key, Value"
    ]


def test_a_server_refusal_is_one_line_too(
    apply_server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    # the LambdaInvoke example with a function the server does not have: the server refuses it
    options = var_options(variables_for("lambda-invoke", s3, new_bucket))
    options[-1] = "FUNCTION_ARN=arn:aws:lambda:us-east-1:123456789012:function:nobody"
    result = apply(apply_server, seaweed, str(EXAMPLES / "lambda-invoke.yaml"), *options)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "is not configured on this server" in lines[0]


def test_client_apply_with_a_manifest_in_the_store_looks_its_etag_up(
    apply_server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket = new_bucket()
    put_objects(s3, bucket, KEYS)
    location = put_manifest(s3, bucket, [f"{bucket},{key.replace(' ', '%20')}" for key in KEYS])
    text = f"manifest: {{arn: '{location['ObjectArn']}'}}\noperation: {{S3DeleteObjectTagging: {{}}}}\n"
    client = batchops.Client(apply_server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)
    applied = client.apply(text)
    job = client.wait(str(applied.job_id), timeout=60)
    assert (applied.created, job["Status"], job["ProgressSummary"]["NumberOfTasksSucceeded"]) == (True, "Complete", 2)
    assert job["Manifest"]["Location"]["ETag"].strip('"') == location["ETag"].strip('"')
