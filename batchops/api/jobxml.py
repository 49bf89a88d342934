"""XML pieces both job dialects share (S3 Control in s3control_xml.py, COS in cos_xml.py).

Everything here is dialect-neutral: the same element names and rules on both wires. What differs
(root names, namespaces, list wrappers, timestamps, enums, limits) stays in each dialect's module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from xml.etree.ElementTree import Element, tostring

from batchops import xmlutil
from batchops.arns import parse_bucket_arn
from batchops.domain.job import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    FailureReason,
    FailureThreshold,
    Job,
    ManifestSpec,
    OperationSpec,
    RateCaps,
    ReportSpec,
    WebhookTarget,
)
from batchops.domain.status import JobStatus
from batchops.domain.webhook import DeliveryAttempt
from batchops.errors import ValidationError
from batchops.manifests.rows import DEFAULT_FIELDS, FIELD_NAMES
from batchops.operations.registry import get_operation
from batchops.reports.writer import check_prefix
from batchops.service.rates import read_requests, read_tasks
from batchops.webhooks import check_secret, check_url
from batchops.wire_numbers import parse_decimal

THRESHOLD_ELEMENT = "BatchOpsFailureThreshold"
RATE_ELEMENT = "BatchOpsMaxRequestsPerSecond"
TASKS_ELEMENT = "BatchOpsMaxTasksInFlight"
#: Our CreateJob extension: check every task without changing anything (DescribeJob echoes it when true).
DRY_RUN_ELEMENT = "BatchOpsDryRun"
#: Our CreateJob extension: where this job's status moves are POSTed, signed with its secret (DescribeJob echoes
#: the URL only, never the secret).
WEBHOOK_ELEMENT = "BatchOpsWebhook"
#: Our DescribeJob extension: the most recent attempts to deliver the job's webhook events.
DELIVERIES_ELEMENT = "BatchOpsWebhookDeliveries"
#: Our DescribeJob extension: who paused a Pausing or Paused job (User: only its owner resumes it; Preemption: the
#: scheduler resumes it when a slot is free).
PAUSED_BY_ELEMENT = "BatchOpsPausedBy"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
_MAX_LONG = 2**63 - 1


# --- requests --------------------------------------------------------------------------------


def required_element(parent: Element, path: str, where: str, *, hint: str) -> Element:
    element = parent.find(path)
    if element is None:
        raise ValidationError(f"{where} needs a <{path}> element ({hint})", field=path)
    return element


def required_string(parent: Element, path: str, where: str, lo: int, hi: int) -> str:
    value = xmlutil.req_text(parent, path, where=where)
    xmlutil.check_length(value, f"{where}.{path}" if where else path, lo, hi)
    return value


def check_pattern(pattern: re.Pattern[str], value: str, name: str, expected: str) -> None:
    if not pattern.fullmatch(value):
        raise ValidationError(f"{name} must be {expected}, not {value!r}", field=name)


def parse_client_request_token(root: Element) -> str:
    return required_string(root, "ClientRequestToken", "", 1, 64)


def parse_priority(root: Element) -> int:
    priority = xmlutil.integer(root, "Priority", lo=MIN_PRIORITY, hi=MAX_PRIORITY, required=True)
    assert priority is not None  # required=True raises instead of returning None
    return priority


def parse_confirmation_required(root: Element) -> bool:
    return bool(xmlutil.boolean(root, "ConfirmationRequired", default=False))


def parse_manifest_fields(spec: Element) -> tuple[str, ...]:
    # Only an absent <Fields> means "the usual two columns"; an empty <Fields/> is a mistake.
    if spec.find("Fields") is None:
        return DEFAULT_FIELDS
    fields = tuple(name.strip() for name in xmlutil.member_texts(spec, "Fields", "Manifest.Spec.Fields"))
    for name in fields:
        xmlutil.one_of(name, FIELD_NAMES, "Manifest.Spec.Fields member")
    check_field_counts(fields)
    return fields


def check_field_counts(fields: tuple[str, ...]) -> None:
    if fields.count("Bucket") != 1 or fields.count("Key") != 1 or fields.count("VersionId") > 1:
        raise ValidationError(
            "Manifest.Spec.Fields must name Bucket exactly once and Key exactly once, VersionId at most "
            f"once, and Ignore for any other column; got [{', '.join(fields)}]",
            field="Manifest.Spec.Fields",
        )


def parse_operation(root: Element, example: str = "S3PutObjectTagging", prefix: str = "") -> OperationSpec:
    """The one operation under <Operation>; ``prefix`` limits a dialect to its own names (COS: ``COS``)."""
    wrapper = required_element(root, "Operation", "CreateJobRequest", hint=f"e.g. <{example}>")
    children = list(wrapper)
    if len(children) != 1:
        found = ", ".join(f"<{child.tag}>" for child in children) or "none"
        raise ValidationError(
            f"Operation must contain exactly one operation element, e.g. <{example}>; found {found}",
            field="Operation",
        )
    element = children[0]
    if not element.tag.startswith(prefix):
        raise ValidationError(
            f"Operation <{element.tag}> is not an operation of this API; its operations start with {prefix}, "
            f"e.g. <{example}>",
            field="Operation",
        )
    operation = get_operation(element.tag)
    params = operation.encode(operation.parse(element))
    element.tail = None  # whitespace after the element is not part of the operation we echo back
    return OperationSpec(name=operation.name, params=params, xml=xmlutil.to_string(element))


def report_string(report: Element, path: str, enabled: bool) -> str | None:
    """``Report/path``: required when the report is enabled, validated whenever given."""
    value = xmlutil.text(report, path)
    if not value and enabled:
        raise ValidationError(
            f"Report.{path} is required when Report.Enabled is true (or set Enabled to false)",
            field=f"Report.{path}",
        )
    return value


#: Which tasks a report lists (both dialects).
REPORT_SCOPES = ("AllTasks", "FailedTasksOnly")


def _no_owner(_report: Element) -> str | None:
    return None


@dataclass(frozen=True)
class ReportDialect:
    """What the dialects' ``<Report>`` elements differ in; everything else ``parse_report`` checks alike."""

    format: str
    elements: frozenset[str]
    #: ``Report.Prefix``'s text under the dialect's own length rule.
    prefix_text: Callable[[Element], str | None]
    expected_bucket_owner: Callable[[Element], str | None] = _no_owner


