"""Write a job's completion report: result CSV files, then ``manifest.json`` and ``manifest.json.md5``.

Where each file goes is ``layout.py``: one or more result files per task status, at most rows_per_file rows
each, then the index of the result files with their MD5s, then the index's own MD5. Result file names are the
SHA-1 of (job id, status, part number), so writing the report again after a crash overwrites the same objects
instead of adding new ones. The index is written last, so its presence means every file it lists is complete.

Rows follow the declared ``ReportSchema`` order (Bucket, Key, VersionId, TaskStatus, ErrorCode,
HTTPStatusCode, ResultMessage). AWS's sample rows put HTTPStatusCode before ErrorCode; we follow
the schema the index declares, so a reader that trusts ``ReportSchema`` gets it right. Rows are
RFC-4180 CSV without a header, ``\\n``-terminated; the Key column is URL-encoded (``encode_key``).

Speed: the source yields rows, or runs of rows alike but for their keys (``ReportRun``, from
``Store.report_runs``); a run's CSV is built around its keys in one piece (``run_text``), never row by row,
which is what writes a 10-million-row report at over a million rows a second.

Memory: rows stream from the source into one part buffer, and files and parts go out in the background while
the next rows are read, a few at a time (``uploads.py``), so memory stays near a few parts whatever
``rows_per_file`` is.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from batchops.arns import parse_bucket_arn
from batchops.domain.job import ReportSpec
from batchops.domain.task import ReportRow, ReportRun, TaskStatus
from batchops.errors import ValidationError
from batchops.manifests.rows import encode_key
from batchops.reports.layout import (
    LONGEST_SUFFIX,
    REPORT_SCHEMA,
    STATUS_NAMES,
    index_key,
    job_folder,
)
from batchops.reports.uploads import UPLOAD_PART_BYTES as UPLOAD_PART_BYTES
from batchops.reports.uploads import FileTarget, ResultUpload, Uploads, put_bytes, to_bytes
from batchops.s3.types import S3Client
from batchops.wire_numbers import shown
from batchops.xmlutil import non_xml_char

DEFAULT_FORMAT = "Report_CSV_20180820"


@dataclass(frozen=True)
class ResultFile:
    status: TaskStatus
    key: str
    md5: str


#: A status's rows, in manifest order: rows, or runs of rows alike but for their keys (``Store.report_runs``).
RowSource = Callable[[TaskStatus], AsyncIterator[ReportRow | ReportRun]]


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
    uploads = Uploads()
    try:
        for status in report_statuses(spec.scope):
            target = FileTarget(s3, bucket, folder, job_id, status)
            files += await _write_result_files(target, rows(status), rows_per_file, uploads)
        await uploads.wait()  # every result file is whole before the index names it
    finally:
        await uploads.stop()
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


async def _write_result_files(
    target: FileTarget, source: AsyncIterator[ReportRow | ReportRun], rows_per_file: int, uploads: Uploads
) -> list[ResultFile]:
    """Result files of at most ``rows_per_file`` rows; a run that would overflow one is split between two."""
    files: list[ResultFile] = []
    upload: _CsvFile | None = None
    try:
        async for item in source:
            rest: ReportRow | ReportRun | None = item
            while rest is not None:
                upload = upload or _CsvFile(ResultUpload(target, target.key(len(files)), uploads), target.status)
                taken, rest = _take(rest, rows_per_file - upload.rows)
                await upload.add(taken)
                if upload.rows == rows_per_file:
                    files.append(ResultFile(target.status, upload.file.key, await upload.file.finish()))
                    upload = None
        if upload is not None:
            files.append(ResultFile(target.status, upload.file.key, await upload.file.finish()))
    except BaseException:
        if upload is not None:
            await upload.file.abort()
        raise
    return files


def _take(item: ReportRow | ReportRun, room: int) -> tuple[ReportRow | ReportRun, ReportRun | None]:
    """What of ``item`` fits in ``room`` rows (at least one), and what is left of it."""
    if isinstance(item, ReportRow) or item.count <= room:
        return item, None
    return item.split(room)


class _CsvFile:
    """A result file's rows as CSV text, counted."""

    def __init__(self, file: ResultUpload, status: TaskStatus) -> None:
        self.file = file
        self.rows = 0
        self._status = status
        self._csv = csv.writer(file, lineterminator="\n")

    async def add(self, item: ReportRow | ReportRun) -> None:
        row = item if isinstance(item, ReportRow) else item.like
        if row.status != self._status:
            raise ValueError(f"a {row.status.name} row came from the {self._status.name} row source")
        if isinstance(item, ReportRow):
            self._csv.writerow(row_fields(item))
            self.rows += 1
        else:
            self.file.write_bytes(run_bytes(item))
            self.rows += item.count
        await self.file.send_full_part()


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


#: What ``encode_key`` leaves as it is (its safe characters), and the newline between a run's keys.
_PLAIN_KEY_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~/-\n"


def run_bytes(run: ReportRun) -> bytes:
    """The run's CSV lines as the file holds them, exactly as ``row_fields``, the csv module and ``to_bytes``
    write each of its rows: the text around the key is the same on every line, so it is made once and the
    (encoded) keys are joined with it, as bytes (no step goes over the run row by row)."""
    before, after = _around_key(run.like)
    keys = run.keys.encode() if run.keys.isascii() else b""
    if len(keys) != len(run.keys) or keys.translate(None, _PLAIN_KEY_BYTES):  # some key needs encoding
        keys = "\n".join(map(encode_key, run.keys.split("\n"))).encode()
    return b"".join((before, keys.replace(b"\n", after + before), after))


@functools.lru_cache(maxsize=64)
def _around_key(like: ReportRow) -> tuple[bytes, bytes]:
    """A row's CSV line before its Key column and after it. The csv module quotes each field on its own (an
    encoded key never needs it), so these are the line of a row with any other key, around that key."""
    fields = row_fields(replace(like, key="k"))
    before = _csv_line(fields[:2])[: -len("k\n")]
    after = _csv_line(fields)[len(before) + len("k") :]
    return to_bytes(before), to_bytes(after)


def _csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(fields)
    return out.getvalue()


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
