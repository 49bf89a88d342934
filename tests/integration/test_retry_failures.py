"""Retry the failures (issue 14) against a real server and SeaweedFS, on both job databases: a tagging job whose
missing objects fail is retried through boto3 (the overlay's ``batch_ops_retry_job``), the Python client, the CLI
and the console; the retry's manifest names exactly the failed keys (hostile ones included), its report says
what happened to each, DescribeJob links both ways, error codes filter, and nothing to retry is a clear error."""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pytest
from botocore.exceptions import ClientError
from hypothesis import given

import batchops
from batchops.arns import parse_object_arn
from batchops.devstore import LocalSeaweed
from tests.integration.test_awscli import AwsCli
from tests.integration.test_cli_jobs import ok, run
from tests.support.console import console_session
from tests.support.cos import cos_request
from tests.support.jobs import create_job, describe, put_manifest, read_report, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server, hooked
from tests.support.strategies import missing_keys, one_real_example

pytestmark = pytest.mark.integration

TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "retried", "Value": "yes"}]}}
NO_BUCKET = "no-such-bucket-for-retries"
#: A key missing when the parent runs and put before its retry: the retry's one success.
COMES_BACK = "gone/comes-back"





#: Keys every parent job fails on whatever is drawn: commas, quotes, a newline, a percent, NUL.
FIXED_MISSING = ["gone/comma,key", 'gone/quote"key', "gone/new\nline", "gone/pct%2F%zz", "gone/nul\x00key"]


def manifest_rows(s3: Any, job: dict[str, Any]) -> list[tuple[str, str]]:
    """The (bucket, key) rows of a job's CSV manifest, keys URL-decoded: what the job will act on."""
    bucket, key = parse_object_arn(job["Manifest"]["Location"]["ObjectArn"])
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    assert job["Manifest"]["Spec"]["Fields"] == ["Bucket", "Key"]
    return [(row[0], unquote(row[1], errors="strict")) for row in csv.reader(io.StringIO(body))]


def report_outcomes(s3: Any, reports: str, job_id: str) -> dict[str, tuple[str, str]]:
    """Key → (TaskStatus, ErrorCode) from a job's written report."""
    _, rows = read_report(s3, reports, job_id)
    return {unquote(row[1]): (row[3], row[4]) for row in rows}


