"""A job's objects, reached where the job acts: on the store, with the keys, its RoleArn names.

The console's report files and manifest uploads go through here (called by ``JobService``). The engine reads
a job's manifest and writes its report through the same resolver (``s3/resolver.py``), so a report is read
where it was written and an uploaded manifest lands where the job's role will read it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import parse_bucket_arn
from batchops.domain.job import Job
from batchops.errors import BatchOpsError
from batchops.reports import derived
from batchops.reports.reader import AsyncGetObject, ReportLocation, read_index
from batchops.s3.client import open_client
from batchops.s3.resolver import credentials_for
from batchops.s3.types import S3Client
from batchops.settings import Settings

UPLOAD_PART_BYTES = derived.UPLOAD_PART_BYTES
Readable = derived.Readable


class StoreCallFailed(BatchOpsError):
    """The object store refused or could not be reached; the message names the bucket and the reason."""


@dataclass(frozen=True)
class ReportFile:
    label: str
    key: str


@asynccontextmanager
async def role_store(settings: Settings, account_id: str, role_arn: str) -> AsyncIterator[Any]:
    """An S3 client on the store of the account's RoleArn, with its keys, open for the ``async with`` block.
    ManifestError ``RoleNotDeclared`` if the config file no longer declares the role."""
    creds = credentials_for(settings, account_id, role_arn)
    async with AsyncExitStack() as stack:
        yield await open_client(stack, creds, max_connections=4, max_attempts=3, timeout=settings.s3_timeout_seconds)


def describe_failure(exc: Exception, bucket: str) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = error.get("Code", "")
        if code == "NoSuchBucket":
            return f"bucket {bucket} does not exist in the object store"
        if code in ("NoSuchKey", "404"):
            return f"no such object in bucket {bucket}"
        return f"the object store refused ({code}: {error.get('Message') or code})"
    return f"the object store could not be reached: {exc}"


async def upload(
    settings: Settings, account_id: str, role_arn: str, bucket: str, key: str, source: Readable, size: int
) -> str:
    """Put a manifest of ``size`` bytes into the role's store from ``source``, one part in memory at a time; its
    ETag."""
    try:
        async with role_store(settings, account_id, role_arn) as s3:
            return await derived.put(s3, bucket, key, source, size)
    except (ClientError, BotoCoreError) as exc:
        raise StoreCallFailed(describe_failure(exc, bucket)) from None


async def etag_of(
    settings: Settings, account_id: str, role_arn: str, bucket: str, key: str, what: str = "the manifest"
) -> str:
    try:
        async with role_store(settings, account_id, role_arn) as s3:
            answer = await s3.head_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        raise StoreCallFailed(f"cannot read {what} s3://{bucket}/{key}: {describe_failure(exc, bucket)}") from None
    return str(answer["ETag"])


def _report_location(job: Job) -> ReportLocation:
    return ReportLocation.of(parse_bucket_arn(job.spec.report.bucket or ""), job.spec.report.prefix, job.id)


async def report_files(settings: Settings, job: Job) -> list[ReportFile]:
    """The files of a written report, from its manifest.json (which is written last)."""
    where = _report_location(job)
    try:
        async with role_store(settings, job.account_id, job.spec.role_arn) as s3:
            index = await read_index(_whole_object(s3), where)
    except (ClientError, BotoCoreError) as exc:
        raise StoreCallFailed(f"the report index is not readable: {describe_failure(exc, where.bucket)}") from None
    listed = [ReportFile(f"{file.status} tasks (CSV)", file.key) for file in index.files]
    return [ReportFile("manifest.json", index.key), *listed]


def _whole_object(s3: S3Client) -> AsyncGetObject:
    """GetObject on ``s3`` as the report reader calls it: (bucket, key) → the object's bytes."""

    async def get(bucket: str, key: str) -> bytes:
        answer = await s3.get_object(Bucket=bucket, Key=key)
        return bytes(await answer["Body"].read())

    return get


async def stream_object(settings: Settings, job: Job, bucket: str, key: str) -> AsyncIterator[bytes]:
    """One of a job's objects (a report file), read from the job's role's store."""
    async with role_store(settings, job.account_id, job.spec.role_arn) as s3:
        answer = await s3.get_object(Bucket=bucket, Key=key)
        async with answer["Body"] as body:
            while chunk := await body.read(64 * 1024):
                yield chunk


class NotAReportFile(BatchOpsError):
    """The key asked for is not one of the job's report files."""


@dataclass(frozen=True)
class ReportFileStream:
    name: str
    media_type: str
    chunks: AsyncIterator[bytes]


async def open_report_file(settings: Settings, job: Job, key: str) -> ReportFileStream:
    """One file of the job's report, checked to be under its report folder and readable, ready to stream."""
    where = _report_location(job)
    if not key.startswith(where.folder + "/") or ".." in key.split("/"):
        raise NotAReportFile(f"{key!r} is not a file of job {job.id}'s report")
    await etag_of(settings, job.account_id, job.spec.role_arn, where.bucket, key, "the report file")
    name = key.rsplit("/", 1)[-1]
    media = "application/json" if name.endswith(".json") else "text/csv"
    return ReportFileStream(name, media, stream_object(settings, job, where.bucket, key))
