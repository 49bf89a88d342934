"""What the control plane and the workers ask of a job store, split by aggregate, and the values it hands back.

``Store`` is the whole contract: ``JobStore`` (jobs, their history and tags), ``WorkQueue`` (Preparing's chunks,
leases, outcomes), ``ReportSource`` (report and console reads), ``SessionStore`` (console sign-ins), and the
lifecycle the server and the engine drive (close, a write fault on a full disk, probing for room again).
Two implementations keep it: ``store.sql.SqlStore`` (the server's, on SQLite or PostgreSQL) and
``store.memory.MemoryStore`` (tests); tests/unit/test_store*.py run against all three.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from batchops.domain.job import FailureReason, GeneratedManifest, Job, JobSpec, RateCaps
from batchops.domain.retry import RetryLinks
from batchops.domain.status import JobStatus, PausedBy
from batchops.domain.task import ReportRow, ReportRun, TaskOutcome, TaskStatus
from batchops.domain.tasklist import TaskCounts, TaskPage, TaskQuery
from batchops.domain.throughput import ProgressSample
from batchops.domain.webhook import AttemptResult, DeliveryAttempt, PendingDelivery

#: The store's wall clock, epoch seconds (``time.time``; tests pass a manual one).
Clock = Callable[[], float]

#: One status move as history keeps it: (at, from status, to status, reason).
HistoryEntry = tuple[float, str | None, str, str | None]

#: Console sort keys → the job field each sorts by (the SQL store's column names).
SEARCH_SORTS = {
    "created": "creation_time",
    "priority": "priority",
    "status": "status",
    "description": "description",
    "id": "id",
}


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
    """Why the store cannot write now (its own message) and since when (epoch seconds)."""

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


class JobStore(Protocol):
    """Jobs, their status history and tags. ``account_id`` scopes what a caller may see; None is the engine."""

    async def create_job(
        self, account_id: str, spec: JobSpec, tags: list[dict[str, str]], *, max_unfinished: int | None = None
    ) -> tuple[str, bool]: ...

    async def get_job(self, account_id: str, job_id: str) -> Job:
        """The account's job; JobNotFound if there is none (another account's job is not found either)."""
        ...

    async def job_by_token(self, account_id: str, token: str) -> Job | None:
        """The account's job created with this ClientRequestToken, if any (a chain finds its next step so)."""
        ...

    async def job_for_engine(self, job_id: str) -> Job:
        """Any account's job, for the engine (it works on every account's jobs); JobNotFound if there is none."""
        ...

    async def list_jobs(
        self, account_id: str, statuses: Sequence[JobStatus], limit: int, token: str | None, horizon_days: int
    ) -> tuple[list[Job], str | None]: ...

    async def list_jobs_after(
        self, account_id: str, statuses: Sequence[JobStatus], limit: int, after_job_id: str | None, horizon_days: int
    ) -> tuple[list[Job], str | None]: ...

    async def jobs_in(self, statuses: Iterable[JobStatus]) -> list[Job]: ...

    async def update_priority(self, account_id: str, job_id: str, priority: int) -> Job: ...

    async def update_rate(self, account_id: str, job_id: str, rate: RateCaps) -> Job:
        """Set the job's rate caps (RateFinal once it has ended)."""

    async def set_hold_reason(self, job_id: str, reason: str | None) -> None: ...

    async def pin_pause(self, job_id: str, reason: str) -> bool:
        """Mark a Pausing or Paused job as paused by its owner (the scheduler no longer resumes it); False if the
        job is in neither status."""
        ...

    async def get_tags(self, account_id: str, job_id: str) -> list[dict[str, str]]: ...

    async def put_tags(self, account_id: str, job_id: str, tags: list[dict[str, str]]) -> None: ...

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
    ) -> bool: ...

    async def add_failure(self, job_id: str, failure: FailureReason) -> None: ...

    async def status_history(self, job_id: str) -> list[HistoryEntry]: ...

    async def purge_ended_before(self, cutoff: float) -> int: ...


class WorkQueue(Protocol):
    """Preparing's chunks and checkpoints, the workers' leases, and exactly-once outcome accounting."""

    async def add_chunks(
        self, job_id: str, blobs: Sequence[ChunkBlob], lines_read: int, cursor: str | None = None, last: bool = False
    ) -> None:
        """The chunks and the checkpoint, in one transaction; ChunksTaken (nothing written) if one of the chunk
        numbers is stored already: two preparers of one job never store a chunk twice. ``last``: the manifest is
        read to its end, as ``finish_manifest`` says, in the same transaction (one write fewer per job)."""
        ...

    async def prepare_checkpoint(self, job_id: str) -> tuple[int, int, int]: ...

    async def manifest_cursor(self, job_id: str) -> str | None: ...

    async def set_generated_manifest(self, job_id: str, manifest: GeneratedManifest) -> None: ...

    async def finish_manifest(self, job_id: str) -> None: ...

    async def claim_chunk(
        self, job_id: str, owner: str, lease_seconds: float, chunk_no: int | None = None
    ) -> ClaimedChunk | None:
        """Lease the job's next free chunk, or that numbered ``chunk_no`` (a dispatched one) if it is free."""
        ...

    async def renew_leases(self, owner: str, lease_seconds: float) -> int:
        """Extend the owner's leases on unfinished chunks; how many it still holds (0: none, or another worker
        took them after they lapsed: a frozen worker learns so here and stops its run)."""
        ...

    async def release_chunks(self, job_id: str | None = None, owner: str | None = None) -> None: ...

    async def release_chunk(self, job_id: str, chunk_no: int) -> None:
        """Give back one chunk's lease, whoever holds it (its worker is known dead: the chunk runs again now)."""
        ...

    async def record_outcomes(
        self, job_id: str, outcomes: Sequence[TaskOutcome], finished_chunks: Iterable[int]
    ) -> tuple[int, int]: ...

    async def has_live_lease(self, job_id: str) -> bool: ...

    async def has_unfinished_chunks(self, job_id: str) -> bool: ...

    async def free_chunks(self, job_id: str, limit: int) -> list[int]:
        """The numbers of the job's first ``limit`` unfinished chunks that no live lease holds (to dispatch)."""
        ...

    # --- key locks: a name (a replica's key) held by one task at a time, across processes -------------------

    async def lock_key(self, job_id: str, name: str, owner: str, lease_seconds: float) -> bool:
        """Hold ``name`` for ``owner`` (a token of one holding) for ``lease_seconds``: True if nobody held it or
        its holder's lease had expired (taken over), False while another holder's lease runs."""
        ...

    async def renew_key_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        """Extend ``owner``'s hold on ``name``; False if it no longer holds it (expired and taken over)."""
        ...

    async def unlock_key(self, name: str, owner: str) -> None:
        """Give ``name`` back if ``owner`` still holds it (a lock taken over since is left to its new holder)."""
        ...