def make_parent(s3: Any, control: Any, bucket: str, reports: str, missing: list[str]) -> str:
    """A tagging job over two objects that exist, ``missing`` keys that do not (NoSuchKey) and one object in a
    bucket that does not exist (NoSuchBucket); it ends Complete with every missing key failed."""
    s3.put_object(Bucket=bucket, Key="here/a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="here/b", Body=b"b")
    rows = [f"{bucket},here/a", f"{bucket},here/b", *(f"{bucket},{quote(k, safe='/')}" for k in missing)]
    rows.append(f"{NO_BUCKET},lost")
    job_id = create_job(control, put_manifest(s3, bucket, rows), TAGGING, report_bucket=reports)
    job = wait_status(control, job_id, "Complete")
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == len(missing) + 1
    return job_id


@one_real_example
@given(drawn=missing_keys)
def test_a_retry_runs_exactly_the_failed_tasks_again_and_links_both_ways(
    server: Server, s3: Any, new_bucket: Callable[..., str], drawn: list[str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    missing = [COMES_BACK, *sorted(set(FIXED_MISSING + drawn))]
    control = hooked(server)
    parent_id = make_parent(s3, control, bucket, reports, missing)
    s3.put_object(Bucket=bucket, Key=COMES_BACK, Body=b"now here")  # the retry's one success

    token = uuid.uuid4().hex
    retry_id = control.batch_ops_retry_job(AccountId=ACCOUNT, JobId=parent_id, ClientRequestToken=token)["JobId"]
    replayed = control.batch_ops_retry_job(AccountId=ACCOUNT, JobId=parent_id, ClientRequestToken=token)["JobId"]

    assert replayed == retry_id != parent_id
    retry = wait_status(control, retry_id, "Complete")
    rows = manifest_rows(s3, retry)
    assert sorted(rows) == sorted([(bucket, key) for key in missing] + [(NO_BUCKET, "lost")])
    manifest_key = parse_object_arn(retry["Manifest"]["Location"]["ObjectArn"])[1]
    assert manifest_key.startswith(f"reports/job-{parent_id}/retries/")
    outcomes = report_outcomes(s3, reports, retry_id)
    assert sorted(outcomes) == sorted([*missing, "lost"])
    assert outcomes[COMES_BACK] == ("succeeded", "")
    assert {outcomes[key][0] for key in [*missing[1:], "lost"]} == {"failed"}
    assert s3.get_object_tagging(Bucket=bucket, Key=COMES_BACK)["TagSet"] == [{"Key": "retried", "Value": "yes"}]

    parent = describe(control, parent_id)
    assert parent["BatchOpsRetries"] == [retry_id]
    assert "BatchOpsRetryOf" not in parent
    assert retry["BatchOpsRetryOf"] == parent_id
    same = ("Operation", "Priority", "RoleArn", "Report", "BatchOpsFailureThreshold")
    assert {name: retry[name] for name in same} == {name: parent[name] for name in same}
    assert retry["ProgressSummary"]["TotalNumberOfTasks"] == len(missing) + 1


def test_error_codes_filter_and_nothing_to_retry_is_a_clear_error(
    server: Server, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    control = hooked(server)
    parent_id = make_parent(s3, control, bucket, reports, ["gone/x", "gone/y"])
    codes = {code for _, code in report_outcomes(s3, reports, parent_id).values() if code}
    assert "NoSuchBucket" in codes and len(codes) == 2, codes

    asked = {"AccountId": ACCOUNT, "JobId": parent_id, "ClientRequestToken": "codes-1"}
    only = control.batch_ops_retry_job(**asked, ErrorCodes=["NoSuchBucket"])["JobId"]
    with pytest.raises(ClientError) as conflict:  # the same token for another retry: refused, nothing overwritten
        control.batch_ops_retry_job(**asked, ErrorCodes=["NoSuchKey"])
    assert conflict.value.response["Error"]["Code"] == "IdempotencyException"
    assert manifest_rows(s3, wait_status(control, only, {"Complete", "Failed"})) == [(NO_BUCKET, "lost")]

    with pytest.raises(ClientError) as nothing:
        control.batch_ops_retry_job(AccountId=ACCOUNT, JobId=parent_id, ErrorCodes=["NoSuchThing"])
    error = nothing.value.response["Error"]
    assert error["Code"] == "BadRequestException"
    assert f"job {parent_id} has no failed task with error code NoSuchThing" in error["Message"]
    assert "NoSuchBucket" in error["Message"]  # it names the codes there are

    s3.put_object(Bucket=bucket, Key="all-good", Body=b"x")
    clean_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},all-good"]), TAGGING)
    wait_status(control, clean_id, "Complete")
    with pytest.raises(ClientError, match=f"job {clean_id} has no failed tasks to retry"):
        control.batch_ops_retry_job(AccountId=ACCOUNT, JobId=clean_id)
    assert describe(control, clean_id).get("BatchOpsRetries") is None  # no empty job was made

    waiting_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},all-good"]), TAGGING, confirmation=True)
    wait_status(control, waiting_id, "Suspended")
    with pytest.raises(ClientError) as unfinished:
        control.batch_ops_retry_job(AccountId=ACCOUNT, JobId=waiting_id)
    assert unfinished.value.response["Error"]["Code"] == "JobStatusException"
    assert "only a finished job" in unfinished.value.response["Error"]["Message"]


def test_a_job_without_a_report_gets_its_retry_manifest_in_its_manifest_bucket(
    server: Server, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket = new_bucket()
    control = hooked(server)
    parent_id = create_job(control, put_manifest(s3, bucket, [f"{bucket},gone/1"]), TAGGING)
    wait_status(control, parent_id, "Complete")

    retry_id = control.batch_ops_retry_job(AccountId=ACCOUNT, JobId=parent_id)["JobId"]

    retry = wait_status(control, retry_id, "Complete")
    arn_bucket, key = parse_object_arn(retry["Manifest"]["Location"]["ObjectArn"])
    assert (arn_bucket, key.split("/retries/")[0]) == (bucket, f"job-{parent_id}")
    assert manifest_rows(s3, retry) == [(bucket, "gone/1")]
    assert retry["Report"] == {"Enabled": False}


def test_the_client_the_cli_and_the_console_retry(
    server: Server, seaweed: LocalSeaweed, s3: Any, new_bucket: Callable[..., str]
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    control = hooked(server)
    parent_id = make_parent(s3, control, bucket, reports, ["gone/one"])
    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)

    by_client = client.retry_job(parent_id, error_codes=["NoSuchBucket"], client_request_token="client-1")
    assert client.retry_job(parent_id, error_codes=["NoSuchBucket"], client_request_token="client-1") == by_client
    with pytest.raises(batchops.client.RequestRefused, match="no failed task with error code Nope") as refused:
        client.retry_job(parent_id, error_codes=["Nope"])
    assert refused.value.code == "BadRequestException"

    answer = json.loads(
        ok(run(server.url, seaweed, "retry", parent_id, "--error-code", "NoSuchKey", "--output", "json"))
    )
    assert answer["RetryOf"] == parent_id
    by_cli = answer["JobId"]
    assert manifest_rows(s3, wait_status(control, by_cli, "Complete")) == [(bucket, "gone/one")]
    shown = ok(run(server.url, seaweed, "describe", by_cli))
    assert "Retry of" in shown and parent_id in shown
    refused_cli = run(server.url, seaweed, "retry", parent_id, "--error-code", "Nope")
    assert refused_cli.returncode != 0 and "no failed task with error code Nope" in refused_cli.stderr
    assert "Traceback" not in refused_cli.stderr

    browser, csrf = console_session(server)
    page = browser.get(f"/jobs/{parent_id}").text
    assert 'data-testid="retry-form"' in page and by_client in page and by_cli in page
    posted = browser.post(
        f"/jobs/{parent_id}/retry", data={"csrf_token": csrf, "client_request_token": "console-1", "error_codes": ""}
    )
    assert posted.status_code == 303
    by_console = posted.headers["location"].rsplit("/", 1)[-1]
    assert by_console not in (parent_id, by_client, by_cli)
    again = browser.post(
        f"/jobs/{parent_id}/retry", data={"csrf_token": csrf, "client_request_token": "console-1", "error_codes": ""}
    )
    assert again.headers["location"].endswith(f"/jobs/{by_console}")  # a form sent twice retries once
    retry_page = browser.get(f"/jobs/{by_console}").text
    assert 'data-testid="retry-of"' in retry_page and parent_id in retry_page
    expected = sorted([(bucket, "gone/one"), (NO_BUCKET, "lost")])
    assert sorted(manifest_rows(s3, wait_status(control, by_console, "Complete"))) == expected
    assert describe(control, parent_id)["BatchOpsRetries"] == [by_client, by_cli, by_console]


def test_manifest_rows_that_name_no_object_are_not_retried(
    server: Server, s3: Any, new_bucket: Callable[..., str]
) -> None:
    """A row that is not UTF-8 (raw, or percent-encoded) failed before naming an object: it would fail the same
    way again, so the retry leaves it out, and a job with only such failures has nothing to retry."""
    bucket = new_bucket()
    control = hooked(server)
    body = f"{bucket},gone/real\n{bucket},gone/raw-\xff\n{bucket},gone/pct-%FF\n".encode("latin-1")
    etag = s3.put_object(Bucket=bucket, Key="bad.csv", Body=body)["ETag"]
    location = {"ObjectArn": f"arn:aws:s3:::{bucket}/bad.csv", "ETag": etag}
    parent_id = create_job(control, location, TAGGING)
    assert wait_status(control, parent_id, "Complete")["ProgressSummary"]["NumberOfTasksFailed"] == 3

    retry_id = control.batch_ops_retry_job(AccountId=ACCOUNT, JobId=parent_id)["JobId"]
    assert manifest_rows(s3, wait_status(control, retry_id, "Complete")) == [(bucket, "gone/real")]

    only_bad = b"%s,gone/raw-\xff\n" % bucket.encode()
    etag = s3.put_object(Bucket=bucket, Key="only-bad.csv", Body=only_bad)["ETag"]
    bad_id = create_job(control, {"ObjectArn": f"arn:aws:s3:::{bucket}/only-bad.csv", "ETag": etag}, TAGGING)
    wait_status(control, bad_id, "Complete")
    with pytest.raises(ClientError, match="manifest rows that name no object"):
        control.batch_ops_retry_job(AccountId=ACCOUNT, JobId=bad_id)


def test_the_cos_wire_retries_and_describes_the_links(server: Server, s3: Any, new_bucket: Callable[..., str]) -> None:
    bucket, reports = new_bucket(), new_bucket()
    control = hooked(server)
    parent_id = make_parent(s3, control, bucket, reports, ["gone/cos"])
    body = b"<RetryJobRequest><ErrorCodes><ErrorCode>NoSuchBucket</ErrorCode></ErrorCodes></RetryJobRequest>"

    answer = cos_request(server, "POST", f"/jobs/{parent_id}/batchops-retry", body=body)

    assert answer.status == 200, answer.xml
    retry_id = answer.text("JobId")
    assert retry_id and retry_id != parent_id
    assert manifest_rows(s3, wait_status(control, retry_id, {"Complete", "Failed"})) == [(NO_BUCKET, "lost")]
    described = cos_request(server, "GET", f"/jobs/{parent_id}")
    assert [e.text for e in described.xml.findall("Job/BatchOpsRetries/JobId")] == [retry_id]  # type: ignore[union-attr]
    assert cos_request(server, "GET", f"/jobs/{retry_id}").text("Job/BatchOpsRetryOf") == parent_id
    refused = cos_request(
        server, "POST", f"/jobs/{parent_id}/batchops-retry", body=body.replace(b"NoSuchBucket", b"Nope")
    )
    assert (refused.status, refused.text("Code")) == (400, "InvalidArgument")
    assert "no failed task with error code Nope" in (refused.text("Message") or "")


def test_the_aws_cli_with_the_plugin_retries(
    server: Server, s3: Any, new_bucket: Callable[..., str], tmp_path: Path
) -> None:
    bucket, reports = new_bucket(), new_bucket()
    parent_id = make_parent(s3, hooked(server), bucket, reports, ["gone/aws"])
    aws = AwsCli(tmp_path / "home", server.url)
    assert aws.run("configure", "set", "plugins.batchops", "batchops.awscli_plugin").returncode == 0

    answer = aws.s3control("batch-ops-retry-job", "--job-id", parent_id, "--error-codes", "NoSuchKey")

    assert aws.describe(answer["JobId"])["BatchOpsRetryOf"] == parent_id
    assert aws.describe(parent_id)["BatchOpsRetries"] == [answer["JobId"]]
