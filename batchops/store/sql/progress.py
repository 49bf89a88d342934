"""Jobs' progress samples in SQL (the console's throughput chart), and an account's task totals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, insert, select

from batchops.domain.throughput import MAX_SAMPLES, ProgressSample, to_thin
from batchops.store.schema import jobs, progress_samples
from batchops.store.sql.database import Repository
from batchops.store.sql.jobs import visible


class SqlProgress(Repository):
    async def add_progress_samples(self, samples: Sequence[tuple[str, ProgressSample]]) -> None:
        """Insert the samples (one per job), in one write, thinning a job's older ones first when it has
        ``MAX_SAMPLES`` (a read of at most that many ids, a few times per job's life)."""
        if not samples:
            return
        table = progress_samples
        counts = (
            select(table.c.job_id, func.count())
            .where(table.c.job_id.in_({job_id for job_id, _ in samples}))
            .group_by(table.c.job_id)
        )
        values = [{"job_id": job_id, "at": s.at, "succeeded": s.succeeded, "failed": s.failed} for job_id, s in samples]
        async with self._db.write() as conn:
            for job_id, count in (await conn.execute(counts)).all():
                if int(count) >= MAX_SAMPLES:
                    ids_query = select(table.c.id).where(table.c.job_id == job_id).order_by(table.c.at, table.c.id)
                    ids = (await conn.execute(ids_query)).scalars().all()
                    dropped = [ids[i] for i in to_thin(len(ids))]
                    await conn.execute(delete(table).where(table.c.id.in_(dropped)))
            await conn.execute(insert(table), values)

    async def progress_samples(self, job_id: str) -> list[ProgressSample]:
        table = progress_samples
        query = (
            select(table.c.at, table.c.succeeded, table.c.failed)
            .where(table.c.job_id == job_id)
            .order_by(table.c.at, table.c.id)
        )
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [ProgressSample(float(r.at), int(r.succeeded), int(r.failed)) for r in rows]

    async def task_totals(self, account_id: str, horizon_days: int = 90) -> tuple[int, int]:
        query = select(func.coalesce(func.sum(jobs.c.succeeded), 0), func.coalesce(func.sum(jobs.c.failed), 0)).where(
            jobs.c.account_id == account_id, visible(self._db.clock(), horizon_days)
        )
        async with self._db.read() as conn:
            succeeded, failed = (await conn.execute(query)).one()
        return int(succeeded), int(failed)
