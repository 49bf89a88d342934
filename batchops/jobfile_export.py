"""A job as a job file: what ``batchops job export`` prints and the console's job page offers, in the schema
``batchops job apply`` reads (batchops.jobfile), so a job made anywhere can be kept as code and made again.

The input is DescribeJob's ``Job`` as boto3 with batchops's overlay answers it. Tags are not part of DescribeJob and
are left out; the manifest is named by its ARN and ETag (a file applied again runs over the same manifest object).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import botocore.parsers
import botocore.session
import yaml

from batchops.aws_hooks import add_data_path

HEADER = "# batchops job file of job {id}: `batchops job apply` this file to create the job again\n"


def job_file(job: Mapping[str, Any]) -> str:
    """The YAML of a job file that creates a job like ``job`` (DescribeJob's Job)."""
    document: dict[str, Any] = {"version": 1}
    if job.get("Description"):
        document["description"] = job["Description"]
    document["priority"] = job.get("Priority", 10)
    document["confirmation_required"] = bool(job.get("ConfirmationRequired", False))
    if job.get("RoleArn"):
        document["role_arn"] = job["RoleArn"]
    document["manifest"] = _manifest(job)
    document["operation"] = _plain(job["Operation"])
    document.update(_extras(job))
    return HEADER.format(id=job.get("JobId", "")) + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def _manifest(job: Mapping[str, Any]) -> dict[str, Any]:
    generator = job.get("ManifestGenerator", {}).get("S3JobManifestGenerator")
    if generator is not None:
        return {"generator": _plain(generator)}
    manifest = job["Manifest"]
    location = manifest["Location"]
    answer: dict[str, Any] = {"arn": location["ObjectArn"]}
    if location.get("ETag"):
        answer["etag"] = str(location["ETag"])
    fields = manifest.get("Spec", {}).get("Fields")
    if fields and list(fields) != ["Bucket", "Key"]:
        answer["fields"] = list(fields)
    return answer


def _extras(job: Mapping[str, Any]) -> dict[str, Any]:
    extras: dict[str, Any] = {}
    report = job.get("Report") or {}
    if report.get("Enabled"):
        extras["report"] = {
            key: value
            for key, value in (("bucket", report.get("Bucket")), ("prefix", report.get("Prefix")))
            if value
        } | {"scope": report.get("ReportScope", "AllTasks")}
    threshold = job.get("BatchOpsFailureThreshold")
    if threshold:
        extras["failure_threshold"] = {"min_tasks": threshold["MinTasks"], "percent": threshold["Percent"]}
    rate = {
        "max_requests_per_second": job.get("BatchOpsMaxRequestsPerSecond"),
        "max_tasks_in_flight": job.get("BatchOpsMaxTasksInFlight"),
    }
    if any(value is not None for value in rate.values()):
        extras["rate"] = {key: value for key, value in rate.items() if value is not None}
    if job.get("BatchOpsThen"):
        extras["then"] = [_plain(step) for step in job["BatchOpsThen"]]
    if job.get("BatchOpsDryRun"):
        extras["dry_run"] = True
    return extras


def _plain(value: Any) -> Any:
    """boto3's values as a job file writes them: times as ISO-8601 UTC strings."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def from_describe_xml(body: bytes) -> dict[str, Any]:
    """DescribeJob's answer (S3 Control XML) as boto3 with batchops's overlay reads it: its Job."""
    session = botocore.session.get_session()
    add_data_path(session.get_component("data_loader"))
    output = session.get_service_model("s3control").operation_model("DescribeJob").output_shape
    parsed = botocore.parsers.create_parser("rest-xml").parse({"status_code": 200, "headers": {}, "body": body}, output)
    return dict(parsed["Job"])
