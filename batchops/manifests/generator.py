"""Generated manifests (``S3JobManifestGenerator``): the task list is a filtered listing of one bucket.

The bucket is listed a page (1,000 keys) at a time with ListObjectsV2, or ListObjectVersions when the
job asks for every version (our ``BatchOpsIncludeAllVersions`` extension; delete markers are skipped),
and each object is kept if it passes every filter given. Memory is one page, whatever the bucket size.

Positions carry a cursor, the last listed key (and version), so a restart lists on from there with
StartAfter / KeyMarker + VersionIdMarker instead of listing the bucket again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import parse_bucket_arn
from batchops.domain.job import GeneratorFilter, GeneratorSpec
from batchops.domain.task import ObjectRef
from batchops.errors import ManifestError
from batchops.manifests.source import Position, SourceRow
from batchops.s3.errors import to_task_error

PAGE_SIZE = 1000


@dataclass(frozen=True)
class ListedObject:
    key: str
    size: int
    last_modified: datetime
    storage_class: str = "STANDARD"
    version_id: str | None = None  # set when listing versions


#: Lists a bucket from a cursor: (bucket, key prefix or None, cursor or None) → objects in key order.
Lister = Callable[[str, str | None, str | None], AsyncIterator[ListedObject]]


def matches(rules: GeneratorFilter, item: ListedObject) -> bool:
    """Whether the object passes every filter that is set (an unset filter keeps everything)."""
    return (
        _after(item.last_modified, rules.created_after)
        and _before(item.last_modified, rules.created_before)
        and _any(rules.match_any_prefix, item.key.startswith)
        and _any(rules.match_any_suffix, item.key.endswith)
        and _any(rules.match_any_substring, item.key.__contains__)
        and (rules.size_greater_than is None or item.size > rules.size_greater_than)
        and (rules.size_less_than is None or item.size < rules.size_less_than)
        and (not rules.storage_classes or item.storage_class in rules.storage_classes)
    )


def _after(moment: datetime, bound: str | None) -> bool:
    return bound is None or _utc(moment) > datetime.fromisoformat(bound)


def _before(moment: datetime, bound: str | None) -> bool:
    return bound is None or _utc(moment) < datetime.fromisoformat(bound)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _any(values: tuple[str, ...], test: Callable[[str], bool]) -> bool:
    return not values or any(test(value) for value in values)


def cursor_of(item: ListedObject) -> str:
    return json.dumps([item.key, item.version_id])


class GeneratorSource:
    def __init__(self, s3: Any, generator: GeneratorSpec, lister: Lister | None = None) -> None:
        self._generator = generator
        self._bucket = parse_bucket_arn(generator.source_bucket, "SourceBucket")
        if lister is None:
            lister = _S3Lister(s3).versions if generator.include_all_versions else _S3Lister(s3).current
        self._list = lister

    async def rows(self, start: Position) -> AsyncIterator[SourceRow]:
        rules = self._generator.filter
        # One prefix narrows the listing itself; several are checked per key.
        prefix = rules.match_any_prefix[0] if len(rules.match_any_prefix) == 1 else None
        entries = start.entries
        async for item in self._list(self._bucket, prefix, start.cursor):
            if matches(rules, item):
                entries += 1
                yield SourceRow(Position(entries, cursor_of(item)), ObjectRef(self._bucket, item.key, item.version_id))


class _S3Lister:
    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    async def current(self, bucket: str, prefix: str | None, cursor: str | None) -> AsyncIterator[ListedObject]:
        request: dict[str, Any] = {"Bucket": bucket, "MaxKeys": PAGE_SIZE, **({"Prefix": prefix} if prefix else {})}
        if cursor:
            request["StartAfter"] = json.loads(cursor)[0]
        while True:
            page = await self._call("list_objects_v2", bucket, request)
            for item in page.get("Contents", []):
                yield ListedObject(
                    item["Key"], item["Size"], item["LastModified"], item.get("StorageClass") or "STANDARD"
                )
            if not page.get("IsTruncated"):
                return
            request.pop("StartAfter", None)
            request["ContinuationToken"] = page["NextContinuationToken"]

    async def versions(self, bucket: str, prefix: str | None, cursor: str | None) -> AsyncIterator[ListedObject]:
        request: dict[str, Any] = {"Bucket": bucket, "MaxKeys": PAGE_SIZE, **({"Prefix": prefix} if prefix else {})}
        if cursor:
            key, version_id = json.loads(cursor)
            request.update(KeyMarker=key, VersionIdMarker=version_id)
        while True:
            page = await self._call("list_object_versions", bucket, request)
            for item in page.get("Versions", []):  # delete markers are not objects to act on
                yield ListedObject(
                    item["Key"],
                    item["Size"],
                    item["LastModified"],
                    item.get("StorageClass") or "STANDARD",
                    item.get("VersionId") or "null",
                )
            if not page.get("IsTruncated"):
                return
            request.update(KeyMarker=page["NextKeyMarker"], VersionIdMarker=page.get("NextVersionIdMarker", ""))

    async def _call(self, method: str, bucket: str, request: dict[str, Any]) -> Any:
        try:
            return await getattr(self._s3, method)(**request)
        except (ClientError, BotoCoreError) as exc:
            error = to_task_error(exc)
            raise ManifestError(
                "SourceBucketNotReadable",
                f"could not list the source bucket {bucket}: {error.code} (HTTP {error.http_status}): {error.message}",
            ) from None
