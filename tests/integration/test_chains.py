"""Job chains (issue 14) against a real server and SeaweedFS, on both job databases: tag -> copy -> delete the
source runs each step over the tasks the step before it succeeded on, and touches nothing else; DescribeJob shows
the chain from each of its jobs; a step that succeeds on no task stops the chain there with its reason; cancelling
the chain (through its first, completed job) cancels its running step and starts no later one; the CLI creates one
and describes it; a bad chain is refused on both wires."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import unquote

import pytest

import batchops
from batchops.devstore import LocalSeaweed
from batchops.errors import RequestRefused
from tests.integration.test_cli_jobs import ok, run
from tests.support.console import console_session
from tests.support.cos import assert_cos_error, cos_request, create_body, create_cos_job, put_cos_manifest
from tests.support.jobs import put_manifest, put_objects, read_report, wait_for
from tests.support.server import ACCESS_KEY, ACCOUNT, SECRET_KEY, Server

pytestmark = pytest.mark.integration

TAG = {"S3PutObjectTagging": {"TagSet": [{"Key": "stage", "Value": "tagged"}]}}
DELETE: dict[str, Any] = {"S3DeleteObject": {}}


def _client(server: Server) -> batchops.Client:
    return batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY)


def _copy_to(bucket: str) -> dict[str, Any]:
    return {"S3PutObjectCopy": {"TargetResource": f"arn:aws:s3:::{bucket}"}}


def _keys(s3: Any, bucket: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def _chain_ended(client: batchops.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        chain = client.describe_job(job_id)["BatchOpsChain"]
        return chain if chain["State"] != "Running" else None

    return dict(wait_for(ended, timeout=timeout, what=f"the chain of {job_id} to end"))


def test_tag_then_copy_then_delete_runs_each_step_over_the_last_ones_successes(
    start_server: Any, s3: Any, new_bucket: Any
) -> None:
    server = start_server()
    client = _client(server)
    source, target, reports = new_bucket(), new_bucket(), new_bucket()
    listed = [f"in/{n:03d} ü+%" for n in range(30)]
    put_objects(s3, source, [*listed, "not-listed"])
    rows = [f"{source},{key}" for key in listed] + [f"{source},missing-{n}" for n in range(3)]
    location = put_manifest(s3, source, [row.replace("%", "%25").replace("+", "%2B") for row in rows])

    first = client.create_job(
        operation=TAG,
        manifest_arn=location["ObjectArn"],
        manifest_etag=location["ETag"],
        report_bucket=reports,
        report_prefix="reports",
        then=[_copy_to(target), DELETE],
    )
    chain = _chain_ended(client, first)

    assert chain["State"] == "Complete" and "Reason" not in chain
    steps = chain["Steps"]
    assert [(s["Number"], s["Operation"], s["Status"]) for s in steps] == [
        (1, "S3PutObjectTagging", "Complete"),
        (2, "S3PutObjectCopy", "Complete"),
        (3, "S3DeleteObject", "Complete"),
    ]
    # every job of the chain shows the same chain, and its own place in it
    for number, step in enumerate(steps, start=1):
        described = client.describe_job(step["JobId"])
        assert described["BatchOpsChain"]["Steps"] == steps and described["BatchOpsChain"]["Position"] == number
    progress = [client.describe_job(s["JobId"])["ProgressSummary"] for s in steps]
    assert [(p["TotalNumberOfTasks"], p["NumberOfTasksFailed"]) for p in progress] == [(33, 3), (30, 0), (30, 0)]
    # the copies carry the tag step 1 set; the source keeps only what the manifest did not list
    assert _keys(s3, target) == set(listed)
    tags = s3.get_object_tagging(Bucket=target, Key=listed[0])["TagSet"]
    assert tags == [{"Key": "stage", "Value": "tagged"}]
    assert _keys(s3, source) - {location["ObjectArn"].split(":::", 1)[1].split("/", 1)[1]} == {"not-listed"}
    _, report = read_report(s3, reports, steps[2]["JobId"])
    assert sorted(unquote(row[1]) for row in report) == sorted(listed)  # keys URL-encoded, as in manifests

    # the console's page of the middle step shows the chain, links the others, and marks its own place
    browser, _ = console_session(server)
    page = browser.get(f"/jobs/{steps[1]['JobId']}").text
    assert 'data-testid="chain-steps"' in page and "Step <strong>2</strong> of 3" in page
    assert f'/jobs/{steps[0]["JobId"]}"' in page and f'/jobs/{steps[2]["JobId"]}"' in page
    assert "chain <strong>complete</strong>" in browser.get(f"/api/jobs/{first}").json()["parts"]["chain"]


def test_a_step_that_succeeds_on_nothing_stops_the_chain_with_its_reason(
    start_server: Any, s3: Any, new_bucket: Any
) -> None:
    server = start_server()
    client = _client(server)
    source = new_bucket()
    put_objects(s3, source, ["kept"])
    location = put_manifest(s3, source, [f"{source},missing-a", f"{source},missing-b"])
    first = client.create_job(
        operation=TAG, manifest_arn=location["ObjectArn"], manifest_etag=location["ETag"], then=[DELETE]
    )
    chain = _chain_ended(client, first)

    assert chain["State"] == "Stopped"
    assert "step 1 (S3PutObjectTagging" in chain["Reason"] and "succeeded on no task" in chain["Reason"]
    assert "JobId" not in chain["Steps"][1]  # the delete never ran
    assert client.describe_job(first)["Status"] == "Complete"
    assert "kept" in _keys(s3, source)


def test_cancelling_a_chain_cancels_its_running_step_and_starts_no_later_one(
    start_server: Any, s3: Any, new_bucket: Any
) -> None:
    server = start_server()
    client = _client(server)
    source, target = new_bucket(), new_bucket()
    keys = [f"k{n:04d}" for n in range(400)]
    put_objects(s3, source, keys)
    location = put_manifest(s3, source, [f"{source},{key}" for key in keys])
    first = client.create_job(
        operation={"BatchOpsNoOp": {}},
        manifest_arn=location["ObjectArn"],
        manifest_etag=location["ETag"],
        max_requests_per_second=40,  # the copy step takes 10 s: time to cancel it while it runs
        then=[_copy_to(target), DELETE],
    )

    def copy_running() -> str | None:
        step = client.describe_job(first)["BatchOpsChain"]["Steps"][1]
        return step.get("JobId") if step.get("Status") == "Active" else None

    copy_job = str(wait_for(copy_running, timeout=60, what="the copy step running"))
    assert client.cancel(first) in {"Cancelling", "Cancelled"}  # the chain's first job: Complete, so its step

    chain = _chain_ended(client, first)
    assert chain["State"] == "Stopped" and f"job {copy_job}) ended Cancelled" in chain["Reason"]
    assert client.describe_job(first)["Status"] == "Complete"
    assert "JobId" not in chain["Steps"][2]
    assert _keys(s3, source) >= set(keys)  # the delete step never ran


def test_the_cli_creates_a_chain_and_describes_where_it_is(
    start_server: Any, s3: Any, new_bucket: Any, seaweed: LocalSeaweed
) -> None:
    server = start_server()
    source = new_bucket()
    put_objects(s3, source, ["x"])
    location = put_manifest(s3, source, [f"{source},x"])
    job_id = ok(
        run(
            server.url,
            seaweed,
            "create",
            "--no-confirmation-required",
            "--operation-json",
            '{"BatchOpsNoOp": {}}',
            "--manifest-arn",
            location["ObjectArn"],
            "--then-json",
            '{"S3DeleteObject": {}}',
        )
    ).strip()
    _chain_ended(_client(server), job_id)
    shown = ok(run(server.url, seaweed, "describe", job_id))
    assert "step 1 of 2, Complete" in shown and "2 S3DeleteObject (job" in shown
    assert "x" not in _keys(s3, source)

    refused = run(server.url, seaweed, "create", "--operation-json", '{"BatchOpsNoOp": {}}', "--then-json", "[1]")
    assert refused.returncode == 2 and "--then-json must be an object with one operation" in refused.stderr


def test_a_job_file_with_then_applies_as_a_chain(
    start_server: Any, s3: Any, new_bucket: Any, seaweed: LocalSeaweed
) -> None:
    server = start_server()
    client = batchops.Client(server.url, ACCOUNT, ACCESS_KEY, SECRET_KEY, s3_endpoint=seaweed.endpoint)
    source = new_bucket()
    put_objects(s3, source, ["a", "b"])
    location = put_manifest(s3, source, [f"{source},a"])
    text = f"""