def parse_report(root: Element, dialect: ReportDialect) -> ReportSpec:
    """CreateJob's ``<Report>``: required; with Enabled true, its bucket, format and scope are too."""
    hint = "<Report><Enabled>false</Enabled></Report> for no report"
    report = required_element(root, "Report", "CreateJobRequest", hint=hint)
    xmlutil.check_children(report, dialect.elements, "Report")
    enabled = parse_report_enabled(report)
    return ReportSpec(
        enabled=enabled,
        bucket=parse_report_bucket(report, enabled),
        format=parse_report_choice(report, "Format", (dialect.format,), enabled),
        prefix=parse_report_prefix(dialect.prefix_text(report)),
        scope=parse_report_choice(report, "ReportScope", REPORT_SCOPES, enabled),
        expected_bucket_owner=dialect.expected_bucket_owner(report),
    )


def parse_report_enabled(report: Element) -> bool:
    enabled = xmlutil.boolean(report, "Enabled", where="Report")
    if enabled is None:
        raise ValidationError(
            "Report.Enabled is required: true to write a completion report, false for none",
            field="Report.Enabled",
        )
    return enabled


def parse_report_choice(report: Element, path: str, allowed: Sequence[str], enabled: bool) -> str | None:
    return xmlutil.one_of(report_string(report, path, enabled), allowed, f"Report.{path}")


def parse_report_bucket(report: Element, enabled: bool) -> str | None:
    bucket = xmlutil.check_length(report_string(report, "Bucket", enabled), "Report.Bucket", 1, 128)
    if bucket is not None:
        parse_bucket_arn(bucket, "Report.Bucket")
    return bucket


def parse_report_prefix(prefix: str | None) -> str | None:
    """``Report.Prefix`` after the dialect's length rule: one the report writer can write under."""
    check_prefix(prefix)
    return prefix


