"""Jobs' progress samples in SQL (the console's throughput chart), and an account's task totals."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select

from batchops.domain.throughput import MAX_SAMPLES, ProgressSample, to_thin
from batchops.store.schema import jobs, progress_samples
from batchops.store.sql.database import Repository
from batchops.store.sql.jobs import visible


class SqlProgress(Repository):
    async def add_progress_sample(self, job_id: str, sample: ProgressSample) -> None:
        """Insert the sample, thinning the job's older ones first when it has ``MAX_SAMPLES`` (a read of at most
        that many ids, a few times per job's life)."""
        table = progress_samples
        count = select(func.count()).select_from(table).where(table.c.job_id == job_id)
        values = {"job_id": job_id, "at": sample.at, "succeeded": sample.succeeded, "failed": sample.failed}
        async with self._db.write() as conn:
            if int((await conn.execute(count)).scalar_one()) >= MAX_SAMPLES:
                ids_query = select(table.c.id).where(table.c.job_id == job_id).order_by(table.c.at, table.c.id)
                ids = (await conn.execute(ids_query)).scalars().all()
                dropped = [ids[i] for i in to_thin(len(ids))]
                await conn.execute(delete(table).where(table.c.id.in_(dropped)))
            await conn.execute(insert(table).values(**values))

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
