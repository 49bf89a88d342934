"""Write a job's completion report: result CSV files, then ``manifest.json`` and ``manifest.json.md5``.

Where each file goes is ``layout.py``: one or more result files per task status, at most rows_per_file rows
each, then the index of the result files with their MD5s, then the index's own MD5. Result file names are the
SHA-1 of (job id, status, part number), so writing the report again after a crash overwrites the same objects
instead of adding new ones. The index is written last, so its presence means every file it lists is complete.

Rows follow the declared ``ReportSchema`` order (Bucket, Key, VersionId, TaskStatus, ErrorCode,
HTTPStatusCode, ResultMessage). AWS's sample rows put HTTPStatusCode before ErrorCode; we follow
the schema the index declares, so a reader that trusts ``ReportSchema`` gets it right. Rows are
RFC-4180 CSV without a header, ``\\n``-terminated; the Key column is URL-encoded (``encode_key``).

Memory: rows stream from the source into one part buffer (``UPLOAD_PART_BYTES``). A file that fits
in one part goes out with a single ``put_object``; a larger one becomes a multipart upload, so
memory stays near one part whatever ``rows_per_file`` is. No server-side encryption header is sent:
not every S3-compatible store supports it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from batchops.arns import parse_bucket_arn
from batchops.domain.job import ReportSpec
from batchops.domain.task import ReportRow, TaskStatus
from batchops.errors import ValidationError
from batchops.manifests.rows import encode_key
from batchops.reports.layout import (
    LONGEST_SUFFIX,
    REPORT_SCHEMA,
    STATUS_NAMES,
    index_key,
    job_folder,
    result_file_key,
)
from batchops.s3.types import S3Client
from batchops.wire_numbers import shown
from batchops.xmlutil import non_xml_char

DEFAULT_FORMAT = "Report_CSV_20180820"
UPLOAD_PART_BYTES = 8 * 1024 * 1024  # S3 needs >= 5 MiB for every multipart part but the last


@dataclass(frozen=True)
class ResultFile:
    status: TaskStatus
    key: str
    md5: str


RowSource = Callable[[TaskStatus], AsyncIterator[ReportRow]]


async def write_report(
    s3: S3Client,
    job_id: str,
    spec: ReportSpec,
    rows: RowSource,
    *,
    rows_per_file: int = 100_000,
    now: datetime | None = None,
) -> list[str]:
    """Write the report ``spec`` asks for; return every key written, result files first."""
    if rows_per_file < 1:
        raise ValueError(f"rows_per_file must be at least 1, not {rows_per_file}")
    bucket = report_bucket(spec)
    check_prefix(spec.prefix)  # a job created before CreateJob checked it fails here, before any file is written
    folder = job_folder(spec.prefix, job_id)
    files: list[ResultFile] = []
    for status in report_statuses(spec.scope):
        target = _FileTarget(s3, bucket, folder, job_id, status)
        files += await _write_result_files(target, rows(status), rows_per_file)
    index_keys = await _write_index(s3, bucket, folder, manifest_json(spec, bucket, files, now))
    return [file.key for file in files] + index_keys


def report_bucket(spec: ReportSpec) -> str:
    if not spec.bucket:
        raise ValidationError("the report has no Bucket; give the report bucket's ARN", field="Bucket")
    return parse_bucket_arn(spec.bucket)


#: S3's limit on a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024
MAX_PREFIX_BYTES = MAX_KEY_BYTES - LONGEST_SUFFIX


def check_prefix(prefix: str | None, name: str = "Report.Prefix") -> None:
    """The one rule for a report prefix, checked at CreateJob and again before writing.

    A ``.`` or ``..`` path segment (between ``/``, or ``\\``, which some stores also split on) is a
    directory step to the stores that keep objects as files: SeaweedFS refuses such keys, others move
    them. NUL (and what else XML cannot carry) is refused by stores or by the answers that echo the prefix.
    And every report key must fit S3's 1,024 bytes.
    """
    given = prefix or ""
    prefix = given.rstrip("/")
    steps = sorted({part for part in re.split(r"[/\\]", prefix) if part in (".", "..")})
    if steps:
        raise ValidationError(
            f"{name} {shown(given)} has the path segment {steps[-1]!r}; object stores take . and .. as "
            "directory steps and refuse or move such keys: write the prefix without them (e.g. reports/2024)",
            field=name,
        )
    bad = non_xml_char(prefix)
    if bad is not None:  # NUL among them, which stores refuse in keys
        raise ValidationError(
            f"{name} has the character {bad!r}, which object keys and XML cannot carry; remove it", field=name
        )
    size = len(prefix.encode("utf-8", errors="surrogatepass"))
    if size > MAX_PREFIX_BYTES:
        raise ValidationError(
            f"{name} is {size} bytes in UTF-8; report keys add up to {LONGEST_SUFFIX} bytes to it and S3 keys "
            f"end at {MAX_KEY_BYTES}: use at most {MAX_PREFIX_BYTES} bytes",
            field=name,
        )


def report_statuses(scope: str | None) -> tuple[TaskStatus, ...]:
    if scope in (None, "AllTasks"):
        return (TaskStatus.SUCCEEDED, TaskStatus.FAILED)
    if scope == "FailedTasksOnly":
        return (TaskStatus.FAILED,)
    raise ValidationError(f"ReportScope {scope!r} is not AllTasks or FailedTasksOnly", field="ReportScope")


# ---------------------------------------------------------------------------------------------
# Result files


@dataclass(frozen=True)
class _FileTarget:
    """Where one status's result files go."""

    s3: S3Client
    bucket: str
    folder: str
    job_id: str
    status: TaskStatus

    def key(self, part: int) -> str:
        return result_file_key(self.folder, self.job_id, self.status, part)


