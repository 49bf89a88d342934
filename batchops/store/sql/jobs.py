"""Jobs, their status history and tags, in SQL. Status moves are guarded in SQL with the transition table,
so a refused move changes nothing; a status and its history row commit together."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from batchops.domain.job import FailureReason, Job, JobSpec, RateCaps
from batchops.domain.status import TERMINAL, JobStatus, PausedBy, sources_of
from batchops.errors import JobNotFound
from batchops.store import codec, rules
from batchops.store.base import HistoryEntry
from batchops.store.schema import (
    chunks,
    job_events,
    job_retries,
    jobs,
    key_locks,
    progress_samples,
    tasks,
    webhook_attempts,
    webhook_deliveries,
)
from batchops.store.sql.database import Repository
from batchops.store.sql.webhooks import add_delivery


class SqlJobs(Repository):
    async def create_job(
        self, account_id: str, spec: JobSpec, tags: list[dict[str, str]], *, max_unfinished: int | None = None
    ) -> tuple[str, bool]:
        """Insert a New job; returns (job id, created). A replayed token returns the first job's id.

        With ``max_unfinished``, a new job is refused (TooManyUnfinishedJobs) while the account already
        has that many unfinished jobs; counted in the same transaction as the insert.
        """
        self._db.health.check_writable()  # refused at once while the disk is full, rather than tried and failed
        now = self._db.clock()
        fingerprint = codec.fingerprint(spec, tags)
        job_id = str(uuid.uuid4())
        async with self._db.write() as conn:
            if self._db.postgres:  # other servers create at once: one create per account at a time
                await conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(account_id, 0))))
            existing = await _by_token(conn, account_id, spec.client_request_token)
            if existing is not None:
                token = spec.client_request_token
                return rules.replayed(str(existing.id), existing.request_fingerprint, fingerprint, token), False
            if max_unfinished is not None:
                rules.check_unfinished(account_id, await _count_unfinished(conn, account_id), max_unfinished)
            values = rules.new_job_values(job_id, account_id, spec, tags, fingerprint, now)
            await conn.execute(insert(jobs).values(**values))
            await add_event(conn, job_id, None, JobStatus.NEW, "job created", now)
            created = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).one()
            await add_delivery(conn, created, None, JobStatus.NEW, "job created", now)
        rules.log_status_move(job_id, None, JobStatus.NEW, f"job created for account {account_id}")
        return job_id, True

    async def get_job(self, account_id: str, job_id: str) -> Job:
        return await self._job(account_id, job_id)

    async def job_for_engine(self, job_id: str) -> Job:
        return await self._job(None, job_id)

    async def _job(self, account_id: str | None, job_id: str) -> Job:
        query = select(jobs).where(jobs.c.id == job_id)
        if account_id is not None:
            query = query.where(jobs.c.account_id == account_id)
        row = await self._db.first(query)
        if row is None:
            raise JobNotFound(job_id)
        return self._shown(row, self._db.clock())

    async def job_by_token(self, account_id: str, token: str) -> Job | None:
        query = select(jobs).where(jobs.c.account_id == account_id, jobs.c.client_request_token == token)
        row = await self._db.first(query)
        return None if row is None else self._shown(row, self._db.clock())

    def _shown(self, row: Any, now: float) -> Job:
        return rules.shown(codec.job_from_row(row, now), self._db.health.write_fault)

    async def list_jobs(
        self, account_id: str, statuses: Sequence[JobStatus], limit: int, token: str | None, horizon_days: int
    ) -> tuple[list[Job], str | None]:
        now = self._db.clock()
        query = select(jobs).where(jobs.c.account_id == account_id, visible(now, horizon_days))
        if statuses:
            query = query.where(jobs.c.status.in_([s.value for s in statuses]))
        if token:
            created, last_id = rules.decode_token(token)
            query = query.where(
                or_(jobs.c.creation_time < created, and_(jobs.c.creation_time == created, jobs.c.id < last_id))
            )
        query = query.order_by(jobs.c.creation_time.desc(), jobs.c.id.desc()).limit(limit + 1)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        page = [self._shown(r, now) for r in rows[:limit]]
        more = len(rows) > limit
        last = rows[limit - 1] if more and page else None
        return page, (None if last is None else rules.encode_token(last.creation_time, last.id))

    async def list_jobs_after(
        self, account_id: str, statuses: Sequence[JobStatus], limit: int, after_job_id: str | None, horizon_days: int
    ) -> tuple[list[Job], str | None]:
        """``list_jobs`` paged the COS way: the token is the last job id of the previous page (or None)."""
        token = None
        if after_job_id:
            async with self._db.read() as conn:
                query = select(jobs.c.creation_time).where(jobs.c.id == after_job_id, jobs.c.account_id == account_id)
                created = (await conn.execute(query)).scalar()
            if created is None:
                raise rules.not_our_job(after_job_id)
            token = rules.encode_token(created, after_job_id)
        page, more = await self.list_jobs(account_id, statuses, limit, token, horizon_days)
        return page, (page[-1].id if more and page else None)

    async def jobs_in(self, statuses: Iterable[JobStatus]) -> list[Job]:
        """Every job in these statuses, all accounts (the engine's view)."""
        query = select(jobs).where(jobs.c.status.in_([s.value for s in statuses]))
        async with self._db.read() as conn:
            rows = (await conn.execute(query.order_by(jobs.c.creation_time))).all()
        now = self._db.clock()
        return [codec.job_from_row(r, now) for r in rows]

    async def update_priority(self, account_id: str, job_id: str, priority: int) -> Job:
        terminal = [s.value for s in TERMINAL]
        async with self._db.write() as conn:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.status.not_in(terminal))
                .values(priority=priority, updated_time=self._db.clock())
            )
        job = await self.get_job(account_id, job_id)
        if result.rowcount == 0:
            raise rules.ended_priority(job)
        return job

    async def update_rate(self, account_id: str, job_id: str, rate: RateCaps) -> Job:
        terminal = [s.value for s in TERMINAL]
        async with self._db.write() as conn:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.status.not_in(terminal))
                .values(
                    max_requests_per_second=rate.max_requests_per_second,
                    max_tasks_in_flight=rate.max_tasks_in_flight,
                    updated_time=self._db.clock(),
                )
            )
        job = await self.get_job(account_id, job_id)
        if result.rowcount == 0:
            raise rules.ended_rate(job)
        return job

    async def set_hold_reason(self, job_id: str, reason: str | None) -> None:
        """Say why the job is holding without progress (None: it no longer is). Written only on change."""
        async with self._db.write() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.hold_reason.is_distinct_from(reason))
                .values(hold_reason=reason, updated_time=self._db.clock())
            )

    async def pin_pause(self, job_id: str, reason: str) -> bool:
        pausing = [JobStatus.PAUSING.value, JobStatus.PAUSED.value]
        async with self._db.write() as conn:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(pausing))
                .values(paused_by=PausedBy.USER.value, status_update_reason=reason, updated_time=self._db.clock())
            )
        return bool(result.rowcount)

    async def get_tags(self, account_id: str, job_id: str) -> list[dict[str, str]]:
        query = select(jobs.c.tags).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
        row = await self._db.first(query)
        if row is None:
            raise JobNotFound(job_id)
        return list(json.loads(row.tags))

    async def put_tags(self, account_id: str, job_id: str, tags: list[dict[str, str]]) -> None:
        """Replace the job's whole tag set (an empty list removes every tag)."""
        async with self._db.write() as conn:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.account_id == account_id)
                .values(tags=json.dumps(tags), updated_time=self._db.clock())
            )
        if result.rowcount == 0:
            raise JobNotFound(job_id)

    async def transition(
        self,
        job_id: str,
        target: JobStatus,
        reason: str | None = None,
        failure: FailureReason | None = None,
        *,
        user_reason: bool = False,
        only_from: frozenset[JobStatus] | None = None,
        paused_by: PausedBy | None = None,
    ) -> bool:
        """Move a job to ``target`` if the table allows it from its current status; False if not.

        ``only_from`` narrows the allowed sources further (a user's request may be stricter); ``paused_by`` says
        who pauses it (a move to Pausing or Paused).
        """
        sources = sources_of(target) if only_from is None else sources_of(target) & only_from
        now = self._db.clock()
        async with self._db.write() as conn:
            # FOR UPDATE (PostgreSQL; SQLite renders none): the values are computed from this row.
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id).with_for_update())).first()
            if row is None:
                raise JobNotFound(job_id)
            current = JobStatus(row.status)
            if rules.resumed_by_hand_only(row, target):  # the row is locked: this check holds until the commit
                return False
            values = rules.status_values(row, target, now, reason if user_reason else None, failure, paused_by)
            result = await conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_([s.value for s in sources])).values(**values)
            )
            if result.rowcount == 0:
                return False
            await add_event(conn, job_id, current, target, reason, now)
            moved = SimpleNamespace(**{**row._mapping, **values})  # the row as the update left it
            await add_delivery(conn, moved, current, target, reason, now)
        rules.log_status_move(job_id, current, target, reason, failure)
        return True

    async def add_failure(self, job_id: str, failure: FailureReason) -> None:
        async with self._db.write() as conn:
            query = select(jobs.c.failure_reasons).where(jobs.c.id == job_id).with_for_update()
            row = (await conn.execute(query)).first()
            reasons = json.loads(row.failure_reasons) if row else []
            entry = {"code": failure.code, "reason": failure.reason}
            if entry in reasons:  # an ending retried (its last write failed) adds its reason once
                return
            reasons.append(entry)
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(failure_reasons=json.dumps(reasons)))

    async def status_history(self, job_id: str) -> list[HistoryEntry]:
        query = select(job_events).where(job_events.c.job_id == job_id).order_by(job_events.c.id)
        async with self._db.read() as conn:
            rows = (await conn.execute(query)).all()
        return [(r.at, r.from_status, r.to_status, r.reason) for r in rows]

    async def purge_ended_before(self, cutoff: float) -> int:
        """Delete jobs (with their tasks, chunks, history, key locks, retry links, webhook rows and progress samples)
        that ended before ``cutoff``."""
        async with self._db.write() as conn:
            ids = (await conn.execute(select(jobs.c.id).where(jobs.c.termination_time < cutoff))).scalars().all()
            purged = [tasks, chunks, job_events, key_locks, job_retries, webhook_deliveries, webhook_attempts]
            purged.append(progress_samples)
            for table in purged:  # a purged parent stays named
                await conn.execute(delete(table).where(table.c.job_id.in_(ids)))
            await conn.execute(delete(jobs).where(jobs.c.id.in_(ids)))
        return len(ids)


def visible(now: float, horizon_days: int) -> Any:
    """Unfinished jobs, and jobs that ended within the listing horizon."""
    return or_(jobs.c.termination_time.is_(None), jobs.c.termination_time >= now - horizon_days * 86400)


async def _by_token(conn: AsyncConnection, account_id: str, token: str) -> Any:
    query = select(jobs.c.id, jobs.c.request_fingerprint).where(
        jobs.c.account_id == account_id, jobs.c.client_request_token == token
    )
    return (await conn.execute(query)).first()


async def _count_unfinished(conn: AsyncConnection, account_id: str) -> int:
    query = select(func.count()).where(
        jobs.c.account_id == account_id, jobs.c.status.not_in([s.value for s in TERMINAL])
    )
    return int((await conn.execute(query)).scalar_one())


async def add_event(
    conn: AsyncConnection, job_id: str, source: JobStatus | None, target: JobStatus, reason: str | None, now: float
) -> None:
    """A history row for a status move (or the job's creation, from None)."""
    await conn.execute(
        insert(job_events).values(
            job_id=job_id, at=now, from_status=source.value if source else None, to_status=target.value, reason=reason
        )
    )
