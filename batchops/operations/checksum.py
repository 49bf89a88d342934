"""S3ComputeObjectChecksum: read each object and report its checksum.

The object is streamed in ``CHUNK_BYTES`` pieces (memory stays bounded whatever its size) through the
digest: CRC32, CRC32C and CRC64NVME from ``awscrt`` (the CRT checksums botocore itself uses), MD5, SHA1,
SHA256 and SHA512 from hashlib. XXHASH64/XXHASH3/XXHASH128, in the model, are refused at CreateJob.

``ChecksumType`` FULL_OBJECT (the default) digests the whole object. COMPOSITE follows S3's multipart
checksums: each part (read with GetObject ``PartNumber``) is digested, then the digest of the parts'
concatenated digests is reported with a ``-<parts>`` suffix; an object uploaded in one piece has a single
part, whose digest is the object's. CRC64NVME has FULL_OBJECT only, as in S3.

The result message is the JSON object AWS writes into the report's ResultMessage column for this
operation, keys in AWS's order::

    {"checksum_base64":"…","ETag":"…","checksumAlgorithm":"SHA256","checksumType":"FULL_OBJECT","checksum_hex":"…"}

``checksum_base64`` is the digest as S3 shows checksums (base64 of the big-endian bytes), ``checksum_hex``
the same bytes in upper-case hex, ``ETag`` the object's ETag without quotes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from xml.etree.ElementTree import Element

from awscrt import checksums

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError, ValidationError
from batchops.operations.base import Operation, Params, TaskContext, version_kwargs
from batchops.operations.fields import choice, required_choice
from batchops.s3.types import S3Client
from batchops.xmlutil import check_children

NAME = "S3ComputeObjectChecksum"
#: Bytes read (and held) at a time per task.
CHUNK_BYTES = 1024 * 1024
ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "MD5", "SHA1", "SHA256", "SHA512")
UNSUPPORTED = ("XXHASH64", "XXHASH3", "XXHASH128")
TYPES = ("FULL_OBJECT", "COMPOSITE")


class Digest(Protocol):
    def update(self, data: bytes) -> None: ...

    def digest(self) -> bytes: ...


class _Crc:
    """A streaming CRT checksum with hashlib's update/digest shape."""

    def __init__(self, function: Callable[[bytes, int], int], width: int) -> None:
        self._function = function
        self._width = width
        self._value = 0

    def update(self, data: bytes) -> None:
        self._value = self._function(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._width, "big")


def new_digest(algorithm: str) -> Digest:
    if algorithm == "CRC32":
        return _Crc(checksums.crc32, 4)
    if algorithm == "CRC32C":
        return _Crc(checksums.crc32c, 4)
    if algorithm == "CRC64NVME":
        return _Crc(checksums.crc64nvme, 8)
    return hashlib.new(algorithm.lower())


@dataclass(frozen=True)
class ChecksumParams(Params):
    algorithm: str  # one of ALGORITHMS
    checksum_type: str  # one of TYPES

    def to_json(self) -> dict[str, Any]:
        return {"ChecksumAlgorithm": self.algorithm, "ChecksumType": self.checksum_type}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> ChecksumParams:
        return cls(stored["ChecksumAlgorithm"], stored["ChecksumType"])


class ComputeObjectChecksum(Operation[ChecksumParams]):
    name = NAME
    params_type = ChecksumParams

    def parse(self, element: Element) -> ChecksumParams:
        check_children(element, ("ChecksumAlgorithm", "ChecksumType"), self.name)
        algorithm = required_choice(element, "ChecksumAlgorithm", (*ALGORITHMS, *UNSUPPORTED), self.name)
        if algorithm in UNSUPPORTED:
            raise ValidationError(
                f"{NAME}.ChecksumAlgorithm {algorithm} is not supported by batchops; "
                f"use one of {', '.join(ALGORITHMS)}",
                field=f"{NAME}.ChecksumAlgorithm",
            )
        checksum_type = choice(element, "ChecksumType", TYPES, self.name) or "FULL_OBJECT"
        if algorithm == "CRC64NVME" and checksum_type == "COMPOSITE":
            raise ValidationError(
                f"{NAME}: CRC64NVME has only the FULL_OBJECT checksum type; use ChecksumType FULL_OBJECT "
                "or another algorithm",
                field=f"{NAME}.ChecksumType",
            )
        return ChecksumParams(algorithm, checksum_type)

    async def run(self, ctx: TaskContext, params: ChecksumParams, target: ObjectRef) -> str:
        algorithm, checksum_type = params.algorithm, params.checksum_type
        value: bytes | tuple[bytes, int]
        if checksum_type == "FULL_OBJECT":
            value, etag = await _full_object(ctx.s3, algorithm, target)
        else:
            value, etag = await _composite(ctx.s3, algorithm, target)
        return result_message(value, etag, algorithm, checksum_type)


def result_message(value: bytes | tuple[bytes, int], etag: str, algorithm: str, checksum_type: str) -> str:
    digest, parts = value if isinstance(value, tuple) else (value, 0)
    encoded = base64.b64encode(digest).decode() + (f"-{parts}" if parts else "")
    return json.dumps(
        {
            "checksum_base64": encoded,
            "ETag": etag.strip('"'),
            "checksumAlgorithm": algorithm,
            "checksumType": checksum_type,
            "checksum_hex": digest.hex().upper(),
        },
        separators=(",", ":"),
    )


async def _full_object(s3: S3Client, algorithm: str, target: ObjectRef) -> tuple[bytes, str]:
    response = await s3.get_object(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
    digest = new_digest(algorithm)
    await _stream_into(response["Body"], digest)
    return digest.digest(), str(response.get("ETag", ""))


async def _composite(s3: S3Client, algorithm: str, target: ObjectRef) -> tuple[bytes | tuple[bytes, int], str]:
    where = {"Bucket": target.bucket, "Key": target.key, **version_kwargs(target)}
    head = await s3.head_object(PartNumber=1, **where)
    etag = str(head.get("ETag", ""))
    parts = int(head.get("PartsCount") or 0)
    if "-" not in etag:  # uploaded in one piece: its one part is the whole object
        whole, _ = await _full_object(s3, algorithm, target)
        return whole, etag
    if not parts:
        raise TaskError(
            "CompositeChecksumUnavailable",
            501,
            f"the object was uploaded in parts (ETag {etag}) but the store does not serve single parts "
            "(GetObject partNumber), so its COMPOSITE checksum cannot be computed; use ChecksumType FULL_OBJECT",
        )
    combined = new_digest(algorithm)
    for number in range(1, parts + 1):
        part = await s3.get_object(PartNumber=number, IfMatch=etag, **where)  # 412 if it changed meanwhile
        digest = new_digest(algorithm)
        await _stream_into(part["Body"], digest)
        combined.update(digest.digest())
    return (combined.digest(), parts), etag


async def _stream_into(body: Any, digest: Digest) -> None:
    async with body:
        while chunk := await body.read(CHUNK_BYTES):
            # hashlib and the CRT release the GIL on large buffers: digest off the event loop.
            await asyncio.to_thread(digest.update, chunk)
