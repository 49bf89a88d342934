"""Manifests batchops writes itself from a job's task outcomes: a retry's (its failed tasks) and a chain's next
step's (its succeeded tasks).

A CSV of Bucket,Key[,VersionId] (keys URL-encoded as manifests require), spooled to disk past ``SPOOL_BYTES`` so
millions of rows never sit in memory, written to ``<report prefix>/job-<id>/<folder>/<name>.csv`` in the job's report
bucket; a job without a report bucket gets it in its manifest's bucket (a generated manifest's: the output bucket,
else the listed bucket) under ``job-<id>/<folder>/``. Names are derived from the request, so a replay writes the
same bytes.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import IO, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import parse_object_arn
from batchops.domain.job import Job, JobSpec, ManifestLocation, ManifestSpec
from batchops.domain.task import ReportRow
from batchops.manifests.rows import encode_key
from batchops.reports.layout import job_folder
from batchops.s3.types import S3Client

#: The manifest format a derived manifest has unless the original's was COS's CSV (a COS job's stays COS).
S3_CSV = "S3BatchOperations_CSV_20180820"
COS_CSV = "COSBatchOperations_CSV_V1"
#: A derived manifest is spooled to disk past this size.
SPOOL_BYTES = 8 * 1024 * 1024
#: It goes to the store in parts of this size (S3's smallest part is 5 MiB): memory holds one.
UPLOAD_PART_BYTES = 5 * 1024 * 1024


class Readable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


@dataclass(frozen=True)
class DerivedManifest:
    """Where a derived manifest goes: a bucket ARN (for the new job's manifest ARN), its bucket, and the key."""

    bucket_arn: str
    bucket: str
    key: str


def place(parent: Job, folder: str, name: str) -> DerivedManifest:
    """``<name>.csv`` in ``folder`` of the parent's report folder, else of its manifest's bucket."""
    report = parent.spec.report
    if report.enabled and report.bucket:
        return _target(report.bucket, f"{job_folder(report.prefix, parent.id)}/{folder}/{name}.csv")
    return _target(_manifest_bucket_arn(parent.spec), f"{job_folder(None, parent.id)}/{folder}/{name}.csv")


def _target(bucket_arn: str, key: str) -> DerivedManifest:
    bucket, _ = parse_object_arn(f"{bucket_arn}/{key}")
    return DerivedManifest(bucket_arn, bucket, key)


def _manifest_bucket_arn(spec: JobSpec) -> str:
    if spec.manifest is not None:
        arn = spec.manifest.location.object_arn
        _, key = parse_object_arn(arn)
        return arn[: len(arn) - len(key) - 1]
    assert spec.generator is not None  # a job has a manifest or a generator
    output = spec.generator.output
    saved = output is not None and spec.generator.enable_manifest_output
    return output.bucket if saved and output is not None else spec.generator.source_bucket


def manifest_spec(parent: Job, where: DerivedManifest, etag: str, versioned: bool) -> ManifestSpec:
    """The derived manifest as a job's ``Manifest``: the parent's CSV dialect, with a VersionId column if needed."""
    original = parent.spec.manifest
    manifest_format = COS_CSV if original is not None and original.format == COS_CSV else S3_CSV
    fields = ("Bucket", "Key", "VersionId") if versioned else ("Bucket", "Key")
    location = ManifestLocation(object_arn=f"{where.bucket_arn}/{where.key}", etag=etag.strip('"'))
    return ManifestSpec(manifest_format, fields, location)


async def write_rows(
    rows: AsyncIterator[ReportRow], error_codes: Sequence[str], out: IO[str]
) -> tuple[int, bool, set[str]]:
    """The rows (those with ``error_codes``, if any) as manifest lines into ``out``: (rows written, whether they
    carry a VersionId, the error codes seen). A row that names no object (a manifest line that did not parse) is
    left out: it would fail the same way again."""
    wanted = set(error_codes)
    writer = csv.writer(out, lineterminator="\n")
    written, versioned, seen = 0, False, set()
    async for row in rows:
        seen.add(row.error_code)
        if not row.bucket or (wanted and row.error_code not in wanted):
            continue
        fields = [row.bucket, encode_key(row.key)]
        if row.version_id is not None:
            fields.append(row.version_id)
            versioned = True
        writer.writerow(fields)
        written += 1
    return written, versioned, seen


@dataclass
class Spooled:
    """A derived manifest written to a spool: its rows, whether they carry versions, the error codes seen."""

    file: IO[bytes]
    written: int
    versioned: bool
    seen: set[str]

    @property
    def size(self) -> int:
        return self.file.tell()

    def reader(self) -> Readable:
        self.file.seek(0)
        return _AsyncReader(self.file)


@asynccontextmanager
async def spooled(rows: AsyncIterator[ReportRow], error_codes: Sequence[str] = ()) -> AsyncIterator[Spooled]:
    """The rows written as a manifest to a spool (on disk past ``SPOOL_BYTES``), open for the ``async with``."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as file:
        text = io.TextIOWrapper(file, encoding="utf-8", newline="", write_through=True)
        written, versioned, seen = await write_rows(rows, error_codes, text)
        text.flush()
        text.detach()  # the spool closes with its own context, not with the wrapper
        yield Spooled(file, written, versioned, seen)


async def put(s3: S3Client, bucket: str, key: str, source: Readable, size: int) -> str:
    """Put ``size`` bytes from ``source`` at ``bucket/key``, one part in memory at a time; its ETag."""
    if size <= UPLOAD_PART_BYTES:
        answer = await s3.put_object(Bucket=bucket, Key=key, Body=await source.read())
        return str(answer["ETag"])
    upload_id = (await s3.create_multipart_upload(Bucket=bucket, Key=key))["UploadId"]
    try:
        parts: list[dict[str, Any]] = []
        while body := await source.read(UPLOAD_PART_BYTES):
            number = len(parts) + 1
            answer = await s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        done = await s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        with suppress(ClientError, BotoCoreError):
            await s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
    return str(done["ETag"])


class _AsyncReader:
    """A spool as ``put`` reads a source."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source

    async def read(self, size: int = -1) -> bytes:
        return self._source.read(size)
