"""The AWS S3 Control XML dialect of the job API, mapped to and from the domain dataclasses.

Requests are parsed order-independently with namespaces stripped (batchops.xmlutil) and checked
for everything botocore leaves to the server (patterns, maxima, enums, exactly-one rules).
Responses are built the way botocore's rest-xml parser reads them: default namespace on the root,
``<member>`` lists, lowercase booleans and UTC timestamps with milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from batchops import xmlutil
from batchops.api import chain_xml, jobxml
from batchops.api.extras_xml import add_extras
from batchops.api.s3control_generator import add_generated_descriptor, add_generator, parse_generator
from batchops.arns import job_arn, parse_object_arn
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
from batchops.errors import TooManyTags, ValidationError

NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"
MANIFEST_FORMAT = "S3BatchOperations_CSV_20180820"
INVENTORY_MANIFEST_FORMAT = "S3InventoryReport_CSV_20161130"
REPORT_FORMAT = "Report_CSV_20180820"
MAX_TAGS = 50

_ROLE_ARN = re.compile(r"arn:[^:]+:iam::\d{12}:role/.*", re.ASCII)
_ACCOUNT_ID = re.compile(r"\d{12}", re.ASCII)

_CREATE_JOB_ELEMENTS = frozenset(
    {
        "ConfirmationRequired",
        "Operation",
        "Report",
        "ClientRequestToken",
        "Manifest",
        "Description",
        "Priority",
        "RoleArn",
        "Tags",
        "ManifestGenerator",
        jobxml.THRESHOLD_ELEMENT,
        jobxml.RATE_ELEMENT,
        jobxml.TASKS_ELEMENT,
        chain_xml.THEN_ELEMENT,
        jobxml.DRY_RUN_ELEMENT,
        jobxml.WEBHOOK_ELEMENT,
    }
)
_REPORT_ELEMENTS = frozenset({"Bucket", "Format", "Enabled", "Prefix", "ReportScope", "ExpectedBucketOwner"})
_LOCATION_ELEMENTS = frozenset({"ObjectArn", "ObjectVersionId", "ETag"})


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def parse_create_job(body: bytes, *, default_threshold: FailureThreshold) -> tuple[JobSpec, list[dict[str, str]]]:
    """A CreateJobRequest body → the job's spec and its tags. Raises ValidationError / MalformedXML."""
    root = xmlutil.parse_xml(body, "CreateJobRequest")
    xmlutil.check_children(root, _CREATE_JOB_ELEMENTS, "CreateJobRequest")
    generator = parse_generator(root)
    spec = JobSpec(
        client_request_token=jobxml.parse_client_request_token(root),
        priority=jobxml.parse_priority(root),
        role_arn=_parse_role_arn(root),
        manifest=_parse_manifest(root, generated=generator is not None),
        operation=jobxml.parse_operation(root),
        report=jobxml.parse_report(root, _REPORT),
        confirmation_required=jobxml.parse_confirmation_required(root),
        description=_parse_description(root),
        threshold=jobxml.parse_threshold(root, default_threshold),
        rate=jobxml.parse_rate(root),
        dry_run=jobxml.parse_dry_run(root),
        webhook=jobxml.parse_webhook(root),
        generator=generator,
        then=chain_xml.parse_then(root),
    )
    return spec, parse_tags(root)


def parse_job_tagging(body: bytes) -> list[dict[str, str]]:
    """A PutJobTaggingRequest body → the complete new tag set (empty = remove all tags)."""
    root = xmlutil.parse_xml(body, "PutJobTaggingRequest")
    xmlutil.check_children(root, {"Tags"}, "PutJobTaggingRequest")
    jobxml.required_element(root, "Tags", "PutJobTaggingRequest", hint="send <Tags/> to remove every tag")
    return parse_tags(root)


def parse_tags(parent: Element) -> list[dict[str, str]]:
    """``parent/Tags`` as [{"Key", "Value"}]: at most 50, unique keys, AWS's tag lengths and characters."""
    tags = xmlutil.tag_set(parent, "Tags")
    if len(tags) > MAX_TAGS:
        raise TooManyTags(
            f"Tags has {len(tags)} tags; a job may have at most {MAX_TAGS}: remove {len(tags) - MAX_TAGS}",
            field="Tags",
        )
    return tags


# --- top-level scalars -----------------------------------------------------------------------


def _parse_role_arn(root: Element) -> str:
    role_arn = jobxml.required_string(root, "RoleArn", "", 1, 2048)
    example = "an IAM role ARN like arn:aws:iam::123456789012:role/name"
    jobxml.check_pattern(_ROLE_ARN, role_arn, "RoleArn", example)
    return role_arn


def _parse_description(root: Element) -> str:
    description = xmlutil.check_length(xmlutil.text(root, "Description"), "Description", 1, 256)
    return description or ""


