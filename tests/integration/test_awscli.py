"""The real AWS CLI (v1, the ``awscli`` package from PyPI) against a real server, with the plugin enabled the way
the README says: ``aws configure set plugins.batchops batchops.awscli_plugin``.

Every command runs the ``aws`` executable of this virtualenv as a subprocess, with HOME and AWS_CONFIG_FILE in a
temporary directory, so neither the user's AWS configuration nor an earlier test leaks in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.extensions import EXTENSIONS, Extension
from tests.support.jobs import put_manifest, wait_for
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration

AWS = Path(sys.executable).with_name("aws")
TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "by", "Value": "aws-cli"}]}}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch"


@dataclass
class AwsCli:
    """``aws s3control …`` for one account on one server, in a home directory of its own."""

    home: Path
    url: str

    @property
    def env(self) -> dict[str, str]:
        kept = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
        return {
            **kept,
            "HOME": str(self.home),
            "AWS_CONFIG_FILE": str(self.home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.home / ".aws" / "credentials"),
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_MAX_ATTEMPTS": "1",
        }

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AWS), *args], env=self.env, capture_output=True, text=True, timeout=120)

    def s3control(self, command: str, *args: str) -> dict[str, Any]:
        """One ``aws s3control`` command that must succeed; its JSON answer ({} when it prints nothing)."""
        done = self.run("s3control", command, "--account-id", ACCOUNT, "--endpoint-url", self.url, *args)
        assert done.returncode == 0, f"aws s3control {command} failed ({done.returncode}): {done.stderr}"
        return dict(json.loads(done.stdout)) if done.stdout.strip() else {}

    def create_job(self, operation: dict[str, Any], *args: str) -> str:
        answer = self.s3control(
            "create-job",
            "--operation",
            json.dumps(operation),
            "--report",
            '{"Enabled": false}',
            "--priority",
            "10",
            "--role-arn",
            ROLE,
            *args,
        )
        return str(answer["JobId"])

    def describe(self, job_id: str) -> dict[str, Any]:
        return dict(self.s3control("describe-job", "--job-id", job_id)["Job"])


@pytest.fixture
def aws(server: Server, tmp_path: Path) -> AwsCli:
    """The AWS CLI with the plugin enabled by the README's one line."""
    cli = AwsCli(tmp_path / "home", server.url)
    enabled = cli.run("configure", "set", "plugins.batchops", "batchops.awscli_plugin")
    assert enabled.returncode == 0, enabled.stderr
    return cli


def manifest_args(location: dict[str, str]) -> tuple[str, str]:
    spec = {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]}, "Location": location}
    return "--manifest", json.dumps(spec)


def test_the_plugin_line_writes_the_config(aws: AwsCli) -> None:
    config = (aws.home / ".aws" / "config").read_text()
    assert "[plugins]" in config and "batchops = batchops.awscli_plugin" in config


def test_without_the_plugin_the_cli_cannot_reach_the_server(server: Server, tmp_path: Path) -> None:
    cli = AwsCli(tmp_path / "bare-home", server.url)
    done = cli.run(
        "s3control", "list-jobs", "--account-id", ACCOUNT, "--endpoint-url", server.url, "--cli-connect-timeout", "5"
    )
    assert done.returncode != 0
    assert f"{ACCOUNT}.127.0.0.1" in done.stderr  # the host the endpoint rules made, which does not resolve


def test_the_job_api_through_the_aws_cli(aws: AwsCli, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    for key in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    location = put_manifest(s3, bucket, [f"{bucket},a", f"{bucket},b"])

    job_id = aws.create_job(
        TAGGING, *manifest_args(location), "--confirmation-required", "--tags", "Key=team,Value=storage"
    )

    listed = aws.s3control("list-jobs", "--job-statuses", "Suspended")["Jobs"]
    assert [(job["JobId"], job["Operation"]) for job in listed] == [(job_id, "S3PutObjectTagging")]
    job = aws.describe(job_id)
    assert (job["Status"], job["Operation"], job["Priority"]) == ("Suspended", TAGGING, 10)
    assert aws.s3control("update-job-priority", "--job-id", job_id, "--priority", "42")["Priority"] == 42
    assert aws.describe(job_id)["Priority"] == 42

    assert aws.s3control("get-job-tagging", "--job-id", job_id)["Tags"] == [{"Key": "team", "Value": "storage"}]
    aws.s3control("put-job-tagging", "--job-id", job_id, "--tags", "Key=a,Value=1", "Key=b,Value=2")
    assert aws.s3control("get-job-tagging", "--job-id", job_id)["Tags"] == [
        {"Key": "a", "Value": "1"},
        {"Key": "b", "Value": "2"},
    ]
    aws.s3control("delete-job-tagging", "--job-id", job_id)
    assert aws.s3control("get-job-tagging", "--job-id", job_id)["Tags"] == []

    ready = aws.s3control("update-job-status", "--job-id", job_id, "--requested-job-status", "Ready")
    assert ready["Status"] == "Ready"
    done = wait_for(lambda: (job := aws.describe(job_id))["Status"] == "Complete" and job, what=f"{job_id} Complete")
    assert done["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    tags = s3.get_object_tagging(Bucket=bucket, Key="a")["TagSet"]
    assert tags == [{"Key": "by", "Value": "aws-cli"}]


def test_a_job_cancelled_through_the_aws_cli(aws: AwsCli, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    job_id = aws.create_job(TAGGING, *manifest_args(location), "--confirmation-required")

    reason = ("--status-update-reason", "not needed")
    answer = aws.s3control("update-job-status", "--job-id", job_id, "--requested-job-status", "Cancelled", *reason)

    assert answer["Status"] in ("Cancelled", "Cancelling")
    assert wait_for(lambda: aws.describe(job_id)["Status"] == "Cancelled", what=f"{job_id} Cancelled")


@pytest.mark.parametrize("case", EXTENSIONS, ids=lambda case: case.name)
def test_each_extension_through_the_aws_cli(case: Extension, aws: AwsCli, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    case = case.with_bucket(bucket)
    extra = [arg for name, value in case.create.items() for arg in _arguments(name, value)]
    if "ManifestGenerator" not in case.create:
        extra += manifest_args(put_manifest(s3, bucket, [f"{bucket},k"]))

    job_id = aws.create_job(case.operation, "--confirmation-required", *extra)

    job = aws.describe(job_id)
    assert job["Operation"] == case.operation
    for member in case.shown:
        assert job[member] == case.create[member]


def _arguments(member: str, value: Any) -> list[str]:
    """A boolean member is a flag (``--batch-ops-dry-run`` / ``--no-batch-ops-dry-run``); others take JSON."""
    if isinstance(value, bool):
        return [_option(member) if value else _option(member).replace("--", "--no-", 1)]
    return [_option(member), json.dumps(value)]


def _option(member: str) -> str:
    """The AWS CLI's option for a CreateJob member: BatchOpsFailureThreshold → --batch-ops-failure-threshold."""
    words = "".join(f"-{c.lower()}" if c.isupper() else c for c in member)
    return f"-{words}"
