"""The job store on SQLAlchemy Core: every read and write the control plane and workers make, by name.

Writes that must agree (an outcome and the counters, a chunk of tasks and the Preparing
checkpoint, a status and its history row) commit in one transaction. Status moves are guarded
in SQL with the transition table, so a refused move changes nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from time import monotonic  # not through ``time``: the store's tests replace that module with a clock
from typing import Any

from sqlalchemy import Engine, and_, create_engine, delete, event, func, insert, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from batchops.domain.job import FailureReason, GeneratedManifest, Job, JobSpec
from batchops.domain.status import TERMINAL, JobStatus, sources_of
from batchops.domain.task import ReportRow, TaskOutcome, TaskStatus
from batchops.errors import IdempotencyConflict, JobNotFound, StoreFull, TooManyUnfinishedJobs, ValidationError
from batchops.store import codec, migrate
from batchops.store.outcomes import OutcomeRow, loaded, outcome_rows
from batchops.store.schema import chunks, console_sessions, job_events, jobs, tasks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkBlob:
    """A chunk as Preparing stores it: tasks ``first_seq`` … ``first_seq + count - 1``, rows in ``data``."""

    chunk_no: int
    first_seq: int
    count: int
    data: bytes


@dataclass(frozen=True)
class ClaimedChunk:
    """A leased chunk: its blob, and the seqs in it that already have an outcome (skip them)."""

    chunk_no: int
    first_seq: int
    count: int
    data: bytes
    ended: frozenset[int]


@dataclass(frozen=True)
class WriteFault:
    """Why the store cannot write now (SQLite's message) and since when (epoch seconds)."""

    cause: str
    since: float

    @property
    def message(self) -> str:
        since = datetime.fromtimestamp(self.since, UTC).strftime("%H:%M:%S UTC")
        return (
            f"the server's disk is full since {since} ({self.cause}); free space where the server keeps its data "
            "(--data-dir)"
        )

    @property
    def hold_reason(self) -> str:
        return f"holding: {self.message}; the job resumes by itself"


class Store:
    def __init__(self, engine: AsyncEngine, reader: AsyncEngine | None = None, point: Engine | None = None) -> None:
        self.engine = engine
        #: Connections for reads only (ListJobs, the engine's tick): never queued behind a write.
        self.reader = reader or engine
        #: Read-only connections used on the event loop itself for one-row reads (``_first``).
        self._point = point
        # One writer at a time inside this process: SQLite allows one anyway (across processes too:
        # write transactions begin IMMEDIATE, so lock waits happen at BEGIN, under busy_timeout).
        self._write_lock = asyncio.Lock()
        #: Set while the store cannot write (its disk is full), cleared by the next write that commits. Read by
        #: /healthz, CreateJob and the job views (``_job``); kept in memory because it cannot be written.
        self.write_fault: WriteFault | None = None
        #: ``monotonic()`` of the last write that committed (the engine probes a store that has been quiet).
        self.last_write_ok = monotonic()
        self._writable = asyncio.Event()  # cleared with a write fault, set by the next write that commits
        self._writable.set()

    @classmethod
    async def open_sqlite(cls, path: str, *, migrate_schema: bool = True) -> Store:
        """Open (and, unless ``migrate_schema`` is False, migrate) the SQLite store; several processes may
        open the same file (the server and its workers): WAL, busy_timeout and BEGIN IMMEDIATE writes."""
        if migrate_schema:
            await asyncio.to_thread(migrate.upgrade, f"sqlite:///{path}")
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}", pool_size=4, max_overflow=4)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _driver_leaves_transactions_to_us)
        event.listen(engine.sync_engine, "begin", _begin)
        reader = create_async_engine(f"sqlite+aiosqlite:///{path}", pool_size=2, max_overflow=6)
        event.listen(reader.sync_engine, "connect", _sqlite_pragmas)
        event.listen(reader.sync_engine, "connect", _read_only)
        # Used only on the event loop's thread, one user at a time (the pool hands a connection out once).
        point = create_engine(f"sqlite:///{path}", pool_size=2, connect_args={"check_same_thread": False})
        event.listen(point, "connect", _sqlite_pragmas)
        event.listen(point, "connect", _read_only)
        return cls(engine, reader, point)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()
        if self._point is not None:
            self._point.dispose()

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction (BEGIN IMMEDIATE). A full disk raises StoreFull and is remembered as the store's
        ``write_fault`` until a write commits again."""
        async with self._write_lock:
            try:
                async with self.engine.connect() as conn:
                    await conn.execution_options(**{_WRITE_OPTION: True})
                    async with conn.begin():
                        yield conn
            except DBAPIError as exc:
                if not _is_disk_full(exc):
                    raise
                self._fault_seen(str(exc.orig))
                raise StoreFull(str(exc.orig)) from exc
            self.write_fault = None
            self.last_write_ok = monotonic()
            self._writable.set()

    def _fault_seen(self, cause: str) -> None:
        self._writable.clear()
        if self.write_fault is None:
            self.write_fault = WriteFault(cause, time.time())
            log.warning(
                "the store cannot write: %s; free space under the data directory", cause, extra={"action": "disk_full"}
            )

    async def rest(self, seconds: float) -> None:
        """Wait ``seconds`` before trying a failed write again, or less if the store can write again meanwhile
        (the engine's probe found room): work held by a full disk resumes as soon as space returns."""
        if self.write_fault is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._writable.wait(), seconds)

    def check_writable(self) -> None:
        """Refuse new work at once (StoreFull) while the last write found the disk full."""
        if self.write_fault is not None:
            raise StoreFull(self.write_fault.cause)

    async def probe_write(self) -> bool:
        """Write one page (the database header's user_version, set to itself): True if the store has room again.

        Clears ``write_fault`` on success, sets it on a full disk; another write error is raised."""
        try:
            async with self._write() as conn:
                version = int((await conn.exec_driver_sql("PRAGMA user_version")).scalar() or 0)
                await conn.exec_driver_sql(f"PRAGMA user_version = {version}")
        except StoreFull:
            return False
        return True

    def _read(self) -> AsyncConnection:
        """A read connection (``async with self._read() as conn``), from the read-only pool."""
        return self.reader.connect()

    async def _first(self, query: Any) -> Any:
        """The first row of a one-row read (by key), read on the event loop itself: a WAL read waits for no
        writer and takes ~0.2 ms, while aiosqlite's thread hand-offs cost ~1.4 ms and, when the CPUs are busy
        with tasks, each hand-off can wait for a time slice (DescribeJob's latency tail)."""
        if self._point is None:
            async with self._read() as conn:
                return (await conn.execute(query)).first()
        with self._point.connect() as conn:
            return conn.execute(query).first()

    # --- jobs -------------------------------------------------------------------------------

    async def create_job(
        self, account_id: str, spec: JobSpec, tags: list[dict[str, str]], *, max_unfinished: int | None = None
    ) -> tuple[str, bool]:
        """Insert a New job; returns (job id, created). A replayed token returns the first job's id.

        With ``max_unfinished``, a new job is refused (TooManyUnfinishedJobs) while the account already
        has that many unfinished jobs; counted in the same transaction as the insert.
        """
        self.check_writable()  # refused at once while the disk is full, rather than tried and failed
        now = time.time()
        fingerprint = codec.fingerprint(spec, tags)
        job_id = str(uuid.uuid4())
        async with self._write() as conn:
            existing = await self._by_token(conn, account_id, spec.client_request_token)
            if existing is not None:
                return self._replay(existing, fingerprint, spec.client_request_token), False
            if max_unfinished is not None:
                await _check_unfinished(conn, account_id, max_unfinished)
            await conn.execute(insert(jobs).values(**_new_job_values(job_id, account_id, spec, tags, fingerprint, now)))
            await _add_event(conn, job_id, None, JobStatus.NEW, "job created", now)
        return job_id, True

    async def _by_token(self, conn: AsyncConnection, account_id: str, token: str) -> Any:
        query = select(jobs.c.id, jobs.c.request_fingerprint).where(
            jobs.c.account_id == account_id, jobs.c.client_request_token == token
        )
        return (await conn.execute(query)).first()

    @staticmethod
    def _replay(existing: Any, fingerprint: str, token: str) -> str:
        if existing.request_fingerprint != fingerprint:
            raise IdempotencyConflict(
                f"ClientRequestToken {token!r} was already used for a different CreateJob request "
                f"(job {existing.id}); send a new token for a new job"
            )
        return str(existing.id)

    async def get_job(self, account_id: str | None, job_id: str) -> Job:
        query = select(jobs).where(jobs.c.id == job_id)
        if account_id is not None:
            query = query.where(jobs.c.account_id == account_id)
        row = await self._first(query)
        if row is None:
            raise JobNotFound(job_id)
        return self._job(row, time.time())

    def _job(self, row: Any, now: float) -> Job:
        """A job as users see it: while the store cannot write, an unfinished job says it is holding, and why."""
        job = codec.job_from_row(row, now)
        fault = self.write_fault
        if fault is None or job.status in TERMINAL:
            return job
        return replace(job, hold_reason=fault.hold_reason)

    async def list_jobs(
        self,
        account_id: str,
        statuses: Sequence[JobStatus],
        limit: int,
        token: str | None,
        horizon_days: int,
    ) -> tuple[list[Job], str | None]:
        now = time.time()
        query = select(jobs).where(jobs.c.account_id == account_id, _visible(now, horizon_days))
        if statuses:
            query = query.where(jobs.c.status.in_([s.value for s in statuses]))
        if token:
            created, last_id = _decode_token(token)
            query = query.where(
                or_(jobs.c.creation_time < created, and_(jobs.c.creation_time == created, jobs.c.id < last_id))
            )
        query = query.order_by(jobs.c.creation_time.desc(), jobs.c.id.desc()).limit(limit + 1)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        page = [self._job(r, now) for r in rows[:limit]]
        more = len(rows) > limit
        return page, (_encode_token(rows[limit - 1].creation_time, rows[limit - 1].id) if more and page else None)

    async def list_jobs_after(
        self,
        account_id: str,
        statuses: Sequence[JobStatus],
        limit: int,
        after_job_id: str | None,
        horizon_days: int,
    ) -> tuple[list[Job], str | None]:
        """``list_jobs`` paged the COS way: the token is the last job id of the previous page (or None)."""
        token = None
        if after_job_id:
            async with self._read() as conn:
                query = select(jobs.c.creation_time).where(jobs.c.id == after_job_id, jobs.c.account_id == account_id)
                created = (await conn.execute(query)).scalar()
            if created is None:
                raise ValidationError(
                    f"nextToken {after_job_id!r} is not a job of this account; pass the NextToken of the "
                    "previous ListJobs page unchanged",
                    field="nextToken",
                )
            token = _encode_token(created, after_job_id)
        page, more = await self.list_jobs(account_id, statuses, limit, token, horizon_days)
        return page, (page[-1].id if more and page else None)

    async def jobs_in(self, statuses: Iterable[JobStatus]) -> list[Job]:
        """Every job in these statuses, all accounts (the engine's view)."""
        query = select(jobs).where(jobs.c.status.in_([s.value for s in statuses]))
        async with self._read() as conn:
            rows = (await conn.execute(query.order_by(jobs.c.creation_time))).all()
        now = time.time()
        return [codec.job_from_row(r, now) for r in rows]

    async def update_priority(self, account_id: str, job_id: str, priority: int) -> Job:
        terminal = [s.value for s in TERMINAL]
        async with self._write() as conn:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.account_id == account_id, jobs.c.status.not_in(terminal))
                .values(priority=priority, updated_time=time.time())
            )
        job = await self.get_job(account_id, job_id)
        if result.rowcount == 0:
            raise ValidationError(f"job {job_id} is {job.status.value}; the priority of an ended job cannot change")
        return job

    async def set_hold_reason(self, job_id: str, reason: str | None) -> None:
        """Say why the job is holding without progress (None: it no longer is). Written only on change."""
        async with self._write() as conn:
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.hold_reason.is_distinct_from(reason))
                .values(hold_reason=reason, updated_time=time.time())
            )

    async def get_tags(self, account_id: str, job_id: str) -> list[dict[str, str]]:
        query = select(jobs.c.tags).where(jobs.c.id == job_id, jobs.c.account_id == account_id)
        row = await self._first(query)
        if row is None:
            raise JobNotFound(job_id)
        return list(json.loads(row.tags))

    async def put_tags(self, account_id: str, job_id: str, tags: list[dict[str, str]]) -> None:
        """Replace the job's whole tag set (an empty list removes every tag)."""
        async with self._write() as conn:
            result = await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.account_id == account_id)
                .values(tags=json.dumps(tags), updated_time=time.time())
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
    ) -> bool:
        """Move a job to ``target`` if the table allows it from its current status; False if not.

        ``only_from`` narrows the allowed sources further (a user's request may be stricter).
        """
        sources = sources_of(target) if only_from is None else sources_of(target) & only_from
        now = time.time()
        async with self._write() as conn:
            row = (await conn.execute(select(jobs).where(jobs.c.id == job_id))).first()
            if row is None:
                raise JobNotFound(job_id)
            current = JobStatus(row.status)
            values = _status_values(row, target, now, reason if user_reason else None, failure)
            result = await conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_([s.value for s in sources])).values(**values)
            )
            if result.rowcount == 0:
                return False
            await _add_event(conn, job_id, current, target, reason, now)
        return True

    async def add_failure(self, job_id: str, failure: FailureReason) -> None:
        async with self._write() as conn:
            row = (await conn.execute(select(jobs.c.failure_reasons).where(jobs.c.id == job_id))).first()
            reasons = json.loads(row.failure_reasons) if row else []
            entry = {"code": failure.code, "reason": failure.reason}
            if entry in reasons:  # an ending retried (its last write failed) adds its reason once
                return
            reasons.append(entry)
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(failure_reasons=json.dumps(reasons)))

    async def status_history(self, job_id: str) -> list[tuple[float, str | None, str, str | None]]:
        query = select(job_events).where(job_events.c.job_id == job_id).order_by(job_events.c.id)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [(r.at, r.from_status, r.to_status, r.reason) for r in rows]

    async def purge_ended_before(self, cutoff: float) -> int:
        """Delete jobs (with their tasks, chunks and history) that ended before ``cutoff``."""
        async with self._write() as conn:
            ids = (await conn.execute(select(jobs.c.id).where(jobs.c.termination_time < cutoff))).scalars().all()
            for table in (tasks, chunks, job_events):
                await conn.execute(delete(table).where(table.c.job_id.in_(ids)))
            await conn.execute(delete(jobs).where(jobs.c.id.in_(ids)))
        return len(ids)

    # --- preparing ------------------------------------------------------------------------

    async def add_chunks(
        self, job_id: str, blobs: Sequence[ChunkBlob], lines_read: int, cursor: str | None = None
    ) -> None:
        """Store chunks and advance the Preparing checkpoint (and the source's cursor), atomically."""
        async with self._write() as conn:
            if blobs:
                await conn.execute(
                    insert(chunks),
                    [
                        {
                            "job_id": job_id,
                            "chunk_no": b.chunk_no,
                            "first_seq": b.first_seq,
                            "task_count": b.count,
                            "data": b.data,
                            "done": False,
                        }
                        for b in blobs
                    ],
                )
            await conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(
                    total_tasks=jobs.c.total_tasks + sum(b.count for b in blobs),
                    manifest_lines_read=lines_read,
                    updated_time=time.time(),
                    **({"manifest_cursor": cursor} if cursor is not None else {}),
                )
            )

    async def prepare_checkpoint(self, job_id: str) -> tuple[int, int, int]:
        """(lines read, next chunk number, next task seq) to resume Preparing after a restart."""
        async with self._read() as conn:
            lines = (await conn.execute(select(jobs.c.manifest_lines_read).where(jobs.c.id == job_id))).scalar_one()
            last = (
                await conn.execute(
                    select(chunks.c.chunk_no, chunks.c.first_seq + chunks.c.task_count)
                    .where(chunks.c.job_id == job_id)
                    .order_by(chunks.c.chunk_no.desc())
                    .limit(1)
                )
            ).first()
        return int(lines), (last[0] + 1 if last else 0), (int(last[1]) if last else 0)

    async def manifest_cursor(self, job_id: str) -> str | None:
        """Where a seekable manifest source resumes (stored with the last committed chunk)."""
        async with self._read() as conn:
            query = select(jobs.c.manifest_cursor).where(jobs.c.id == job_id)
            return (await conn.execute(query)).scalar_one()  # type: ignore[no-any-return]

    async def set_generated_manifest(self, job_id: str, manifest: GeneratedManifest) -> None:
        async with self._write() as conn:
            value = codec.generated_manifest_to_json(manifest)
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(generated_manifest=value))

    async def finish_manifest(self, job_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(manifest_done=True))

    # --- execution ------------------------------------------------------------------------

    async def claim_chunk(self, job_id: str, owner: str, lease_seconds: float) -> ClaimedChunk | None:
        """Lease the next unfinished, unleased chunk of an Active job: its rows, and its seqs already ended."""
        now = time.time()
        free = or_(chunks.c.lease_owner.is_(None), chunks.c.lease_expires < now)
        async with self._write() as conn:
            status = (await conn.execute(select(jobs.c.status).where(jobs.c.id == job_id))).scalar()
            if status != JobStatus.ACTIVE.value:
                return None  # only an Active job's work may be claimed, whatever a worker last saw
            row = (
                await conn.execute(
                    select(chunks.c.chunk_no, chunks.c.first_seq, chunks.c.task_count, chunks.c.data)
                    .where(chunks.c.job_id == job_id, chunks.c.done.is_(False), free)
                    .order_by(chunks.c.chunk_no)
                    .limit(1)
                )
            ).first()
            if row is None:
                return None
            await conn.execute(
                update(chunks)
                .where(chunks.c.job_id == job_id, chunks.c.chunk_no == row.chunk_no)
                .values(lease_owner=owner, lease_expires=now + lease_seconds)
            )
            ended = (
                await conn.execute(
                    select(tasks.c.seq).where(
                        tasks.c.job_id == job_id,
                        tasks.c.seq >= row.first_seq,
                        tasks.c.seq < row.first_seq + row.task_count,
                    )
                )
            ).scalars()
            return ClaimedChunk(row.chunk_no, row.first_seq, row.task_count, row.data, frozenset(ended))

    async def renew_leases(self, owner: str, lease_seconds: float) -> None:
        async with self._write() as conn:
            await conn.execute(
                update(chunks)
                .where(chunks.c.lease_owner == owner, chunks.c.done.is_(False))
                .values(lease_expires=time.time() + lease_seconds)
            )

    async def release_chunks(self, job_id: str | None = None, owner: str | None = None) -> None:
        """Give leased chunks back (a paused job, or a restart of the only worker)."""
        query = update(chunks).values(lease_owner=None, lease_expires=None)
        if job_id is not None:
            query = query.where(chunks.c.job_id == job_id)
        if owner is not None:
            query = query.where(chunks.c.lease_owner == owner)
        async with self._write() as conn:
            await conn.execute(query)

    async def record_outcomes(
        self, job_id: str, outcomes: Sequence[TaskOutcome], finished_chunks: Iterable[int]
    ) -> tuple[int, int]:
        """Insert outcomes of tasks that have none yet and bump the counters in one transaction.

        An outcome for a seq that already has one (its task ran again after a crash) is ignored and not
        counted. ``finished_chunks`` (every seq of which now has an outcome) are marked done.
        Returns the job's (succeeded, failed) after the write.
        """
        rows = outcome_rows(job_id, outcomes)  # never raises on what a key or message holds
        async with self._write() as conn:
            ok = await _insert_outcomes(conn, [r for r in rows if r[_STATUS] == TaskStatus.SUCCEEDED])
            bad = await _insert_outcomes(conn, [r for r in rows if r[_STATUS] == TaskStatus.FAILED])
            finished = list(finished_chunks)
            if finished:
                await conn.execute(
                    update(chunks)
                    .where(chunks.c.job_id == job_id, chunks.c.chunk_no.in_(finished))
                    .values(done=True, lease_owner=None, lease_expires=None)
                )
            row = (
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(succeeded=jobs.c.succeeded + ok, failed=jobs.c.failed + bad, updated_time=time.time())
                    .returning(jobs.c.succeeded, jobs.c.failed)
                )
            ).one()
        return int(row.succeeded), int(row.failed)

    async def has_live_lease(self, job_id: str) -> bool:
        """Whether a worker still holds an unexpired lease on one of the job's unfinished chunks."""
        query = (
            select(chunks.c.chunk_no)
            .where(
                chunks.c.job_id == job_id,
                chunks.c.done.is_(False),
                chunks.c.lease_owner.is_not(None),
                chunks.c.lease_expires >= time.time(),
            )
            .limit(1)
        )
        return await self._first(query) is not None

    async def has_unfinished_chunks(self, job_id: str) -> bool:
        query = select(func.count()).select_from(chunks).where(chunks.c.job_id == job_id, chunks.c.done.is_(False))
        async with self._read() as conn:
            return bool((await conn.execute(query)).scalar())

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
            async with self._read() as conn:
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
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return [_report_row(r) for r in rows]

    # --- console: search, sort, count --------------------------------------------------------

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
        if sort not in SEARCH_SORTS:
            raise ValidationError(f"sort must be one of {', '.join(SEARCH_SORTS)}, not {sort!r}", field="sort")
        now = time.time()
        where = [jobs.c.account_id == account_id, _visible(now, horizon_days)]
        if statuses:
            where.append(jobs.c.status.in_([s.value for s in statuses]))
        if text.strip():
            needle = text.strip()
            where.append(
                or_(jobs.c.description.contains(needle, autoescape=True), jobs.c.id.startswith(needle, autoescape=True))
            )
        column = jobs.c[SEARCH_SORTS[sort]]
        order = [column.desc() if descending else column.asc(), jobs.c.creation_time.desc(), jobs.c.id.desc()]
        query = select(jobs).where(*where).order_by(*order).limit(limit).offset(offset)
        count = select(func.count()).select_from(jobs).where(*where)
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
            total = int((await conn.execute(count)).scalar_one())
        return [self._job(r, now) for r in rows], total

    async def status_counts(self, account_id: str, horizon_days: int = 90) -> dict[JobStatus, int]:
        """How many of an account's visible jobs are in each status (statuses with none are left out)."""
        query = (
            select(jobs.c.status, func.count())
            .where(jobs.c.account_id == account_id, _visible(time.time(), horizon_days))
            .group_by(jobs.c.status)
        )
        async with self._read() as conn:
            rows = (await conn.execute(query)).all()
        return {JobStatus(status): int(n) for status, n in rows}


    # --- console sessions -------------------------------------------------------------------

    async def start_console_session(self, session_id: str, account_id: str, expired_before: float) -> None:
        """Record a signed-in session (and forget those that expired)."""
        async with self._write() as conn:
            await conn.execute(delete(console_sessions).where(console_sessions.c.created_at < expired_before))
            values = {"id": session_id, "account_id": account_id, "created_at": time.time()}
            await conn.execute(insert(console_sessions).values(**values))

    async def console_session_account(self, session_id: str) -> str | None:
        """The account of a session still signed in; None once it was ended (or never was)."""
        row = await self._first(select(console_sessions.c.account_id).where(console_sessions.c.id == session_id))
        return None if row is None else str(row.account_id)

    async def end_console_session(self, session_id: str) -> None:
        async with self._write() as conn:
            await conn.execute(delete(console_sessions).where(console_sessions.c.id == session_id))