# --- Manifest --------------------------------------------------------------------------------


def _parse_manifest(root: Element, *, generated: bool) -> ManifestSpec | None:
    if generated:
        if root.find("Manifest") is not None:
            raise ValidationError(
                "give either Manifest (an existing object list) or ManifestGenerator (list a bucket), not both",
                field="Manifest",
            )
        return None
    hint = "it names the object list; or give a ManifestGenerator to list a bucket instead"
    manifest = jobxml.required_element(root, "Manifest", "CreateJobRequest", hint=hint)
    xmlutil.check_children(manifest, {"Spec", "Location"}, "Manifest")
    spec = jobxml.required_element(manifest, "Spec", "Manifest", hint="it gives Format and Fields")
    xmlutil.check_children(spec, {"Format", "Fields"}, "Manifest.Spec")
    return ManifestSpec(
        format=_parse_manifest_format(spec),
        fields=jobxml.parse_manifest_fields(spec),
        location=_parse_manifest_location(manifest),
    )


def _parse_manifest_format(spec: Element) -> str:
    manifest_format = xmlutil.req_text(spec, "Format", where="Manifest.Spec")
    if manifest_format not in (MANIFEST_FORMAT, INVENTORY_MANIFEST_FORMAT):
        raise ValidationError(
            f"Manifest.Spec.Format must be {MANIFEST_FORMAT} (a CSV of Bucket,Key[,VersionId] rows) or "
            f"{INVENTORY_MANIFEST_FORMAT} (an inventory's manifest.json), not {manifest_format!r}",
            field="Manifest.Spec.Format",
        )
    return manifest_format


def _parse_manifest_location(manifest: Element) -> ManifestLocation:
    where = "Manifest.Location"
    location = jobxml.required_element(manifest, "Location", "Manifest", hint="it gives ObjectArn and ETag")
    xmlutil.check_children(location, _LOCATION_ELEMENTS, where)
    version_id = xmlutil.text(location, "ObjectVersionId")
    return ManifestLocation(
        object_arn=_parse_manifest_object_arn(location),
        etag=jobxml.required_string(location, "ETag", where, 1, 1024),
        object_version_id=xmlutil.check_length(version_id, f"{where}.ObjectVersionId", 1, 2000),
    )


def _parse_manifest_object_arn(location: Element) -> str:
    arn = jobxml.required_string(location, "ObjectArn", "Manifest.Location", 1, 2000)
    parse_object_arn(arn, "Manifest.Location.ObjectArn")
    return arn


# --- Report ----------------------------------------------------------------------------------


def _prefix_text(report: Element) -> str | None:
    return xmlutil.check_length(xmlutil.text(report, "Prefix"), "Report.Prefix", 1, 512)


def _parse_expected_bucket_owner(report: Element) -> str | None:
    owner = xmlutil.text(report, "ExpectedBucketOwner")
    if owner is not None:
        jobxml.check_pattern(_ACCOUNT_ID, owner, "Report.ExpectedBucketOwner", "a 12-digit account id")
    return owner


_REPORT = jobxml.ReportDialect(REPORT_FORMAT, _REPORT_ELEMENTS, _prefix_text, _parse_expected_bucket_owner)


# --------------------------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------------------------


def render_create_job(job_id: str) -> bytes:
    root = _document("CreateJobResult")
    xmlutil.add(root, "JobId", job_id)
    return jobxml.to_bytes(root)


def render_describe_job(job: Job, *, region: str, extras: JobExtras | None = None) -> bytes:
    root = _document("DescribeJobResult")
    descriptor = xmlutil.add(root, "Job")
    _add_job_descriptor(descriptor, job, region)
    add_extras(descriptor, job, extras or JobExtras(), format_timestamp)
    return jobxml.to_bytes(root)


def render_retry(job_id: str) -> bytes:
    """The answer to the retry extension (``BatchOpsRetryJob``): the new job's id."""
    root = _document("RetryJobResult")
    xmlutil.add(root, "JobId", job_id)
    return jobxml.to_bytes(root)


def render_list_jobs(jobs: Sequence[Job], next_token: str | None) -> bytes:
    root = _document("ListJobsResult")
    jobxml.add_optional(root, "NextToken", next_token)
    listing = xmlutil.add(root, "Jobs")
    for job in jobs:
        _add_list_descriptor(xmlutil.add(listing, "member"), job)
    return jobxml.to_bytes(root)


def render_update_priority(job_id: str, priority: int) -> bytes:
    return jobxml.update_priority_result(_document("UpdateJobPriorityResult"), job_id, priority)


def render_update_rate(job: Job) -> bytes:
    """Our extension's answer: the job's caps now (an element absent: no such cap)."""
    root = _document("UpdateJobRateResult")
    xmlutil.add(root, "JobId", job.id)
    jobxml.add_rate(root, job.rate)
    return jobxml.to_bytes(root)


