"""Report runs (``ReportRun``): the SQLite store's runs hold exactly the rows ``report_rows`` yields, in seq order,
and the writer turns a run into exactly the bytes it writes for those rows one by one."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchops.domain.job import ReportSpec
from batchops.domain.task import ObjectRef, ReportRow, ReportRun, TaskOutcome, TaskStatus
from batchops.reports.uploads import to_bytes
from batchops.reports.writer import RowSource, row_fields, run_bytes, write_report
from batchops.store.sql import SqlStore, runs
from tests.support.job_store import new_job
from tests.support.strategies import hostile_text

S, F = TaskStatus.SUCCEEDED, TaskStatus.FAILED
NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
#: Keys a report must encode (and one a run cannot hold: a newline).
HOSTILE_KEYS = ["a b.txt", "ü/日本", 'q"uote,comma', "100%", "plus+", "new\nline", "", "t\tab", "nul\x00"]


def as_rows(items: list[ReportRow | ReportRun]) -> list[ReportRow]:
    rows: list[ReportRow] = []
    for item in items:
        if isinstance(item, ReportRow):
            rows.append(item)
        else:
            keys = item.keys.split("\n")
            assert len(keys) == item.count
            rows += [replace(item.like, key=key) for key in keys]
    return rows


def outcome(
    seq: int, key: str, status: TaskStatus = S, message: str = "done", version: str | None = None
) -> TaskOutcome:
    code, http = ("NoSuchKey", 404) if status is F else ("", 200)
    return TaskOutcome(seq, status, http, code, message, ObjectRef("src", key, version))


def varied_outcomes() -> list[TaskOutcome]:
    """Long stretches alike, broken by failures, other messages, a version id, hostile keys and gaps."""
    outcomes = []
    for seq in range(200):
        if seq % 37 == 5:
            continue  # never ran: in no report
        key = HOSTILE_KEYS[seq % len(HOSTILE_KEYS)] + f"-{seq}" if 60 <= seq < 90 else f"obj/{seq:05d}"
        if seq % 23 == 7:
            outcomes.append(outcome(seq, key, F, f"gone {seq}"))
        elif 120 <= seq < 130:
            outcomes.append(outcome(seq, key, message=f"copied {seq // 5}"))
        else:
            outcomes.append(outcome(seq, key, version="v1" if seq == 150 else None))
    return outcomes


@pytest.mark.parametrize("page", [1, 3, 16, 1000])
async def test_sqlite_runs_hold_every_row_once_in_seq_order(store: SqlStore, page: int) -> None:
    job_id = await new_job(store)
    outcomes = varied_outcomes()
    shuffled = random.Random(page).sample(outcomes, len(outcomes))  # recorded out of seq order
    for start in range(0, len(shuffled), 17):
        await store.record_outcomes(job_id, shuffled[start : start + 17], [])

    for status in (S, F):
        items = [item async for item in store.report_runs(job_id, status, page=page)]
        assert as_rows(items) == [row async for row in store.report_rows(job_id, status)]
    runs = [item async for item in store.report_runs(job_id, S, page=page) if isinstance(item, ReportRun)]
    assert runs or page == 1000  # one range of all 200 seqs: its rows differ, so it is read row by row


async def test_alike_rows_come_as_one_run_a_range(store: SqlStore) -> None:
    job_id = await new_job(store)
    await store.record_outcomes(job_id, [outcome(seq, f"k{seq}") for seq in reversed(range(40))], [])

    items = [item async for item in store.report_runs(job_id, S, page=16)]

    assert all(isinstance(item, ReportRun) for item in items)
    assert [item.count for item in items if isinstance(item, ReportRun)] == [16, 16, 8]
    first_keys = "\n".join(f"k{n}" for n in range(16))
    assert items[0] == ReportRun(ReportRow("src", "", None, S, "", 200, "done"), first_keys, 16)


report_values = st.tuples(hostile_text, st.none() | hostile_text, hostile_text | st.just(""), hostile_text)
run_keys = st.lists(hostile_text.filter(lambda key: "\n" not in key) | st.just(""), min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(values=report_values, keys=run_keys, status=st.sampled_from([S, F]), http=st.sampled_from([0, 200, 404]))
def test_a_runs_bytes_are_its_rows_as_the_csv_module_writes_them(
    values: tuple[str, str | None, str, str], keys: list[str], status: TaskStatus, http: int
) -> None:
    bucket, version, code, message = values
    like = ReportRow(bucket, "", version, status, code, http, message)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(row_fields(replace(like, key=key)) for key in keys)
    assert run_bytes(ReportRun(like, "\n".join(keys), len(keys))) == to_bytes(out.getvalue())


@pytest.mark.parametrize("first", [1, 2, 4])
def test_a_split_run_keeps_every_key_once(first: int) -> None:
    keys = ["a", "", "c d", "e", ""]
    head, rest = ReportRun(ReportRow("b", "", None, S, "", 200, ""), "\n".join(keys), 5).split(first)
    assert (head.count, rest.count) == (first, 5 - first)
    assert (head.keys.split("\n"), rest.keys.split("\n")) == (keys[:first], keys[first:])
    with pytest.raises(ValueError, match="cannot split"):
        head.split(first)


class Objects:
    """PutObject into a dict; ``fail_on``: the number of the put that fails (1 for the first)."""

    def __init__(self, fail_on: int = 0) -> None:
        self.objects: dict[str, bytes] = {}
        self._puts = 0
        self._fail_on = fail_on

    async def put_object(self, *, Key: str, Body: bytes, **_: Any) -> dict[str, Any]:
        self._puts += 1
        if self._puts == self._fail_on:
            raise OSError("the store went away")
        self.objects[Key] = Body
        return {}


def source_of(items: list[ReportRow | ReportRun]) -> RowSource:
    async def source(status: TaskStatus) -> AsyncIterator[ReportRow | ReportRun]:
        for item in items:
            if (item.status if isinstance(item, ReportRow) else item.like.status) is status:
                yield item

    return source


SPEC = ReportSpec(enabled=True, bucket="arn:aws:s3:::reports", format="Report_CSV_20180820", prefix="r", scope=None)


@pytest.mark.parametrize("rows_per_file", [1, 3, 7, 100])
async def test_runs_write_the_same_files_as_their_rows(rows_per_file: int) -> None:
    like = ReportRow("src", "", None, S, "", 200, 'said "hi", twice')
    items: list[ReportRow | ReportRun] = [
        ReportRun(like, "a\nb c\nd", 3),
        ReportRow("src", "odd,one", "v1", S, "", 200, "x"),
        ReportRun(like, "\n".join(f"k{n}" for n in range(11)), 11),
        ReportRow("src", "bad", None, F, "NoSuchKey", 404, "gone"),
        ReportRun(like, "ü", 1),
    ]
    by_runs, by_rows = Objects(), Objects()

    keys = await write_report(by_runs, "job", SPEC, source_of(items), rows_per_file=rows_per_file, now=NOW)
    await write_report(by_rows, "job", SPEC, source_of(as_rows(items)), rows_per_file=rows_per_file, now=NOW)

    assert by_runs.objects == by_rows.objects
    assert len(keys) == -(-16 // rows_per_file) + 1 + 2  # the succeeded files, the failed one, the index and its MD5


async def test_a_failed_upload_fails_the_report_and_writes_no_index() -> None:
    objects = Objects(fail_on=2)
    like = ReportRow("src", "", None, S, "", 200, "")
    items: list[ReportRow | ReportRun] = [ReportRun(like, "\n".join(f"k{n}" for n in range(9)), 9)]

    with pytest.raises(OSError, match="the store went away"):
        await write_report(objects, "job", SPEC, source_of(items), rows_per_file=2, now=NOW)

    assert not any(key.endswith("manifest.json") for key in objects.objects)


async def test_ranges_grow_to_the_page_while_runs_come_and_shrink_for_long_keys(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given 100 short keys, then 300 keys of 40 characters, all alike otherwise; ranges of at most 400 key
    # characters, and of 8 rows while rows may have to be read one by one
    monkeypatch.setattr(runs, "RANGE_KEY_CHARS", 400)
    monkeypatch.setattr(runs, "ROWS_ONE_BY_ONE", 8)
    job_id = await new_job(store)
    keys = [f"k{seq:02d}" for seq in range(100)] + [f"{seq:040d}" for seq in range(100, 400)]
    await store.record_outcomes(job_id, [outcome(seq, key) for seq, key in enumerate(keys)], [])

    items = [item async for item in store.report_runs(job_id, S, page=50)]

    # Then every row comes once, in order, in runs: the first ranges of 8 rows, then up to the page (50) while
    # keys are short, then about 400 / 41 = 9 rows a range once the long keys were seen (the ranges already
    # being read when they were seen keep their size)
    assert all(isinstance(item, ReportRun) for item in items)
    assert "\n".join(item.keys for item in items if isinstance(item, ReportRun)) == "\n".join(keys)
    counts = [item.count for item in items if isinstance(item, ReportRun)]
    assert counts[:3] == [8, 8, 8] and 50 in counts
    assert max(counts[-5:]) <= 10, counts
