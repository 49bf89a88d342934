"""Read a written report: its ``manifest.json`` index, then the result files the index lists.

The one reader of the layout ``layout.py`` names, for the Python client (boto3, blocking), the console
(aiobotocore) and the tests. Its only S3 call, GetObject, is handed in as a function of (bucket, key), so the
same reading serves a blocking and an async client. It imports no server module: the client stays light.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from batchops.reports.layout import REPORT_COLUMNS, index_key, job_folder

#: GetObject as the reader needs it: (bucket, key) → the object's bytes.
GetObject = Callable[[str, str], bytes]
AsyncGetObject = Callable[[str, str], Awaitable[bytes]]


@dataclass(frozen=True)
class ReportLocation:
    """Where one job's report is: its bucket and the job's folder under the report prefix."""

    bucket: str
    folder: str

    @classmethod
    def of(cls, bucket: str, prefix: str | None, job_id: str) -> ReportLocation:
        return cls(bucket, job_folder(prefix, job_id))

    @property
    def index_key(self) -> str:
        return index_key(self.folder)


@dataclass(frozen=True)
class ListedFile:
    """One result file as the index lists it; ``status`` as written there (``succeeded`` or ``failed``)."""

    status: str
    bucket: str
    key: str
    md5: str


@dataclass(frozen=True)
class ReportIndex:
    """A report's ``manifest.json``: the document as written, and the result files it lists."""

    key: str
    document: dict[str, Any]
    files: tuple[ListedFile, ...]


@dataclass(frozen=True)
class WrittenReport:
    """The index and every result row, in the index's order; a row's Key is URL-encoded as written."""

    index: ReportIndex
    rows: list[list[str]]


def read_report(get: GetObject, where: ReportLocation) -> WrittenReport:
    """The index, then each result file it lists (the index is written last: what it lists is complete)."""
    index = parse_index(get(where.bucket, where.index_key), where)
    rows = [row for listed in index.files for row in parse_rows(get(listed.bucket, listed.key))]
    return WrittenReport(index, rows)


async def read_index(get: AsyncGetObject, where: ReportLocation) -> ReportIndex:
    return parse_index(await get(where.bucket, where.index_key), where)


def parse_index(body: bytes, where: ReportLocation) -> ReportIndex:
    document = json.loads(body)
    files = tuple(_listed_file(entry, where.bucket) for entry in document.get("Results", []))
    return ReportIndex(where.index_key, document, files)


def _listed_file(entry: dict[str, Any], report_bucket: str) -> ListedFile:
    return ListedFile(
        status=str(entry.get("TaskExecutionStatus", "")),
        bucket=str(entry.get("Bucket") or report_bucket),
        key=str(entry["Key"]),
        md5=str(entry.get("MD5Checksum", "")),
    )


def parse_rows(body: bytes) -> list[list[str]]:
    """A result file's rows, each a list of columns in ``REPORT_COLUMNS`` order."""
    return list(csv.reader(io.StringIO(body.decode("utf-8"))))


def named_row(values: list[str]) -> dict[str, str]:
    """A row's columns by ``REPORT_COLUMNS`` name, the Key URL-decoded (the object's own key)."""
    row = dict(zip(REPORT_COLUMNS, values, strict=False))
    row["Key"] = unquote(row.get("Key", ""))
    return row
