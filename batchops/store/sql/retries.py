"""Retry links in SQL: which job a retry runs the failed tasks of (``batchops job retry``)."""

from __future__ import annotations

from sqlalchemy import insert, select

from batchops.domain.retry import RetryLinks
from batchops.store.schema import job_retries
from batchops.store.sql.database import Repository


class SqlRetries(Repository):
    async def link_retry(self, parent_id: str, retry_id: str) -> None:
        """Note that ``retry_id`` retries ``parent_id``; a replayed retry (same token, same job) notes it once."""
        async with self._db.write() as conn:
            found = await conn.execute(select(job_retries.c.job_id).where(job_retries.c.job_id == retry_id))
            if found.first() is None:
                values = {"job_id": retry_id, "parent_id": parent_id, "created_at": self._db.clock()}
                await conn.execute(insert(job_retries).values(**values))

    async def retry_links(self, job_id: str) -> RetryLinks:
        parent = select(job_retries.c.parent_id).where(job_retries.c.job_id == job_id)
        children = (
            select(job_retries.c.job_id)
            .where(job_retries.c.parent_id == job_id)
            .order_by(job_retries.c.created_at, job_retries.c.job_id)
        )
        async with self._db.read() as conn:
            retry_of = (await conn.execute(parent)).scalar()
            retries = (await conn.execute(children)).scalars().all()
        return RetryLinks(None if retry_of is None else str(retry_of), tuple(str(r) for r in retries))
