"""Reads for reports and the console, in SQL: outcome rows page by page, and jobs searched, sorted, counted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Text, cast, func, literal, literal_column, or_, select, true, tuple_
from sqlalchemy.sql.elements import ColumnElement

from batchops.domain.job import Job
from batchops.domain.status import JobStatus
from batchops.domain.task import ReportRow, ReportRun, TaskStatus
from batchops.domain.tasklist import (
    ListedTask,
    TaskCounts,
    TaskOrder,
    TaskPage,
    TaskQuery,
    decode_token,
    encode_token,
    key_bytes,
    prefix_end,
)
from batchops.store import codec, rules
from batchops.store.base import SEARCH_SORTS
from batchops.store.outcomes import report_row, stored
from batchops.store.schema import jobs, tasks
from batchops.store.sql.database import Repository
from batchops.store.sql.jobs import visible
from batchops.store.sql.runs import succeeded_runs


class SqlReads(Repository):
    async def report_rows(self, job_id: str, status: TaskStatus, page: int = 5000) -> AsyncIterator[ReportRow]:
        """Outcome rows of one status in manifest order, read page by page (bounded memory)."""
        after = -1
        while True:
            query = (
                select(tasks)
                .where(tasks.c.job_id == job_id, tasks.c.status == int(status), tasks.c.seq > after)
                .order_by(tasks.c.seq)
                .limit(page)
            )
            async with self._db.read() as conn:
                rows = (await conn.execute(query)).all()
            for r in rows:
                yield _report_row(r)
            if len(rows) < page:
                return
            after = rows[-1].seq

    def report_runs(
        self, job_id: str, status: TaskStatus, page: int = 100_000
    ) -> AsyncIterator[ReportRow | ReportRun]:
        """Succeeded rows in runs on SQLite (``runs``); failed rows, and PostgreSQL's, row by row."""
        if status is TaskStatus.SUCCEEDED and not self._db.postgres:
            return succeeded_runs(self._db, job_id, page)
        return self.report_rows(job_id, status)

    async def recent_failures(self, job_id: str, limit: int = 20) -> list[ReportRow]:
        query = (
            select(tasks)
            .where(tasks.c.job_id == job_id, tasks.c.status == int(TaskStatus.FAILED))
            .order_by(tasks.c.seq.desc())
            .limit(limit)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [_report_row(r) for r in rows]

    async def task_counts(self, job_id: str) -> TaskCounts:
        # One statement, so one snapshot: outcomes and the job's counters are written in one transaction, and two
        # statements (each its own snapshot, on either database) would see failures the counter had not. The status
        # written into the SQL lets the partial index on failures by code (0013) answer the count alone.
        codes = (
            select(tasks.c.error_code, func.count().label("n"))
            .where(tasks.c.job_id == job_id, tasks.c.status == literal_column(str(int(TaskStatus.FAILED))))
            .group_by(tasks.c.error_code)
            .subquery()
        )
        query = (
            select(jobs.c.succeeded, jobs.c.failed, codes.c.error_code, codes.c.n)
            .select_from(jobs.outerjoin(codes, true()))
            .where(jobs.c.id == job_id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            return TaskCounts(0, 0)
        by_code = {code or "": int(n) for _, _, code, n in rows if n is not None}
        return TaskCounts(int(rows[0].succeeded), int(rows[0].failed), by_code)

    async def list_tasks(self, job_id: str, query: TaskQuery) -> TaskPage:
        """One page of the job's ended tasks (``domain.tasklist``): a keyset read that starts where the token
        says, so a page costs the same anywhere in the job (migration 0013's indexes for failures)."""
        cursor = decode_token(query)
        where = self._task_filters(job_id, query)
        if query.order is TaskOrder.KEY:
            order: list[ColumnElement[Any]] = [tasks.c.key, tasks.c.seq]
            if cursor is not None:
                where.append(tuple_(tasks.c.key, tasks.c.seq) > (stored(cursor.key or ""), cursor.seq))
        else:
            order = [tasks.c.seq.desc()]
            if cursor is not None:
                where.append(tasks.c.seq < cursor.seq)
        rows: list[Any] = []
        async with self._db.read() as conn:
            # One read per key range (a prefix on SQLite is two): each an index range, where their OR is not.
            for key_range in self._key_ranges(query.prefix):
                chosen = [*where, key_range] if key_range is not None else where
                page = select(tasks).where(*chosen).order_by(*order).limit(query.limit + 1)
                rows += (await conn.execute(page)).all()
        if query.order is TaskOrder.NEWEST:
            rows.sort(key=lambda r: r.seq, reverse=True)  # by key, the ranges are in order already: TEXT, BLOB
        listed = [ListedTask(r.seq, _report_row(r)) for r in rows[: query.limit]]
        more = len(rows) > query.limit
        return TaskPage(listed, encode_token(query, listed[-1]) if more else None)

    def _task_filters(self, job_id: str, query: TaskQuery) -> list[ColumnElement[bool]]:
        # The status is written into the SQL, not bound: only then may SQLite and PostgreSQL use the partial
        # indexes on failures (their WHERE must be implied by the query's own text).
        where = [tasks.c.job_id == job_id, tasks.c.status == literal_column(str(int(query.status)))]
        if query.error_codes:
            where.append(_codes_match(query.error_codes))
        return where

    def _key_ranges(self, prefix: str) -> list[ColumnElement[bool] | None]:
        """Keys starting with ``prefix`` as ranges of bytes (any byte is safe, unlike LIKE), each one an index
        can serve; [None] for no prefix. PostgreSQL keeps keys as BYTEA: one range. SQLite keeps a UTF-8 key as
        TEXT (compared byte by byte) and one that is not UTF-8 as a BLOB, which sorts after every TEXT: a range
        in each."""
        if not prefix:
            return [None]
        start = key_bytes(prefix)
        end = prefix_end(start)
        blobs = tasks.c.key >= start if end is None else (tasks.c.key >= start) & (tasks.c.key < end)
        if self._db.postgres:
            return [blobs]
        text_end = cast(literal(end), Text) if end is not None else literal(b"")  # every TEXT sorts below a BLOB
        texts = (tasks.c.key >= cast(literal(start), Text)) & (tasks.c.key < text_end)
        return [texts, blobs]

    async def search_jobs(
        self,
        account_id: str,
        statuses: Sequence[JobStatus] = (),
        text: str = "",
        sort: str = "created",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
        horizon_days: int = 90,
    ) -> tuple[list[Job], int]:
        """One page of an account's visible jobs, filtered by status and by ``text`` (in the description,
        or a job id prefix), sorted by one of SEARCH_SORTS; returns (page, total matching)."""
        rules.check_sort(sort)
        now = self._db.clock()
        where = [jobs.c.account_id == account_id, visible(now, horizon_days)]
        if statuses:
            where.append(jobs.c.status.in_([s.value for s in statuses]))
        if text.strip():
            needle = text.strip()
            where.append(self._text_matches(needle))
        column = jobs.c[SEARCH_SORTS[sort]]
        order = [column.desc() if descending else column.asc(), jobs.c.creation_time.desc(), jobs.c.id.desc()]
        query = select(jobs).where(*where).order_by(*order).limit(limit).offset(offset)
        count = select(func.count()).select_from(jobs).where(*where)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
            total = int((await conn.execute(count)).scalar_one())
        fault = self._db.health.write_fault
        return [rules.shown(codec.job_from_row(r, now), fault) for r in rows], total

    def _text_matches(self, needle: str) -> Any:
        """Case-insensitive, as SQLite's LIKE is (for ASCII): ILIKE on PostgreSQL, whose LIKE is not."""
        if self._db.postgres:
            return or_(
                jobs.c.description.icontains(needle, autoescape=True), jobs.c.id.istartswith(needle, autoescape=True)
            )
        return or_(jobs.c.description.contains(needle, autoescape=True), jobs.c.id.startswith(needle, autoescape=True))

    async def status_counts(self, account_id: str, horizon_days: int = 90) -> dict[JobStatus, int]:
        """How many of an account's visible jobs are in each status (statuses with none are left out)."""
        query = (
            select(jobs.c.status, func.count())
            .where(jobs.c.account_id == account_id, visible(self._db.clock(), horizon_days))
            .group_by(jobs.c.status)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return {JobStatus(status): int(n) for status, n in rows}

    async def job_counts(self) -> dict[JobStatus, int]:
        query = select(jobs.c.status, func.count()).group_by(jobs.c.status)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return {JobStatus(status): int(n) for status, n in rows}


def _codes_match(codes: tuple[str, ...]) -> ColumnElement[bool]:
    named = [code for code in codes if code]
    match = tasks.c.error_code.in_(named)
    return or_(match, tasks.c.error_code.is_(None)) if "" in codes else match


def _report_row(r: Any) -> ReportRow:
    return report_row(r.bucket, r.key, r.version_id, r.status, r.error_code, r.http_status, r.message)
