"""S3 Control bodies made by botocore's own serializer with the real model, and answers read by its parser."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest

from batchops.api.s3control_xml import parse_create_job
from batchops.domain.job import FailureThreshold, Job, JobSpec, Progress
from batchops.domain.status import JobStatus
from batchops.errors import ValidationError

ACCOUNT = "123456789012"
REGION = "eu-west-1"
DEFAULT_THRESHOLD = FailureThreshold(min_tasks=1000, percent=50.0)
MODEL = botocore.session.get_session().get_service_model("s3control")
CREATED = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)

TAGGING = {"S3PutObjectTagging": {"TagSet": [{"Key": "team", "Value": "blue"}, {"Key": "empty", "Value": ""}]}}


# --- helpers ---------------------------------------------------------------------------------


def job_params(**overrides: Any) -> dict[str, Any]:
    """CreateJob parameters as a boto3 caller writes them; keyword arguments replace top-level keys."""
    params: dict[str, Any] = {
        "AccountId": ACCOUNT,
        "ConfirmationRequired": True,
        "ClientRequestToken": "token-1",
        "Priority": 10,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/batch",
        "Description": "tag everything",
        "Operation": TAGGING,
        "Manifest": {
            "Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key"]},
            "Location": {"ObjectArn": "arn:aws:s3:::manifests/list.csv", "ETag": '"abc123"'},
        },
        "Report": {
            "Enabled": True,
            "Bucket": "arn:aws:s3:::reports",
            "Format": "Report_CSV_20180820",
            "Prefix": "batch",
            "ReportScope": "AllTasks",
            "ExpectedBucketOwner": ACCOUNT,
        },
        "Tags": [{"Key": "owner", "Value": "ops"}],
    }
    params.update(copy.deepcopy(overrides))
    return params


def with_report(**changes: Any) -> dict[str, Any]:
    report: dict[str, Any] = job_params()["Report"]
    report.update(changes)
    return {key: value for key, value in report.items() if value is not None}


def with_manifest(spec: dict[str, Any] | None = None, location: dict[str, Any] | None = None) -> dict[str, Any]:
    manifest: dict[str, Any] = job_params()["Manifest"]
    manifest["Spec"].update(spec or {})
    manifest["Location"].update(location or {})
    return manifest


def boto3_body(operation: str, params: dict[str, Any]) -> bytes:
    """The body boto3 sends; botocore's client-side validation must accept the parameters."""
    return _serialize(operation, params, validate=True)


def raw_body(operation: str, params: dict[str, Any]) -> bytes:
    """The body botocore would send with its client-side validation switched off."""
    return _serialize(operation, params, validate=False)


def _serialize(operation: str, params: dict[str, Any], *, validate: bool) -> bytes:
    serializer = botocore.serialize.create_serializer("rest-xml", include_validation=validate)
    request = serializer.serialize_to_request(params, MODEL.operation_model(operation))
    body = request["body"]
    assert isinstance(body, bytes)
    return body


def create(body: bytes) -> tuple[JobSpec, list[dict[str, str]]]:
    return parse_create_job(body, default_threshold=DEFAULT_THRESHOLD)


def refusal(body: bytes) -> str:
    with pytest.raises(ValidationError) as caught:
        create(body)
    return str(caught.value)


def botocore_reads(operation: str, data: bytes, status: int = 200) -> dict[str, Any]:
    parser = botocore.parsers.create_parser("rest-xml")
    response = {"status_code": status, "headers": {}, "body": data}
    parsed = parser.parse(response, MODEL.operation_model(operation).output_shape)
    assert isinstance(parsed, dict)
    return parsed


def make_job(params: dict[str, Any] | None = None, **changes: Any) -> Job:
    spec, _ = create(boto3_body("CreateJob", params or job_params()))
    job = Job(
        id="job-0001",
        account_id=ACCOUNT,
        spec=spec,
        status=JobStatus.ACTIVE,
        priority=spec.priority,
        creation_time=CREATED,
        progress=Progress(total=10, succeeded=6, failed=1, elapsed_active_seconds=42),
    )
    job = replace(job, **changes)
    return replace(job, rate=job.spec.rate)  # as a store sets a new job's caps from its CreateJob
