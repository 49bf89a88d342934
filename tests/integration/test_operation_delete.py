"""S3DeleteObject, one task at a time, against a real SeaweedFS: keys, versions and delete markers."""

from __future__ import annotations

from typing import Any

import pytest

from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from tests.support.operations import (
    AWKWARD_KEYS,
    exists,
    put_versions,
    run,
)

pytestmark = pytest.mark.integration


# --- S3DeleteObject -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", AWKWARD_KEYS)
async def test_delete_removes_the_object(ctx: TaskContext, s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    assert await run(ctx, "<S3DeleteObject />", ObjectRef(bucket, key)) == "deleted"
    assert not exists(s3, bucket, key)


async def test_deleting_a_missing_key_succeeds(ctx: TaskContext, bucket: str) -> None:
    assert await run(ctx, "<S3DeleteObject />", ObjectRef(bucket, "never existed")) == "deleted"


async def test_delete_removes_only_the_given_version(ctx: TaskContext, s3: Any, versioned_bucket: str) -> None:
    older, latest = put_versions(s3, versioned_bucket, "doc.txt", b"v1", b"v2")
    message = await run(ctx, "<S3DeleteObject />", ObjectRef(versioned_bucket, "doc.txt", older))
    versions = s3.list_object_versions(Bucket=versioned_bucket)["Versions"]
    assert [version["VersionId"] for version in versions] == [latest]
    assert message == f"version {older} deleted"


async def test_delete_without_version_leaves_a_delete_marker(ctx: TaskContext, s3: Any, versioned_bucket: str) -> None:
    put_versions(s3, versioned_bucket, "doc.txt", b"v1")
    message = await run(ctx, "<S3DeleteObject />", ObjectRef(versioned_bucket, "doc.txt"))
    assert message.startswith("delete marker ")
    assert not exists(s3, versioned_bucket, "doc.txt")
    assert len(s3.list_object_versions(Bucket=versioned_bucket)["Versions"]) == 1
