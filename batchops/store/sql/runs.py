"""A job's succeeded rows on SQLite, read in runs (``ReportRun``): what lets a 10-million-row report be written in
seconds, where reading each row as a Python object takes minutes.

The rows are read by ranges of seq (``page`` seqs each), a few ranges at once on their own read connections
(SQLite works without Python's lock), and handed on in seq order. One query per range answers its row count,
whether any of its rows holds values other than the run's (bucket, version id, error code, HTTP status, message:
those of the job's first succeeded row, or of the last row read one by one), and its keys joined by newlines. A
range whose rows all hold those values, and whose keys hold no newline, is one run; any other range is read
again row by row.

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

Piece = ReportRun | Sequence[Any]  # a run, or a range's rows read one by one


async def succeeded_runs(db: Database, job_id: str, page: int) -> AsyncIterator[ReportRow | ReportRun]:
    """The job's succeeded rows in seq order: runs, and rows where a range is not one run."""
    async with db.read() as conn:
        first, last = (await conn.execute(_bounds(job_id))).one()
        like = None if first is None else (await conn.execute(_values_at(job_id, first))).one()
    if first is None or like is None:
        return
    starts = iter(range(first, last + 1, page))
    reading: deque[asyncio.Task[Piece]] = deque()

    def read_next() -> None:
        start = next(starts, None)
        if start is not None:
            reading.append(asyncio.ensure_future(_read_range(db, job_id, start, start + page, like)))

    try:
        for _ in range(AHEAD):
            read_next()
        while reading:
            piece = await reading.popleft()
            if isinstance(piece, ReportRun):
                read_next()
                yield piece
                continue
            like = piece[-1] if piece else like  # the next ranges are likelier to hold its values
            read_next()
            for r in piece:
                yield report_row(r.bucket, r.key, r.version_id, _SUCCEEDED, r.error_code, r.http_status, r.message)
    finally:
        for task in reading:
            task.cancel()


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
