"""Merge tagging, batched delete and compute checksum, run through the registry against a real SeaweedFS."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest

from batchops.devstore import LocalSeaweed
from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from batchops.operations.checksum import CHUNK_BYTES
from batchops.s3.client import StoreCredentials, open_client
from batchops.s3.errors import to_task_error
from tests.integration.test_operations import failure, run
from tests.integration.test_operations import tags_of as tags

pytestmark = pytest.mark.integration


class CountingS3:
    """The real client, counting the calls made through it by operation name."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        async def call(**kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await method(**kwargs)

        return call


@pytest.fixture
async def ctx(seaweed: LocalSeaweed) -> AsyncIterator[TaskContext]:
    creds = StoreCredentials(seaweed.endpoint, "us-east-1", seaweed.access_key, seaweed.secret_key)
    async with AsyncExitStack() as stack:
        yield TaskContext(s3=CountingS3(await open_client(stack, creds)), job_id="test-job")


@pytest.fixture
def bucket(new_bucket: Callable[..., str]) -> str:
    return new_bucket()


@pytest.fixture
def versioned_bucket(s3: Any, new_bucket: Callable[..., str]) -> str:
    name = new_bucket()
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


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


# --- S3ComputeObjectChecksum ---------------------------------------------------------------------


def checksum_xml(algorithm: str, checksum_type: str = "FULL_OBJECT") -> str:
    return (
        f"<S3ComputeObjectChecksum><ChecksumAlgorithm>{algorithm}</ChecksumAlgorithm>"
        f"<ChecksumType>{checksum_type}</ChecksumType></S3ComputeObjectChecksum>"
    )


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("CRC32", zlib.crc32(b"123456789").to_bytes(4, "big")),
        ("CRC32C", bytes.fromhex("E3069283")),
        ("CRC64NVME", bytes.fromhex("AE8B14860A799888")),
        ("MD5", hashlib.md5(b"123456789").digest()),
        ("SHA1", hashlib.sha1(b"123456789").digest()),
        ("SHA256", hashlib.sha256(b"123456789").digest()),
        ("SHA512", hashlib.sha512(b"123456789").digest()),
    ],
)
async def test_checksum_of_each_algorithm(
    ctx: TaskContext, s3: Any, bucket: str, algorithm: str, expected: bytes
) -> None:
    etag = s3.put_object(Bucket=bucket, Key="check value", Body=b"123456789")["ETag"].strip('"')
    result = json.loads(await run(ctx, checksum_xml(algorithm), ObjectRef(bucket, "check value")))
    assert result == {
        "checksum_base64": base64.b64encode(expected).decode(),
        "ETag": etag,
        "checksumAlgorithm": algorithm,
        "checksumType": "FULL_OBJECT",
        "checksum_hex": expected.hex().upper(),
    }


async def test_checksum_streams_a_large_object_in_bounded_memory(ctx: TaskContext, s3: Any, bucket: str) -> None:
    body = os.urandom(1024 * 1024) * 24  # 24 MiB
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    tracemalloc.start()
    try:
        result = json.loads(await run(ctx, checksum_xml("SHA256"), ObjectRef(bucket, "big")))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result["checksum_hex"] == hashlib.sha256(body).hexdigest().upper()
    assert peak < 8 * CHUNK_BYTES, f"peak {peak} bytes traced while hashing {len(body)} bytes"


async def test_composite_checksum_of_a_multipart_object(ctx: TaskContext, s3: Any, bucket: str) -> None:
    parts = [b"a" * (5 * 1024 * 1024), b"tail"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=n, Body=p)["ETag"]
        for n, p in enumerate(parts, 1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]},
    )
    result = json.loads(await run(ctx, checksum_xml("SHA256", "COMPOSITE"), ObjectRef(bucket, "mp")))
    expected = hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in parts)).digest()
    assert result["checksum_base64"] == base64.b64encode(expected).decode() + "-2"
    assert result["checksum_hex"] == expected.hex().upper()
    assert result["checksumType"] == "COMPOSITE"
    # An object uploaded in one piece has one part: its composite checksum is its full-object one.
    s3.put_object(Bucket=bucket, Key="single", Body=b"hello")
    single = json.loads(await run(ctx, checksum_xml("MD5", "COMPOSITE"), ObjectRef(bucket, "single")))
    assert single["checksum_hex"] == hashlib.md5(b"hello").hexdigest().upper()


async def test_checksum_of_a_missing_key_is_no_such_key(ctx: TaskContext, bucket: str) -> None:
    error = await failure(ctx, checksum_xml("CRC32"), ObjectRef(bucket, "absent"))
    assert (error.code, error.http_status) == ("NoSuchKey", 404)