def render_update_status(job_id: str, status: JobStatus, reason: str | None) -> bytes:
    return jobxml.update_status_result(_document("UpdateJobStatusResult"), job_id, status, reason)


def render_job_tagging(tags: Sequence[Mapping[str, str]]) -> bytes:
    root = _document("GetJobTaggingResult")
    _add_tags(xmlutil.add(root, "Tags"), tags)
    return jobxml.to_bytes(root)


def render_error(code: str, message: str, request_id: str) -> bytes:
    root = _document("ErrorResponse")
    error = xmlutil.add(root, "Error")
    xmlutil.add(error, "Code", code)
    xmlutil.add(error, "Message", xmlutil.xml_safe(message))
    xmlutil.add(root, "RequestId", request_id)
    xmlutil.add(root, "HostId")
    return jobxml.to_bytes(root)


def format_timestamp(moment: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC; naive datetimes are taken to be UTC already."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


# --- descriptors -----------------------------------------------------------------------------


def _add_job_descriptor(parent: Element, job: Job, region: str) -> None:
    spec = job.spec
    xmlutil.add(parent, "JobId", job.id)
    xmlutil.add(parent, "ConfirmationRequired", spec.confirmation_required)
    jobxml.add_optional(parent, "Description", spec.description or None)
    xmlutil.add(parent, "JobArn", job_arn(job.account_id, job.id, region))
    xmlutil.add(parent, "Status", job.status.value)
    if spec.manifest is not None:
        jobxml.add_manifest(parent, spec.manifest)
    jobxml.add_operation(parent, spec.operation)
    xmlutil.add(parent, "Priority", job.priority)
    _add_progress(parent, job.progress)
    jobxml.add_optional(parent, "StatusUpdateReason", job.hold_reason or job.status_update_reason)
    jobxml.add_failure_reasons(parent, job.failure_reasons, "member")
    jobxml.add_report(parent, spec.report)
    _add_time(parent, "CreationTime", job.creation_time)
    _add_time(parent, "TerminationDate", job.termination_time)
    xmlutil.add(parent, "RoleArn", spec.role_arn)
    _add_time(parent, "SuspendedDate", job.suspended_time)
    jobxml.add_optional(parent, "SuspendedCause", job.suspended_cause)
    if spec.generator is not None:
        add_generator(parent, spec.generator)
    if job.generated_manifest is not None:
        add_generated_descriptor(parent, job.generated_manifest)
    _add_threshold(parent, spec.threshold)
    jobxml.add_rate(parent, job.rate)
    jobxml.add_paused_by(parent, job)
    jobxml.add_dry_run(parent, spec.dry_run)
    jobxml.add_webhook(parent, spec.webhook)


def _add_threshold(parent: Element, threshold: FailureThreshold) -> None:
    # Our extension, echoed so a client sees the threshold the job runs with (its own or the server's default).
    element = xmlutil.add(parent, jobxml.THRESHOLD_ELEMENT)
    xmlutil.add(element, "MinTasks", threshold.min_tasks)
    xmlutil.add(element, "Percent", threshold.percent)


def _add_list_descriptor(parent: Element, job: Job) -> None:
    xmlutil.add(parent, "JobId", job.id)
    jobxml.add_optional(parent, "Description", job.spec.description or None)
    xmlutil.add(parent, "Operation", job.spec.operation.name)
    xmlutil.add(parent, "Priority", job.priority)
    xmlutil.add(parent, "Status", job.status.value)
    _add_time(parent, "CreationTime", job.creation_time)
    _add_time(parent, "TerminationDate", job.termination_time)
    _add_progress(parent, job.progress)


def _add_progress(parent: Element, progress: Progress) -> None:
    element = xmlutil.add(parent, "ProgressSummary")
    xmlutil.add(element, "TotalNumberOfTasks", progress.total)
    xmlutil.add(element, "NumberOfTasksSucceeded", progress.succeeded)
    xmlutil.add(element, "NumberOfTasksFailed", progress.failed)
    timers = xmlutil.add(element, "Timers")
    xmlutil.add(timers, "ElapsedTimeInActiveSeconds", progress.elapsed_active_seconds)


def _add_tags(parent: Element, tags: Sequence[Mapping[str, str]]) -> None:
    for tag in tags:
        member = xmlutil.add(parent, "member")
        xmlutil.add(member, "Key", tag["Key"])
        xmlutil.add(member, "Value", tag["Value"])


# --- document plumbing -----------------------------------------------------------------------


def _document(root_tag: str) -> Element:
    return Element(root_tag, xmlns=NAMESPACE)


#: An answer's root in this dialect (extensions rendered elsewhere, ``api/tasks_xml.py``, start from it).
document = _document


def _add_time(parent: Element, tag: str, moment: datetime | None) -> None:
    jobxml.add_time(parent, tag, moment, format_timestamp)
