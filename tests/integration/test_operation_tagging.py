"""S3PutObjectTagging and S3DeleteObjectTagging against a real SeaweedFS: run one task, check the tags with boto3."""

from __future__ import annotations

from typing import Any

import pytest

from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from tests.support.operations import (
    AWKWARD_KEYS,
    TAGGING,
    put_versions,
    run,
    tags_of,
)

pytestmark = pytest.mark.integration


# --- S3PutObjectTagging / S3DeleteObjectTagging ---------------------------------------------------


@pytest.mark.parametrize("key", AWKWARD_KEYS)
async def test_put_tagging_replaces_all_tags(ctx: TaskContext, s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging="old=1")
    message = await run(ctx, TAGGING, ObjectRef(bucket, key))
    assert tags_of(s3, bucket, key) == {"team": "data eng", "ü +": "a=b/c@d"}
    assert message == "tags replaced (2 tags)"


async def test_put_tagging_tags_only_the_given_version(ctx: TaskContext, s3: Any, versioned_bucket: str) -> None:
    older, latest = put_versions(s3, versioned_bucket, "doc.txt", b"v1", b"v2")
    await run(ctx, TAGGING, ObjectRef(versioned_bucket, "doc.txt", older))
    assert tags_of(s3, versioned_bucket, "doc.txt", older) == {"team": "data eng", "ü +": "a=b/c@d"}
    assert tags_of(s3, versioned_bucket, "doc.txt", latest) == {}


@pytest.mark.parametrize("key", ["plain.txt", "100% sure%20.txt"])
async def test_delete_tagging_removes_every_tag(ctx: TaskContext, s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=b"x", Tagging="a=1&b=2")
    assert await run(ctx, "<S3DeleteObjectTagging />", ObjectRef(bucket, key)) == "tags deleted"
    assert tags_of(s3, bucket, key) == {}
