"""Completion reports written to a real store (SeaweedFS): files, index, content, splitting, rewriting."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

import pytest

from batchops.devstore import LocalSeaweed
from batchops.domain.job import ReportSpec
from batchops.domain.task import TaskStatus
from batchops.reports.writer import REPORT_SCHEMA, UPLOAD_PART_BYTES, ReportRow, write_report
from batchops.s3.client import StoreCredentials, open_client

pytestmark = pytest.mark.integration

JOB_ID = "2d3a0e39-4b1c-4c5e-9d0f-6f1c0a7b8e21"
NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
RESULT_KEY = re.compile(r"reports/job-" + JOB_ID + r"/results/[0-9a-f]{40}\.csv")


@pytest.fixture
async def aio_s3(seaweed: LocalSeaweed) -> AsyncIterator[Any]:
    creds = StoreCredentials(seaweed.endpoint, "us-east-1", seaweed.access_key, seaweed.secret_key)
    async with AsyncExitStack() as stack:
        yield await open_client(stack, creds)


class Rows:
    """A row source over fixed lists; remembers which statuses were asked for."""

    def __init__(self, succeeded: list[ReportRow], failed: list[ReportRow]) -> None:
        self.by_status = {TaskStatus.SUCCEEDED: succeeded, TaskStatus.FAILED: failed}
        self.asked: list[TaskStatus] = []

    def __call__(self, status: TaskStatus) -> AsyncIterator[ReportRow]:
        self.asked.append(status)
        return self._iterate(self.by_status[status])

    async def _iterate(self, rows: list[ReportRow]) -> AsyncIterator[ReportRow]:
        for row in rows:
            yield row


def ok(key: str, version_id: str | None = None, message: str = "done") -> ReportRow:
    return ReportRow("src-bucket", key, version_id, TaskStatus.SUCCEEDED, "", 200, message)


def bad(key: str, code: str = "NoSuchKey", status: int = 404, message: str = "gone") -> ReportRow:
    return ReportRow("src-bucket", key, None, TaskStatus.FAILED, code, status, message)


def spec_for(
    bucket: str, prefix: str | None = "reports", scope: str = "AllTasks", fmt: str | None = None
) -> ReportSpec:
    return ReportSpec(
        enabled=True,
        bucket=f"arn:aws:s3:::{bucket}",
        format=fmt or "Report_CSV_20180820",
        prefix=prefix,
        scope=scope,
    )


def body(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def all_keys(s3: Any, bucket: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def index_of(s3: Any, bucket: str, folder: str = f"reports/job-{JOB_ID}") -> dict[str, Any]:
    document: dict[str, Any] = json.loads(body(s3, bucket, f"{folder}/manifest.json"))
    return document


def csv_rows(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode(), newline="")))


def rows_by_status(s3: Any, bucket: str, index: dict[str, Any]) -> Iterator[tuple[str, list[list[str]]]]:
    for result in index["Results"]:
        yield result["TaskExecutionStatus"], csv_rows(body(s3, bucket, result["Key"]))


# ---------------------------------------------------------------------------------------------


async def test_writes_result_files_then_a_matching_index(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()
    rows = Rows([ok("a.txt"), ok("b.txt")], [bad("c.txt")])

    written = await write_report(aio_s3, JOB_ID, spec_for(bucket), rows, now=NOW)

    folder = f"reports/job-{JOB_ID}"
    assert written[-2:] == [f"{folder}/manifest.json", f"{folder}/manifest.json.md5"]
    assert all(RESULT_KEY.fullmatch(key) for key in written[:-2])
    assert all_keys(s3, bucket) == sorted(written)
    index = index_of(s3, bucket)
    assert list(index) == ["Format", "ReportCreationDate", "Results", "ReportSchema"]
    assert index["Format"] == "Report_CSV_20180820"
    assert index["ReportCreationDate"] == "2024-05-06T07:08:09.123Z"
    assert (
        index["ReportSchema"]
        == REPORT_SCHEMA
        == "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
    )
    assert [r["TaskExecutionStatus"] for r in index["Results"]] == ["succeeded", "failed"]
    assert [r["Key"] for r in index["Results"]] == written[:-2]


async def test_index_checksums_match_the_stored_objects(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()
    await write_report(aio_s3, JOB_ID, spec_for(bucket), Rows([ok("a")], [bad("b")]), now=NOW)

    index = index_of(s3, bucket)
    for result in index["Results"]:
        assert list(result) == ["TaskExecutionStatus", "Bucket", "MD5Checksum", "Key"]
        assert result["Bucket"] == bucket
        assert result["MD5Checksum"] == hashlib.md5(body(s3, bucket, result["Key"])).hexdigest()
    index_bytes = body(s3, bucket, f"reports/job-{JOB_ID}/manifest.json")
    checksum = body(s3, bucket, f"reports/job-{JOB_ID}/manifest.json.md5")
    assert checksum == f"{hashlib.md5(index_bytes).hexdigest()}\n".encode()
    assert re.fullmatch(rb"[0-9a-f]{32}\n", checksum)


async def test_rows_use_schema_order_and_exact_bytes(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()
    rows = Rows([ok("dir/a b.txt", "v1", "copied")], [bad("x", "AccessDenied", 403, 'no "way", sorry')])

    await write_report(aio_s3, JOB_ID, spec_for(bucket), rows, now=NOW)

    contents = [body(s3, bucket, r["Key"]) for r in index_of(s3, bucket)["Results"]]
    assert contents == [
        b"src-bucket,dir/a%20b.txt,v1,succeeded,,200,copied\n",
        b'src-bucket,x,,failed,AccessDenied,403,"no ""way"", sorry"\n',
    ]


async def test_tricky_keys_and_messages_round_trip(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()
    keys = ["with,comma", 'with "quotes"', "spa ce/ü/日本.txt", "plus+sign", "100%", "tab\tand\nnewline"]
    messages = ["a,b", 'say "hi"', "line1\nline2", "ü 日本", "", "x" * 3000]
    succeeded = [ok(key, "null", message) for key, message in zip(keys, messages, strict=True)]

    await write_report(aio_s3, JOB_ID, spec_for(bucket), Rows(succeeded, []), now=NOW)

    [(status, rows)] = list(rows_by_status(s3, bucket, index_of(s3, bucket)))
    assert status == "succeeded"
    assert [unquote(row[1], errors="strict") for row in rows] == keys
    assert [row[6] for row in rows] == messages
    assert all(row[2] == "null" and row[3] == "succeeded" and len(row) == 7 for row in rows)


async def test_failed_tasks_only_writes_only_failed_files(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()
    rows = Rows([ok("a")], [bad("b"), bad("c")])

    written = await write_report(aio_s3, JOB_ID, spec_for(bucket, scope="FailedTasksOnly"), rows, now=NOW)

    assert rows.asked == [TaskStatus.FAILED]
    results = index_of(s3, bucket)["Results"]
    assert [r["TaskExecutionStatus"] for r in results] == ["failed"]
    assert all_keys(s3, bucket) == sorted(written)
    assert [row[1] for row in csv_rows(body(s3, bucket, results[0]["Key"]))] == ["b", "c"]


async def test_files_split_every_rows_per_file(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()
    failed = [bad(f"k{n}") for n in range(7)]

    written = await write_report(aio_s3, JOB_ID, spec_for(bucket), Rows([], failed), rows_per_file=3, now=NOW)

    assert len(written) == 3 + 2
    per_file = list(rows_by_status(s3, bucket, index_of(s3, bucket)))
    assert [(status, len(rows)) for status, rows in per_file] == [("failed", 3), ("failed", 3), ("failed", 1)]
    assert [row[1] for _, rows in per_file for row in rows] == [f"k{n}" for n in range(7)]


async def test_rewriting_overwrites_the_same_objects(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()
    rows = ([ok(f"s{n}") for n in range(5)], [bad(f"f{n}") for n in range(4)])

    first = await write_report(aio_s3, JOB_ID, spec_for(bucket), Rows(*rows), rows_per_file=2, now=NOW)
    index_before = index_of(s3, bucket)
    second = await write_report(aio_s3, JOB_ID, spec_for(bucket), Rows(*rows), rows_per_file=2, now=NOW)

    assert second == first
    assert len(first) == 3 + 2 + 2
    assert all_keys(s3, bucket) == sorted(first)
    assert index_of(s3, bucket) == index_before


async def test_prefix_is_optional_and_loses_its_trailing_slash(
    aio_s3: Any, s3: Any, new_bucket: Callable[[], str]
) -> None:
    bucket = new_bucket()
    no_prefix = await write_report(aio_s3, "j1", spec_for(bucket, prefix=None), Rows([ok("a")], []), now=NOW)
    slashed = await write_report(aio_s3, "j2", spec_for(bucket, prefix="out/"), Rows([ok("a")], []), now=NOW)

    assert no_prefix[-1] == "job-j1/manifest.json.md5"
    assert no_prefix[0].startswith("job-j1/results/")
    assert slashed[-1] == "out/job-j2/manifest.json.md5"
    assert index_of(s3, bucket, "out/job-j2")["Results"][0]["Key"].startswith("out/job-j2/results/")


async def test_cos_format_name_and_empty_report(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()

    written = await write_report(aio_s3, JOB_ID, spec_for(bucket, fmt="Report_CSV_V1"), Rows([], []), now=NOW)

    index = index_of(s3, bucket)
    assert (index["Format"], index["Results"]) == ("Report_CSV_V1", [])
    assert len(written) == 2


async def test_large_file_goes_out_as_multipart(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()
    message = "m" * 1024
    count = UPLOAD_PART_BYTES // 1024 + 500  # a bit more than one part
    succeeded = [ok(f"obj-{n}", message=message) for n in range(count)]

    await write_report(aio_s3, JOB_ID, spec_for(bucket), Rows(succeeded, []), now=NOW)

    [result] = index_of(s3, bucket)["Results"]
    head = s3.head_object(Bucket=bucket, Key=result["Key"])
    data = body(s3, bucket, result["Key"])
    assert head["ETag"].strip('"').endswith("-2")  # two parts: a multipart upload happened
    assert result["MD5Checksum"] == hashlib.md5(data).hexdigest()
    assert data.count(b"\n") == count
    assert data.endswith(f"src-bucket,obj-{count - 1},,succeeded,,200,{message}\n".encode())


async def test_row_with_the_wrong_status_is_refused(aio_s3: Any, s3: Any, new_bucket: Callable[[], str]) -> None:
    bucket = new_bucket()
    with pytest.raises(ValueError, match="FAILED row came from the SUCCEEDED row source"):
        await write_report(aio_s3, JOB_ID, spec_for(bucket), Rows([bad("x")], []), now=NOW)
    assert all_keys(s3, bucket) == []


async def test_failing_row_source_aborts_the_multipart_upload(
    aio_s3: Any, s3: Any, new_bucket: Callable[[], str]
) -> None:
    bucket = new_bucket()
    message = "m" * 1024

    async def breaks_after_one_part(status: TaskStatus) -> AsyncIterator[ReportRow]:
        for n in range(UPLOAD_PART_BYTES // 1024 + 10):
            yield ok(f"obj-{n}", message=message)
        raise RuntimeError("task store went away")

    with pytest.raises(RuntimeError, match="task store went away"):
        await write_report(aio_s3, JOB_ID, spec_for(bucket), breaks_after_one_part, now=NOW)

    assert all_keys(s3, bucket) == []
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
