"""S3ReplicateObject: copy each listed object to its replica bucket, keeping metadata, tags and version order.

AWS's operation has no parameters: the replica comes from the bucket's replication configuration. Here
it comes from the server config (``[[replicas]] source_bucket → target_bucket``; the target bucket may
live on another store, ``[[targets]]``), or per job from our extension element
``<BatchOpsReplicaTarget>arn:aws:s3:::bucket</BatchOpsReplicaTarget>`` (and ``<BatchOpsReplicaKeyPrefix>``).
Bytes move the way S3PutObjectCopy moves them (``transfer.copy_to``): server-side on the same store,
streamed across stores.

Each replica carries its source's version id in the user metadata ``batchops-source-version-id``.
Version order: for a manifest row with a VersionId, the replica's history of the key is brought up to
that version, oldest first — source versions older than it that the replica lacks are copied before it,
and a version the replica already has (or has passed) is not copied again. Rows of one key run one at a
time (``ctx.key_locks``: across every process the engine runs tasks in, ``--workers N`` and ``batchops
worker`` alike), so the replica's versions follow the source's order whatever order the manifest lists them in
and however its rows are spread over chunks.
Delete markers are not replicated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from botocore.exceptions import ClientError

from batchops.arns import parse_bucket_arn
from batchops.domain.task import ObjectRef
from batchops.errors import TaskError, ValidationError
from batchops.operations.base import Operation, Params, TaskContext
from batchops.operations.transfer import Copied, Destination, copy_to, head_source, source_metadata
from batchops.xmlutil import check_children, check_length, text

#: The replica's user-metadata key naming the source version it was copied from.
SOURCE_VERSION_KEY = "batchops-source-version-id"
ELEMENTS = ("BatchOpsReplicaTarget", "BatchOpsReplicaKeyPrefix")


@dataclass(frozen=True)
class ReplicateParams(Params):
    """The job's own replica bucket, or none: each source bucket's ``[[replicas]]`` entry then."""

    target_bucket: str | None = None
    target_key_prefix: str = ""

    def to_json(self) -> dict[str, Any]:
        if self.target_bucket is None:
            return {}
        return {"TargetBucket": self.target_bucket, "TargetKeyPrefix": self.target_key_prefix}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> ReplicateParams:
        return cls(stored.get("TargetBucket"), stored.get("TargetKeyPrefix", ""))


class ReplicateObject(Operation[ReplicateParams]):
    name = "S3ReplicateObject"
    params_type = ReplicateParams

    def parse(self, element: Element) -> ReplicateParams:
        check_children(element, ELEMENTS, self.name)
        target = text(element, "BatchOpsReplicaTarget")
        prefix_name = f"{self.name}.BatchOpsReplicaKeyPrefix"
        prefix = check_length(text(element, "BatchOpsReplicaKeyPrefix"), prefix_name, 1, 1024)
        if target is None:
            if prefix is not None:
                raise ValidationError(
                    f"{self.name}.BatchOpsReplicaKeyPrefix needs BatchOpsReplicaTarget (the replica bucket's ARN)",
                    field=f"{self.name}.BatchOpsReplicaKeyPrefix",
                )
            return ReplicateParams()
        bucket = parse_bucket_arn(target, f"{self.name}.BatchOpsReplicaTarget")
        return ReplicateParams(bucket, prefix or "")

    async def run(self, ctx: TaskContext, params: ReplicateParams, target: ObjectRef) -> str:
        dest = replica_destination(ctx, params, target)
        async with ctx.key_locks.hold(f"{dest.bucket}/{dest.key}"):  # bucket names hold no "/"
            if target.version_id:
                return await replicate_history(ctx, target, dest)
            return await replicate_current(ctx, target, dest)


def replica_destination(ctx: TaskContext, params: ReplicateParams, target: ObjectRef) -> Destination:
    if params.target_bucket is not None:
        return Destination(params.target_bucket, params.target_key_prefix + target.key)
    replica = ctx.stores.replica_for(target.bucket)
    if replica is None:
        raise TaskError(
            "NoReplicaConfigured",
            400,
            f"no replica is configured for bucket {target.bucket}: add a [[replicas]] table with "
            f'source_bucket = "{target.bucket}" to the server config, or give <BatchOpsReplicaTarget> in the job',
        )
    return Destination(replica.target_bucket, replica.target_key_prefix + target.key)


async def replicate_current(ctx: TaskContext, source: ObjectRef, dest: Destination) -> str:
    head = await head_source(ctx, source, {})
    version = head.get("VersionId")
    if version and version != "null" and await replicated_version(ctx, dest) == version:
        return f"already replicated (source version {version})"
    copied = await replicate_one(ctx, source, head, dest)
    return f"replicated to {dest.bucket}, ETag {copied.etag}"


async def replicate_history(ctx: TaskContext, source: ObjectRef, dest: Destination) -> str:
    """Copy the source versions the replica lacks, oldest first, up to and including ``source.version_id``."""
    versions = await source_versions(ctx, source)
    if source.version_id not in versions:
        raise TaskError("NoSuchVersion", 404, f"the source has no version {source.version_id} of this key")
    wanted = versions.index(source.version_id)
    done = await replicated_version(ctx, dest)
    start = versions.index(done) + 1 if done in versions else 0
    if wanted < start:
        return f"already replicated (source version {source.version_id})"
    copied: Copied | None = None
    for version in versions[start : wanted + 1]:
        older = ObjectRef(source.bucket, source.key, version)
        copied = await replicate_one(ctx, older, await head_source(ctx, older, {}), dest)
    count = wanted + 1 - start
    etag = copied.etag if copied else None
    return f"replicated {count} version{'s' if count > 1 else ''} to {dest.bucket} in source order, ETag {etag}"


async def replicate_one(ctx: TaskContext, source: ObjectRef, head: dict[str, Any], dest: Destination) -> Copied:
    """Copy one version with its metadata and tags, marked with the source version it came from."""
    metadata = {**head.get("Metadata", {}), SOURCE_VERSION_KEY: head.get("VersionId") or "null"}
    arguments = {**source_metadata(head), "MetadataDirective": "REPLACE", "Metadata": metadata}
    if head.get("StorageClass"):
        arguments["StorageClass"] = head["StorageClass"]
    return await copy_to(ctx, source, head, dest, arguments)


async def source_versions(ctx: TaskContext, source: ObjectRef) -> list[str]:
    """The source key's version ids, oldest first (delete markers left out)."""
    listed: list[dict[str, Any]] = []
    paginator = ctx.s3.get_paginator("list_object_versions")
    async for page in paginator.paginate(Bucket=source.bucket, Prefix=source.key):
        listed += [v for v in page.get("Versions", []) if v["Key"] == source.key]
    # S3 lists a key's versions newest first; a stable sort by time keeps that order for equal times.
    ordered = sorted(reversed(listed), key=lambda v: v["LastModified"])
    return [str(v["VersionId"]) for v in ordered]


async def replicated_version(ctx: TaskContext, dest: Destination) -> str | None:
    """The source version the replica's current object was copied from (None: no replica yet)."""
    client = await ctx.stores.client_for(dest.bucket) or ctx.s3
    try:
        head = await client.head_object(Bucket=dest.bucket, Key=dest.key)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    marker: str | None = head.get("Metadata", {}).get(SOURCE_VERSION_KEY)
    return marker
