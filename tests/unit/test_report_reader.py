"""The report reader against the report writer, on an in-memory store of the two calls they make.

The writer puts objects (PutObject; its files stay under one part, so no multipart upload), the reader gets
them (GetObject): what one writes the other reads back, index first, row for row. And the arrows the layout
module straightened: the Python client reads reports without the server's writer, the store imports no report code.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import batchops.store
from batchops.domain.job import ReportSpec
from batchops.domain.task import ReportRow, TaskStatus
from batchops.reports.layout import REPORT_COLUMNS, REPORT_SCHEMA
from batchops.reports.reader import (
    ReportLocation,
    WrittenReport,
    named_row,
    parse_index,
    read_index,
    read_report,
)
from batchops.reports.writer import RowSource, write_report

JOB_ID = "2d3a0e39-4b1c-4c5e-9d0f-6f1c0a7b8e21"
NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


class MemoryStore:
    """PutObject and GetObject over a dict; remembers the keys read, in order."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.reads: list[str] = []

    async def put_object(self, *, Bucket: str, Key: str, Body: bytes, **_headers: Any) -> dict[str, Any]:
        self.objects[(Bucket, Key)] = Body
        return {}

    def get(self, bucket: str, key: str) -> bytes:
        self.reads.append(key)
        return self.objects[(bucket, key)]

    async def get_async(self, bucket: str, key: str) -> bytes:
        return self.get(bucket, key)


def row(key: str, status: TaskStatus = TaskStatus.SUCCEEDED, message: str = "done") -> ReportRow:
    failed = status is TaskStatus.FAILED
    return ReportRow(
        "src", key, None if failed else "v1", status, "NoSuchKey" if failed else "", 404 if failed else 200, message
    )


def rows_of(succeeded: list[ReportRow], failed: list[ReportRow]) -> RowSource:
    by_status = {TaskStatus.SUCCEEDED: succeeded, TaskStatus.FAILED: failed}

    async def source(status: TaskStatus) -> AsyncIterator[ReportRow]:
        for one in by_status[status]:
            yield one

    return source


def spec(prefix: str | None = "reports", scope: str = "AllTasks") -> ReportSpec:
    return ReportSpec(
        enabled=True, bucket="arn:aws:s3:::reports", format="Report_CSV_20180820", prefix=prefix, scope=scope
    )


async def written(
    store: MemoryStore, succeeded: list[ReportRow], failed: list[ReportRow], *, report: ReportSpec | None = None
) -> list[str]:
    return await write_report(store, JOB_ID, report or spec(), rows_of(succeeded, failed), rows_per_file=2, now=NOW)


def as_named(one: ReportRow) -> dict[str, str]:
    """A row as the reader names it: the writer's columns, the Key decoded back to the object's key."""
    status = "failed" if one.status is TaskStatus.FAILED else "succeeded"
    values = [one.bucket, one.key, one.version_id or "", status, one.error_code, str(one.http_status), one.message]
    return dict(zip(REPORT_COLUMNS, values, strict=True))


# ---------------------------------------------------------------------------------------------


HOSTILE_KEYS = ["plain.txt", "a b/c+d.txt", 'odd dir/ü, "q"+1.txt', "100%/x?y#z", "new\nline"]


async def test_every_row_written_reads_back_with_its_key_decoded() -> None:
    store = MemoryStore()
    succeeded = [row(key) for key in HOSTILE_KEYS]
    failed = [row("gone.txt", TaskStatus.FAILED, message='line one\r\nline "two", three')]

    await written(store, succeeded, failed)
    report = read_report(store.get, ReportLocation.of("reports", "reports", JOB_ID))

    assert [named_row(values) for values in report.rows] == [as_named(one) for one in succeeded + failed]


