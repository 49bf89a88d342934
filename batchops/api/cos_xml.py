"""The Tencent COS XML dialect of the job API, mapped to and from the same domain dataclasses as S3 Control.

COS bodies have no namespace, COS element names and limits (Description 0-256 bytes, Report.Prefix
0-256 bytes, ``qcs`` resource names), lists as ``<member>`` except ``FailureReasons>JobFailure``, and
timestamps as ``2019-12-19T18:00:30Z``. The parts shared with S3 Control live in batchops.api.jobxml.

Status spellings: the COS API pages use the 13 AWS values (``Cancelling``/``Cancelled``) while the
COS console shows ``Canceling``/``Canceled``. We emit the API spelling and accept both on input
(``requestedJobStatus``, ``jobStatuses``): see :func:`parse_status`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from batchops import xmlutil
from batchops.api import chain_xml, jobxml
from batchops.api.extras_xml import add_extras
from batchops.arns import parse_object_arn
from batchops.domain.extras import JobExtras
from batchops.domain.job import (
    FailureThreshold,
    Job,
    JobSpec,
    ManifestLocation,
    ManifestSpec,
    Progress,
)
from batchops.domain.status import JobStatus
from batchops.errors import ValidationError

MANIFEST_FORMAT = "COSBatchOperations_CSV_V1"
INVENTORY_MANIFEST_FORMAT = "COSInventoryReport_CSV_V1"
MANIFEST_FORMATS = (MANIFEST_FORMAT, INVENTORY_MANIFEST_FORMAT)
REPORT_FORMAT = "Report_CSV_V1"
ROLE_EXAMPLE = "qcs::cam::uin/100000000001:roleName/COS_Batch_QcsRole"
#: Console spellings → the API's.
STATUS_ALIASES = {"Canceling": JobStatus.CANCELLING, "Canceled": JobStatus.CANCELLED}

_ROLE_ARN = re.compile(r"qcs::cam::uin/\d+:roleName/\S+", re.ASCII)
_CREATE_JOB_ELEMENTS = frozenset(
    {
        "ClientRequestToken",
        "ConfirmationRequired",
        "Description",
        "Manifest",
        "Operation",
        "Priority",
        "Report",
        "RoleArn",
        jobxml.THRESHOLD_ELEMENT,
        jobxml.RATE_ELEMENT,
        jobxml.TASKS_ELEMENT,
        chain_xml.THEN_ELEMENT,
        jobxml.DRY_RUN_ELEMENT,
        jobxml.WEBHOOK_ELEMENT,
    }
)
_REPORT_ELEMENTS = frozenset({"Bucket", "Enabled", "Format", "Prefix", "ReportScope"})
_LOCATION_ELEMENTS = frozenset({"ETag", "ObjectArn", "ObjectVersionId"})


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def parse_create_job(body: bytes, *, default_threshold: FailureThreshold) -> JobSpec:
    """A COS CreateJobRequest body → the job's spec. Raises ValidationError / MalformedXML."""
    root = xmlutil.parse_xml(body, "CreateJobRequest")
    xmlutil.check_children(root, _CREATE_JOB_ELEMENTS, "CreateJobRequest")
    return JobSpec(
        client_request_token=jobxml.parse_client_request_token(root),
        priority=jobxml.parse_priority(root),
        role_arn=_parse_role_arn(root),
        manifest=_parse_manifest(root),
        operation=jobxml.parse_operation(root, example="COSPutObjectCopy", prefix="COS"),
        report=jobxml.parse_report(root, _REPORT),
        confirmation_required=jobxml.parse_confirmation_required(root),
        description=check_bytes(xmlutil.text(root, "Description"), "Description", 256) or "",
        threshold=jobxml.parse_threshold(root, default_threshold),
        rate=jobxml.parse_rate(root),
        then=chain_xml.parse_then(root, example="COSPutObjectCopy", prefix="COS"),
        dry_run=jobxml.parse_dry_run(root),
        webhook=jobxml.parse_webhook(root),
    )