def parse_threshold(root: Element, default: FailureThreshold) -> FailureThreshold:
    """``<BatchOpsFailureThreshold>`` (our extension, on both dialects), else the server's default."""
    element = root.find(THRESHOLD_ELEMENT)
    if element is None:
        return default
    xmlutil.check_children(element, {"MinTasks", "Percent"}, THRESHOLD_ELEMENT)
    min_tasks = xmlutil.integer(element, "MinTasks", lo=0, hi=_MAX_LONG, where=THRESHOLD_ELEMENT)
    percent = _parse_percent(element)
    return FailureThreshold(
        min_tasks=default.min_tasks if min_tasks is None else min_tasks,
        percent=default.percent if percent is None else percent,
    )


def parse_rate(root: Element) -> RateCaps:
    """``<BatchOpsMaxRequestsPerSecond>`` and ``<BatchOpsMaxTasksInFlight>`` (our extension, both dialects)."""
    requests = xmlutil.raw_text(root, RATE_ELEMENT)
    tasks = xmlutil.raw_text(root, TASKS_ELEMENT)
    return RateCaps(
        None if requests is None else read_requests(requests, RATE_ELEMENT),
        None if tasks is None else read_tasks(tasks, TASKS_ELEMENT),
    )


def add_rate(parent: Element, rate: RateCaps) -> None:
    """The job's caps now, when it has any (absent otherwise, so a DescribeJob stays AWS's for jobs without)."""
    add_optional(parent, RATE_ELEMENT, _number(rate.max_requests_per_second))
    add_optional(parent, TASKS_ELEMENT, rate.max_tasks_in_flight)


def parse_dry_run(root: Element) -> bool:
    """``<BatchOpsDryRun>`` (our extension, both dialects): true checks every task and changes nothing."""
    return bool(xmlutil.boolean(root, DRY_RUN_ELEMENT, default=False))


def add_dry_run(parent: Element, dry_run: bool) -> None:
    """Only on a dry run, so a DescribeJob of any other job stays the dialect's own."""
    if dry_run:
        xmlutil.add(parent, DRY_RUN_ELEMENT, True)


def parse_webhook(root: Element) -> WebhookTarget | None:
    """``<BatchOpsWebhook><Url>https://...</Url><Secret>...</Secret></BatchOpsWebhook>`` (our extension, both
    dialects): where this job's status moves are POSTed, signed with the secret."""
    element = root.find(WEBHOOK_ELEMENT)
    if element is None:
        return None
    xmlutil.check_children(element, {"Url", "Secret"}, WEBHOOK_ELEMENT)
    hint = "give both <Url> (http:// or https://) and <Secret> (the receiver checks signatures with it)"
    url = xmlutil.text(element, "Url")
    secret = xmlutil.raw_text(element, "Secret")
    if not url or not secret:
        missing = "Url" if not url else "Secret"
        raise ValidationError(f"{WEBHOOK_ELEMENT}.{missing} is missing; {hint}", field=f"{WEBHOOK_ELEMENT}.{missing}")
    return WebhookTarget(
        check_url(url, f"{WEBHOOK_ELEMENT}.Url"), check_secret(secret, f"{WEBHOOK_ELEMENT}.Secret")
    )


def add_webhook(parent: Element, webhook: WebhookTarget | None) -> None:
    """The job's webhook URL, never its secret (absent for a job without one, so DescribeJob stays the dialect's)."""
    if webhook is not None:
        xmlutil.add(xmlutil.add(parent, WEBHOOK_ELEMENT), "Url", webhook.url)


def add_deliveries(parent: Element, attempts: Sequence[DeliveryAttempt], render: Callable[[datetime], str]) -> None:
    """The most recent delivery attempts, oldest first, one ``member`` each (absent when there were none)."""
    if not attempts:
        return
    listing = xmlutil.add(parent, DELIVERIES_ELEMENT)
    for attempt in attempts:
        member = xmlutil.add(listing, "member")
        xmlutil.add(member, "DeliveryId", attempt.delivery_id)
        xmlutil.add(member, "Event", attempt.event)
        xmlutil.add(member, "JobStatus", attempt.status)
        xmlutil.add(member, "Attempt", attempt.attempt)
        xmlutil.add(member, "Time", render(attempt.at))
        add_optional(member, "HttpStatus", attempt.http_status)
        add_optional(member, "Error", attempt.error)
        xmlutil.add(member, "Delivered", attempt.delivered)


