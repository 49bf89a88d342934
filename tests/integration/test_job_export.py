"""Jobs as code, the other way: a job made through the API (every setting a job file holds) exported as a job file
by `batchops job export` and by the console is the same file, and `batchops job apply` of it makes a job with the
same settings; a job over a generated manifest, a retention time and a dry run survive the round trip too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import batchops
from batchops.devstore import LocalSeaweed
from tests.integration.test_cli_jobs import ok, run
from tests.support.console import console_session
from tests.support.jobs import put_manifest, put_objects
from tests.support.server import ACCESS_KEY, ACCOUNT, SECRET_KEY, Server

pytestmark = pytest.mark.integration

#: The DescribeJob members a job file carries, compared between a job and the job its exported file makes.
CARRIED = (
    "Description",
    "Priority",
    "ConfirmationRequired",
    "RoleArn",
    "Operation",
    "Manifest",
    "ManifestGenerator",
    "Report",
    "BatchOpsFailureThreshold",
    "BatchOpsMaxRequestsPerSecond",
    "BatchOpsMaxTasksInFlight",
    "BatchOpsThen",
    "BatchOpsDryRun",
)


def _client(server: Server, seaweed: LocalSeaweed) -> batchops.Client:
    return batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)


def _round_trip(server: Server, seaweed: LocalSeaweed, job_id: str, tmp_path: Path) -> dict[str, Any]:
    """Export the job by the CLI (and check the console gives the same file), apply it; the new job."""
    exported = ok(run(server.url, seaweed, "export", job_id))
    browser, _ = console_session(server)
    page = browser.get(f"/jobs/{job_id}")
    assert f'/jobs/{job_id}/job.yaml"' in page.text
    assert browser.get(f"/jobs/{job_id}/job.yaml").text == exported
    path = tmp_path / "job.yaml"
    path.write_text(exported)
    checked = ok(run(server.url, seaweed, "apply", str(path), "--dry-run"))
    assert "is valid" in checked
    made = ok(run(server.url, seaweed, "apply", str(path))).split()
    assert made[0] == "job" and made[2] == "created"
    return _client(server, seaweed).describe_job(made[1])


def _same_settings(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert {k: first.get(k) for k in CARRIED} == {k: second.get(k) for k in CARRIED}


def test_a_job_with_every_setting_comes_back_the_same(
    start_server: Any, s3: Any, new_bucket: Any, seaweed: LocalSeaweed, tmp_path: Path
) -> None:
    server = start_server()
    client = _client(server, seaweed)
    source, reports = new_bucket(), new_bucket()
    put_objects(s3, source, ["a"])
    location = put_manifest(s3, source, [f"{source},a"])
    job_id = client.create_job(
        operation={"S3PutObjectTagging": {"TagSet": [{"Key": "k: v", "Value": "ü: a - b = c"}]}},
        manifest_arn=location["ObjectArn"],
        description="exported: 'quotes' and \"more\"",
        priority=42,
        confirmation_required=True,
        report_bucket=reports,
        report_prefix="exp/orts",
        report_scope="FailedTasksOnly",
        max_requests_per_second=12.5,
        max_tasks_in_flight=3,
        failure_threshold={"MinTasks": 7, "Percent": 12.5},
        then=[{"S3DeleteObjectTagging": {}}],
    )
    _same_settings(client.describe_job(job_id), _round_trip(server, seaweed, job_id, tmp_path))


def test_a_generated_manifest_a_retention_date_and_a_dry_run_come_back_the_same(
    start_server: Any, s3: Any, new_bucket: Any, seaweed: LocalSeaweed, tmp_path: Path
) -> None:
    server = start_server()
    client = _client(server, seaweed)
    source = new_bucket(object_lock=True)
    put_objects(s3, source, ["a"])
    job_id = client.create_job(
        operation={
            "S3PutObjectRetention": {"Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": "2031-02-03T04:05:06Z"}}
        },
        manifest_generator={
            "SourceBucket": f"arn:aws:s3:::{source}",
            "EnableManifestOutput": False,
            "Filter": {"KeyNameConstraint": {"MatchAnyPrefix": ["a"]}},
        },
        dry_run=True,
    )
    browser, _ = console_session(server)
    page = browser.get(f"/jobs/{job_id}").text  # a generated manifest's job page says where its rows come from
    assert 'data-testid="manifest-generator"' in page and f"{source}</span>" in page and "prefix" in page
    _same_settings(client.describe_job(job_id), _round_trip(server, seaweed, job_id, tmp_path))
