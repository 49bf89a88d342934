"""Saving a generated manifest (``EnableManifestOutput``), written as the listing streams.

Layout, inventory-style so the saved manifest can itself be used as an ``S3InventoryReport_CSV_20161130``
manifest: ``<ManifestPrefix>/job-<id>/data/<chunk>.csv.gz`` — one gzip CSV per chunk of tasks, rows
``"Bucket","Key"[,"VersionId"]`` with URL-encoded keys — then ``manifest.json`` (format
``S3InventoryReport_CSV_20211130``, its ``files[]`` with each file's size and MD5) and
``manifest.checksum`` (the MD5 of manifest.json). A data file is written before its chunk is committed
and named by chunk number, so a restart rewrites the same file; memory is one chunk.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import parse_bucket_arn
from batchops.domain.job import GeneratedManifest, GeneratorSpec, ManifestOutputSpec
from batchops.domain.task import ObjectRef
from batchops.errors import ManifestError
from batchops.manifests.rows import encode_key
from batchops.s3.errors import to_task_error
from batchops.s3.types import S3Client

GENERATED_FORMAT = "S3InventoryReport_CSV_20211130"
_MD5_METADATA = "batchops-md5"


class ManifestWriter:
    def __init__(self, s3: S3Client, job_id: str, generator: GeneratorSpec, output: ManifestOutputSpec) -> None:
        self._s3 = s3
        self._generator = generator
        self._output = output
        self._bucket = parse_bucket_arn(output.bucket, "ManifestOutputLocation.Bucket")
        prefix = (output.prefix or "").strip("/")
        self.folder = f"{prefix}/job-{job_id}" if prefix else f"job-{job_id}"
        self._schema = ("Bucket", "Key", "VersionId") if generator.include_all_versions else ("Bucket", "Key")

    def data_key(self, chunk_no: int) -> str:
        return f"{self.folder}/data/{chunk_no:06d}.csv.gz"

    async def write_chunk(self, chunk_no: int, targets: Sequence[ObjectRef]) -> None:
        if not targets:
            return
        body = gzip.compress(self._csv(targets), mtime=0)
        md5 = hashlib.md5(body).hexdigest()
        await self._put(self.data_key(chunk_no), body, "application/x-gzip", {_MD5_METADATA: md5})

    async def finish(self, chunk_count: int) -> GeneratedManifest:
        """Write manifest.json (and manifest.checksum) for data files 0 … chunk_count-1."""
        files = [await self._file_entry(n) for n in range(chunk_count)]
        index = json.dumps(
            {
                "sourceBucket": parse_bucket_arn(self._generator.source_bucket, "SourceBucket"),
                "destinationBucket": self._output.bucket,
                "version": "2021-11-30",
                "creationTimestamp": str(int(time.time() * 1000)),
                "fileFormat": "CSV",
                "fileSchema": ", ".join(self._schema),
                "files": [entry for entry in files if entry is not None],
            },
            indent=2,
        ).encode()
        key = f"{self.folder}/manifest.json"
        etag = await self._put(key, index, "application/json")
        await self._put(
            f"{self.folder}/manifest.checksum", hashlib.md5(index).hexdigest().encode() + b"\n", "text/plain"
        )
        return GeneratedManifest(GENERATED_FORMAT, f"arn:aws:s3:::{self._bucket}/{key}", etag)

    def _csv(self, targets: Sequence[ObjectRef]) -> bytes:
        text = io.StringIO()
        writer = csv.writer(text, quoting=csv.QUOTE_ALL, lineterminator="\n")
        for target in targets:
            row = [target.bucket, encode_key(target.key)]
            writer.writerow([*row, target.version_id or ""] if len(self._schema) == 3 else row)
        return text.getvalue().encode("utf-8", errors="surrogateescape")

    async def _file_entry(self, chunk_no: int) -> dict[str, Any] | None:
        key = self.data_key(chunk_no)
        try:
            head = await self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None  # a chunk with no task (or none kept) has no data file
            raise self._error(key, exc) from None
        except BotoCoreError as exc:
            raise self._error(key, exc) from None
        md5 = head.get("Metadata", {}).get(_MD5_METADATA) or head.get("ETag", "").strip('"')
        return {"key": key, "size": head["ContentLength"], "MD5checksum": md5}

    async def _put(self, key: str, body: bytes, content_type: str, metadata: dict[str, str] | None = None) -> str:
        try:
            response = await self._s3.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=metadata or {},
                **self._extra(),
            )
        except (ClientError, BotoCoreError) as exc:
            raise self._error(key, exc) from None
        return str(response.get("ETag", ""))

    def _extra(self) -> dict[str, str]:
        extra: dict[str, str] = {}
        owner = self._output.expected_bucket_owner or self._generator.expected_bucket_owner
        if owner:
            extra["ExpectedBucketOwner"] = owner
        if self._output.encryption == "SSE-S3":
            extra["ServerSideEncryption"] = "AES256"
        elif self._output.encryption == "SSE-KMS":
            extra["ServerSideEncryption"] = "aws:kms"
            extra["SSEKMSKeyId"] = self._output.kms_key_id or ""
        return extra

    def _error(self, key: str, exc: Exception) -> ManifestError:
        error = to_task_error(exc)
        return ManifestError(
            "ManifestOutputNotWritable",
            f"could not save the generated manifest at s3://{self._bucket}/{key}: "
            f"{error.code} (HTTP {error.http_status}): {error.message}",
        )


def open_writer(s3: S3Client, job_id: str, generator: GeneratorSpec | None) -> ManifestWriter | None:
    """The writer for a generator job that saves its manifest; None otherwise."""
    if generator is None or not generator.enable_manifest_output or generator.output is None:
        return None
    return ManifestWriter(s3, job_id, generator, generator.output)