def parse_status(value: str, name: str) -> JobStatus:
    """A status as a COS client writes it: the API spelling or the console's Canceling/Canceled."""
    if value in STATUS_ALIASES:
        return STATUS_ALIASES[value]
    try:
        return JobStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in JobStatus)
        raise ValidationError(f"{name} has unknown status {value!r}; use any of {known}", field=name) from None


def check_bytes(value: str | None, name: str, most: int) -> str | None:
    """COS limits strings in bytes (UTF-8), not characters."""
    if value is not None and len(value.encode("utf-8", errors="surrogatepass")) > most:
        raise ValidationError(f"{name} must be at most {most} bytes (UTF-8) long", field=name)
    return value


def _parse_role_arn(root: Element) -> str:
    role_arn = jobxml.required_string(root, "RoleArn", "", 1, 2048)
    jobxml.check_pattern(_ROLE_ARN, role_arn, "RoleArn", f"a CAM role like {ROLE_EXAMPLE}")
    return role_arn


# --- Manifest --------------------------------------------------------------------------------


def _parse_manifest(root: Element) -> ManifestSpec:
    manifest = jobxml.required_element(root, "Manifest", "CreateJobRequest", hint="it names the object list")
    xmlutil.check_children(manifest, {"Spec", "Location"}, "Manifest")
    spec = jobxml.required_element(manifest, "Spec", "Manifest", hint="it gives Format and Fields")
    xmlutil.check_children(spec, {"Format", "Fields"}, "Manifest.Spec")
    manifest_format = xmlutil.req_text(spec, "Format", "Manifest.Spec")
    xmlutil.one_of(manifest_format, MANIFEST_FORMATS, "Manifest.Spec.Format")
    if manifest_format == MANIFEST_FORMAT and spec.find("Fields") is None:
        raise ValidationError(
            f"Manifest.Spec.Fields is required for {MANIFEST_FORMAT}: list the CSV columns in order, "
            "e.g. <Fields><member>Bucket</member><member>Key</member></Fields>",
            field="Manifest.Spec.Fields",
        )
    return ManifestSpec(
        format=manifest_format,
        fields=jobxml.parse_manifest_fields(spec),
        location=_parse_location(manifest),
    )


def _parse_location(manifest: Element) -> ManifestLocation:
    where = "Manifest.Location"
    location = jobxml.required_element(manifest, "Location", "Manifest", hint="it gives ObjectArn and ETag")
    xmlutil.check_children(location, _LOCATION_ELEMENTS, where)
    object_arn = jobxml.required_string(location, "ObjectArn", where, 1, 1024)
    parse_object_arn(object_arn, f"{where}.ObjectArn")
    version_id = xmlutil.text(location, "ObjectVersionId")
    return ManifestLocation(
        object_arn=object_arn,
        etag=jobxml.required_string(location, "ETag", where, 1, 1024),  # quotes allowed; compared without them
        object_version_id=xmlutil.check_length(version_id or None, f"{where}.ObjectVersionId", 1, 1024),
    )


# --- Report ----------------------------------------------------------------------------------


def _prefix_text(report: Element) -> str | None:
    return check_bytes(xmlutil.text(report, "Prefix"), "Report.Prefix", 256) or None


_REPORT = jobxml.ReportDialect(REPORT_FORMAT, _REPORT_ELEMENTS, _prefix_text)


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def render_create_job(job_id: str) -> bytes:
    root = Element("CreateJobResult")
    xmlutil.add(root, "JobId", job_id)
    return jobxml.to_bytes(root)


def render_describe_job(job: Job, extras: JobExtras | None = None) -> bytes:
    root = Element("DescribeJobResult")
    descriptor = xmlutil.add(root, "Job")
    _add_job(descriptor, job)
    add_extras(descriptor, job, extras or JobExtras(), format_timestamp)
    return jobxml.to_bytes(root)


def render_retry(job_id: str) -> bytes:
    """The answer to the retry extension: the new job's id."""
    root = Element("RetryJobResult")
    xmlutil.add(root, "JobId", job_id)
    return jobxml.to_bytes(root)


