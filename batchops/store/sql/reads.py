"""Reads for reports and the console, in SQL: outcome rows page by page, and jobs searched, sorted, counted."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import func, or_, select

from batchops.domain.job import Job
from batchops.domain.status import JobStatus
from batchops.domain.task import ReportRow, TaskStatus
from batchops.store import codec, rules
from batchops.store.base import SEARCH_SORTS
from batchops.store.outcomes import report_row
from batchops.store.schema import jobs, tasks
from batchops.store.sql.database import Repository
from batchops.store.sql.jobs import visible


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

    async def failure_codes(self, job_id: str) -> dict[str, int]:
        query = (
            select(tasks.c.error_code, func.count())
            .where(tasks.c.job_id == job_id, tasks.c.status == int(TaskStatus.FAILED))
            .group_by(tasks.c.error_code)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return {code or "": count for code, count in rows}

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


def _report_row(r: Any) -> ReportRow:
    return report_row(r.bucket, r.key, r.version_id, r.status, r.error_code, r.http_status, r.message)