#: Console sort keys → jobs columns.
SEARCH_SORTS = {
    "created": "creation_time",
    "priority": "priority",
    "status": "status",
    "description": "description",
    "id": "id",
}


def _visible(now: float, horizon_days: int) -> Any:
    """Unfinished jobs, and jobs that ended within the listing horizon."""
    return or_(jobs.c.termination_time.is_(None), jobs.c.termination_time >= now - horizon_days * 86400)


def _report_row(r: Any) -> ReportRow:
    """A ``tasks`` row as the report (and the console's recent failures) show it."""
    return ReportRow(
        loaded(r.bucket),
        loaded(r.key),
        None if r.version_id is None else loaded(r.version_id),
        TaskStatus(r.status),
        r.error_code or "",
        r.http_status or 0,
        r.message or "",
    )


#: Where an outcome row holds its status.
_STATUS = 5
_INSERT_OUTCOME = (
    "INSERT OR IGNORE INTO tasks (job_id, seq, bucket, key, version_id, status, error_code, http_status, message) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


async def _insert_outcomes(conn: AsyncConnection, rows: Sequence[OutcomeRow]) -> int:
    """One executemany; returns how many rows were inserted (the driver sums rowcount over the batch)."""
    if not rows:
        return 0
    result = await conn.exec_driver_sql(_INSERT_OUTCOME, list(rows))
    return int(result.rowcount)


async def _count_unfinished(conn: AsyncConnection, account_id: str) -> int:
    query = select(func.count()).where(
        jobs.c.account_id == account_id, jobs.c.status.not_in([s.value for s in TERMINAL])
    )
    return int((await conn.execute(query)).scalar_one())


async def _check_unfinished(conn: AsyncConnection, account_id: str, limit: int) -> None:
    unfinished = await _count_unfinished(conn, account_id)
    if unfinished >= limit:
        raise TooManyUnfinishedJobs(
            f"account {account_id} already has {unfinished} unfinished jobs, its limit is {limit}; "
            "wait for some to end (or cancel some with UpdateJobStatus) and create the job again"
        )


def _new_job_values(
    job_id: str, account_id: str, spec: JobSpec, tags: list[dict[str, str]], fingerprint: str, now: float
) -> dict[str, Any]:
    return {
        "id": job_id,
        "account_id": account_id,
        "client_request_token": spec.client_request_token,
        "request_fingerprint": fingerprint,
        "status": JobStatus.NEW.value,
        "priority": spec.priority,
        "description": spec.description,
        "spec": codec.spec_to_json(spec),
        "tags": json.dumps(tags),
        "failure_reasons": "[]",
        "creation_time": now,
        "updated_time": now,
    }


def _status_values(
    row: Any, target: JobStatus, now: float, user_reason: str | None, failure: FailureReason | None
) -> dict[str, Any]:
    values: dict[str, Any] = {"status": target.value, "updated_time": now}
    if user_reason is not None:
        values["status_update_reason"] = user_reason
    if target is JobStatus.ACTIVE:
        values["active_since"] = now
    elif row.active_since is not None:
        values["active_seconds"] = row.active_seconds + max(now - row.active_since, 0.0)
        values["active_since"] = None
    if target is JobStatus.SUSPENDED:
        values["suspended_time"] = now
        values["suspended_cause"] = "ConfirmationRequired: confirm with UpdateJobStatus requestedJobStatus=Ready"
    elif row.status == JobStatus.SUSPENDED.value:
        values["suspended_time"] = values["suspended_cause"] = None
    if target in TERMINAL:
        values["termination_time"] = now
    if failure is not None:
        reasons = [*json.loads(row.failure_reasons), {"code": failure.code, "reason": failure.reason}]
        values["failure_reasons"] = json.dumps(reasons)
    return values


async def _add_event(
    conn: AsyncConnection,
    job_id: str,
    source: JobStatus | None,
    target: JobStatus,
    reason: str | None,
    now: float,
) -> None:
    await conn.execute(
        insert(job_events).values(
            job_id=job_id,
            at=now,
            from_status=source.value if source else None,
            to_status=target.value,
            reason=reason,
        )
    )


def _encode_token(created: float, job_id: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([created, job_id]).encode()).decode()


def _decode_token(token: str) -> tuple[float, str]:
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(created), str(job_id)
    except Exception:
        raise ValidationError(
            "nextToken is not one this server issued; pass the NextToken of the previous ListJobs page unchanged",
            field="nextToken",
        ) from None


def _is_disk_full(exc: DBAPIError) -> bool:
    """SQLITE_FULL: the real engine found no room to write (in the database, its WAL, or under max_page_count)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or (code is None and "database or disk is full" in str(exc.orig))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: setting WAL may itself wait for another process
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


#: Execution option ``Store._write`` sets: its transaction begins IMMEDIATE (takes SQLite's write lock at once).
_WRITE_OPTION = "batchops_write"


def _driver_leaves_transactions_to_us(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 driver would BEGIN (deferred) only before the first INSERT/UPDATE, after the
    # transaction's reads: two processes could read the same free chunk, then both lease it. ``_begin``
    # emits BEGIN itself instead (SQLAlchemy's documented recipe for pysqlite/aiosqlite).
    dbapi_connection.isolation_level = None


def _begin(conn: Any) -> None:
    """Writes begin IMMEDIATE: the lock wait (busy_timeout) happens here, never mid-transaction."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE_OPTION) else "BEGIN")


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


__all__ = ["ChunkBlob", "ClaimedChunk", "ReportRow", "Store"]
