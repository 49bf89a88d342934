"""A job's succeeded rows on SQLite, read in runs (``ReportRun``): what lets a 10-million-row report be written in
seconds, where reading each row as a Python object takes minutes.

The rows are read by ranges of seq (up to ``page`` seqs each: see ``RANGE_KEY_CHARS``), a few ranges at once on
their own read connections (SQLite works without Python's lock), and handed on in seq order. One query per range
answers its row count, whether any of its rows holds values other than the run's (bucket, version id, error code,
HTTP status, message: those of the job's first succeeded row, or of the last row read one by one), and its keys
joined by newlines. A range whose rows all hold those values, and whose keys hold no newline, is one run; any other
range is read again row by row.

The keys come from ``group_concat`` over the range's rows in a subquery ordered by seq: SQLite does not flatten
an ordered subquery into an aggregate, so the aggregate takes the rows in that order (tests/unit/
test_report_runs.py holds it to that, with rows recorded out of order).

Succeeded rows only: outcomes.py stores every succeeded row's bucket, key and version id as text (a name that
is not UTF-8 makes its row failed), so the keys join as text. Failed rows, few and with messages of their own,
come row by row.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select

from batchops.domain.task import ReportRow, ReportRun, TaskStatus
from batchops.store.outcomes import report_row
from batchops.store.schema import tasks
from batchops.store.sql.database import Database

#: The columns every row of a run holds alike (the key aside).
_ALIKE = (tasks.c.bucket, tasks.c.version_id, tasks.c.error_code, tasks.c.http_status, tasks.c.message)
_SUCCEEDED = int(TaskStatus.SUCCEEDED)
#: Ranges read at once: one being handed on, the next ones read meanwhile (each on its own connection).
AHEAD = 3
#: The key characters a range that is a run should hold: its rows are at most the reader's ``page`` (100,000 by
#: default: ranges of 20,000 short keys wrote P10's report 7-25 % slower in alternating runs), fewer where keys are
#: long, judged by the last run read (a range of long keys would otherwise hold up to 100 MB).
RANGE_KEY_CHARS = 4 * 1024 * 1024
#: Rows of a range while its rows are read one by one (each a Python object): the first ranges, and those after
#: a range that was not one run.
ROWS_ONE_BY_ONE = 20_000

Piece = ReportRun | Sequence[Any]  # a run, or a range's rows read one by one


async def succeeded_runs(db: Database, job_id: str, page: int) -> AsyncIterator[ReportRow | ReportRun]:
    """The job's succeeded rows in seq order: runs, and rows where a range is not one run."""
    async with db.read() as conn:
        first, last = (await conn.execute(_bounds(job_id))).one()
        like = None if first is None else (await conn.execute(_values_at(job_id, first))).one()
    if first is None or like is None:
        return
    next_start, rows_per_range = first, min(page, ROWS_ONE_BY_ONE)
    reading: deque[asyncio.Task[Piece]] = deque()

    def read_next() -> None:
        nonlocal next_start
        if next_start <= last:
            end = next_start + rows_per_range
            reading.append(asyncio.ensure_future(_read_range(db, job_id, next_start, end, like)))
            next_start = end

    try:
        for _ in range(AHEAD):
            read_next()
        while reading:
            piece = await reading.popleft()
            if isinstance(piece, ReportRun):
                rows_per_range = _rows_per_range(len(piece.keys) / piece.count + 1, page)
                read_next()
                yield piece
                continue
            like = piece[-1] if piece else like  # the next ranges are likelier to hold its values
            rows_per_range = min(page, ROWS_ONE_BY_ONE)
            read_next()
            for r in piece:
                yield report_row(r.bucket, r.key, r.version_id, _SUCCEEDED, r.error_code, r.http_status, r.message)
    finally:
        for task in reading:
            task.cancel()


def _rows_per_range(key_chars: float, page: int) -> int:
    return max(1, min(page, int(RANGE_KEY_CHARS / key_chars)))


async def _read_range(db: Database, job_id: str, start: int, end: int, like: Any) -> Piece:
    async with db.read() as conn:
        count, differ, keys = (await conn.execute(_range_as_run(job_id, start, end, like))).one()
        if count and not differ and keys.count("\n") == count - 1:
            return ReportRun(_alike(like), keys, count)
        return (await conn.execute(_rows_in(job_id, start, end))).all() if count else []


def _alike(like: Any) -> ReportRow:
    return report_row(like.bucket, "", like.version_id, _SUCCEEDED, like.error_code, like.http_status, like.message)


def _of_job(job_id: str) -> tuple[Any, ...]:
    return (tasks.c.job_id == job_id, tasks.c.status == _SUCCEEDED)


def _bounds(job_id: str) -> Select[Any]:
    # Two subqueries: SQLite answers a lone min() or max() from the index's end, not both at once.
    lowest = select(func.min(tasks.c.seq)).where(*_of_job(job_id)).scalar_subquery()
    highest = select(func.max(tasks.c.seq)).where(*_of_job(job_id)).scalar_subquery()
    return select(lowest, highest)


def _values_at(job_id: str, seq: int) -> Select[Any]:
    return select(*_ALIKE).where(*_of_job(job_id), tasks.c.seq == seq)


def _range_as_run(job_id: str, start: int, end: int, like: Any) -> Select[Any]:
    # IS NOT: NULL equals NULL, and a value of another type (a BLOB) differs.
    differs = or_(*(column.is_not(getattr(like, column.name)) for column in _ALIKE))
    in_range = (*_of_job(job_id), tasks.c.seq >= start, tasks.c.seq < end)
    rows = select(tasks.c.key, differs.label("differs")).where(*in_range).order_by(tasks.c.seq).subquery()
    return select(func.count(), func.max(rows.c.differs), func.group_concat(rows.c.key, "\n"))


def _rows_in(job_id: str, start: int, end: int) -> Select[Any]:
    return select(tasks).where(*_of_job(job_id), tasks.c.seq >= start, tasks.c.seq < end).order_by(tasks.c.seq)
