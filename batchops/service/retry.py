"""Retry the failures: a new job over a finished job's failed tasks, read from the job store (never by listing
again or reading the original manifest), with the same operation and settings.

The retry's manifest is a CSV (Bucket,Key[,VersionId], keys URL-encoded as manifests require) written to
``<report prefix>/job-<id>/retries/<name>.csv`` in the original's report bucket; a job without a report bucket
gets it in its manifest's bucket (a generated manifest's: the output bucket, else the listed bucket) under
``job-<id>/retries/``. ``<name>`` comes from the request (its ClientRequestToken and error codes), so a replayed
request writes the same file with the same content and CreateJob's idempotency returns the first retry.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import IO

from batchops.arns import parse_object_arn
from batchops.domain.job import Job, JobSpec, ManifestLocation, ManifestSpec
from batchops.domain.status import TERMINAL
from batchops.domain.task import ReportRow, TaskStatus
from batchops.errors import JobStatusRefused, ValidationError
from batchops.manifests.rows import encode_key
from batchops.reports.layout import job_folder
from batchops.service import objects
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.tenancy import Account
from batchops.xmlutil import check_length, check_xml_chars

#: The manifest format a retry writes unless the original's was COS's CSV (a COS job's retry stays COS).
S3_CSV = "S3BatchOperations_CSV_20180820"
COS_CSV = "COSBatchOperations_CSV_V1"
#: Error codes one retry may filter on (a CLI line or a console form lists a few).
MAX_ERROR_CODES = 100
#: A description the retry job gets (CreateJob's limit is 256 characters).
DESCRIPTION = "retry of job {id}"
#: The retry manifest is spooled to disk past this size, so millions of failed tasks never sit in memory.
SPOOL_BYTES = 8 * 1024 * 1024


class NothingToRetry(ValidationError):
    """The job has no failed task to retry (none at all, or none with the error codes asked for)."""


@dataclass(frozen=True)
class RetryRequest:
    job_id: str
    client_request_token: str
    error_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryManifest:
    """Where the retry's manifest goes: a bucket ARN (for the new job's manifest ARN), its bucket, and the key."""

    bucket_arn: str
    bucket: str
    key: str


def check_request(request: RetryRequest) -> None:
    check_length(request.client_request_token, "ClientRequestToken", 1, 64)
    check_xml_chars(request.client_request_token, "ClientRequestToken")
    if len(request.error_codes) > MAX_ERROR_CODES:
        raise ValidationError(f"give at most {MAX_ERROR_CODES} ErrorCodes, not {len(request.error_codes)}")
    for code in request.error_codes:
        check_length(code, "ErrorCode", 1, 1024)
        check_xml_chars(code, "ErrorCode")


def check_retryable(job: Job) -> None:
    """JobStatusRefused unless the job has finished (Complete, Failed or Cancelled) and ran some tasks."""
    if job.status not in TERMINAL:
        finished = ", ".join(sorted(s.value for s in TERMINAL))
        raise JobStatusRefused(
            f"job {job.id} is {job.status.value}; only a finished job ({finished}) can be retried: wait for it to "
            "end, or cancel it first"
        )
    if job.progress.failed == 0:
        raise NothingToRetry(f"job {job.id} has no failed tasks to retry ({job.progress.succeeded} succeeded)")


def manifest_target(parent: Job, request: RetryRequest) -> RetryManifest:
    """Where the retry manifest of ``parent`` goes: its report bucket, else its manifest's bucket.

    Named after the whole request: a replay rewrites the same bytes, and the same token sent with other error
    codes (refused by CreateJob's idempotency) never overwrites a manifest a retry may be reading."""
    asked = "\n".join([parent.id, request.client_request_token, *sorted(set(request.error_codes))])
    name = hashlib.sha256(asked.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    report = parent.spec.report
    if report.enabled and report.bucket:
        key = f"{job_folder(report.prefix, parent.id)}/retries/{name}.csv"
        return _target(report.bucket, key)
    return _target(_manifest_bucket_arn(parent.spec), f"{job_folder(None, parent.id)}/retries/{name}.csv")


def _target(bucket_arn: str, key: str) -> RetryManifest:
    bucket, _ = parse_object_arn(f"{bucket_arn}/{key}")
    return RetryManifest(bucket_arn, bucket, key)


def _manifest_bucket_arn(spec: JobSpec) -> str:
    if spec.manifest is not None:
        arn = spec.manifest.location.object_arn
        _, key = parse_object_arn(arn)
        return arn[: len(arn) - len(key) - 1]
    assert spec.generator is not None  # a job has a manifest or a generator
    output = spec.generator.output
    saved = output is not None and spec.generator.enable_manifest_output
    return output.bucket if saved and output is not None else spec.generator.source_bucket


async def write_rows(
    rows: AsyncIterator[ReportRow], error_codes: Sequence[str], out: IO[str]
) -> tuple[int, bool, set[str]]:
    """The failed rows to retry as manifest lines into ``out``: (rows written, whether they carry a VersionId,
    the error codes seen). A row that names no object (a manifest line that did not parse) is left out: it would
    fail the same way again."""
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


def nothing_to_retry(job: Job, error_codes: Sequence[str], seen: set[str]) -> NothingToRetry:
    if error_codes:
        had = ", ".join(sorted(code or "(none)" for code in seen)) or "none"
        return NothingToRetry(
            f"job {job.id} has no failed task with error code {', '.join(error_codes)}; its failed tasks' codes are: "
            f"{had}"
        )
    return NothingToRetry(
        f"job {job.id}'s failed tasks are all manifest rows that name no object; they would fail again: fix those "
        "rows in the manifest and create a new job"
    )


def retry_spec(parent: Job, request: RetryRequest, where: RetryManifest, etag: str, versioned: bool) -> JobSpec:
    """The parent's spec over the retry manifest: same operation, priority, rate caps, role, report, threshold."""
    original = parent.spec.manifest
    manifest_format = COS_CSV if original is not None and original.format == COS_CSV else S3_CSV
    fields = ("Bucket", "Key", "VersionId") if versioned else ("Bucket", "Key")
    location = ManifestLocation(object_arn=f"{where.bucket_arn}/{where.key}", etag=etag.strip('"'))
    return replace(
        parent.spec,
        client_request_token=request.client_request_token,
        priority=parent.priority,
        rate=parent.rate,  # the caps it runs with now, as the priority: an operator may have changed both
        manifest=ManifestSpec(manifest_format, fields, location),
        generator=None,
        confirmation_required=False,  # asking for the retry is the confirmation
        description=DESCRIPTION.format(id=parent.id),
    )


Create = Callable[[Account, JobSpec, list[dict[str, str]]], Awaitable[tuple[str, bool]]]


async def retry_failures(
    store: Store, settings: Settings, create: Create, account: Account, request: RetryRequest
) -> tuple[str, bool]:
    """Create the retry job of ``request.job_id`` and link the two; (retry job id, created)."""
    check_request(request)
    parent = await store.get_job(account.id, request.job_id)
    check_retryable(parent)
    where = manifest_target(parent, request)
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        text = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=True)
        rows = store.report_rows(parent.id, TaskStatus.FAILED)
        written, versioned, seen = await write_rows(rows, request.error_codes, text)
        text.flush()
        if written == 0:
            raise nothing_to_retry(parent, request.error_codes, seen)
        size = spool.tell()
        spool.seek(0)
        etag = await _upload(settings, account, parent, where, _AsyncReader(spool), size)
    job_id, created = await create(account, retry_spec(parent, request, where, etag, versioned), [])
    await store.link_retry(parent.id, job_id)
    return job_id, created


async def _upload(
    settings: Settings, account: Account, parent: Job, where: RetryManifest, source: objects.Readable, size: int
) -> str:
    try:
        return await objects.upload(settings, account.id, parent.spec.role_arn, where.bucket, where.key, source, size)
    except objects.StoreCallFailed as exc:
        raise ValidationError(
            f"cannot write the retry manifest to s3://{where.bucket}/{where.key} with job {parent.id}'s role: {exc}; "
            "let the role write there (or name another report bucket on a new job)"
        ) from None


class _AsyncReader:
    """The spooled manifest as ``objects.upload`` reads a source."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source

    async def read(self, size: int = -1) -> bytes:
        return self._source.read(size)