def _number(value: float | None) -> str | None:
    if value is None:
        return None
    return str(int(value)) if value.is_integer() else str(value)


def _parse_percent(element: Element) -> float | None:
    name = f"{THRESHOLD_ELEMENT}.Percent"
    value = xmlutil.raw_text(element, "Percent", where=THRESHOLD_ELEMENT)
    if value is None or not value.strip():
        return None
    return parse_decimal(value, name, 0, 100)


# --- responses -------------------------------------------------------------------------------


def to_bytes(root: Element) -> bytes:
    return XML_DECLARATION + tostring(root, encoding="unicode").encode("utf-8")


def add_paused_by(parent: Element, job: Job) -> None:
    if job.paused_by is not None and job.status in (JobStatus.PAUSING, JobStatus.PAUSED):
        xmlutil.add(parent, PAUSED_BY_ELEMENT, job.paused_by.value)


def add_optional(parent: Element, tag: str, value: object | None) -> None:
    if value is not None:
        xmlutil.add(parent, tag, value)


def add_manifest(parent: Element, manifest: ManifestSpec) -> None:
    element = xmlutil.add(parent, "Manifest")
    spec = xmlutil.add(element, "Spec")
    xmlutil.add(spec, "Format", manifest.format)
    fields = xmlutil.add(spec, "Fields")
    for name in manifest.fields:
        xmlutil.add(fields, "member", name)
    location = xmlutil.add(element, "Location")
    xmlutil.add(location, "ObjectArn", manifest.location.object_arn)
    add_optional(location, "ObjectVersionId", manifest.location.object_version_id)
    xmlutil.add(location, "ETag", manifest.location.etag)


def add_operation(parent: Element, operation: OperationSpec) -> None:
    # The operation is echoed exactly as the client sent it (namespace stripped), parameters included.
    wrapper = xmlutil.add(parent, "Operation")
    wrapper.append(xmlutil.parse_xml(operation.xml.encode("utf-8")))


def add_report(parent: Element, report: ReportSpec) -> None:
    element = xmlutil.add(parent, "Report")
    add_optional(element, "Bucket", report.bucket)
    add_optional(element, "Format", report.format)
    xmlutil.add(element, "Enabled", report.enabled)
    add_optional(element, "Prefix", report.prefix)
    add_optional(element, "ReportScope", report.scope)
    add_optional(element, "ExpectedBucketOwner", report.expected_bucket_owner)


def add_time(parent: Element, tag: str, moment: datetime | None, render: Callable[[datetime], str]) -> None:
    """``<tag>`` with ``render(moment)`` when the moment is known."""
    if moment is not None:
        xmlutil.add(parent, tag, render(moment))


def add_failure_reasons(parent: Element, reasons: Sequence[FailureReason], child: str) -> None:
    """``FailureReasons`` with one ``child`` element per reason (S3 Control: member; COS: JobFailure)."""
    if not reasons:
        return
    element = xmlutil.add(parent, "FailureReasons")
    for reason in reasons:
        failure = xmlutil.add(element, child)
        xmlutil.add(failure, "FailureCode", reason.code)
        xmlutil.add(failure, "FailureReason", reason.reason)


def update_priority_result(root: Element, job_id: str, priority: int) -> bytes:
    """``UpdateJobPriorityResult`` (``root``: the dialect's element, with or without namespace)."""
    xmlutil.add(root, "JobId", job_id)
    xmlutil.add(root, "Priority", priority)
    return to_bytes(root)


def update_status_result(root: Element, job_id: str, status: JobStatus, reason: str | None) -> bytes:
    """``UpdateJobStatusResult`` (``root``: the dialect's element, with or without namespace)."""
    xmlutil.add(root, "JobId", job_id)
    xmlutil.add(root, "Status", status.value)
    add_optional(root, "StatusUpdateReason", reason)
    return to_bytes(root)
