"""Accounts from a config file: each sees only its own jobs, runs them with its roles' store keys, within limits.

The accounts' API keys are not the store's keys: only their declared roles carry the store's keys, so a job
that completes proves the engine acted with its role's credentials.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.jobs import put_manifest, put_objects, wait_status
from tests.support.s3 import SECRET_KEY
from tests.support.server import s3control_client
from tests.support.tenancy import CONFIG, KEYS, A, B, client, create

pytestmark = pytest.mark.integration

@pytest.fixture
def tenants(start_server: Any, tmp_path: Path) -> Any:
    config = tmp_path / "accounts.toml"
    config.write_text(CONFIG)
    return start_server("--config", str(config), "--log-level", "debug")


@pytest.fixture
def json_tenants(start_server: Any, tmp_path: Path) -> Any:
    """The same accounts, logging one JSON object per line."""
    config = tmp_path / "accounts.toml"
    config.write_text(CONFIG)
    return start_server("--config", str(config), "--log-level", "debug", "--log-format", "json")


def error_of(call: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_an_account_cannot_see_or_change_another_accounts_jobs(tenants: Any, s3: Any, new_bucket: Any) -> None:
    a, b = client(tenants, A), client(tenants, B)
    bucket = new_bucket()
    job = create(a, A, put_manifest(s3, bucket, [f"{bucket},k"]), Tags=[{"Key": "owner", "Value": "a"}])
    wait_status(a, job, "Suspended", account=A)
    attempts = {
        "describe": lambda: b.describe_job(AccountId=B, JobId=job),
        "priority": lambda: b.update_job_priority(AccountId=B, JobId=job, Priority=99),
        "status": lambda: b.update_job_status(AccountId=B, JobId=job, RequestedJobStatus="Cancelled"),
        "get tags": lambda: b.get_job_tagging(AccountId=B, JobId=job),
        "put tags": lambda: b.put_job_tagging(AccountId=B, JobId=job, Tags=[{"Key": "owner", "Value": "b"}]),
        "delete tags": lambda: b.delete_job_tagging(AccountId=B, JobId=job),
    }
    for what, attempt in attempts.items():
        assert error_of(attempt)[0] == "NotFoundException", what
    assert b.list_jobs(AccountId=B)["Jobs"] == []
    assert [j["JobId"] for j in a.list_jobs(AccountId=A)["Jobs"]] == [job]
    # nothing changed for its owner
    described = a.describe_job(AccountId=A, JobId=job)["Job"]
    assert (described["Status"], described["Priority"]) == ("Suspended", 10)
    assert a.get_job_tagging(AccountId=A, JobId=job)["Tags"] == [{"Key": "owner", "Value": "a"}]
    # and B's keys cannot speak for A
    assert error_of(lambda: b.describe_job(AccountId=A, JobId=job))[0] == "AccessDenied"


def test_jobs_run_with_their_roles_store_keys(tenants: Any, s3: Any, new_bucket: Any) -> None:
    a = client(tenants, A)
    bucket = new_bucket()
    put_objects(s3, bucket, ["x", "y"])
    job = create(a, A, put_manifest(s3, bucket, [f"{bucket},x", f"{bucket},y"]), ConfirmationRequired=False)
    done = wait_status(a, job, {"Complete", "Failed"}, account=A)
    assert done["Status"] == "Complete", done
    assert done["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    assert s3.get_object_tagging(Bucket=bucket, Key="x")["TagSet"] == [{"Key": "project", "Value": "batchops"}]


def test_a_role_not_declared_for_the_account_is_refused(tenants: Any, s3: Any, new_bucket: Any) -> None:
    a = client(tenants, A)
    bucket = new_bucket()
    code, message = error_of(lambda: create(a, A, put_manifest(s3, bucket, [f"{bucket},k"]), role="other"))
    assert code == "BadRequestException"
    assert f"arn:aws:iam::{A}:role/other is not declared" in message
    assert f"arn:aws:iam::{A}:role/batch" in message


def test_too_many_unfinished_jobs(tenants: Any, s3: Any, new_bucket: Any) -> None:
    b = client(tenants, B)
    bucket = new_bucket()
    location = put_manifest(s3, bucket, [f"{bucket},k"])
    first = create(b, B, location)
    code, message = error_of(lambda: create(b, B, location))
    assert code == "TooManyRequestsException"
    assert "limit is 1" in message
    b.update_job_status(AccountId=B, JobId=first, RequestedJobStatus="Cancelled")
    wait_status(b, first, "Cancelled", account=B)
    assert create(b, B, location)


def test_no_secret_in_logs_responses_or_reports(tenants: Any, s3: Any, new_bucket: Any) -> None:
    job, answers = run_and_refuse(tenants, s3, new_bucket)
    log = (tenants.data_dir / "server.log").read_text(errors="replace")
    assert "DEBUG" in log  # the most talkative level was on
    # The access log and the status log spoke, and name no credential (botocore's own DEBUG lines show the
    # signatures of the store calls: those are its, not the API's).
    ours = "\n".join(line for line in log.splitlines() if " batchops.access: " in line or " batchops.jobs: " in line)
    assert f"POST /v20180820/jobs account {A}: 200 in " in ours and f"job {job}: Completing -> Complete" in ours
    assert "GET /v20180820/jobs account -: 403 in " in ours  # the request signed with a wrong secret
    assert_no_credential(ours, log, answers)


def test_no_secret_in_json_log_lines(json_tenants: Any, s3: Any, new_bucket: Any) -> None:
    job, answers = run_and_refuse(json_tenants, s3, new_bucket)
    log = (json_tenants.data_dir / "server.log").read_text(errors="replace")
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]  # each line one JSON object
    assert any(line["level"] == "DEBUG" for line in lines)
    ours = [line for line in lines if line["logger"] in ("batchops.access", "batchops.jobs")]
    access = [(line["method"], line["route"], line["account"], line["status"]) for line in ours if "route" in line]
    assert ("POST", "/v20180820/jobs", A, 200) in access
    assert ("GET", "/v20180820/jobs", "-", 403) in access  # the request signed with a wrong secret
    moves = [(line["job_id"], line["from_status"], line["to_status"]) for line in ours if "to_status" in line]
    assert (job, "Completing", "Complete") in moves
    assert_no_credential("\n".join(json.dumps(line) for line in ours), log, answers)


def run_and_refuse(tenants: Any, s3: Any, new_bucket: Any) -> tuple[str, list[str]]:
    """A job of account A with a report, a refused role and a request signed with a wrong secret: the job's id and
    every answer and report the accounts were given."""
    a = client(tenants, A)
    bucket, reports = new_bucket(), new_bucket()
    put_objects(s3, bucket, ["x"])
    report = {
        "Enabled": True,
        "Bucket": f"arn:aws:s3:::{reports}",
        "Format": "Report_CSV_20180820",
        "Prefix": "r",
        "ReportScope": "AllTasks",
    }
    location = put_manifest(s3, bucket, [f"{bucket},x", f"{bucket},missing"])
    job = create(a, A, location, ConfirmationRequired=False, Report=report)
    answers = [str(wait_status(a, job, "Complete", account=A)), str(a.list_jobs(AccountId=A))]
    answers.append(error_of(lambda: create(a, A, location, role="nope"))[1])
    answers.append(error_of(lambda: s3control_client(tenants.url, KEYS[A][0], "bad").list_jobs(AccountId=A))[1])
    listed = s3.list_objects_v2(Bucket=reports).get("Contents", [])
    assert listed
    answers += [s3.get_object(Bucket=reports, Key=o["Key"])["Body"].read().decode() for o in listed]
    return job, answers


def assert_no_credential(ours: str, log: str, answers: list[str]) -> None:
    """Our access and status lines name no credential; no secret anywhere in the log or in an answer."""
    for credential in ("Signature", "Credential", "Authorization", KEYS[A][0], KEYS[B][0]):
        assert credential not in ours
    for secret in (KEYS[A][1], KEYS[B][1], SECRET_KEY):
        assert secret not in log
        for answer in answers:
            assert secret not in answer
