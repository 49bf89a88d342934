"""BatchOpsMergeObjectTagging against a real SeaweedFS: adds, overwrites and removes tags, counting its calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from batchops.devstore import LocalSeaweed
from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from batchops.s3.client import StoreCredentials, open_client
from tests.support.operations import (
    CountingS3,
    failure,
    run,
)
from tests.support.operations import tags_of as tags

pytestmark = pytest.mark.integration


@pytest.fixture
async def ctx(seaweed: LocalSeaweed) -> AsyncIterator[TaskContext]:
    """The real client wrapped to count its calls: these tests check how many requests a task makes."""
    creds = StoreCredentials(seaweed.endpoint, "us-east-1", seaweed.access_key, seaweed.secret_key)
    async with AsyncExitStack() as stack:
        yield TaskContext(s3=CountingS3(await open_client(stack, creds)), job_id="test-job")


def merge_xml(pairs: dict[str, str], remove: tuple[str, ...] = ()) -> str:
    tag_set = "".join(f"<member><Key>{k}</Key><Value>{v}</Value></member>" for k, v in pairs.items())
    removed = "".join(f"<member>{k}</member>" for k in remove)
    body = f"<TagSet>{tag_set}</TagSet><RemoveKeys>{removed}</RemoveKeys>"
    return f"<BatchOpsMergeObjectTagging>{body}</BatchOpsMergeObjectTagging>"


# --- BatchOpsMergeObjectTagging ------------------------------------------------------------------


async def test_merge_adds_overwrites_removes_and_keeps_the_rest(ctx: TaskContext, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=1&change=old&drop=x")
    message = await run(ctx, merge_xml({"change": "new", "add": "2"}, ("drop",)), ObjectRef(bucket, "k"))
    assert tags(s3, bucket, "k") == {"keep": "1", "change": "new", "add": "2"}
    assert message == "tags merged (3 tags)"
    # Merging what is already there writes nothing.
    assert await run(ctx, merge_xml({"add": "2"}), ObjectRef(bucket, "k")) == "tags unchanged (3 tags)"
    assert ctx.s3.calls == {"get_object_tagging": 2, "put_object_tagging": 1}


async def test_merge_over_ten_tags_fails_and_leaves_the_object_alone(ctx: TaskContext, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="&".join(f"t{i}=v" for i in range(9)))
    error = await failure(ctx, merge_xml({"n1": "a", "n2": "b"}), ObjectRef(bucket, "k"))
    assert (error.code, error.http_status) == ("TooManyTags", 400)
    assert "11 tags (9 existing)" in error.message and "at most 10" in error.message
    assert len(tags(s3, bucket, "k")) == 9


async def test_merge_on_one_version_only(ctx: TaskContext, s3: Any, versioned_bucket: str) -> None:
    older = s3.put_object(Bucket=versioned_bucket, Key="k", Body=b"1", Tagging="a=1")["VersionId"]
    latest = s3.put_object(Bucket=versioned_bucket, Key="k", Body=b"2", Tagging="a=2")["VersionId"]
    await run(ctx, merge_xml({"b": "x"}), ObjectRef(versioned_bucket, "k", older))
    assert tags(s3, versioned_bucket, "k", older) == {"a": "1", "b": "x"}
    assert tags(s3, versioned_bucket, "k", latest) == {"a": "2"}


async def test_merge_on_a_missing_key_is_no_such_key(ctx: TaskContext, bucket: str) -> None:
    error = await failure(ctx, merge_xml({"a": "1"}), ObjectRef(bucket, "absent"))
    assert (error.code, error.http_status) == ("NoSuchKey", 404)