manifest: {{arn: "{location["ObjectArn"]}"}}
operation: {{BatchOpsNoOp: {{}}}}
then:
  - S3DeleteObject: {{}}
"""
    applied = client.apply(text)
    assert applied.created and applied.job_id is not None
    assert _chain_ended(client, applied.job_id)["State"] == "Complete"
    assert client.apply(text).job_id == applied.job_id  # applied again: the same chain, not a second one
    left = _keys(s3, source)
    assert "a" not in left and "b" in left
    # no report bucket: the step's manifest sits in the manifest's bucket, under the first job's folder
    assert f"job-{applied.job_id}/chain/step-2.csv" in left


def test_the_console_creates_a_chain_and_refuses_steps_that_are_not_operations(
    start_server: Any, s3: Any, new_bucket: Any
) -> None:
    server = start_server()
    source, target = new_bucket(), new_bucket()
    put_objects(s3, source, ["k"])
    browser, token = console_session(server)
    assert 'name="then_json"' in browser.get("/jobs/new").text

    def post(then: str) -> Any:
        fields = {
            "csrf_token": token,
            "client_request_token": str(uuid.uuid4()),
            "manifest_source": "upload",
            "upload_bucket": source,
            "manifest_fields": "Bucket,Key",
            "operation": "S3DeleteObjectTagging",
            "priority": "10",
            "role_arn": f"arn:aws:iam::{ACCOUNT}:role/batchops",
            "then_json": then,
        }
        manifest = f"{source},k\n".encode()
        return browser.post("/jobs/new", data=fields, files={"manifest_file": ("m.csv", manifest, "text/csv")})

    refused = post('[{"S3PutObjectCopy": {"TargetBucket": "x"}}]')
    assert refused.status_code == 400 and "not operations as createjob takes them" in refused.text.lower()
    assert "TargetBucket" in refused.text
    assert "write the follow-up steps as a list" in post('{"S3DeleteObject": {}}').text.lower()

    answer = post(json.dumps([_copy_to(target)]))
    assert answer.status_code == 303, answer.text[:2000]
    job_id = answer.headers["location"].rsplit("/", 1)[-1]
    chain = _chain_ended(_client(server), job_id)
    assert chain["State"] == "Complete" and [s["Operation"] for s in chain["Steps"]] == [
        "S3DeleteObjectTagging",
        "S3PutObjectCopy",
    ]
    assert _keys(s3, target) == {"k"}


@pytest.mark.job_databases("sqlite", reason="refused before a job exists: the edge's rule, not the store's")
def test_a_bad_chain_is_refused_on_both_wires(start_server: Any, s3: Any, new_bucket: Any) -> None:
    server = start_server()
    client = _client(server)
    source = new_bucket()
    location = put_manifest(s3, source, [f"{source},x"])
    arn, etag = location["ObjectArn"], location["ETag"]
    with pytest.raises(RequestRefused, match="Operation must contain exactly one operation element"):
        client.create_job(operation=TAG, manifest_arn=arn, manifest_etag=etag, then=[{}])
    with pytest.raises(RequestRefused, match="a chain has at most 10 steps"):
        client.create_job(operation=TAG, manifest_arn=arn, manifest_etag=etag, then=[DELETE] * 10)

    cos_arn, cos_etag = put_cos_manifest(s3, source, [f"{source},x"])

    def cos_chain(step: str) -> bytes:
        body = create_body(cos_arn, cos_etag, "<COSDeleteObject/>", confirmation=True)
        then = f"<BatchOpsThen><Operation>{step}</Operation></BatchOpsThen></CreateJobRequest>"
        return body.replace(b"</CreateJobRequest>", then.encode())

    assert_cos_error(
        cos_request(server, "POST", "/jobs", body=cos_chain("<S3DeleteObject/>")),
        400,
        "InvalidArgument",
        "not an operation of this API",
    )
    job_id = create_cos_job(server, cos_chain("<COSDeleteObject/>"))
    described = cos_request(server, "GET", f"/jobs/{job_id}")
    assert described.xml is not None
    assert described.xml.findtext(".//BatchOpsThen/Operation/COSDeleteObject") is not None
    assert described.xml.findtext(".//BatchOpsChain/Steps/Step/Operation") == "COSDeleteObject"
    assert described.xml.findtext(".//BatchOpsChain/State") == "Running"