def render_list_jobs(jobs: Sequence[Job], next_token: str | None) -> bytes:
    root = Element("ListJobsResult")
    listing = xmlutil.add(root, "Jobs")
    for job in jobs:
        _add_list_entry(xmlutil.add(listing, "member"), job)
    jobxml.add_optional(root, "NextToken", next_token)
    return jobxml.to_bytes(root)


def render_update_rate(job: Job) -> bytes:
    root = Element("UpdateJobRateResult")
    xmlutil.add(root, "JobId", job.id)
    jobxml.add_rate(root, job.rate)
    return jobxml.to_bytes(root)


def render_update_priority(job_id: str, priority: int) -> bytes:
    return jobxml.update_priority_result(Element("UpdateJobPriorityResult"), job_id, priority)


def render_update_status(job_id: str, status: JobStatus, reason: str | None) -> bytes:
    return jobxml.update_status_result(Element("UpdateJobStatusResult"), job_id, status, reason)


def render_error(code: str, message: str, request_id: str, resource: str) -> bytes:
    root = Element("Error")
    xmlutil.add(root, "Code", code)
    xmlutil.add(root, "Message", xmlutil.xml_safe(message))
    xmlutil.add(root, "Resource", xmlutil.xml_safe(resource))
    xmlutil.add(root, "RequestId", request_id)
    xmlutil.add(root, "TraceId", request_id)
    return jobxml.to_bytes(root)


def format_timestamp(moment: datetime) -> str:
    """``2019-12-19T18:00:30Z`` (UTC, whole seconds); naive datetimes are taken to be UTC already."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- descriptors (elements in alphabetical order, as in the COS examples) --------------------


def _add_job(parent: Element, job: Job) -> None:
    spec = job.spec
    xmlutil.add(parent, "ConfirmationRequired", spec.confirmation_required)
    jobxml.add_time(parent, "CreationTime", job.creation_time, format_timestamp)
    xmlutil.add(parent, "Description", spec.description)
    jobxml.add_failure_reasons(parent, job.failure_reasons, "JobFailure")
    xmlutil.add(parent, "JobId", job.id)
    if spec.manifest is not None:  # None: an S3 Control job whose ManifestGenerator COS cannot express
        jobxml.add_manifest(parent, spec.manifest)
    jobxml.add_operation(parent, spec.operation)
    xmlutil.add(parent, "Priority", job.priority)
    _add_progress(parent, job.progress)
    jobxml.add_report(parent, spec.report)
    xmlutil.add(parent, "RoleArn", spec.role_arn)
    xmlutil.add(parent, "Status", job.status.value)
    jobxml.add_optional(parent, "StatusUpdateReason", job.hold_reason or job.status_update_reason)
    jobxml.add_optional(parent, "SuspendedCause", job.suspended_cause)
    jobxml.add_time(parent, "SuspendedDate", job.suspended_time, format_timestamp)
    jobxml.add_time(parent, "TerminationDate", job.termination_time, format_timestamp)
    jobxml.add_rate(parent, job.rate)
    jobxml.add_paused_by(parent, job)
    jobxml.add_dry_run(parent, spec.dry_run)
    jobxml.add_webhook(parent, spec.webhook)


def _add_list_entry(parent: Element, job: Job) -> None:
    jobxml.add_time(parent, "CreationTime", job.creation_time, format_timestamp)
    xmlutil.add(parent, "Description", job.spec.description)
    xmlutil.add(parent, "JobId", job.id)
    xmlutil.add(parent, "Operation", job.spec.operation.name)
    xmlutil.add(parent, "Priority", job.priority)
    _add_progress(parent, job.progress)
    xmlutil.add(parent, "Status", job.status.value)
    jobxml.add_time(parent, "TerminationDate", job.termination_time, format_timestamp)


def _add_progress(parent: Element, progress: Progress) -> None:
    element = xmlutil.add(parent, "ProgressSummary")
    xmlutil.add(element, "NumberOfTasksFailed", progress.failed)
    xmlutil.add(element, "NumberOfTasksSucceeded", progress.succeeded)
    xmlutil.add(element, "TotalNumberOfTasks", progress.total)
