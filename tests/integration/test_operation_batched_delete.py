"""S3DeleteObject batched: concurrent tasks share DeleteObjects requests, against a real SeaweedFS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from batchops.devstore import LocalSeaweed
from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from batchops.s3.client import StoreCredentials, open_client
from batchops.s3.errors import to_task_error
from tests.support.operations import (
    CountingS3,
    run,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def ctx(seaweed: LocalSeaweed) -> AsyncIterator[TaskContext]:
    """The real client wrapped to count its calls: these tests check how many requests a task makes."""
    creds = StoreCredentials(seaweed.endpoint, "us-east-1", seaweed.access_key, seaweed.secret_key)
    async with AsyncExitStack() as stack:
        yield TaskContext(s3=CountingS3(await open_client(stack, creds)), job_id="test-job")


# --- S3DeleteObject, batched ---------------------------------------------------------------------


async def test_concurrent_deletes_share_delete_objects_requests(ctx: TaskContext, s3: Any, bucket: str) -> None:
    keys = [f"k{i:04d}" for i in range(1500)]
    for key in keys[:50]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")  # the rest never existed: still "deleted"
    results = await asyncio.gather(*(run(ctx, "<S3DeleteObject/>", ObjectRef(bucket, k)) for k in keys))
    assert results == ["deleted"] * len(keys)
    assert ctx.s3.calls == {"delete_objects": 2}  # 1,000 + 500 keys
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


async def test_batched_delete_of_versions_and_delete_markers(ctx: TaskContext, s3: Any, versioned_bucket: str) -> None:
    older = s3.put_object(Bucket=versioned_bucket, Key="doc", Body=b"1")["VersionId"]
    latest = s3.put_object(Bucket=versioned_bucket, Key="doc", Body=b"2")["VersionId"]
    s3.put_object(Bucket=versioned_bucket, Key="other", Body=b"1")
    version_gone, marker = await asyncio.gather(
        run(ctx, "<S3DeleteObject/>", ObjectRef(versioned_bucket, "doc", older)),
        run(ctx, "<S3DeleteObject/>", ObjectRef(versioned_bucket, "other")),
    )
    assert ctx.s3.calls == {"delete_objects": 1}
    assert version_gone == f"version {older} deleted"
    assert marker.startswith("delete marker ") and marker.endswith(" created")
    versions = s3.list_object_versions(Bucket=versioned_bucket)
    assert sorted(v["VersionId"] for v in versions["Versions"] if v["Key"] == "doc") == [latest]
    assert len([v for v in versions["Versions"] if v["Key"] == "other"]) == 1  # hidden, not deleted
    assert [(m["Key"], m["VersionId"]) for m in versions["DeleteMarkers"]] == [("other", marker.split()[2])]


async def test_a_failed_request_fails_each_of_its_tasks(ctx: TaskContext) -> None:
    targets = [ObjectRef("no-such-bucket-ops2", f"k{i}") for i in range(3)]
    outcomes = await asyncio.gather(*(run(ctx, "<S3DeleteObject/>", t) for t in targets), return_exceptions=True)
    errors = [to_task_error(o) for o in outcomes if isinstance(o, BaseException)]
    assert [(e.code, e.http_status) for e in errors] == [("NoSuchBucket", 404)] * 3
    assert ctx.s3.calls == {"delete_objects": 1}
