"""boto3 with ``batchops.boto3_hook``: every batchops extension goes out as a CreateJob parameter and comes back
in DescribeJob, against a real server; and a job of an extension operation runs through to the end."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ParamValidationError

import batchops
from tests.support.extensions import EXTENSIONS, Extension
from tests.support.jobs import put_manifest, wait_status
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import ACCOUNT, Server

pytestmark = pytest.mark.integration


def new_session() -> boto3.session.Session:
    return boto3.session.Session(aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY, region_name=REGION)


def hooked_client(server: Server) -> Any:
    return batchops.boto3_hook(new_session()).client("s3control", endpoint_url=server.url)


def plain_client(server: Server) -> Any:
    return new_session().client("s3control", endpoint_url=server.url)


def create(control: Any, case: Extension, manifest: dict[str, str]) -> str:
    arguments: dict[str, Any] = {
        "AccountId": ACCOUNT,
        "ConfirmationRequired": True,  # stays Suspended: what DescribeJob shows is what CreateJob stored
        "Operation": case.operation,
        "Report": {"Enabled": False},
        "Priority": 10,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/batch",
        **case.create,
    }
    if "ManifestGenerator" not in arguments:
        arguments["Manifest"] = {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": manifest,
        }
    return str(control.create_job(**arguments)["JobId"])


@pytest.mark.parametrize("case", EXTENSIONS, ids=lambda case: case.name)
def test_each_extension_is_sent_and_shown_by_boto3(case: Extension, server: Server, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    case = case.with_bucket(bucket)
    control = hooked_client(server)

    job_id = create(control, case, put_manifest(s3, bucket, [f"{bucket},k"]))

    job = wait_status(control, job_id, "Suspended")
    assert job["Operation"] == case.operation
    for member in case.shown:
        assert job[member] == case.create[member]


def test_a_job_of_an_extension_operation_runs_to_the_end(server: Server, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    for key in ("a", "b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    control = hooked_client(server)
    job_id = control.create_job(
        AccountId=ACCOUNT,
        ConfirmationRequired=False,
        Operation={"S3DeleteObject": {}},
        Report={"Enabled": False},
        Manifest={
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": put_manifest(s3, bucket, [f"{bucket},a", f"{bucket},b"], key="manifest.csv"),
        },
        Priority=10,
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/batch",
    )["JobId"]

    job = wait_status(control, job_id, "Complete")

    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])] == ["manifest.csv"]


def test_the_default_session_form(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a fresh default session, left as it was afterwards
    batchops.boto3_hook()
    control = boto3.client(
        "s3control",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    assert control.list_jobs(AccountId=ACCOUNT)["Jobs"] == []
    with pytest.raises(ParamValidationError, match=r"Unknown parameter in Operation\.BatchOpsNoOp"):
        control.create_job(**_minimal(Operation={"BatchOpsNoOp": {"Unknown": 1}}))


def test_the_client_form_reaches_the_server_but_the_extensions_need_the_session_form(server: Server) -> None:
    control = batchops.boto3_hook(plain_client(server))

    assert control.list_jobs(AccountId=ACCOUNT)["Jobs"] == []
    with pytest.raises(ParamValidationError, match='Unknown parameter in Operation: "S3DeleteObject"'):
        control.create_job(**_minimal(Operation={"S3DeleteObject": {}}))


def test_without_the_hook_boto3_cannot_reach_the_server(server: Server) -> None:
    control = plain_client(server)
    control.meta.events.register("before-send.s3-control", _record_url)

    with pytest.raises(_Sent) as sent:
        control.list_jobs(AccountId=ACCOUNT)

    assert str(sent.value).startswith(f"http://{ACCOUNT}.127.0.0.1:")


class _Sent(Exception):
    pass


def _record_url(request: Any, **_: Any) -> None:
    raise _Sent(request.url)


def _minimal(**overrides: Any) -> dict[str, Any]:
    arguments = {
        "AccountId": ACCOUNT,
        "Operation": {"BatchOpsNoOp": {}},
        "Report": {"Enabled": False},
        "Priority": 10,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/batch",
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820"},
            "Location": {"ObjectArn": "arn:aws:s3:::b/m.csv", "ETag": "e"},
        },
    }
    return {**arguments, **overrides}
