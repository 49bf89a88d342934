"""Preparing: stream the manifest into chunks of tasks, checkpointed so a restart resumes it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import parse_object_arn
from batchops.domain.job import Job
from batchops.errors import ManifestError, ValidationError
from batchops.manifests.csv import RowError, iter_lines, parse_row
from batchops.s3.errors import to_task_error
from batchops.store.sqlstore import PreparedRow, Store

#: Longest raw line kept for a malformed row's report entry.
_RAW_KEEP = 1024
#: Manifest formats read as CSV rows whose columns Spec.Fields names (values trimmed: COS examples
#: have spaces after the commas). THE place that dispatches on Manifest.Spec.Format.
CSV_FORMATS = frozenset({"S3BatchOperations_CSV_20180820", "COSBatchOperations_CSV_V1"})


async def prepare(store: Store, s3: Any, job: Job, chunk_size: int) -> None:
    """Turn the job's manifest into tasks. Raises ManifestError when the manifest cannot be used."""
    manifest_format = job.spec.manifest.format
    if manifest_format not in CSV_FORMATS:  # e.g. COSInventoryReport_CSV_V1: inventory reading comes separately
        raise ManifestError(
            "UnsupportedManifestFormat",
            f"manifests of format {manifest_format} cannot be read yet; give a CSV manifest "
            f"({' or '.join(sorted(CSV_FORMATS))})",
        )
    body = await _open_manifest(s3, job)
    lines_done, chunk_no, seq = await store.prepare_checkpoint(job.id)
    fields = job.spec.manifest.fields
    batch: list[PreparedRow] = []
    line_no = 0
    async for line in iter_lines(_chunks(body)):
        line_no += 1
        if line_no <= lines_done:
            continue
        row = _to_row(seq, line, fields)
        if row is not None:
            batch.append(row)
            seq += 1
        if len(batch) >= chunk_size:
            await store.add_chunk(job.id, chunk_no, batch, line_no)
            chunk_no, batch = chunk_no + 1, []
    await store.add_chunk(job.id, chunk_no, batch, max(line_no, lines_done))
    await store.finish_manifest(job.id)


def _to_row(seq: int, line: str, fields: tuple[str, ...]) -> PreparedRow | None:
    try:
        target = parse_row(line, fields)
    except RowError as exc:
        return PreparedRow(seq, None, error=str(exc), raw=line[:_RAW_KEEP])
    return None if target is None else PreparedRow(seq, target)


async def _open_manifest(s3: Any, job: Job) -> Any:
    location = job.spec.manifest.location
    try:
        bucket, key = parse_object_arn(location.object_arn)
    except ValidationError as exc:
        raise ManifestError("InvalidManifestLocation", str(exc)) from None
    extra = {"VersionId": location.object_version_id} if location.object_version_id else {}
    try:
        response = await s3.get_object(Bucket=bucket, Key=key, **extra)
    except (ClientError, BotoCoreError) as exc:
        error = to_task_error(exc)
        raise ManifestError(
            "ManifestNotReadable",
            f"could not read the manifest s3://{bucket}/{key}: "
            f"{error.code} (HTTP {error.http_status}): {error.message}",
        ) from None
    _check_etag(location.etag, response.get("ETag", ""), bucket, key, response["Body"])
    return response["Body"]


def _check_etag(expected: str, actual: str, bucket: str, key: str, body: Any) -> None:
    if expected.strip().strip('"') != actual.strip().strip('"'):
        body.close()
        raise ManifestError(
            "ManifestETagMismatch",
            f"the manifest s3://{bucket}/{key} has ETag {actual} but the job expects {expected}; "
            "the manifest changed after the job was created: create the job again with the current ETag",
        )


async def _chunks(body: Any) -> AsyncIterator[bytes]:
    try:
        async for chunk in body.iter_chunks(chunk_size=256 * 1024):
            yield chunk
    except (ClientError, BotoCoreError, OSError) as exc:
        raise ManifestError("ManifestNotReadable", f"reading the manifest failed midway: {exc}") from None
    finally:
        body.close()
