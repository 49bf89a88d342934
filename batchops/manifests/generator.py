"""Generated manifests (``S3JobManifestGenerator``): the task list is a filtered listing of one bucket.

The bucket is listed a page (1,000 keys) at a time with ListObjectsV2, or ListObjectVersions when the
job asks for every version (our ``BatchOpsIncludeAllVersions`` extension; delete markers are skipped),
and each object is kept if it passes every filter given. Memory is one page, whatever the bucket size.

Positions carry a cursor, the last kept key (and version), so a restart lists on from there with
StartAfter / KeyMarker + VersionIdMarker instead of listing the bucket again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import parse_bucket_arn
from batchops.domain.job import GeneratorFilter, GeneratorSpec
from batchops.domain.task import ObjectRef
from batchops.errors import ManifestError
from batchops.manifests.source import Position, SourceRow
from batchops.s3.errors import to_task_error
from batchops.s3.types import Response, S3Client

PAGE_SIZE = 1000


class ListedObject(NamedTuple):
    key: str
    size: int
    last_modified: datetime
    storage_class: str = "STANDARD"
    version_id: str | None = None  # set when listing versions


#: Lists a bucket from a cursor: (bucket, key prefix or None, cursor or None) → objects in key order.
Lister = Callable[[str, str | None, str | None], AsyncIterator[ListedObject]]


Check = Callable[[ListedObject], bool]
#: One listing call of the store (list_objects_v2 or list_object_versions), bound to its client.
Listing = Callable[..., Awaitable[Response]]


def compile_filter(rules: GeneratorFilter) -> Check:
    """One predicate testing only the filters that are set (an unset filter keeps everything)."""
    checks = [*_time_checks(rules), *_key_checks(rules), *_size_checks(rules)]
    if rules.storage_classes:
        classes = frozenset(rules.storage_classes)
        checks.append(lambda item: item.storage_class in classes)
    if len(checks) <= 1:
        return checks[0] if checks else lambda _item: True
    return lambda item: all(check(item) for check in checks)


def matches(rules: GeneratorFilter, item: ListedObject) -> bool:
    return compile_filter(rules)(item)


def _time_checks(rules: GeneratorFilter) -> list[Check]:
    checks: list[Check] = []
    if rules.created_after is not None:
        after = datetime.fromisoformat(rules.created_after)
        checks.append(lambda item: _utc(item.last_modified) > after)
    if rules.created_before is not None:
        before = datetime.fromisoformat(rules.created_before)
        checks.append(lambda item: _utc(item.last_modified) < before)
    return checks


def _key_checks(rules: GeneratorFilter) -> list[Check]:
    checks: list[Check] = []
    if rules.match_any_prefix:
        prefixes = rules.match_any_prefix
        checks.append(lambda item: item.key.startswith(prefixes))
    if rules.match_any_suffix:
        suffixes = rules.match_any_suffix
        checks.append(lambda item: item.key.endswith(suffixes))
    if rules.match_any_substring:
        parts = rules.match_any_substring
        checks.append(lambda item: any(part in item.key for part in parts))
    return checks


def _size_checks(rules: GeneratorFilter) -> list[Check]:
    checks: list[Check] = []
    if rules.size_greater_than is not None:
        low = rules.size_greater_than
        checks.append(lambda item: item.size > low)
    if rules.size_less_than is not None:
        high = rules.size_less_than
        checks.append(lambda item: item.size < high)
    return checks


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def cursor_of(item: ListedObject) -> str:
    """The key, and "\\0" + the version id when listing versions (no key or version id holds a NUL)."""
    return item.key if item.version_id is None else f"{item.key}\0{item.version_id}"


def _from_cursor(cursor: str) -> tuple[str, str | None]:
    key, _, version_id = cursor.partition("\0")
    return key, version_id or None


class GeneratorSource:
    def __init__(self, s3: S3Client, generator: GeneratorSpec, lister: Lister | None = None) -> None:
        self._generator = generator
        self._bucket = parse_bucket_arn(generator.source_bucket, "SourceBucket")
        if lister is None:
            lister = _S3Lister(s3).versions if generator.include_all_versions else _S3Lister(s3).current
        self._list = lister

    async def rows(self, start: Position) -> AsyncIterator[SourceRow]:
        rules = self._generator.filter
        keep = compile_filter(rules)
        # One prefix narrows the listing itself; several are checked per key.
        prefix = rules.match_any_prefix[0] if len(rules.match_any_prefix) == 1 else None
        entries = start.entries
        async for item in self._list(self._bucket, prefix, start.cursor):
            if keep(item):
                entries += 1
                yield SourceRow(Position(entries, cursor_of(item)), ObjectRef(self._bucket, item.key, item.version_id))


class _S3Lister:
    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    async def current(self, bucket: str, prefix: str | None, cursor: str | None) -> AsyncIterator[ListedObject]:
        request: dict[str, Any] = {"Bucket": bucket, "MaxKeys": PAGE_SIZE, **({"Prefix": prefix} if prefix else {})}
        if cursor:
            request["StartAfter"] = _from_cursor(cursor)[0]
        while True:
            page = await self._call(self._s3.list_objects_v2, bucket, request)
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
            key, version_id = _from_cursor(cursor)
            request.update(KeyMarker=key, VersionIdMarker=version_id or "")
        while True:
            page = await self._call(self._s3.list_object_versions, bucket, request)
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

    async def _call(self, listing: Listing, bucket: str, request: dict[str, Any]) -> Response:
        try:
            return await listing(**request)
        except (ClientError, BotoCoreError) as exc:
            error = to_task_error(exc)
            raise ManifestError(
                "SourceBucketNotReadable",
                f"could not list the source bucket {bucket}: {error.code} (HTTP {error.http_status}): {error.message}",
            ) from None
