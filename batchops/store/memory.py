"""``MemoryStore``: the whole ``Store`` in dicts, for tests that need a store but not SQLite.

It keeps the SQLite store's semantics (tests/unit/test_store*.py run against both): idempotent CreateJob by
token, status moves guarded by the transition table, leases that expire by the injected clock, each outcome
counted once, the same ListJobs tokens and console search. Writes run one at a time under an ``asyncio.Lock``;
setting ``full_disk`` to a cause makes them fail as a full disk does (StoreFull and a write fault).
Job rows keep the ``jobs`` table's columns, so ``codec`` and ``rules`` treat them as the SQL store does.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from batchops.domain.job import FailureReason, Job, JobSpec, RateCaps
from batchops.domain.retry import RetryLinks
from batchops.domain.status import TERMINAL, JobStatus, PausedBy, sources_of
from batchops.errors import JobNotFound
from batchops.store import codec, rules
from batchops.store.base import SEARCH_SORTS, Clock, HistoryEntry, Store
from batchops.store.memory_progress import MemoryProgress
from batchops.store.memory_webhooks import MemoryWebhooks
from batchops.store.memory_work import MemoryWork

#: The ``jobs`` columns a new row does not set, with the table's defaults.
_JOB_DEFAULTS: dict[str, Any] = {
    "status_update_reason": None,
    "hold_reason": None,
    "max_requests_per_second": None,
    "max_tasks_in_flight": None,
    "paused_by": None,
    "total_tasks": 0,
    "succeeded": 0,
    "failed": 0,
    "manifest_lines_read": 0,
    "manifest_done": False,
    "manifest_cursor": None,
    "generated_manifest": None,
    "termination_time": None,
    "suspended_time": None,
    "suspended_cause": None,
    "active_seconds": 0.0,
    "active_since": None,
}

#: SQLite's LIKE folds ASCII letters only; so does the search here.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def job_row(values: dict[str, Any]) -> SimpleNamespace:
    """A job's row: ``values`` over the columns' defaults."""
    return SimpleNamespace(**{**_JOB_DEFAULTS, **values})


@dataclass
class _Session:
    account_id: str
    created_at: float


class MemoryStore(MemoryWork, MemoryWebhooks, MemoryProgress):
    def __init__(self, clock: Clock = time.time) -> None:
        super().__init__(clock)
        self.sessions: dict[str, _Session] = {}
        self.retry_parents: dict[str, str] = {}  # retry job id -> the job it retries, in the order noted
        self.deliveries = {}
        self.attempts = []
        self.samples = {}

    # --- jobs -----------------------------------------------------------------------------

    async def create_job(
        self, account_id: str, spec: JobSpec, tags: list[dict[str, str]], *, max_unfinished: int | None = None
    ) -> tuple[str, bool]:
        self.check_writable()
        now = self._clock()
        fingerprint = codec.fingerprint(spec, tags)
        async with self._write():
            token = spec.client_request_token
            for row in self._of(account_id):
                if row.client_request_token == token:
                    return rules.replayed(row.id, row.request_fingerprint, fingerprint, token), False
            if max_unfinished is not None:
                unfinished = sum(JobStatus(r.status) not in TERMINAL for r in self._of(account_id))
                rules.check_unfinished(account_id, unfinished, max_unfinished)
            job_id = str(uuid.uuid4())
            values = rules.new_job_values(job_id, account_id, spec, tags, fingerprint, now)
            self.tables.jobs[job_id] = job_row(values)
            self.tables.history[job_id] = [(now, None, JobStatus.NEW.value, "job created")]
            self.add_delivery(self.tables.jobs[job_id], None, JobStatus.NEW, "job created", now)
        rules.log_status_move(job_id, None, JobStatus.NEW, f"job created for account {account_id}")
        return job_id, True

    def _of(self, account_id: str) -> Iterator[SimpleNamespace]:
        return (row for row in self.tables.jobs.values() if row.account_id == account_id)

    def _row(self, account_id: str | None, job_id: str) -> SimpleNamespace:
        row = self.tables.jobs.get(job_id)
        if row is None or (account_id is not None and row.account_id != account_id):
            raise JobNotFound(job_id)
        return row

    def _shown(self, row: SimpleNamespace, now: float) -> Job:
        return rules.shown(codec.job_from_row(row, now), self.write_fault)

    async def get_job(self, account_id: str, job_id: str) -> Job:
        return self._shown(self._row(account_id, job_id), self._clock())

    async def job_for_engine(self, job_id: str) -> Job:
        return self._shown(self._row(None, job_id), self._clock())

    async def job_by_token(self, account_id: str, token: str) -> Job | None:
        for row in self._of(account_id):
            if row.client_request_token == token:
                return self._shown(row, self._clock())
        return None

    async def list_jobs(
        self, account_id: str, statuses: Sequence[JobStatus], limit: int, token: str | None, horizon_days: int
    ) -> tuple[list[Job], str | None]:
        now = self._clock()
        rows = self._visible(account_id, statuses, now, horizon_days)
        if token:
            after = rules.decode_token(token)
            rows = [r for r in rows if (r.creation_time, r.id) < after]
        rows.sort(key=lambda r: (r.creation_time, r.id), reverse=True)
        page = [self._shown(r, now) for r in rows[:limit]]
        last = rows[limit - 1] if len(rows) > limit and page else None
        return page, (None if last is None else rules.encode_token(last.creation_time, last.id))

    def _visible(
        self, account_id: str, statuses: Sequence[JobStatus], now: float, horizon_days: int
    ) -> list[SimpleNamespace]:
        """An account's unfinished jobs and those that ended within the horizon, in these statuses (or any)."""
        since = now - horizon_days * 86400
        wanted = {s.value for s in statuses}
        return [
            r
            for r in self._of(account_id)
            if (r.termination_time is None or r.termination_time >= since) and (not wanted or r.status in wanted)
        ]

    async def list_jobs_after(
        self, account_id: str, statuses: Sequence[JobStatus], limit: int, after_job_id: str | None, horizon_days: int
    ) -> tuple[list[Job], str | None]:
        token = None
        if after_job_id:
            row = self.tables.jobs.get(after_job_id)
            if row is None or row.account_id != account_id:
                raise rules.not_our_job(after_job_id)
            token = rules.encode_token(row.creation_time, after_job_id)
        page, more = await self.list_jobs(account_id, statuses, limit, token, horizon_days)
        return page, (page[-1].id if more and page else None)

    async def jobs_in(self, statuses: Iterable[JobStatus]) -> list[Job]:
        wanted = {s.value for s in statuses}
        now = self._clock()
        rows = sorted((r for r in self.tables.jobs.values() if r.status in wanted), key=lambda r: r.creation_time)
        return [codec.job_from_row(r, now) for r in rows]

    async def update_priority(self, account_id: str, job_id: str, priority: int) -> Job:
        async with self._write():
            row = self.tables.jobs.get(job_id)
            changed = row is not None and row.account_id == account_id and JobStatus(row.status) not in TERMINAL
            if row is not None and changed:
                row.priority, row.updated_time = priority, self._clock()
        job = await self.get_job(account_id, job_id)
        if not changed:
            raise rules.ended_priority(job)
        return job

    async def update_rate(self, account_id: str, job_id: str, rate: RateCaps) -> Job:
        async with self._write():
            row = self.tables.jobs.get(job_id)
            changed = row is not None and row.account_id == account_id and JobStatus(row.status) not in TERMINAL
            if row is not None and changed:
                row.max_requests_per_second = rate.max_requests_per_second
                row.max_tasks_in_flight = rate.max_tasks_in_flight
                row.updated_time = self._clock()
        job = await self.get_job(account_id, job_id)
        if not changed:
            raise rules.ended_rate(job)
        return job

    async def set_hold_reason(self, job_id: str, reason: str | None) -> None:
        async with self._write():
            row = self.tables.jobs.get(job_id)
            if row is not None and row.hold_reason != reason:
                row.hold_reason, row.updated_time = reason, self._clock()

    async def pin_pause(self, job_id: str, reason: str) -> bool:
        async with self._write():
            row = self.tables.jobs.get(job_id)
            if row is None or row.status not in (JobStatus.PAUSING.value, JobStatus.PAUSED.value):
                return False
            row.paused_by, row.status_update_reason, row.updated_time = PausedBy.USER.value, reason, self._clock()
        return True

    async def get_tags(self, account_id: str, job_id: str) -> list[dict[str, str]]:
        return list(json.loads(self._row(account_id, job_id).tags))

    async def put_tags(self, account_id: str, job_id: str, tags: list[dict[str, str]]) -> None:
        async with self._write():
            row = self._row(account_id, job_id)
            row.tags, row.updated_time = json.dumps(tags), self._clock()

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
        sources = sources_of(target) if only_from is None else sources_of(target) & only_from
        now = self._clock()
        async with self._write():
            row = self._row(None, job_id)
            current = JobStatus(row.status)
            if current not in sources or rules.resumed_by_hand_only(row, target):
                return False
            values = rules.status_values(row, target, now, reason if user_reason else None, failure, paused_by)
            vars(row).update(values)
            self.tables.history[job_id].append((now, current.value, target.value, reason))
            self.add_delivery(row, current, target, reason, now)
        rules.log_status_move(job_id, current, target, reason, failure)
        return True

    async def add_failure(self, job_id: str, failure: FailureReason) -> None:
        async with self._write():
            row = self.tables.jobs.get(job_id)
            if row is None:
                return
            reasons = json.loads(row.failure_reasons)
            entry = {"code": failure.code, "reason": failure.reason}
            if entry not in reasons:  # an ending retried (its last write failed) adds its reason once
                row.failure_reasons = json.dumps([*reasons, entry])

    async def status_history(self, job_id: str) -> list[HistoryEntry]:
        return list(self.tables.history.get(job_id, []))

    async def purge_ended_before(self, cutoff: float) -> int:
        async with self._write():
            ended = (r for r in self.tables.jobs.values() if r.termination_time is not None)
            ids = [r.id for r in ended if r.termination_time < cutoff]
            for job_id in ids:
                for table in (self.tables.jobs, self.tables.history, self.tables.chunks, self.tables.outcomes):
                    table.pop(job_id, None)
            purged = set(ids)
            self.tables.key_locks = {n: k for n, k in self.tables.key_locks.items() if k.job_id not in purged}
            for job_id in purged:  # a purged retry is no longer listed; a purged parent stays named, as it was
                self.retry_parents.pop(job_id, None)
            self.purge_deliveries(purged)
            self.purge_samples(purged)
        return len(ids)

    # --- console: search, sort, count -----------------------------------------------------

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
        rules.check_sort(sort)
        now = self._clock()
        rows = self._visible(account_id, statuses, now, horizon_days)
        needle = text.strip().translate(_ASCII_LOWER)
        if needle:
            rows = [r for r in rows if _matches(r, needle)]
        rows.sort(key=lambda r: (r.creation_time, r.id), reverse=True)  # ties: newest first
        column = SEARCH_SORTS[sort]
        rows.sort(key=lambda r: getattr(r, column), reverse=descending)  # stable: keeps the tie order
        return [self._shown(r, now) for r in rows[offset : offset + limit]], len(rows)

    async def status_counts(self, account_id: str, horizon_days: int = 90) -> dict[JobStatus, int]:
        counts: dict[JobStatus, int] = {}
        for row in self._visible(account_id, (), self._clock(), horizon_days):
            status = JobStatus(row.status)
            counts[status] = counts.get(status, 0) + 1
        return counts

    async def task_totals(self, account_id: str, horizon_days: int = 90) -> tuple[int, int]:
        rows = self._visible(account_id, (), self._clock(), horizon_days)
        return sum(r.succeeded for r in rows), sum(r.failed for r in rows)

    async def job_counts(self) -> dict[JobStatus, int]:
        counts: dict[JobStatus, int] = {}
        for row in self.tables.jobs.values():
            status = JobStatus(row.status)
            counts[status] = counts.get(status, 0) + 1
        return counts

    # --- retry links ----------------------------------------------------------------------

    async def link_retry(self, parent_id: str, retry_id: str) -> None:
        async with self._write():
            self.retry_parents.setdefault(retry_id, parent_id)

    async def retry_links(self, job_id: str) -> RetryLinks:
        retries = tuple(child for child, parent in self.retry_parents.items() if parent == job_id)
        return RetryLinks(self.retry_parents.get(job_id), retries)

    # --- console sessions -----------------------------------------------------------------

    async def start_console_session(self, session_id: str, account_id: str, expired_before: float) -> None:
        async with self._write():
            expired = [sid for sid, s in self.sessions.items() if s.created_at < expired_before]
            for sid in expired:
                del self.sessions[sid]
            self.sessions[session_id] = _Session(account_id, self._clock())

    async def console_session_account(self, session_id: str) -> str | None:
        session = self.sessions.get(session_id)
        return None if session is None else session.account_id

    async def end_console_session(self, session_id: str) -> None:
        async with self._write():
            self.sessions.pop(session_id, None)


def _matches(row: SimpleNamespace, needle: str) -> bool:
    """The console's text search: inside the description, or a prefix of the id (ASCII case folded)."""
    return needle in row.description.translate(_ASCII_LOWER) or row.id.translate(_ASCII_LOWER).startswith(needle)


def _keeps_the_contract(store: MemoryStore) -> Store:
    return store  # mypy checks here that MemoryStore implements every member of the Store protocol