async def _write_result_files(
    target: _FileTarget, source: AsyncIterator[ReportRow], rows_per_file: int
) -> list[ResultFile]:
    files: list[ResultFile] = []
    while (first := await anext(source, None)) is not None:
        key = target.key(len(files))
        md5 = await _write_one_file(_ResultUpload(target, key), first, source, rows_per_file)
        files.append(ResultFile(target.status, key, md5))
    return files


async def _write_one_file(
    upload: _ResultUpload, first: ReportRow, source: AsyncIterator[ReportRow], rows_per_file: int
) -> str:
    try:
        await upload.add(first)
        for _ in range(rows_per_file - 1):
            row = await anext(source, None)
            if row is None:
                break
            await upload.add(row)
        return await upload.finish()
    except BaseException:
        await upload.abort()
        raise


class _ResultUpload:
    """One result file on its way out: rows buffer up to one part, then go out as a multipart part."""

    def __init__(self, target: _FileTarget, key: str) -> None:
        self._target = target
        self._key = key
        self._pending = bytearray()
        self._md5 = hashlib.md5()
        self._csv = csv.writer(self, lineterminator="\n")  # writes each row's text to self.write
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []

    def write(self, text: str) -> int:
        # backslashreplace: a lone surrogate (e.g. from a badly encoded manifest) must not abort the report
        data = text.encode("utf-8", errors="backslashreplace")
        self._pending += data
        self._md5.update(data)
        return len(text)

    async def add(self, row: ReportRow) -> None:
        if row.status != self._target.status:
            raise ValueError(f"a {row.status.name} row came from the {self._target.status.name} row source")
        self._csv.writerow(row_fields(row))
        if len(self._pending) >= UPLOAD_PART_BYTES:
            await self._send_part()

    async def finish(self) -> str:
        """Complete the object; return the hex MD5 of its content."""
        if self._upload_id is None:
            await put_bytes(self._target.s3, self._target.bucket, self._key, bytes(self._pending), "text/csv")
        else:
            await self._send_part()
            await self._complete()
        return self._md5.hexdigest()

    async def abort(self) -> None:
        if self._upload_id is None:
            return
        # Best effort: the caller's error matters more; a leftover upload is only storage.
        with suppress(Exception):
            await self._target.s3.abort_multipart_upload(
                Bucket=self._target.bucket, Key=self._key, UploadId=self._upload_id
            )

    async def _send_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = await self._create()
        body, number = bytes(self._pending), len(self._parts) + 1
        self._pending.clear()
        answer = await self._target.s3.upload_part(
            Bucket=self._target.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=body,
            ContentMD5=content_md5(body),
        )
        self._parts.append({"ETag": answer["ETag"], "PartNumber": number})

    async def _create(self) -> str:
        answer = await self._target.s3.create_multipart_upload(
            Bucket=self._target.bucket, Key=self._key, ContentType="text/csv"
        )
        return str(answer["UploadId"])

    async def _complete(self) -> None:
        assert self._upload_id is not None  # _send_part opened the upload
        await self._target.s3.complete_multipart_upload(
            Bucket=self._target.bucket,
            Key=self._key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )


def row_fields(row: ReportRow) -> list[str]:
    """The CSV columns of a row, in ``REPORT_SCHEMA`` order."""
    return [
        row.bucket,
        encode_key(row.key),
        row.version_id or "",
        STATUS_NAMES[row.status],
        row.error_code,
        str(row.http_status),
        row.message,
    ]


# ---------------------------------------------------------------------------------------------
# Index


def manifest_json(spec: ReportSpec, bucket: str, files: list[ResultFile], now: datetime | None) -> bytes:
    document = {
        "Format": spec.format or DEFAULT_FORMAT,
        "ReportCreationDate": iso_millis(now or datetime.now(UTC)),
        "Results": [
            {
                "TaskExecutionStatus": STATUS_NAMES[file.status],
                "Bucket": bucket,
                "MD5Checksum": file.md5,
                "Key": file.key,
            }
            for file in files
        ],
        "ReportSchema": REPORT_SCHEMA,
    }
    return json.dumps(document, separators=(",", ":")).encode()


def iso_millis(moment: datetime) -> str:
    """``2019-04-05T17:48:39.725Z``; a naive datetime is taken as UTC."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


async def _write_index(s3: S3Client, bucket: str, folder: str, index: bytes) -> list[str]:
    key = index_key(folder)
    checksum = f"{hashlib.md5(index).hexdigest()}\n".encode()
    await put_bytes(s3, bucket, key, index, "application/json")
    await put_bytes(s3, bucket, f"{key}.md5", checksum, "text/plain")
    return [key, f"{key}.md5"]


async def put_bytes(s3: S3Client, bucket: str, key: str, body: bytes, content_type: str) -> None:
    await s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, ContentMD5=content_md5(body))


def content_md5(body: bytes) -> str:
    """The Content-MD5 header: the store refuses the upload if the bytes were damaged on the way."""
    return base64.b64encode(hashlib.md5(body).digest()).decode()
