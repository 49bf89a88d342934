"""Dry-run checks (``BatchOpsDryRun``): what an operation's task would do, found by reading only.

The operations' ``check`` methods build on these. A check sends HEAD and GET requests only (HeadObject,
HeadBucket, GetObjectTagging, GetBucketVersioning, GetObjectLockConfiguration), never a write, and fails the task
where ``run`` would fail (or where S3 would refuse it), with a code that says why; its success message starts
"would".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError
from batchops.operations.base import TaskContext, head_object, version_kwargs
from batchops.operations.fields import to_datetime
from batchops.operations.transfer import MAX_COPY_OBJECT_BYTES, check_preconditions, head_source, part_ranges
from batchops.s3.types import S3Client

#: The code of a retention change that Object Lock would refuse (S3 itself answers AccessDenied).
RETENTION_SHORTENED = "RetentionShortened"
#: The code of a version delete that Object Lock would refuse (S3 itself answers AccessDenied).
OBJECT_LOCKED = "ObjectLocked"


async def read_tags(ctx: TaskContext, target: ObjectRef) -> list[dict[str, str]]:
    """The object's tags now; a missing object fails with the store's own code (NoSuchKey)."""
    response = await ctx.s3.get_object_tagging(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
    return [{"Key": tag["Key"], "Value": tag["Value"]} for tag in response.get("TagSet", [])]


async def check_replace_tags(ctx: TaskContext, target: ObjectRef, tags: list[dict[str, str]]) -> str:
    current = await read_tags(ctx, target)
    if current == tags:
        return f"would leave its {len(current)} tags unchanged"
    return f"would replace its {len(current)} tags with {len(tags)} tags"


def describe_tag_change(current: list[dict[str, str]], merged: list[dict[str, str]]) -> str:
    if merged == current:
        return f"would leave its {len(current)} tags unchanged"
    return f"would merge tags: {len(current)} tags now, {len(merged)} after"


# --- copy --------------------------------------------------------------------------------------------------------


async def check_copy(ctx: TaskContext, source: ObjectRef, bucket: str, key: str, arguments: dict[str, Any]) -> str:
    """The source exists and meets the copy's preconditions, the target bucket exists; says how it would copy."""
    head = await head_source(ctx, source, arguments)
    check_preconditions(head, arguments)
    other_store = await ctx.stores.client_for(bucket)
    await head_bucket(other_store or ctx.s3, bucket)
    size = int(head["ContentLength"])
    return f"would copy {size} bytes to {bucket}/{key}{copy_method(ctx, size, other_store is not None)}"


def copy_method(ctx: TaskContext, size: int, other_store: bool) -> str:
    """How ``transfer.copy`` would copy ``size`` bytes (the same rules, read off the same limits)."""
    parts = len(part_ranges(size, ctx.transfer.part_size))
    if other_store:
        return " on another store" + (f" in {parts} parts" if parts > 1 else "")
    if size > min(ctx.transfer.multipart_threshold, MAX_COPY_OBJECT_BYTES):
        return f" by multipart copy in {parts} parts"
    return " by one CopyObject"


async def head_bucket(s3: S3Client, bucket: str) -> None:
    try:
        await s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise TaskError(
                "NoSuchBucket", 404, f"the target bucket {bucket} does not exist; create it or change the job's target"
            ) from None
        raise


# --- delete ------------------------------------------------------------------------------------------------------


async def check_delete(ctx: TaskContext, target: ObjectRef) -> str:
    head = await head_object(ctx, target)
    if target.version_id:
        check_not_locked(head, target.version_id, datetime.now(UTC))
        return f"would delete version {target.version_id}"
    versioning = await ctx.s3.get_bucket_versioning(Bucket=target.bucket)
    if versioning.get("Status") in ("Enabled", "Suspended"):
        return "would add a delete marker (the bucket is versioned: the object stays as a noncurrent version)"
    return "would delete the object"


def check_not_locked(head: dict[str, Any], version_id: str, now: datetime) -> None:
    """A version under a legal hold or an unexpired retention cannot be deleted (S3 answers AccessDenied)."""
    if head.get("ObjectLockLegalHoldStatus") == "ON":
        raise TaskError(OBJECT_LOCKED, 403, f"version {version_id} is under a legal hold; deleting it would fail")
    until = head.get("ObjectLockRetainUntilDate")
    if head.get("ObjectLockMode") and isinstance(until, datetime) and until > now:
        raise TaskError(
            OBJECT_LOCKED,
            403,
            f"version {version_id} is under {head['ObjectLockMode']} retention until {_iso(until)}; deleting it "
            "would fail",
        )


# --- retention ---------------------------------------------------------------------------------------------------


async def check_retention(ctx: TaskContext, target: ObjectRef, wanted: dict[str, str], bypass: bool) -> str:
    """The bucket has Object Lock, and the new retention (``{}``: cleared) does not shorten one that holds."""
    head = await head_object(ctx, target)
    await require_object_lock(ctx.s3, target.bucket)
    refusal = retention_refusal(head, wanted, bypass, datetime.now(UTC))
    if refusal is not None:
        raise TaskError(RETENTION_SHORTENED, 403, refusal)
    if not wanted:
        return "would clear its retention"
    return f"would set retention {wanted['Mode']} until {wanted['RetainUntilDate']}"


async def require_object_lock(s3: S3Client, bucket: str) -> None:
    try:
        await s3.get_object_lock_configuration(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ObjectLockConfigurationNotFoundError":
            raise TaskError(
                "InvalidRequest",
                400,
                f"bucket {bucket} has no Object Lock configuration; retention can only be set in a bucket created "
                "with Object Lock enabled",
            ) from None
        raise


def retention_refusal(head: dict[str, Any], wanted: dict[str, str], bypass: bool, now: datetime) -> str | None:
    """Why Object Lock would refuse replacing the object's retention (``head``'s) with ``wanted``, or None.

    COMPLIANCE can never be shortened, cleared or turned into GOVERNANCE while it holds; GOVERNANCE can be shortened
    or cleared only with BypassGovernanceRetention. An expired retention holds nothing."""
    mode, until = head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")
    if not mode or not isinstance(until, datetime) or until <= now:
        return None
    new_mode = wanted.get("Mode")
    new_until = to_datetime(wanted["RetainUntilDate"]) if "RetainUntilDate" in wanted else None
    shorter = new_until is None or new_until < until
    held = f"the object is under {mode} retention until {_iso(until)}"
    change = "clearing it" if new_until is None else f"{new_mode} until {wanted['RetainUntilDate']}"
    if mode == "COMPLIANCE" and (shorter or new_mode != "COMPLIANCE"):
        return f"{held}; {change} would shorten or weaken it, which COMPLIANCE mode never allows"
    if mode == "GOVERNANCE" and shorter and not bypass:
        return f"{held}; {change} would shorten it: set BypassGovernanceRetention to true to allow that"
    return None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
