"""S3PutObjectCopy: copy each object to a target bucket (optionally under a key prefix).

Uses one CopyObject call per object, so sources larger than 5 GB fail with the store's error
(a multipart UploadPartCopy fallback is out of scope for now).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import ValidationError
from batchops.operations.acl import CANNED_ACLS
from batchops.operations.base import Operation, TaskContext, version_kwargs
from batchops.operations.fields import (
    bucket_from_arn,
    choice,
    object_tags,
    only_children,
    timestamp,
    to_datetime,
    without_none,
)
from batchops.operations.retention import RETENTION_MODES
from batchops.xmlutil import boolean, check_length, string_map, text

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
)
#: Valid S3 Control members that batchops cannot honour yet; refused rather than silently dropped.
UNSUPPORTED_COPY_ELEMENTS = (
    "AccessControlGrants",
    "AnnotationDirective",
    "ObjectLockEventHold",
    "ObjectLockEventHoldDuration",
)
METADATA_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "ContentType")
# The store computes a copy's length and MD5 itself, and RequesterCharged describes a response; S3
# ignores all three in NewObjectMetadata, so they are accepted (boto3 users may pass them) and dropped.
IGNORED_METADATA = ("ContentLength", "ContentMD5", "RequesterCharged")
METADATA_ELEMENTS = (*METADATA_HEADERS, "UserMetadata", "HttpExpiresDate", "SSEAlgorithm", *IGNORED_METADATA)
#: S3 limits the user-defined metadata of one object (keys plus values, UTF-8) to 2 KB.
MAX_USER_METADATA_BYTES = 2048
#: CopyObject arguments kept as ISO strings in params and turned into datetimes in run().
TIMESTAMP_ARGUMENTS = (
    "CopySourceIfModifiedSince",
    "CopySourceIfUnmodifiedSince",
    "Expires",
    "ObjectLockRetainUntilDate",
)


class CopyObject(Operation):
    name = "S3PutObjectCopy"

    def parse(self, element: Element) -> dict[str, Any]:
        only_children(element, COPY_ELEMENTS, self.name, unsupported=UNSUPPORTED_COPY_ELEMENTS)
        destination = {
            "TargetBucket": target_bucket(element, self.name),
            "TargetKeyPrefix": target_key_prefix(element, self.name),
        }
        arguments = {
            **metadata_arguments(element, self.name),
            **tagging_arguments(element, self.name),
            **precondition_arguments(element, self.name),
            **storage_arguments(element, self.name),
            **object_lock_arguments(element, self.name),
        }
        check_kms_key(arguments, self.name)
        return {**destination, "CopyArguments": arguments}

    async def run(self, ctx: TaskContext, params: dict[str, Any], target: ObjectRef) -> str:
        key = params["TargetKeyPrefix"] + target.key
        return await copy_one(ctx, target, params["TargetBucket"], key, params["CopyArguments"])


async def copy_one(ctx: TaskContext, source: ObjectRef, bucket: str, key: str, arguments: dict[str, Any]) -> str:
    """Copy ``source`` to ``bucket/key`` with CopyObject ``arguments`` (as parsed: timestamps as ISO strings).

    The one place a copy is sent, for S3PutObjectCopy and COSPutObjectCopy alike; returns the report message.
    """
    response = await ctx.s3.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": source.bucket, "Key": source.key, **version_kwargs(source)},
        **with_datetimes(arguments),
    )
    etag = response.get("CopyObjectResult", {}).get("ETag")
    return f"copied, ETag {etag}" if etag else "copied"


def target_bucket(element: Element, where: str) -> str:
    value = text(element, "TargetResource")
    if not value:
        raise ValidationError(
            f"{where}.TargetResource is required: give the destination bucket's ARN, e.g. arn:aws:s3:::my-bucket",
            field=f"{where}.TargetResource",
        )
    return bucket_from_arn(value, f"{where}.TargetResource")


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
    only_children(element, METADATA_ELEMENTS, where)
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
    query = urlencode([(tag["Key"], tag["Value"]) for tag in tags], quote_via=quote)
    return {"TaggingDirective": "REPLACE", "Tagging": query}


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


def with_datetimes(arguments: dict[str, Any]) -> dict[str, Any]:
    return {name: to_datetime(value) if name in TIMESTAMP_ARGUMENTS else value for name, value in arguments.items()}
