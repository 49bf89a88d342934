"""The create-job form: form fields → a CreateJob request, checked by the API's own validation.

The form is turned into CreateJob XML and parsed by ``s3control_xml.parse_create_job``, so the console
accepts exactly what the API accepts. A refusal is put in the form's words (``wording.translate``) and shown
next to the field it came from.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element, tostring

from batchops.api.jobxml import DRY_RUN_ELEMENT
from batchops.api.s3control_xml import MANIFEST_FORMAT, NAMESPACE, REPORT_FORMAT, parse_create_job
from batchops.console import chain_form, wording
from batchops.domain.job import FailureThreshold, JobSpec
from batchops.errors import BatchOpsError, ValidationError
from batchops.xmlutil import add, non_xml_char

#: Operations offered by the form, with a label for people.
OPERATIONS = {
    "S3PutObjectTagging": "Replace object tags",
    "S3DeleteObjectTagging": "Delete all object tags",
    "S3PutObjectCopy": "Copy objects",
    "S3PutObjectAcl": "Set object ACL (canned)",
    "S3PutObjectLegalHold": "Set legal hold",
    "S3PutObjectRetention": "Set retention",
    "S3DeleteObject": "Delete objects",
}
PLACEHOLDER_ETAG = "pending-upload"
TAGGING = "S3PutObjectTagging"
#: The box a user ticks to confirm that an empty tag set is meant: it removes every tag of every object.
REMOVE_ALL_TAGS = "remove_all_tags"
EMPTY_TAGS_WARNING = (
    "No tags are given, so every object in the manifest would lose all of its tags. Add tags, "
    "or tick \u201cYes, remove all tags\u201d and create the job again."
)


class FormError(Exception):
    """A form field the console itself refuses (before the API's validation runs)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class JobForm:
    """The create-job form's values (all strings, as posted) and its errors by field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls, account_id: str) -> JobForm:
        return cls(
            {
                "manifest_source": "upload",
                "manifest_fields": "Bucket,Key",
                "operation": "S3PutObjectTagging",
                "priority": "10",
                "role_arn": f"arn:aws:iam::{account_id}:role/batchops",
                "confirmation_required": "on",
                "report_enabled": "on",
                "report_scope": "AllTasks",
                "report_prefix": "batchops-reports",
                "legal_hold": "ON",
                "retention_mode": "GOVERNANCE",
                "acl": "private",
                "client_request_token": str(uuid.uuid4()),
            }
        )

    @classmethod
    def posted(cls, form: Mapping[str, object]) -> JobForm:
        return cls({k: v.strip() for k, v in form.items() if isinstance(v, str)})

    def get(self, name: str) -> str:
        return self.values.get(name, "")

    @property
    def uploading(self) -> bool:
        return self.get("manifest_source") == "upload"

    def add_error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message[:1].upper() + message[1:])

    @property
    def asks_to_remove_all_tags(self) -> bool:
        """Whether to offer the box that confirms an empty tag set (after the warning, until tags are given)."""
        asked = self.errors.get("op_tags") == EMPTY_TAGS_WARNING or bool(self.get(REMOVE_ALL_TAGS))
        return asked and self.get("operation") == TAGGING and not self.get("op_tags")

    def refuse(self, exc: BatchOpsError) -> None:
        """Record the service's refusal next to the form field it is about, in the form's words."""
        name, message = wording.translate(getattr(exc, "field", None), str(exc))
        if name in ("manifest_arn", "manifest_etag") and self.uploading:
            name = "upload_bucket"  # the manifest's place is the upload's bucket
        self.add_error(name, message)


def manifest_location(form: JobForm) -> tuple[str, str]:
    """(bucket, key) of an existing manifest named as ``bucket/key``, ``s3://bucket/key`` or an object ARN."""
    value = form.get("manifest_arn")
    for prefix in ("s3://", "arn:aws:s3:::"):
        value = value.removeprefix(prefix)
    bucket, _, key = value.partition("/")
    if not bucket or not key:
        raise FormError("manifest_arn", "give the manifest as bucket/key, s3://bucket/key or arn:aws:s3:::bucket/key")
    return bucket, key


def build_request(form: JobForm, object_arn: str, etag: str) -> bytes:
    """The CreateJob XML the form describes, with the manifest at ``object_arn`` / ``etag``."""
    root = Element("CreateJobRequest", xmlns=NAMESPACE)
    add(root, "ClientRequestToken", form.get("client_request_token") or str(uuid.uuid4()))
    add(root, "ConfirmationRequired", bool(form.get("confirmation_required")))
    if form.get("description"):
        add(root, "Description", form.get("description"))
    add(root, "Priority", form.get("priority"))
    add(root, "RoleArn", form.get("role_arn"))
    _add_manifest(root, form, object_arn, etag)
    _add_operation(add(root, "Operation"), form)
    _add_report(add(root, "Report"), form)
    if form.get("dry_run"):
        add(root, DRY_RUN_ELEMENT, True)
    if form.get(chain_form.FIELD):
        try:
            root.append(chain_form.then_element(form.get(chain_form.FIELD)))
        except chain_form.StepsRefused as exc:
            raise FormError(chain_form.FIELD, str(exc)) from None
    return bytes(tostring(root, encoding="utf-8"))


def validate(form: JobForm, object_arn: str, etag: str, threshold: FailureThreshold) -> JobSpec | None:
    """Parse the form's request as the API would; on refusal, record the error by field and return None."""
    try:
        _check_characters(form)
        spec, _tags = parse_create_job(build_request(form, object_arn, etag), default_threshold=threshold)
    except FormError as exc:
        form.add_error(exc.field, exc.message)
        return None
    except ValidationError as exc:
        form.refuse(exc)
        return None
    if _removes_all_tags(spec) and not form.get(REMOVE_ALL_TAGS):
        form.add_error("op_tags", EMPTY_TAGS_WARNING)
        return None
    return spec


def _removes_all_tags(spec: JobSpec) -> bool:
    """An empty TagSet is legal (S3 replaces the tags with none), but rarely meant: the form asks first."""
    return spec.operation.name == TAGGING and not spec.operation.params.get("TagSet")


def _check_characters(form: JobForm) -> None:
    """A field with a character XML cannot carry is named here, not refused later as malformed XML."""
    for name, value in form.values.items():
        bad = non_xml_char(value)
        if bad is not None:
            raise FormError(name, f"this field has the character {bad!r}, which a job cannot store; remove it")


def _add_manifest(root: Element, form: JobForm, object_arn: str, etag: str) -> None:
    manifest = add(root, "Manifest")
    spec = add(manifest, "Spec")
    add(spec, "Format", MANIFEST_FORMAT)
    fields = add(spec, "Fields")
    for name in (form.get("manifest_fields") or "Bucket,Key").split(","):
        add(fields, "member", name.strip())
    location = add(manifest, "Location")
    add(location, "ObjectArn", object_arn)
    add(location, "ETag", etag)


def _add_operation(parent: Element, form: JobForm) -> None:
    name = form.get("operation")
    if name not in OPERATIONS:
        raise FormError("operation", f"choose an operation: {', '.join(OPERATIONS.values())}")
    element = add(parent, name)
    if name == TAGGING:
        tag_set = add(element, "TagSet")
        for key, value in _tag_lines(form.get("op_tags")):
            member = add(tag_set, "member")
            add(member, "Key", key)
            add(member, "Value", value)
    elif name == "S3PutObjectCopy":
        add(element, "TargetResource", _bucket_arn(form.get("copy_target")))
        if form.get("copy_prefix"):
            add(element, "TargetKeyPrefix", form.get("copy_prefix"))
    elif name == "S3PutObjectAcl":
        add(add(element, "AccessControlPolicy"), "CannedAccessControlList", form.get("acl"))
    elif name == "S3PutObjectLegalHold":
        add(add(element, "LegalHold"), "Status", form.get("legal_hold"))
    elif name == "S3PutObjectRetention":
        _add_retention(element, form)


def _add_retention(element: Element, form: JobForm) -> None:
    retention = add(element, "Retention")
    until = form.get("retention_until")
    if not until:
        raise FormError("retention_until", "give the date until which objects are retained (YYYY-MM-DD)")
    add(retention, "Mode", form.get("retention_mode"))
    add(retention, "RetainUntilDate", until if "T" in until else f"{until}T00:00:00Z")


def _tag_lines(text: str) -> list[tuple[str, str]]:
    tags = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise FormError("op_tags", f"line {number} is {line.strip()!r}; write one tag per line as key=value")
        tags.append((key.strip(), value.strip()))
    return tags


def _add_report(report: Element, form: JobForm) -> None:
    if not form.get("report_enabled"):
        add(report, "Enabled", "false")
        return
    add(report, "Enabled", "true")
    add(report, "Bucket", _bucket_arn(form.get("report_bucket")))
    add(report, "Format", REPORT_FORMAT)
    if form.get("report_prefix"):
        add(report, "Prefix", form.get("report_prefix"))
    add(report, "ReportScope", form.get("report_scope") or "AllTasks")


def _bucket_arn(bucket: str) -> str:
    """A bucket named in the form: an ARN as given, a plain name as ``arn:aws:s3:::name``, empty as empty."""
    return bucket if bucket.startswith("arn:") or not bucket else f"arn:aws:s3:::{bucket}"
