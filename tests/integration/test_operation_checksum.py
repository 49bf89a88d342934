"""S3ComputeObjectChecksum against a real SeaweedFS: each algorithm, large and multipart objects."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest

from batchops.devstore import LocalSeaweed
from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from batchops.operations.checksum import CHUNK_BYTES
from batchops.s3.client import StoreCredentials, open_client
from tests.support.operations import (
    CountingS3,
    failure,
    run,
)

pytestmark = pytest.mark.integration


@pytest.fixture
async def ctx(seaweed: LocalSeaweed) -> AsyncIterator[TaskContext]:
    """The real client wrapped to count its calls: these tests check how many requests a task makes."""
    creds = StoreCredentials(seaweed.endpoint, "us-east-1", seaweed.access_key, seaweed.secret_key)
    async with AsyncExitStack() as stack:
        yield TaskContext(s3=CountingS3(await open_client(stack, creds)), job_id="test-job")


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