async def test_the_index_is_read_first_then_each_file_it_lists_in_order() -> None:
    store = MemoryStore()
    keys = await written(store, [row(f"k{i}") for i in range(5)], [row("bad", TaskStatus.FAILED)])
    result_keys, index_keys = keys[:-2], keys[-2:]

    report = read_report(store.get, ReportLocation.of("reports", "reports", JOB_ID))

    assert store.reads == [index_keys[0], *result_keys]
    assert [listed.key for listed in report.index.files] == result_keys
    assert [listed.status for listed in report.index.files] == ["succeeded"] * 3 + ["failed"]
    assert all(listed.bucket == "reports" for listed in report.index.files)


async def test_the_index_is_the_document_written_with_each_files_md5() -> None:
    store = MemoryStore()
    await written(store, [row("a"), row("b"), row("c")], [])

    report = read_report(store.get, ReportLocation.of("reports", "reports", JOB_ID))

    document = json.loads(store.objects[("reports", f"reports/job-{JOB_ID}/manifest.json")])
    assert report.index.document == document
    assert document["ReportSchema"] == REPORT_SCHEMA
    assert [listed.md5 for listed in report.index.files] == [entry["MD5Checksum"] for entry in document["Results"]]


@pytest.mark.parametrize(
    ("prefix", "index_key"),
    [
        ("reports", f"reports/job-{JOB_ID}/manifest.json"),
        ("deep/reports/", f"deep/reports/job-{JOB_ID}/manifest.json"),
        (None, f"job-{JOB_ID}/manifest.json"),
    ],
)
async def test_the_reader_finds_the_index_where_the_writer_put_it(prefix: str | None, index_key: str) -> None:
    store = MemoryStore()
    keys = await written(store, [row("a")], [], report=spec(prefix))

    where = ReportLocation.of("reports", prefix, JOB_ID)

    assert where.index_key == index_key == keys[-2]
    assert read_report(store.get, where).index.key == index_key


async def test_a_failed_tasks_only_report_lists_only_failed_files() -> None:
    store = MemoryStore()
    await written(store, [row("a")], [row("b", TaskStatus.FAILED)], report=spec(scope="FailedTasksOnly"))

    report = read_report(store.get, ReportLocation.of("reports", "reports", JOB_ID))

    assert [listed.status for listed in report.index.files] == ["failed"]
    assert [named_row(values)["Key"] for values in report.rows] == ["b"]


async def test_an_empty_report_has_an_index_and_no_rows() -> None:
    store = MemoryStore()
    await written(store, [], [])

    report = read_report(store.get, ReportLocation.of("reports", "reports", JOB_ID))

    assert report == WrittenReport(report.index, [])
    assert report.index.files == ()


async def test_the_async_index_read_is_the_blocking_one() -> None:
    store = MemoryStore()
    await written(store, [row("a"), row("b"), row("c")], [row("d", TaskStatus.FAILED)])
    where = ReportLocation.of("reports", "reports", JOB_ID)

    index = await read_index(store.get_async, where)

    assert index == read_report(store.get, where).index
    assert store.reads[0] == where.index_key


def test_a_listed_file_without_a_bucket_is_in_the_report_bucket() -> None:
    where = ReportLocation.of("reports", None, JOB_ID)
    body = json.dumps({"Results": [{"TaskExecutionStatus": "failed", "Key": "job-x/results/1.csv"}]}).encode()

    (listed,) = parse_index(body, where).files

    assert (listed.bucket, listed.key, listed.status, listed.md5) == ("reports", "job-x/results/1.csv", "failed", "")


# --- who depends on the layout ----------------------------------------------------------------


def test_the_python_client_reads_reports_without_loading_the_server_side() -> None:
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, batchops.client; print(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()

    assert "batchops.reports.reader" in loaded
    assert not {"batchops.reports.writer", "batchops.manifests.csv", "batchops.store.sql"} & set(loaded)


def test_the_job_store_imports_nothing_from_reports() -> None:
    store = Path(batchops.store.__file__).parent
    imported = {
        (path.name, node.module)
        for path in store.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module
    }

    assert [pair for pair in imported if pair[1].startswith("batchops.reports")] == []
    assert ("reads.py", "batchops.domain.task") in imported  # the scan reads the store's own imports
