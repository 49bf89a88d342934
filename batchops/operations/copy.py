"""S3PutObjectCopy: copy each object to a target bucket (optionally under a key prefix).

``parse`` turns every S3CopyObjectOperation member into CopyObject arguments (the request-building
functions below are small and shared: operations/cos_copy.py builds on them). ``run`` hands the object
to ``transfer.copy``: one CopyObject, a multipart copy above the multipart threshold, or a copy streamed
through batchops when the target bucket lives on another store.

Members with no CopyObject header are refused rather than dropped; ``Grantee.DisplayName`` is accepted
and not sent, because S3 only ever reports display names and ignores them in grants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any
from xml.etree.ElementTree import Element

from batchops.arns import parse_bucket_arn
from batchops.domain.task import ObjectRef
from batchops.errors import ValidationError
from batchops.operations.acl import CANNED_ACLS, grant
from batchops.operations.base import Operation, Params, TaskContext
from batchops.operations.dryrun import check_copy
from batchops.operations.fields import (
    choice,
    object_tags,
    timestamp,
    without_none,
)
from batchops.operations.retention import RETENTION_MODES
from batchops.operations.transfer import Destination, copy, tag_query
from batchops.s3.fast import s3_model
from batchops.xmlutil import boolean, check_children, check_length, integer, members, string_map, text

STORAGE_CLASSES = (
    "STANDARD",
    "STANDARD_IA",
    "ONEZONE_IA",
    "GLACIER",
    "INTELLIGENT_TIERING",
    "DEEP_ARCHIVE",
    "GLACIER_IR",
)
CHECKSUM_ALGORITHMS = (
    "CRC32",
    "CRC32C",
    "CRC64NVME",
    "MD5",
    "SHA1",
    "SHA256",
    "SHA512",
    "XXHASH64",
    "XXHASH3",
    "XXHASH128",
)
#: S3 Control's SSEAlgorithm → CopyObject's ServerSideEncryption.
SSE_ALGORITHMS = {"AES256": "AES256", "KMS": "aws:kms"}
COPY_ELEMENTS = (
    "TargetResource",
    "TargetKeyPrefix",
    "CannedAccessControlList",
    "MetadataDirective",
    "NewObjectMetadata",
    "NewObjectTagging",
    "ModifiedSinceConstraint",
    "UnModifiedSinceConstraint",
    "RedirectLocation",
    "RequesterPays",
    "StorageClass",
    "SSEAwsKmsKeyId",
    "BucketKeyEnabled",
    "ChecksumAlgorithm",
    "ObjectLockLegalHoldStatus",
    "ObjectLockMode",
    "ObjectLockRetainUntilDate",
    "AccessControlGrants",
    "AnnotationDirective",
    "ObjectLockEventHold",
    "ObjectLockEventHoldDuration",
)
#: An S3Grant's Permission → the CopyObject grant header. Objects have no WRITE permission.
GRANT_HEADERS = {
    "READ": "GrantRead",
    "READ_ACP": "GrantReadACP",
    "WRITE_ACP": "GrantWriteACP",
    "FULL_CONTROL": "GrantFullControl",
}
#: An S3 Grantee type → the key of its ``x-amz-grant-*`` header entry.
GRANTEE_HEADER_KEYS = {"ID": "id", "EmailAddress": "emailAddress", "URI": "uri"}
METADATA_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "ContentType")
# The store computes a copy's length and MD5 itself, and RequesterCharged describes a response; S3
# ignores all three in NewObjectMetadata, so they are accepted (boto3 users may pass them) and dropped.
IGNORED_METADATA = ("ContentLength", "ContentMD5", "RequesterCharged")
METADATA_ELEMENTS = (*METADATA_HEADERS, "UserMetadata", "HttpExpiresDate", "SSEAlgorithm", *IGNORED_METADATA)
#: S3 limits the user-defined metadata of one object (keys plus values, UTF-8) to 2 KB.
MAX_USER_METADATA_BYTES = 2048


@dataclass(frozen=True)
class CopyParams(Params):
    target_bucket: str
    target_key_prefix: str
    #: CopyObject's arguments as parsed (timestamps as ISO strings; transfer.with_datetimes turns them back).
    copy_arguments: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "TargetBucket": self.target_bucket,
            "TargetKeyPrefix": self.target_key_prefix,
            "CopyArguments": dict(self.copy_arguments),
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> CopyParams:
        return cls(stored["TargetBucket"], stored["TargetKeyPrefix"], stored["CopyArguments"])


class CopyObject(Operation[CopyParams]):
    name = "S3PutObjectCopy"
    params_type = CopyParams

    def parse(self, element: Element) -> CopyParams:
        check_children(element, COPY_ELEMENTS, self.name)
        bucket, prefix = target_bucket(element, self.name), target_key_prefix(element, self.name)
        arguments = {
            **metadata_arguments(element, self.name),
            **tagging_arguments(element, self.name),
            **precondition_arguments(element, self.name),
            **storage_arguments(element, self.name),
            **object_lock_arguments(element, self.name),
            **event_hold_arguments(element, self.name),
            **grant_arguments(element, self.name),
            **annotation_arguments(element, self.name),
        }
        check_kms_key(arguments, self.name)
        check_acl(arguments, self.name)
        return CopyParams(bucket, prefix, arguments)

    async def run(self, ctx: TaskContext, params: CopyParams, target: ObjectRef) -> str:
        key = params.target_key_prefix + target.key
        return await copy_one(ctx, target, params.target_bucket, key, dict(params.copy_arguments))

    async def check(self, ctx: TaskContext, params: CopyParams, target: ObjectRef) -> str:
        key = params.target_key_prefix + target.key
        return await check_copy(ctx, target, params.target_bucket, key, dict(params.copy_arguments))


async def copy_one(ctx: TaskContext, source: ObjectRef, bucket: str, key: str, arguments: dict[str, Any]) -> str:
    """Copy ``source`` to ``bucket/key`` with CopyObject ``arguments`` (as parsed: timestamps as ISO strings).

    The one entry for S3PutObjectCopy and COSPutObjectCopy alike (single request, multipart or across
    stores: batchops.operations.transfer); returns the report message.
    """
    copied = await copy(ctx, source, Destination(bucket, key), arguments)
    return copied.describe()


def target_bucket(element: Element, where: str, example: str = "arn:aws:s3:::my-bucket") -> str:
    """The bucket of the required ``TargetResource`` ARN (``example`` shows one in the dialect's form)."""
    value = text(element, "TargetResource")
    if not value:
        raise ValidationError(
            f"{where}.TargetResource is required: give the destination bucket's ARN, e.g. {example}",
            field=f"{where}.TargetResource",
        )
    return parse_bucket_arn(value, f"{where}.TargetResource")


def target_key_prefix(element: Element, where: str) -> str:
    prefix = text(element, "TargetKeyPrefix")
    return check_length(prefix, f"{where}.TargetKeyPrefix", 1, 1024) or ""


def metadata_arguments(element: Element, where: str) -> dict[str, Any]:
    """MetadataDirective plus the new metadata; giving NewObjectMetadata implies REPLACE."""
    directive = choice(element, "MetadataDirective", ("COPY", "REPLACE"), where)
    metadata_element = element.find("NewObjectMetadata")
    metadata = {} if metadata_element is None else new_metadata(metadata_element, f"{where}.NewObjectMetadata")
    # Encryption is not metadata as far as the directive goes: it applies under COPY too.
    encryption = metadata.pop("ServerSideEncryption", None)
    if metadata and directive == "COPY":
        raise ValidationError(
            f"{where}.NewObjectMetadata sets metadata but MetadataDirective is COPY, which keeps the "
            "source's; use REPLACE or drop NewObjectMetadata",
            field=f"{where}.MetadataDirective",
        )
    if metadata or directive == "REPLACE":
        metadata["MetadataDirective"] = "REPLACE"
    return without_none({**metadata, "ServerSideEncryption": encryption})


def new_metadata(element: Element, where: str) -> dict[str, Any]:
    check_children(element, METADATA_ELEMENTS, where)
    algorithm = choice(element, "SSEAlgorithm", SSE_ALGORITHMS, where)
    headers = {name: text(element, name) or None for name in METADATA_HEADERS}
    return without_none(
        {
            **headers,
            "Metadata": user_metadata(element, where),
            "Expires": timestamp(element, "HttpExpiresDate", where),
            "ServerSideEncryption": SSE_ALGORITHMS[algorithm] if algorithm else None,
        }
    )


def user_metadata(element: Element, where: str) -> dict[str, str] | None:
    if element.find("UserMetadata") is None:
        return None
    metadata = string_map(element, "UserMetadata")
    size = sum(len(key.encode()) + len(value.encode()) for key, value in metadata.items())
    if size > MAX_USER_METADATA_BYTES:
        raise ValidationError(
            f"{where}.UserMetadata is {size} bytes but S3 allows {MAX_USER_METADATA_BYTES} "
            "(keys plus values); shorten it",
            field=f"{where}.UserMetadata",
        )
    return metadata


def tagging_arguments(element: Element, where: str) -> dict[str, str]:
    """NewObjectTagging replaces the copy's tags (an empty set clears them); without it tags are copied."""
    if element.find("NewObjectTagging") is None:
        return {}
    tags = object_tags(element, "NewObjectTagging", where)
    return {"TaggingDirective": "REPLACE", "Tagging": tag_query(tags)}


def precondition_arguments(element: Element, where: str) -> dict[str, str]:
    return without_none(
        {
            "CopySourceIfModifiedSince": timestamp(element, "ModifiedSinceConstraint", where),
            "CopySourceIfUnmodifiedSince": timestamp(element, "UnModifiedSinceConstraint", where),
        }
    )


def storage_arguments(element: Element, where: str) -> dict[str, Any]:
    requester_pays = boolean(element, "RequesterPays", where=where)
    return without_none(
        {
            "StorageClass": choice(element, "StorageClass", STORAGE_CLASSES, where),
            "ACL": choice(element, "CannedAccessControlList", CANNED_ACLS, where),
            "RequestPayer": "requester" if requester_pays else None,
            "SSEKMSKeyId": check_length(text(element, "SSEAwsKmsKeyId"), f"{where}.SSEAwsKmsKeyId", 1, 2000),
            "BucketKeyEnabled": boolean(element, "BucketKeyEnabled", where=where),
            "ChecksumAlgorithm": choice(element, "ChecksumAlgorithm", CHECKSUM_ALGORITHMS, where),
            "WebsiteRedirectLocation": check_length(
                text(element, "RedirectLocation"), f"{where}.RedirectLocation", 1, 2048
            ),
        }
    )


def object_lock_arguments(element: Element, where: str) -> dict[str, str]:
    mode = choice(element, "ObjectLockMode", RETENTION_MODES, where)
    until = timestamp(element, "ObjectLockRetainUntilDate", where)
    if (mode is None) != (until is None):
        raise ValidationError(
            f"{where} needs ObjectLockMode and ObjectLockRetainUntilDate together (or neither)",
            field=f"{where}.ObjectLockMode",
        )
    return without_none(
        {
            "ObjectLockLegalHoldStatus": choice(element, "ObjectLockLegalHoldStatus", ("ON", "OFF"), where),
            "ObjectLockMode": mode,
            "ObjectLockRetainUntilDate": until,
        }
    )


def check_kms_key(arguments: dict[str, Any], where: str) -> None:
    if "SSEKMSKeyId" in arguments and arguments.get("ServerSideEncryption") != "aws:kms":
        raise ValidationError(
            f"{where}.SSEAwsKmsKeyId needs NewObjectMetadata.SSEAlgorithm KMS; add it or drop the key id",
            field=f"{where}.SSEAwsKmsKeyId",
        )


def event_hold_arguments(element: Element, where: str) -> dict[str, Any]:
    """ObjectLockEventHold ON|OFF and its duration (Days 1 to 36500 or Years 1 to 100, one of them)."""
    hold = choice(element, "ObjectLockEventHold", ("ON", "OFF"), where)
    duration = element.find("ObjectLockEventHoldDuration")
    arguments: dict[str, Any] = {"ObjectLockEventHold": hold} if hold else {}
    if duration is not None:
        arguments.update(event_hold_duration(duration, f"{where}.ObjectLockEventHoldDuration"))
    for name in arguments:
        require_copy_member(name, where)
    return arguments


def event_hold_duration(duration: Element, where: str) -> dict[str, int]:
    check_children(duration, ("Days", "Years"), where)
    days = integer(duration, "Days", lo=1, hi=36500, where=where)
    years = integer(duration, "Years", lo=1, hi=100, where=where)
    if (days is None) == (years is None):
        raise ValidationError(f"{where} needs exactly one of Days or Years", field=where)
    if days is not None:
        return {"ObjectLockEventHoldDurationDays": days}
    assert years is not None
    return {"ObjectLockEventHoldDurationYears": years}


def grant_arguments(element: Element, where: str) -> dict[str, str]:
    """AccessControlGrants → CopyObject's ``x-amz-grant-*`` headers, one per permission (none for an empty list)."""
    if element.find("AccessControlGrants") is None:
        return {}
    name = f"{where}.AccessControlGrants"
    by_header: dict[str, list[str]] = {}
    for member in members(element, "AccessControlGrants"):
        parsed = grant(member, name)
        header = GRANT_HEADERS.get(parsed["Permission"])
        if header is None:
            raise ValidationError(
                f"{name}: an object has no {parsed['Permission']} permission; use READ, READ_ACP, WRITE_ACP "
                "or FULL_CONTROL",
                field=name,
            )
        by_header.setdefault(header, []).append(grantee_header_entry(parsed["Grantee"], name))
    return {header: ", ".join(entries) for header, entries in by_header.items()}


def grantee_header_entry(grantee: dict[str, str], where: str) -> str:
    """``id="…"``, ``emailAddress="…"`` or ``uri="…"``, as S3's grant headers take them."""
    key, value = next((GRANTEE_HEADER_KEYS[k], v) for k, v in grantee.items() if k in GRANTEE_HEADER_KEYS)
    if '"' in value or "," in value:
        raise ValidationError(f"{where}: grantee identifier {value!r} may not contain quotes or commas", field=where)
    return f'{key}="{value}"'


def annotation_arguments(element: Element, where: str) -> dict[str, str]:
    directive = choice(element, "AnnotationDirective", ("COPY", "EXCLUDE"), where)
    if directive is None:
        return {}
    require_copy_member("AnnotationDirective", where)
    return {"AnnotationDirective": directive}


def check_acl(arguments: dict[str, Any], where: str) -> None:
    if "ACL" in arguments and any(name in arguments for name in GRANT_HEADERS.values()):
        raise ValidationError(
            f"{where} gives both CannedAccessControlList and AccessControlGrants; S3 takes one or the other",
            field=f"{where}.AccessControlGrants",
        )


@cache
def copy_object_members() -> frozenset[str]:
    """The CopyObject parameters the installed botocore can send."""
    model = s3_model().operation_model("CopyObject")
    return frozenset(model.input_shape.members)


def require_copy_member(name: str, where: str) -> None:
    """Refuse a member the installed botocore cannot send (it would fail every task instead)."""
    if name not in copy_object_members():
        raise ValidationError(
            f"{where}: this batchops installation's botocore cannot send {name}; upgrade aiobotocore "
            "(and botocore) on the server, or leave the field out",
            field=where,
        )