class ReportSource(Protocol):
    """Reads for reports and the console: outcome rows, and jobs searched, sorted and counted."""

    def report_rows(self, job_id: str, status: TaskStatus, page: int = 5000) -> AsyncIterator[ReportRow]: ...

    def report_runs(self, job_id: str, status: TaskStatus, page: int = 100_000) -> AsyncIterator[ReportRow | ReportRun]:
        """The rows ``report_rows`` yields, in the same order, with runs of rows alike but for their keys as one
        ``ReportRun`` where the store can read them so (what the completion report is written from)."""
        ...

    async def recent_failures(self, job_id: str, limit: int = 20) -> list[ReportRow]: ...

    async def task_counts(self, job_id: str) -> TaskCounts:
        """The job's ended tasks and its failures by error code (a dry run's counts by outcome), read at one
        moment: the codes add up to the failures even while the job runs."""
        ...

    async def list_tasks(self, job_id: str, query: TaskQuery) -> TaskPage:
        """One page of the job's ended tasks the query selects, in its order (``batchops job tasks``);
        ValidationError for a token that is not one of this listing."""
        ...

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
    ) -> tuple[list[Job], int]: ...

    async def status_counts(self, account_id: str, horizon_days: int = 90) -> dict[JobStatus, int]: ...

    async def job_counts(self) -> dict[JobStatus, int]:
        """How many jobs of every account are in each status, purged ones left out (for /metrics)."""
        ...


class RetryStore(Protocol):
    """Which job a retry (``batchops job retry``) runs the failed tasks of."""

    async def link_retry(self, parent_id: str, retry_id: str) -> None: ...

    async def retry_links(self, job_id: str) -> RetryLinks: ...


class WebhookStore(Protocol):
    """The webhook outbox: a row per status move (written by the move itself), sent by ``service.notifier``."""

    async def due_deliveries(self, now: float, limit: int) -> list[PendingDelivery]:
        """Each job's oldest pending event whose next attempt is due."""
        ...

    async def claim_delivery(self, delivery: PendingDelivery, until: float) -> bool:
        """Take it until ``until``; False if another sender did first."""
        ...

    async def record_attempt(
        self, delivery: PendingDelivery, result: AttemptResult, next_attempt_at: float | None
    ) -> None: ...

    async def drop_deliveries(self, delivery_ids: Sequence[int]) -> None: ...

    async def delivery_attempts(self, job_id: str, limit: int) -> list[DeliveryAttempt]: ...

    async def pending_deliveries(self, job_id: str) -> int: ...


class ProgressStore(Protocol):
    """Jobs' progress over time (the console's charts): samples of their cumulative counts, and accounts' totals."""

    async def add_progress_samples(self, samples: Sequence[tuple[str, ProgressSample]]) -> None:
        """Keep each ``(job_id, sample)`` (one per job), in one write; a job with ``MAX_SAMPLES`` already has every
        other older one dropped first."""
        ...

    async def progress_samples(self, job_id: str) -> list[ProgressSample]:
        """The job's samples, oldest first."""
        ...

    async def task_totals(self, account_id: str, horizon_days: int = 90) -> tuple[int, int]:
        """Tasks succeeded and failed over the account's visible jobs (one sum over its jobs' counters)."""
        ...


class SessionStore(Protocol):
    """Console sessions that are signed in (logout ends a copied cookie too)."""

    async def start_console_session(self, session_id: str, account_id: str, expired_before: float) -> None: ...

    async def console_session_account(self, session_id: str) -> str | None: ...

    async def end_console_session(self, session_id: str) -> None: ...


class Store(JobStore, WorkQueue, ReportSource, SessionStore, RetryStore, WebhookStore, ProgressStore, Protocol):
    """The whole store, with the lifecycle the server and the engine drive."""

    #: Set while the store cannot write (its disk is full), cleared by the next write that commits.
    write_fault: WriteFault | None

    @property
    def last_write_ok(self) -> float:
        """``monotonic()`` of the last write that committed (the engine probes a store that has been quiet)."""
        ...

    async def close(self) -> None: ...

    async def rest(self, seconds: float) -> None: ...

    def check_writable(self) -> None: ...

    async def probe_write(self) -> bool: ...
