"""The in-memory store's tables, its write discipline (one at a time, a settable full disk), and its work queue:
Preparing's chunks, leases that expire by the injected clock, and outcomes counted once, as the SQL store does."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace

from batchops.domain.job import GeneratedManifest
from batchops.domain.status import JobStatus
from batchops.domain.task import ReportRow, ReportRun, TaskOutcome, TaskStatus
from batchops.domain.tasklist import (
    ListedTask,
    TaskCounts,
    TaskOrder,
    TaskPage,
    TaskQuery,
    decode_token,
    encode_token,
    key_bytes,
)
from batchops.errors import ChunksTaken, StoreFull
from batchops.store import codec
from batchops.store.base import ChunkBlob, ClaimedChunk, Clock, HistoryEntry, WriteFault
from batchops.store.health import WriteHealth
from batchops.store.outcomes import STATUS, OutcomeRow, is_utf8, outcome_rows, report_row
from batchops.store.rules import lock_digest


@dataclass
class Chunk:
    """A chunk row: tasks ``first_seq`` … ``first_seq + count - 1``, and who leases it until when."""

    first_seq: int
    count: int
    data: bytes
    done: bool = False
    lease_owner: str | None = None
    lease_expires: float | None = None


@dataclass
class KeyLock:
    """A key_locks row: the job and the holding token that hold a name, until when."""

    job_id: str
    owner: str
    expires: float


@dataclass
class Tables:
    """What the SQL store keeps in its tables, by job id (``jobs`` rows keep the table's column names)."""

    jobs: dict[str, SimpleNamespace] = field(default_factory=dict)
    history: dict[str, list[HistoryEntry]] = field(default_factory=dict)
    chunks: dict[str, dict[int, Chunk]] = field(default_factory=dict)
    outcomes: dict[str, dict[int, OutcomeRow]] = field(default_factory=dict)
    key_locks: dict[str, KeyLock] = field(default_factory=dict)  # by the lock name's digest


class MemoryBase:
    """The tables, the clock, and writes one at a time that fail like a full disk while ``full_disk`` is set."""

    def __init__(self, clock: Clock) -> None:
        self.tables = Tables()
        self._clock = clock
        self._lock = asyncio.Lock()
        self._health = WriteHealth(clock)
        #: While set, every write fails as on a full disk, with this cause.
        self.full_disk: str | None = None

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[None]:
        async with self._lock:
            if self.full_disk is not None:
                raise self._health.failed(self.full_disk)
            yield
            self._health.committed()

    @property
    def write_fault(self) -> WriteFault | None:
        return self._health.write_fault

    @write_fault.setter
    def write_fault(self, fault: WriteFault | None) -> None:
        self._health.write_fault = fault

    @property
    def last_write_ok(self) -> float:
        return self._health.last_write_ok

    async def close(self) -> None:
        return None

    async def rest(self, seconds: float) -> None:
        await self._health.rest(seconds)

    def check_writable(self) -> None:
        self._health.check_writable()

    async def probe_write(self) -> bool:
        try:
            async with self._write():
                pass
        except StoreFull:
            return False
        return True


class MemoryWork(MemoryBase):
    # --- preparing ------------------------------------------------------------------------

    async def add_chunks(
        self, job_id: str, blobs: Sequence[ChunkBlob], lines_read: int, cursor: str | None = None, last: bool = False
    ) -> None:
        async with self._write():
            chunks = self.tables.chunks.setdefault(job_id, {})
            if any(b.chunk_no in chunks for b in blobs):  # as the SQL store's primary key (job_id, chunk_no)
                raise ChunksTaken(job_id)
            for b in blobs:
                chunks[b.chunk_no] = Chunk(b.first_seq, b.count, b.data)
            row = self.tables.jobs[job_id]
            row.total_tasks += sum(b.count for b in blobs)
            row.manifest_lines_read, row.updated_time = lines_read, self._clock()
            if cursor is not None:
                row.manifest_cursor = cursor
            if last:
                row.manifest_done = True

    async def prepare_checkpoint(self, job_id: str) -> tuple[int, int, int]:
        lines = int(self.tables.jobs[job_id].manifest_lines_read)
        chunks = self.tables.chunks.get(job_id)
        if not chunks:
            return lines, 0, 0
        last = max(chunks)
        return lines, last + 1, chunks[last].first_seq + chunks[last].count

    async def manifest_cursor(self, job_id: str) -> str | None:
        cursor: str | None = self.tables.jobs[job_id].manifest_cursor
        return cursor

    async def set_generated_manifest(self, job_id: str, manifest: GeneratedManifest) -> None:
        async with self._write():
            self.tables.jobs[job_id].generated_manifest = codec.generated_manifest_to_json(manifest)

    async def finish_manifest(self, job_id: str) -> None:
        async with self._write():
            self.tables.jobs[job_id].manifest_done = True

    # --- execution ------------------------------------------------------------------------

    async def claim_chunk(
        self, job_id: str, owner: str, lease_seconds: float, chunk_no: int | None = None
    ) -> ClaimedChunk | None:
        now = self._clock()
        async with self._write():
            row = self.tables.jobs.get(job_id)
            if row is None or row.status != JobStatus.ACTIVE.value:
                return None  # only an Active job's work may be claimed, whatever a worker last saw
            chunks = self.tables.chunks.get(job_id, {})
            free = [
                no
                for no, c in chunks.items()
                if (chunk_no is None or no == chunk_no)
                and not c.done
                and (c.lease_owner is None or (c.lease_expires is not None and c.lease_expires < now))
            ]
            if not free:
                return None
            chunk_no = min(free)
            chunk = chunks[chunk_no]
            chunk.lease_owner, chunk.lease_expires = owner, now + lease_seconds
            seqs = range(chunk.first_seq, chunk.first_seq + chunk.count)
            ended = frozenset(seq for seq in self.tables.outcomes.get(job_id, {}) if seq in seqs)
            return ClaimedChunk(chunk_no, chunk.first_seq, chunk.count, chunk.data, ended)

    async def renew_leases(self, owner: str, lease_seconds: float) -> int:
        renewed = 0
        async with self._write():
            expires = self._clock() + lease_seconds
            for chunks in self.tables.chunks.values():
                for c in chunks.values():
                    if c.lease_owner == owner and not c.done:
                        c.lease_expires = expires
                        renewed += 1
        return renewed

    async def release_chunks(self, job_id: str | None = None, owner: str | None = None) -> None:
        async with self._write():
            for jid, chunks in self.tables.chunks.items():
                for c in chunks.values():
                    if (job_id is None or jid == job_id) and (owner is None or c.lease_owner == owner):
                        c.lease_owner = c.lease_expires = None

    async def release_chunk(self, job_id: str, chunk_no: int) -> None:
        async with self._write():
            chunk = self.tables.chunks.get(job_id, {}).get(chunk_no)
            if chunk is not None:
                chunk.lease_owner = chunk.lease_expires = None

    async def record_outcomes(
        self, job_id: str, outcomes: Sequence[TaskOutcome], finished_chunks: Iterable[int]
    ) -> tuple[int, int]:
        rows = outcome_rows(job_id, outcomes)
        async with self._write():
            stored = self.tables.outcomes.setdefault(job_id, {})
            ok = _insert(stored, [r for r in rows if r[STATUS] == TaskStatus.SUCCEEDED])
            bad = _insert(stored, [r for r in rows if r[STATUS] == TaskStatus.FAILED])
            chunks = self.tables.chunks.get(job_id, {})
            for chunk_no in finished_chunks:
                if chunk_no in chunks:
                    chunk = chunks[chunk_no]
                    chunk.done, chunk.lease_owner, chunk.lease_expires = True, None, None
            job = self.tables.jobs[job_id]
            job.succeeded, job.failed, job.updated_time = job.succeeded + ok, job.failed + bad, self._clock()
            return int(job.succeeded), int(job.failed)

    async def has_live_lease(self, job_id: str) -> bool:
        now = self._clock()
        return any(
            not c.done and c.lease_owner is not None and c.lease_expires is not None and c.lease_expires >= now
            for c in self.tables.chunks.get(job_id, {}).values()
        )

    async def has_unfinished_chunks(self, job_id: str) -> bool:
        return any(not c.done for c in self.tables.chunks.get(job_id, {}).values())

    async def free_chunks(self, job_id: str, limit: int) -> list[int]:
        now = self._clock()
        chunks = self.tables.chunks.get(job_id, {})
        free = (
            no
            for no, c in sorted(chunks.items())
            if not c.done and (c.lease_owner is None or (c.lease_expires is not None and c.lease_expires < now))
        )
        return [no for no, _ in zip(free, range(limit), strict=False)]

    # --- key locks ------------------------------------------------------------------------

    async def lock_key(self, job_id: str, name: str, owner: str, lease_seconds: float) -> bool:
        async with self._write():
            now, digest = self._clock(), lock_digest(name)
            held = self.tables.key_locks.get(digest)
            if held is not None and held.expires >= now:
                return False
            self.tables.key_locks[digest] = KeyLock(job_id, owner, now + lease_seconds)
            return True

    async def renew_key_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        async with self._write():
            held = self.tables.key_locks.get(lock_digest(name))
            if held is None or held.owner != owner:
                return False
            held.expires = self._clock() + lease_seconds
            return True

    async def unlock_key(self, name: str, owner: str) -> None:
        async with self._write():
            digest = lock_digest(name)
            held = self.tables.key_locks.get(digest)
            if held is not None and held.owner == owner:
                del self.tables.key_locks[digest]

    # --- reports --------------------------------------------------------------------------

    async def report_rows(self, job_id: str, status: TaskStatus, page: int = 5000) -> AsyncIterator[ReportRow]:
        for row in self._outcomes_of(job_id, status):
            yield report_row(*row[2:])

    async def report_runs(
        self, job_id: str, status: TaskStatus, page: int = 100_000
    ) -> AsyncIterator[ReportRow | ReportRun]:
        for row in self._outcomes_of(job_id, status):  # rows already in memory: no runs to gain from
            yield report_row(*row[2:])

    async def recent_failures(self, job_id: str, limit: int = 20) -> list[ReportRow]:
        failed = self._outcomes_of(job_id, TaskStatus.FAILED)
        return [report_row(*row[2:]) for row in reversed(failed[-limit:])] if limit > 0 else []

    async def task_counts(self, job_id: str) -> TaskCounts:
        job = self.tables.jobs.get(job_id)
        if job is None:
            return TaskCounts(0, 0)
        codes = Counter(report_row(*row[2:]).error_code for row in self._outcomes_of(job_id, TaskStatus.FAILED))
        return TaskCounts(int(job.succeeded), int(job.failed), dict(codes))

    async def list_tasks(self, job_id: str, query: TaskQuery) -> TaskPage:
        """As the SQL store lists them (by key: keys that are not UTF-8 last, as SQLite keeps them)."""
        cursor = decode_token(query)
        listed = [ListedTask(row[1], report_row(*row[2:])) for row in self._outcomes_of(job_id, query.status)]
        chosen = [task for task in listed if _selected(task.row, query)]
        if query.order is TaskOrder.KEY:
            chosen.sort(key=lambda task: (_key_order(task.row.key), task.seq))
            if cursor is not None:
                after = (_key_order(cursor.key or ""), cursor.seq)
                chosen = [task for task in chosen if (_key_order(task.row.key), task.seq) > after]
        else:
            chosen.reverse()
            if cursor is not None:
                chosen = [task for task in chosen if task.seq < cursor.seq]
        page = chosen[: query.limit]
        more = len(chosen) > query.limit
        return TaskPage(page, encode_token(query, page[-1]) if more else None)

    def _outcomes_of(self, job_id: str, status: TaskStatus) -> list[OutcomeRow]:
        stored = self.tables.outcomes.get(job_id, {})
        return [stored[seq] for seq in sorted(stored) if stored[seq][STATUS] == status]


def _selected(row: ReportRow, query: TaskQuery) -> bool:
    if query.error_codes and row.error_code not in query.error_codes:
        return False
    return key_bytes(row.key).startswith(key_bytes(query.prefix))


def _key_order(key: str) -> tuple[bool, bytes]:
    return (not is_utf8(key), key_bytes(key))


def _insert(stored: dict[int, OutcomeRow], rows: Sequence[OutcomeRow]) -> int:
    """INSERT OR IGNORE by seq: returns how many rows were new."""
    inserted = 0
    for row in rows:
        if row[1] not in stored:
            stored[row[1]] = row
            inserted += 1
    return inserted
