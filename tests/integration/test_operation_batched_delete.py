"""S3DeleteObject batched: concurrent tasks share DeleteObjects requests, against a real SeaweedFS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchops.devstore import LocalSeaweed
from batchops.domain.task import ObjectRef
from batchops.operations.base import NoParams, TaskContext
from batchops.operations.delete import DeleteObject
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


# --- S3DeleteObject.run_many: a chunk's rows at once (the job runner's grouped path) -------------


async def test_run_many_deletes_exactly_the_listed_versions_keys_and_hostile_keys(
    ctx: TaskContext, s3: Any, versioned_bucket: str
) -> None:
    older = s3.put_object(Bucket=versioned_bucket, Key="doc", Body=b"1")["VersionId"]
    latest = s3.put_object(Bucket=versioned_bucket, Key="doc", Body=b"2")["VersionId"]
    hostile = "ctl\x01key"  # XML 1.0 cannot carry it: deleted on its own, the key in the URL path
    for key in ("other", hostile, "kept"):
        s3.put_object(Bucket=versioned_bucket, Key=key, Body=b"1")
    targets = [
        ObjectRef(versioned_bucket, "doc", older),
        ObjectRef(versioned_bucket, "other"),
        ObjectRef(versioned_bucket, hostile),
    ]

    version_gone, marker, alone = await DeleteObject().run_many(ctx, NoParams(), targets)

    assert ctx.s3.calls == {"delete_objects": 1, "delete_object": 1}
    assert version_gone == f"version {older} deleted"
    assert isinstance(marker, str) and marker.startswith("delete marker ") and marker.endswith(" created")
    assert isinstance(alone, str) and alone.startswith("delete marker")
    versions = s3.list_object_versions(Bucket=versioned_bucket)
    assert sorted(v["VersionId"] for v in versions["Versions"] if v["Key"] == "doc") == [latest]
    markers = [m["Key"] for m in versions["DeleteMarkers"]]
    assert len(markers) == 2 and "other" in markers  # the listing cannot echo the hostile key's \x01 in XML
    with pytest.raises(ClientError):
        s3.head_object(Bucket=versioned_bucket, Key=hostile)  # hidden behind its delete marker
    assert s3.head_object(Bucket=versioned_bucket, Key="kept")["ContentLength"] == 1  # never listed: untouched


async def test_run_many_fails_each_key_of_a_refused_request(ctx: TaskContext) -> None:
    targets = [ObjectRef("no-such-bucket-ops3", f"k{i}") for i in range(3)]

    results = await DeleteObject().run_many(ctx, NoParams(), targets)

    assert all(isinstance(result, Exception) for result in results)
    errors = [to_task_error(result) for result in results if isinstance(result, Exception)]
    assert [(e.code, e.http_status) for e in errors] == [("NoSuchBucket", 404)] * 3
    assert ctx.s3.calls == {"delete_objects": 1}
