"""The service's validation errors in the create form's words: one table from API field path to form field.

The form is checked by the API's own validation (``forms.validate``), whose messages name API paths such as
``Report.Bucket``. Here, once, each path becomes the form field it shows next to and the form's name for it;
a missing value gets the form's own instruction ("Choose a report bucket, or switch the report off").
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

#: The field at the top of the form, for what belongs to no single input.
WHOLE_FORM = "form"


@dataclass(frozen=True)
class Wording:
    field: str  #: the form field the message is shown next to
    name: str  #: how the form names it, as the subject of a sentence
    missing: str  #: what to do when it is empty
    #: The form offers its values to choose from (a select, a checkbox, a hidden field): any refusal means the
    #: value was not one of them, and the API's list of values would mean nothing here, so say what to do.
    choice: bool = False


_REPORT_BUCKET = Wording("report_bucket", "The report bucket", "Choose a report bucket, or switch the report off")
_MANIFEST = Wording(
    "manifest_arn", "The manifest", "Choose a manifest: upload a CSV file, or name an object already in the store"
)
_TAGS = Wording("op_tags", "The tag list", "Add the tags, one key=value per line")
_ACL = Wording("acl", "The canned ACL", "Choose one of the canned ACLs offered", choice=True)
_LEGAL_HOLD = Wording("legal_hold", "The legal hold", "Choose ON or OFF for the legal hold", choice=True)
_RETENTION_MODE = Wording("retention_mode", "The retention mode", "Choose a retention mode", choice=True)
_RELOAD = "Reload the form and fill it in again"
_COPY_TARGET = Wording("copy_target", "The destination bucket", "Choose the bucket to copy the objects to")
_OPERATION = Wording("operation", "The operation", "Choose one of the operations offered", choice=True)
_COLUMNS = Wording("manifest_fields", "The manifest's columns", "Choose the manifest's columns", choice=True)

#: Every path the API's validation names for a request the form builds (tests/unit/test_console_wording.py
#: derives them from the form's XML and from the validation itself), longest match wins.
WORDINGS: dict[str, Wording] = {
    "ClientRequestToken": Wording(WHOLE_FORM, "The form's request token", _RELOAD, choice=True),
    "ConfirmationRequired": Wording(WHOLE_FORM, "The confirmation choice", _RELOAD, choice=True),
    "Description": Wording("description", "The description", "Write a description, or leave it empty"),
    "Priority": Wording("priority", "The priority", "Give a priority: a whole number, higher runs first"),
    "RoleArn": Wording(
        "role_arn", "The role ARN", "Give the role the job acts as, like arn:aws:iam::123456789012:role/batchops"
    ),
    "Manifest": _MANIFEST,
    "Manifest.Spec": _COLUMNS,
    "Manifest.Spec.Format": _COLUMNS,
    "Manifest.Spec.Fields": _COLUMNS,
    "Manifest.Spec.Fields member": _COLUMNS,
    "Manifest.Location": _MANIFEST,
    "Manifest.Location.ObjectArn": Wording(
        "manifest_arn", "The manifest object", "Name the manifest object as bucket/key"
    ),
    "Manifest.Location.ETag": Wording(
        "manifest_etag", "The manifest's ETag", "Give the manifest's ETag, or leave it empty to read it from the store"
    ),
    "Operation": _OPERATION,
    "S3DeleteObject": _OPERATION,
    "S3DeleteObjectTagging": _OPERATION,
    "S3PutObjectTagging": _TAGS,
    "S3PutObjectTagging.TagSet": _TAGS,
    "S3PutObjectTagging.TagSet tag": Wording("op_tags", "The tag", "Write each tag as key=value"),
    "S3PutObjectTagging.TagSet tag Key": Wording("op_tags", "A tag's key", "Give every tag a key: key=value"),
    "S3PutObjectTagging.TagSet tag Value": Wording("op_tags", "A tag's value", "Give every tag a value: key=value"),
    "S3PutObjectCopy": _COPY_TARGET,
    "S3PutObjectCopy.TargetResource": _COPY_TARGET,
    "S3PutObjectCopy.TargetKeyPrefix": Wording(
        "copy_prefix", "The destination key prefix", "Give a destination key prefix, or leave it empty"
    ),
    "S3PutObjectAcl": _ACL,
    "S3PutObjectAcl.AccessControlPolicy": _ACL,
    "S3PutObjectAcl.AccessControlPolicy.CannedAccessControlList": _ACL,
    "S3PutObjectLegalHold": _LEGAL_HOLD,
    "S3PutObjectLegalHold.LegalHold": _LEGAL_HOLD,
    "S3PutObjectLegalHold.LegalHold.Status": _LEGAL_HOLD,
    "S3PutObjectRetention": _RETENTION_MODE,
    "S3PutObjectRetention.Retention": _RETENTION_MODE,
    "S3PutObjectRetention.Retention.Mode": _RETENTION_MODE,
    "S3PutObjectRetention.Retention.RetainUntilDate": Wording(
        "retention_until", "The retain-until date", "Choose the date until which the objects are retained"
    ),
    "Report": _REPORT_BUCKET,
    "Report.Enabled": Wording(WHOLE_FORM, "The report choice", _RELOAD, choice=True),
    "Report.Bucket": _REPORT_BUCKET,
    "Report.Format": Wording(WHOLE_FORM, "The report format", _RELOAD, choice=True),
    "Report.Prefix": Wording("report_prefix", "The report prefix", "Give a report prefix, or leave it empty"),
    "Report.ReportScope": Wording(
        "report_scope", "The report's tasks", "Choose which tasks the report lists", choice=True
    ),
}

_LONGEST_FIRST = sorted(WORDINGS, key=len, reverse=True)
#: A path as it appears in a message: not inside a longer name (``Report.Bucket`` is not ``MyReport.Bucket``).
_MENTION = {path: re.compile(rf"(?<![\w.]){re.escape(path)}(?![\w])") for path in WORDINGS}
_MISSING = re.compile(r" is required\b| needs a <\w+> element")


def wording_of(api_field: str | None, message: str = "") -> Wording | None:
    """The wording for an API path: the error's field, else the longest path its message names."""
    if api_field:
        for path in _LONGEST_FIRST:
            if api_field == path or api_field.startswith((path + ".", path + " ")):
                return WORDINGS[path]
    for path in _LONGEST_FIRST:
        if _MENTION[path].search(message):
            return WORDINGS[path]
    return None


def translate(api_field: str | None, message: str) -> tuple[str, str]:
    """(form field, message in the form's words) for a refusal of the service's validation."""
    wording = wording_of(api_field, message)
    if wording is None:
        return WHOLE_FORM, _sentence(message)
    if wording.choice or _MISSING.search(message):
        return wording.field, f"{wording.missing}."
    return wording.field, _sentence(_rename(message))


def _rename(message: str) -> str:
    """Each API path in the message replaced by the form's name for it (lower case inside a sentence)."""
    for path in _LONGEST_FIRST:
        name = WORDINGS[path].name
        message = _MENTION[path].sub(functools.partial(_named, name), message)
    return message


def _named(name: str, mention: re.Match[str]) -> str:
    return name if mention.start() == 0 else _lower_first(name)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
