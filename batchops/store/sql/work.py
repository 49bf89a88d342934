"""Preparing's chunks and checkpoints, the workers' chunk leases and exactly-once outcome accounting, in SQL.

A chunk of tasks and the Preparing checkpoint commit together, and so do an outcome and the job's counters.
Claims are safe across processes on many machines: on PostgreSQL a claim holds its job's row FOR SHARE (a
status move waits for it) and takes the next free chunk FOR UPDATE SKIP LOCKED (two claims never wait on, nor
take, the same chunk); SQLite's BEGIN IMMEDIATE already runs one write at a time."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from batchops.domain.job import GeneratedManifest
from batchops.domain.status import JobStatus
from batchops.domain.task import TaskOutcome, TaskStatus
from batchops.errors import ChunksTaken
from batchops.store import codec
from batchops.store.base import ChunkBlob, ClaimedChunk
from batchops.store.outcomes import STATUS, OutcomeRow, outcome_rows
from batchops.store.schema import chunks, jobs, tasks
from batchops.store.sql.database import Repository


class SqlWork(Repository):
    # --- preparing ------------------------------------------------------------------------

    async def add_chunks(
        self, job_id: str, blobs: Sequence[ChunkBlob], lines_read: int, cursor: str | None = None, last: bool = False
    ) -> None:
        """Store chunks and advance the Preparing checkpoint (and the source's cursor), atomically. ChunksTaken if
        one of the chunks is stored already (another preparer of the job got there first; nothing is written)."""
        try:
            async with self._db.write() as conn:
                if blobs:
                    await conn.execute(insert(chunks), [_chunk_values(job_id, b) for b in blobs])
                await conn.execute(
                    update(jobs)
                    .where(jobs.c.id == job_id)
                    .values(
                        total_tasks=jobs.c.total_tasks + sum(b.count for b in blobs),
                        manifest_lines_read=lines_read,
                        updated_time=self._db.clock(),
                        **({"manifest_cursor": cursor} if cursor is not None else {}),
                        **({"manifest_done": True} if last else {}),
                    )
                )
        except IntegrityError as exc:  # the primary key (job_id, chunk_no) fences two preparers of one job
            raise ChunksTaken(job_id) from exc

    async def prepare_checkpoint(self, job_id: str) -> tuple[int, int, int]:
        """(lines read, next chunk number, next task seq) to resume Preparing after a restart."""
        async with self._db.read() as conn:
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
        async with self._db.read() as conn:
            query = select(jobs.c.manifest_cursor).where(jobs.c.id == job_id)
            return (await conn.execute(query)).scalar_one()  # type: ignore[no-any-return]

    async def set_generated_manifest(self, job_id: str, manifest: GeneratedManifest) -> None:
        async with self._db.write() as conn:
            value = codec.generated_manifest_to_json(manifest)
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(generated_manifest=value))

    async def finish_manifest(self, job_id: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(manifest_done=True))

    # --- execution ------------------------------------------------------------------------

    async def claim_chunk(
        self, job_id: str, owner: str, lease_seconds: float, chunk_no: int | None = None
    ) -> ClaimedChunk | None:
        """Lease the next unfinished, unleased chunk of an Active job (or chunk ``chunk_no`` only): its rows, and
        its seqs already ended."""
        now = self._db.clock()
        free = or_(chunks.c.lease_owner.is_(None), chunks.c.lease_expires < now)
        unclaimed = (chunks.c.job_id == job_id, chunks.c.done.is_(False), free, *_only(chunk_no))
        # A read first: most claims that find nothing (every worker asks about every Active job) then cost no write
        # transaction, which on SQLite would take the one write lock all processes share. A chunk freed just after
        # this read is claimed at the next ask, as if this one had come a moment sooner.
        if await self._db.first(select(chunks.c.chunk_no).where(*unclaimed).limit(1)) is None:
            return None
        async with self._db.write() as conn:
            # FOR SHARE (PostgreSQL; SQLite renders none): a pause or cancel commits after this claim, so the
            # release that follows it sees the lease.
            query = select(jobs.c.status).where(jobs.c.id == job_id).with_for_update(read=True)
            status = (await conn.execute(query)).scalar()
            if status != JobStatus.ACTIVE.value:
                return None  # only an Active job's work may be claimed, whatever a worker last saw
            row = (
                await conn.execute(
                    select(chunks.c.chunk_no, chunks.c.first_seq, chunks.c.task_count, chunks.c.data)
                    .where(*unclaimed)
                    .order_by(chunks.c.chunk_no)
                    .limit(1)
                    .with_for_update(skip_locked=True)
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

    async def renew_leases(self, owner: str, lease_seconds: float) -> int:
        async with self._db.write() as conn:
            result = await conn.execute(
                update(chunks)
                .where(chunks.c.lease_owner == owner, chunks.c.done.is_(False))
                .values(lease_expires=self._db.clock() + lease_seconds)
            )
        return int(result.rowcount)

    async def release_chunks(self, job_id: str | None = None, owner: str | None = None) -> None:
        """Give leased chunks back (a paused job, or a restart of the only worker)."""
        query = update(chunks).values(lease_owner=None, lease_expires=None)
        if job_id is not None:
            query = query.where(chunks.c.job_id == job_id)
        if owner is not None:
            query = query.where(chunks.c.lease_owner == owner)
        async with self._db.write() as conn:
            await conn.execute(query)

    async def release_chunk(self, job_id: str, chunk_no: int) -> None:
        query = (
            update(chunks)
            .where(chunks.c.job_id == job_id, chunks.c.chunk_no == chunk_no)
            .values(lease_owner=None, lease_expires=None)
        )
        async with self._db.write() as conn:
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
        async with self._db.write() as conn:
            insert_outcomes = _insert_outcomes_pg if self._db.postgres else _insert_outcomes
            ok = await insert_outcomes(conn, [r for r in rows if r[STATUS] == TaskStatus.SUCCEEDED])
            bad = await insert_outcomes(conn, [r for r in rows if r[STATUS] == TaskStatus.FAILED])
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
                    .values(succeeded=jobs.c.succeeded + ok, failed=jobs.c.failed + bad, updated_time=self._db.clock())
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
                chunks.c.lease_expires >= self._db.clock(),
            )
            .limit(1)
        )
        return await self._db.first(query) is not None

    async def has_unfinished_chunks(self, job_id: str) -> bool:
        query = select(func.count()).select_from(chunks).where(chunks.c.job_id == job_id, chunks.c.done.is_(False))
        async with self._db.read() as conn:
            return bool((await conn.execute(query)).scalar())

    async def free_chunks(self, job_id: str, limit: int) -> list[int]:
        free = or_(chunks.c.lease_owner.is_(None), chunks.c.lease_expires < self._db.clock())
        query = (
            select(chunks.c.chunk_no)
            .where(chunks.c.job_id == job_id, chunks.c.done.is_(False), free)
            .order_by(chunks.c.chunk_no)
            .limit(limit)
        )
        async with self._db.read() as conn:
            return list((await conn.execute(query)).scalars())


def _chunk_values(job_id: str, blob: ChunkBlob) -> dict[str, object]:
    return {
        "job_id": job_id,
        "chunk_no": blob.chunk_no,
        "first_seq": blob.first_seq,
        "task_count": blob.count,
        "data": blob.data,
        "done": False,
    }


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


#: One statement for any number of outcomes: the rows travel as nine arrays (one per column) and are unnested by
#: PostgreSQL. Its text never changes, so nothing is compiled per batch (SQLAlchemy's multi-row VALUES took ≈0.2 s
#: of a worker's CPU per 1,000 rows) and the server plans it once per connection.
_INSERT_OUTCOMES_PG = (
    "INSERT INTO tasks (job_id, seq, bucket, key, version_id, status, error_code, http_status, message) "
    "SELECT * FROM unnest(%s::text[], %s::bigint[], %s::bytea[], %s::bytea[], %s::bytea[], %s::smallint[], "
    "%s::text[], %s::integer[], %s::text[]) "
    "ON CONFLICT DO NOTHING RETURNING seq"
)
#: The column types that turn a row's values into what PostgreSQL stores (object names as BYTEA, text without NUL).
_OUTCOME_TYPES = [tasks.c[name].type for name in ("job_id", "seq", "bucket", "key", "version_id", "status")] + [
    tasks.c[name].type for name in ("error_code", "http_status", "message")
]


async def _insert_outcomes_pg(conn: AsyncConnection, rows: Sequence[OutcomeRow]) -> int:
    """INSERT … SELECT FROM unnest(arrays) ON CONFLICT DO NOTHING RETURNING; returns how many rows were inserted,
    so a seq that already has an outcome is not counted again."""
    if not rows:
        return 0
    dialect = conn.dialect
    binds = [column_type.bind_processor(dialect) for column_type in _OUTCOME_TYPES]
    arrays = [
        [value if bind is None else bind(value) for value in values]
        for bind, values in zip(binds, zip(*rows, strict=True), strict=True)
    ]
    result = await conn.exec_driver_sql(_INSERT_OUTCOMES_PG, tuple(arrays))
    return len(result.all())  # the rows actually inserted


def _only(chunk_no: int | None) -> list[ColumnElement[bool]]:
    return [] if chunk_no is None else [chunks.c.chunk_no == chunk_no]
