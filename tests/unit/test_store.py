"""The job store's contract, run on each implementation (in memory, SQLite on a real file, PostgreSQL): idempotent
creation, guarded status moves, listing, Preparing checkpoints, chunk leases and exactly-once outcome accounting.

Time is the store's injected clock, a manual one (conftest ``clock``), so nothing sleeps and every timestamp is
known exactly.
"""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from batchops.domain.job import (
    FailureReason,
    GeneratedManifest,
    GeneratorSpec,
    JobSpec,
    OperationSpec,
)
from batchops.domain.status import CANCELLABLE, TERMINAL, TRANSITIONS, JobStatus, can_move
from batchops.domain.task import ObjectRef, ReportRow, TaskOutcome, TaskStatus
from batchops.domain.tasklist import TaskCounts
from batchops.errors import (
    ChunksTaken,
    IdempotencyConflict,
    JobNotFound,
    PriorityFinal,
    StoreFull,
    TooManyUnfinishedJobs,
    ValidationError,
)
from batchops.manifests.chunks import ChunkRow, decode
from batchops.store.base import ClaimedChunk, Store, WriteFault
from batchops.store.memory import MemoryStore
from batchops.store.schema import chunks, job_events, jobs, tasks
from batchops.store.sql import SqlStore
from tests.support.clock import T0, ManualClock
from tests.support.job_store import ACCOUNT, Row, add_chunk, blob, drive, good, make_spec, new_job

S = JobStatus
OTHER = "222222222222"
DAY = 86400.0

#: A path of allowed moves from New to every status.
PATH: dict[JobStatus, tuple[JobStatus, ...]] = {
    S.NEW: (),
    S.PREPARING: (S.PREPARING,),
    S.SUSPENDED: (S.PREPARING, S.SUSPENDED),
    S.READY: (S.PREPARING, S.READY),
    S.ACTIVE: (S.PREPARING, S.READY, S.ACTIVE),
    S.PAUSING: (S.PREPARING, S.READY, S.ACTIVE, S.PAUSING),
    S.PAUSED: (S.PREPARING, S.READY, S.ACTIVE, S.PAUSING, S.PAUSED),
    S.COMPLETING: (S.PREPARING, S.READY, S.ACTIVE, S.COMPLETING),
    S.COMPLETE: (S.PREPARING, S.READY, S.ACTIVE, S.COMPLETING, S.COMPLETE),
    S.CANCELLING: (S.CANCELLING,),
    S.CANCELLED: (S.CANCELLING, S.CANCELLED),
    S.FAILING: (S.PREPARING, S.FAILING),
    S.FAILED: (S.PREPARING, S.FAILING, S.FAILED),
}


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test here runs on each implementation (conftest ``any_store``)."""
    return any_store


def dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def bad(seq: int) -> Row:
    return Row(seq, None, error=f"row {seq} has 1 field, expected 2", raw=f"raw-line-{seq}")


def ran(
    row: Row, status: TaskStatus = TaskStatus.SUCCEEDED, http: int = 200, code: str = "", message: str = ""
) -> TaskOutcome:
    """The outcome the runner records for a row; a row that names no object fails as InvalidManifestRow."""
    if row.target is None:
        return TaskOutcome(row.seq, TaskStatus.FAILED, 400, "InvalidManifestRow", row.error, None, row.raw)
    return TaskOutcome(row.seq, status, http, code, message, row.target)


def claimed(claim: ClaimedChunk | None) -> list[ChunkRow]:
    assert claim is not None
    return decode(claim.data, claim.first_seq, ())


def chunk_no(claim: ClaimedChunk | None) -> int | None:
    return None if claim is None else claim.chunk_no


async def count_rows(store: Store, table: Any, job_id: str) -> int:
    """How many rows of ``table`` the store keeps for the job (the in-memory store's matching dict)."""
    if isinstance(store, MemoryStore):
        kept: dict[str, Any] = {
            "jobs": store.tables.jobs,
            "tasks": store.tables.outcomes,
            "chunks": store.tables.chunks,
            "job_events": store.tables.history,
        }[table.name]
        return 1 if table is jobs and job_id in kept else len(kept.get(job_id, ()))
    assert isinstance(store, SqlStore)
    async with store.engine.connect() as conn:
        key = table.c.id if table is jobs else table.c.job_id
        query = select(func.count()).select_from(table).where(key == job_id)
        return int((await conn.execute(query)).scalar_one())


# --- creation and idempotency ---------------------------------------------------------------


async def test_create_job_is_new_with_one_history_row(store: Store) -> None:
    spec = make_spec()
    job_id, created = await store.create_job(ACCOUNT, spec, [{"Key": "k", "Value": "v"}])

    assert created
    job = await store.get_job(ACCOUNT, job_id)
    assert job.id == job_id
    assert job.account_id == ACCOUNT
    assert job.status is S.NEW
    assert job.spec == spec
    assert job.priority == 10
    assert job.creation_time == dt(T0)
    assert (job.progress.total, job.progress.succeeded, job.progress.failed) == (0, 0, 0)
    assert job.progress.elapsed_active_seconds == 0
    assert job.termination_time is None and job.suspended_time is None
    assert job.failure_reasons == ()
    assert not job.manifest_done
    assert await store.status_history(job_id) == [(T0, None, "New", "job created")]


async def test_same_token_same_spec_returns_the_first_job(store: Store, clock: ManualClock) -> None:
    tags = [{"Key": "team", "Value": "a"}]
    first, created = await store.create_job(ACCOUNT, make_spec(), tags)
    clock.advance(5)
    again, created_again = await store.create_job(ACCOUNT, make_spec(), tags)

    assert created and not created_again
    assert again == first
    listed, _ = await store.list_jobs(ACCOUNT, [], 100, None, 90)
    assert [j.id for j in listed] == [first]
    assert len(await store.status_history(first)) == 1


async def test_concurrent_replays_create_one_job(store: Store) -> None:
    results = await asyncio.gather(*(store.create_job(ACCOUNT, make_spec(), []) for _ in range(8)))

    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


@pytest.mark.parametrize(
    ("spec", "tags"),
    [
        (make_spec(priority=11), []),
        (make_spec(description="another"), []),
        (
            make_spec(operation=OperationSpec("S3PutObjectTagging", {"TagSet": []}, "<S3PutObjectTagging/>")),
            [],
        ),
        (make_spec(), [{"Key": "k", "Value": "v"}]),
    ],
    ids=["priority", "description", "operation", "tags"],
)
async def test_same_token_different_request_conflicts(store: Store, spec: JobSpec, tags: list[dict[str, str]]) -> None:
    first = await new_job(store)

    with pytest.raises(IdempotencyConflict, match="token-1"):
        await store.create_job(ACCOUNT, spec, tags)

    listed, _ = await store.list_jobs(ACCOUNT, [], 100, None, 90)
    assert [j.id for j in listed] == [first]
    assert (await store.get_job(ACCOUNT, first)).priority == 10


async def test_tokens_are_scoped_to_the_account(store: Store) -> None:
    mine = await new_job(store)
    theirs, created = await store.create_job(OTHER, make_spec(), [])

    assert created
    assert theirs != mine
    assert (await store.get_job(OTHER, theirs)).account_id == OTHER


async def test_other_account_cannot_see_the_job(store: Store) -> None:
    job_id = await new_job(store)

    with pytest.raises(JobNotFound) as info:
        await store.get_job(OTHER, job_id)
    assert info.value.job_id == job_id
    assert (await store.job_for_engine(job_id)).id == job_id  # the engine's view: any account
    listed, _ = await store.list_jobs(OTHER, [], 100, None, 90)
    assert listed == []
    with pytest.raises(JobNotFound):
        await store.update_priority(OTHER, job_id, 99)
    assert (await store.get_job(ACCOUNT, job_id)).priority == 10


async def test_unknown_job_is_not_found(store: Store) -> None:
    with pytest.raises(JobNotFound):
        await store.get_job(ACCOUNT, "no-such-job")
    with pytest.raises(JobNotFound):
        await store.transition("no-such-job", S.PREPARING)


async def test_reopening_the_file_keeps_the_jobs(tmp_path: Path, clock: ManualClock) -> None:
    path = str(tmp_path / "db.sqlite3")
    first = await SqlStore.open(path, clock=clock)
    try:
        job_id = await new_job(first)
        await drive(first, job_id, S.PREPARING)
    finally:
        await first.close()

    second = await SqlStore.open(path, clock=clock)
    try:
        job = await second.get_job(ACCOUNT, job_id)
        assert job.status is S.PREPARING
        assert len(await second.status_history(job_id)) == 2
    finally:
        await second.close()


# --- status moves ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", list(JobStatus))
async def test_every_move_from_a_status_follows_the_table(store: Store, clock: ManualClock, source: JobStatus) -> None:
    for target in JobStatus:
        job_id = await new_job(store, token=f"{source.value}-{target.value}")
        await drive(store, job_id, *PATH[source])
        clock.advance(1)
        before = await store.get_job(ACCOUNT, job_id)
        history = await store.status_history(job_id)

        moved = await store.transition(job_id, target, "why")

        after = await store.get_job(ACCOUNT, job_id)
        if can_move(source, target):
            assert moved, f"{source} -> {target} should be allowed"
            assert after.status is target
            assert await store.status_history(job_id) == [
                *history,
                (clock.now, source.value, target.value, "why"),
            ]
        else:
            assert not moved, f"{source} -> {target} should be refused"
            assert after == before
            assert await store.status_history(job_id) == history


def test_path_table_reaches_every_status() -> None:
    # The PATH table above must itself be a chain of allowed moves.
    for target, steps in PATH.items():
        current = S.NEW
        for step in steps:
            assert step in TRANSITIONS[current]
            current = step
        assert current is target


async def test_only_from_narrows_the_allowed_sources(store: Store) -> None:
    ready = await new_job(store, token="ready")
    await drive(store, ready, *PATH[S.READY])
    suspended = await new_job(store, token="suspended")
    await drive(store, suspended, *PATH[S.SUSPENDED])

    assert not await store.transition(ready, S.CANCELLING, only_from=frozenset({S.SUSPENDED}))
    assert (await store.get_job(ACCOUNT, ready)).status is S.READY
    assert len(await store.status_history(ready)) == 1 + len(PATH[S.READY])

    assert await store.transition(suspended, S.CANCELLING, only_from=frozenset({S.SUSPENDED}))
    assert (await store.get_job(ACCOUNT, suspended)).status is S.CANCELLING


async def test_only_from_cannot_widen_the_table(store: Store) -> None:
    job_id = await new_job(store)
    await drive(store, job_id, *PATH[S.COMPLETING])

    assert S.COMPLETING not in CANCELLABLE
    assert not await store.transition(job_id, S.CANCELLING, only_from=frozenset({S.COMPLETING}))
    assert (await store.get_job(ACCOUNT, job_id)).status is S.COMPLETING


async def test_user_reason_is_kept_only_when_asked(store: Store) -> None:
    job_id = await new_job(store)
    await drive(store, job_id, *PATH[S.SUSPENDED])
    assert (await store.get_job(ACCOUNT, job_id)).status_update_reason is None

    assert await store.transition(job_id, S.READY, "confirmed by alice", user_reason=True)
    assert (await store.get_job(ACCOUNT, job_id)).status_update_reason == "confirmed by alice"

    assert await store.transition(job_id, S.ACTIVE, "scheduler picked it")
    assert (await store.get_job(ACCOUNT, job_id)).status_update_reason == "confirmed by alice"
    assert (await store.status_history(job_id))[-1][3] == "scheduler picked it"


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
async def test_terminal_status_sets_termination_time(store: Store, clock: ManualClock, terminal: JobStatus) -> None:
    job_id = await new_job(store)
    *before_end, last = PATH[terminal]
    await drive(store, job_id, *before_end)
    assert (await store.get_job(ACCOUNT, job_id)).termination_time is None

    ended_at = clock.advance(42)
    await drive(store, job_id, last)

    job = await store.get_job(ACCOUNT, job_id)
    assert job.status is terminal
    assert job.termination_time == dt(ended_at)


async def test_non_terminal_statuses_have_no_termination_time(store: Store) -> None:
    for status in set(JobStatus) - TERMINAL:
        job_id = await new_job(store, token=status.value)
        await drive(store, job_id, *PATH[status])
        assert (await store.get_job(ACCOUNT, job_id)).termination_time is None, status


@pytest.mark.parametrize("leave_to", [S.READY, S.CANCELLING])
async def test_suspended_sets_and_leaving_clears_time_and_cause(
    store: Store, clock: ManualClock, leave_to: JobStatus
) -> None:
    job_id = await new_job(store)
    await drive(store, job_id, S.PREPARING)
    suspended_at = clock.advance(10)
    await drive(store, job_id, S.SUSPENDED)

    job = await store.get_job(ACCOUNT, job_id)
    assert job.suspended_time == dt(suspended_at)
    assert job.suspended_cause is not None and job.suspended_cause.startswith("ConfirmationRequired")

    clock.advance(10)
    await drive(store, job_id, leave_to)
    job = await store.get_job(ACCOUNT, job_id)
    assert job.suspended_time is None
    assert job.suspended_cause is None


async def test_active_time_accumulates_only_while_active(store: Store, clock: ManualClock) -> None:
    job_id = await new_job(store)
    await drive(store, job_id, S.PREPARING, S.READY)
    clock.advance(500)  # not active yet

    async def elapsed() -> int:
        return (await store.get_job(ACCOUNT, job_id)).progress.elapsed_active_seconds

    assert await elapsed() == 0
    await drive(store, job_id, S.ACTIVE)
    clock.advance(30)
    assert await elapsed() == 30  # still running: counted up to now
    await drive(store, job_id, S.PAUSING)
    clock.advance(10)
    assert await elapsed() == 30
    await drive(store, job_id, S.PAUSED)
    clock.advance(100)
    assert await elapsed() == 30
    await drive(store, job_id, S.ACTIVE)
    clock.advance(15.5)
    assert await elapsed() == 45
    await drive(store, job_id, S.COMPLETING)
    clock.advance(1000)
    await drive(store, job_id, S.COMPLETE)
    assert await elapsed() == 45


async def test_failure_reasons_accumulate(store: Store) -> None:
    job_id = await new_job(store)
    await drive(store, job_id, S.PREPARING)
    await store.add_failure(job_id, FailureReason("First", "one"))
    assert await store.transition(job_id, S.FAILING, "bad manifest", FailureReason("ManifestNotReadable", "two"))

    job = await store.get_job(ACCOUNT, job_id)
    assert job.failure_reasons == (FailureReason("First", "one"), FailureReason("ManifestNotReadable", "two"))


async def test_refused_move_does_not_record_its_failure(store: Store) -> None:
    job_id = await new_job(store)  # New cannot go to Failing
    assert not await store.transition(job_id, S.FAILING, "x", FailureReason("Code", "reason"))
    assert (await store.get_job(ACCOUNT, job_id)).failure_reasons == ()


async def test_jobs_in_spans_accounts_oldest_first(store: Store, clock: ManualClock) -> None:
    a = await new_job(store, token="a")
    clock.advance(1)
    b = await new_job(store, token="b", account=OTHER)
    clock.advance(1)
    c = await new_job(store, token="c")
    await drive(store, c, S.PREPARING)

    assert [j.id for j in await store.jobs_in([S.NEW])] == [a, b]
    assert [j.id for j in await store.jobs_in([S.NEW, S.PREPARING])] == [a, b, c]
    assert await store.jobs_in([S.ACTIVE]) == []


# --- listing --------------------------------------------------------------------------------


async def test_list_jobs_newest_first_and_status_filter(store: Store, clock: ManualClock) -> None:
    ids = []
    for n in range(4):
        ids.append(await new_job(store, token=f"t{n}"))
        clock.advance(60)
    await new_job(store, token="other", account=OTHER)
    await drive(store, ids[1], S.PREPARING)
    await drive(store, ids[3], S.CANCELLING, S.CANCELLED)

    everything, token = await store.list_jobs(ACCOUNT, [], 100, None, 90)
    assert [j.id for j in everything] == ids[::-1]
    assert token is None

    assert [j.id for j in (await store.list_jobs(ACCOUNT, [S.NEW], 100, None, 90))[0]] == [ids[2], ids[0]]
    assert [j.id for j in (await store.list_jobs(ACCOUNT, [S.PREPARING, S.CANCELLED], 100, None, 90))[0]] == [
        ids[3],
        ids[1],
    ]
    assert (await store.list_jobs(ACCOUNT, [S.ACTIVE], 100, None, 90))[0] == []


async def test_list_jobs_pages_without_duplicates_or_gaps(store: Store, clock: ManualClock) -> None:
    ids = []
    for n in range(25):
        ids.append(await new_job(store, token=f"t{n:02d}"))
        if n % 3 == 2:
            clock.advance(1)  # jobs created in the same instant are ordered by id

    full, _ = await store.list_jobs(ACCOUNT, [], 1000, None, 90)
    assert sorted(j.id for j in full) == sorted(ids)

    pages: list[list[str]] = []
    token: str | None = None
    while True:
        page, token = await store.list_jobs(ACCOUNT, [], 7, token, 90)
        pages.append([j.id for j in page])
        if token is None:
            break
        assert len(pages) < 10, "pagination does not end"

    assert [len(p) for p in pages] == [7, 7, 7, 4]
    flat = [job_id for page in pages for job_id in page]
    assert flat == [j.id for j in full]
    assert len(set(flat)) == 25
    times = [j.creation_time for j in full]
    assert times == sorted(times, reverse=True)


async def test_list_jobs_last_full_page_has_no_token(store: Store, clock: ManualClock) -> None:
    for n in range(14):
        await new_job(store, token=f"t{n}")
        clock.advance(1)

    first, token = await store.list_jobs(ACCOUNT, [], 7, None, 90)
    assert len(first) == 7 and token is not None
    second, token = await store.list_jobs(ACCOUNT, [], 7, token, 90)
    assert len(second) == 7
    assert token is None
    assert not {j.id for j in first} & {j.id for j in second}


async def test_list_jobs_token_keeps_the_status_filter(store: Store, clock: ManualClock) -> None:
    ids = []
    for n in range(10):
        ids.append(await new_job(store, token=f"t{n}"))
        clock.advance(1)
    prepared = ids[::2]
    for job_id in prepared:
        await drive(store, job_id, S.PREPARING)

    page, token = await store.list_jobs(ACCOUNT, [S.PREPARING], 3, None, 90)
    rest, token2 = await store.list_jobs(ACCOUNT, [S.PREPARING], 3, token, 90)
    assert token2 is None
    assert [j.id for j in page + rest] == prepared[::-1]


@pytest.mark.parametrize(
    "token",
    [
        "not a token!",
        "%%%%",
        base64.urlsafe_b64encode(b"[1]").decode(),
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),
        base64.urlsafe_b64encode(b'["yesterday", "id"]').decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
async def test_bad_token_is_a_validation_error(store: Store, token: str) -> None:
    await new_job(store)
    with pytest.raises(ValidationError) as info:
        await store.list_jobs(ACCOUNT, [], 10, token, 90)
    assert info.value.field == "nextToken"


async def test_horizon_hides_jobs_that_ended_long_ago(store: Store, clock: ManualClock) -> None:
    old = await new_job(store, token="old")
    await drive(store, old, S.CANCELLING, S.CANCELLED)  # ends at T0
    never_ended = await new_job(store, token="running")
    clock.advance(10 * DAY)
    recent = await new_job(store, token="recent")
    await drive(store, recent, S.CANCELLING, S.CANCELLED)  # ends at T0 + 10 days
    clock.advance(80 * DAY + 1)  # now: 90 days and 1 second after `old` ended

    visible, _ = await store.list_jobs(ACCOUNT, [], 100, None, 90)
    assert {j.id for j in visible} == {never_ended, recent}
    cancelled, _ = await store.list_jobs(ACCOUNT, [S.CANCELLED], 100, None, 90)
    assert [j.id for j in cancelled] == [recent]

    wider, _ = await store.list_jobs(ACCOUNT, [], 100, None, 91)
    assert {j.id for j in wider} == {old, never_ended, recent}


async def test_horizon_boundary_is_inclusive(store: Store, clock: ManualClock) -> None:
    job_id = await new_job(store)
    await drive(store, job_id, S.CANCELLING, S.CANCELLED)
    clock.advance(90 * DAY)
    assert [j.id for j in (await store.list_jobs(ACCOUNT, [], 10, None, 90))[0]] == [job_id]
    clock.advance(0.5)
    assert (await store.list_jobs(ACCOUNT, [], 10, None, 90))[0] == []


async def test_list_jobs_after_pages_by_the_last_job_id(store: Store, clock: ManualClock) -> None:
    ids = []
    for n in range(5):
        ids.append(await new_job(store, token=f"t{n}"))
        clock.advance(1)

    first, after = await store.list_jobs_after(ACCOUNT, [], 2, None, 90)
    second, after_second = await store.list_jobs_after(ACCOUNT, [], 2, after, 90)
    last, none = await store.list_jobs_after(ACCOUNT, [], 2, after_second, 90)

    assert [j.id for j in first + second + last] == list(reversed(ids))
    assert (after, after_second, none) == (ids[3], ids[1], None)
    with pytest.raises(ValidationError, match="not a job of this account"):
        await store.list_jobs_after(OTHER, [], 2, ids[0], 90)


async def test_unfinished_jobs_are_bounded_per_account_and_ended_ones_free_a_place(store: Store) -> None:
    first, _ = await store.create_job(ACCOUNT, make_spec("t1"), [], max_unfinished=2)
    await store.create_job(ACCOUNT, make_spec("t2"), [], max_unfinished=2)

    with pytest.raises(TooManyUnfinishedJobs, match="already has 2 unfinished jobs, its limit is 2"):
        await store.create_job(ACCOUNT, make_spec("t3"), [], max_unfinished=2)
    assert (await store.create_job(OTHER, make_spec("t3"), [], max_unfinished=2))[1]  # per account
    assert (await store.create_job(ACCOUNT, make_spec("t1"), [], max_unfinished=2)) == (first, False)  # a replay
    await drive(store, first, S.CANCELLING, S.CANCELLED)
    assert (await store.create_job(ACCOUNT, make_spec("t3"), [], max_unfinished=2))[1]


# --- tags -----------------------------------------------------------------------------------


async def test_tags_are_replaced_whole_and_scoped_to_the_account(store: Store) -> None:
    job_id, _ = await store.create_job(ACCOUNT, make_spec(), [{"Key": "a", "Value": "1"}])
    assert await store.get_tags(ACCOUNT, job_id) == [{"Key": "a", "Value": "1"}]

    await store.put_tags(ACCOUNT, job_id, [{"Key": "b", "Value": ""}])
    assert await store.get_tags(ACCOUNT, job_id) == [{"Key": "b", "Value": ""}]
    await store.put_tags(ACCOUNT, job_id, [])
    assert await store.get_tags(ACCOUNT, job_id) == []
    with pytest.raises(JobNotFound):
        await store.get_tags(OTHER, job_id)
    with pytest.raises(JobNotFound):
        await store.put_tags(OTHER, job_id, [{"Key": "x", "Value": "y"}])
    assert await store.get_tags(ACCOUNT, job_id) == []


# --- console sessions -----------------------------------------------------------------------


async def test_console_sessions_end_and_expire(store: Store, clock: ManualClock) -> None:
    await store.start_console_session("s1", ACCOUNT, expired_before=0)
    clock.advance(100)
    await store.start_console_session("s2", OTHER, expired_before=0)
    assert await store.console_session_account("s1") == ACCOUNT
    assert await store.console_session_account("s2") == OTHER

    await store.end_console_session("s2")
    assert await store.console_session_account("s2") is None
    await store.start_console_session("s3", ACCOUNT, expired_before=T0 + 50)  # s1 started before: forgotten
    assert await store.console_session_account("s1") is None
    assert await store.console_session_account("s3") == ACCOUNT
    assert await store.console_session_account("never") is None


# --- priority -------------------------------------------------------------------------------


async def test_update_priority(store: Store) -> None:
    job_id = await new_job(store)
    await drive(store, job_id, *PATH[S.ACTIVE])

    job = await store.update_priority(ACCOUNT, job_id, 77)

    assert job.priority == 77
    assert (await store.get_job(ACCOUNT, job_id)).priority == 77
    assert (await store.get_job(ACCOUNT, job_id)).status is S.ACTIVE


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
async def test_update_priority_of_an_ended_job_is_refused(store: Store, terminal: JobStatus) -> None:
    job_id = await new_job(store)
    await drive(store, job_id, *PATH[terminal])

    # PriorityFinal, as the service's own check raises it: a job that ends between the two answers the same
    with pytest.raises(PriorityFinal, match=terminal.value):
        await store.update_priority(ACCOUNT, job_id, 77)
    assert (await store.get_job(ACCOUNT, job_id)).priority == 10


async def test_update_priority_of_unknown_job_is_not_found(store: Store) -> None:
    with pytest.raises(JobNotFound):
        await store.update_priority(ACCOUNT, "nope", 1)


# --- preparing ------------------------------------------------------------------------------


async def test_add_chunks_stores_blobs_and_counts_every_row_as_a_task(store: Store) -> None:
    job_id = await new_job(store)
    assert await store.prepare_checkpoint(job_id) == (0, 0, 0)
    rows = [good(0), bad(1), good(2), bad(3), good(4), good(5)]

    await store.add_chunks(job_id, [blob(0, rows[:4]), blob(1, rows[4:])], lines_read=7)

    job = await store.get_job(ACCOUNT, job_id)
    # Malformed rows are tasks too; they fail when their chunk runs (nothing has run yet).
    assert (job.progress.total, job.progress.succeeded, job.progress.failed) == (6, 0, 0)
    assert await store.prepare_checkpoint(job_id) == (7, 2, 6)
    assert await count_rows(store, tasks, job_id) == 0  # Preparing writes no task rows
    await drive(store, job_id, S.PREPARING, S.READY, S.ACTIVE)
    first, second = await store.claim_chunk(job_id, "w1", 30), await store.claim_chunk(job_id, "w1", 30)
    assert first is not None and (first.chunk_no, first.first_seq, first.count, first.ended) == (0, 0, 4, frozenset())
    assert claimed(first) == [ChunkRow(r.seq, r.target, r.error, r.raw) for r in rows[:4]]
    assert second is not None and (second.chunk_no, second.first_seq, second.count) == (1, 4, 2)
    assert [r.target for r in claimed(second)] == [ObjectRef("b", "k004"), ObjectRef("b", "k005")]


async def test_chunks_stored_already_are_refused_whole_and_counted_once(store: Store) -> None:
    # Two preparers of one job (a Preparing task delivered twice) resume from the same checkpoint: the second
    # one's chunks are refused, nothing of its group is written, and the tasks are counted once.
    job_id = await new_job(store)
    rows = [good(0), good(1), good(2)]
    await store.add_chunks(job_id, [blob(0, rows[:2])], lines_read=2)

    with pytest.raises(ChunksTaken):
        await store.add_chunks(job_id, [blob(0, rows[:2]), blob(1, rows[2:])], lines_read=3, last=True)

    assert await store.prepare_checkpoint(job_id) == (2, 1, 2)
    job = await store.get_job(ACCOUNT, job_id)
    assert (job.progress.total, job.manifest_done) == (2, False)  # the refused last group did not end it either


async def test_the_last_chunks_end_the_manifest_in_the_same_write(store: Store) -> None:
    job_id = await new_job(store)
    await store.add_chunks(job_id, [blob(0, [good(0), good(1)])], lines_read=2)
    assert not (await store.get_job(ACCOUNT, job_id)).manifest_done

    await store.add_chunks(job_id, [blob(1, [good(2)])], lines_read=3, last=True)

    job = await store.get_job(ACCOUNT, job_id)
    assert (job.progress.total, job.manifest_done) == (3, True)
    assert await store.prepare_checkpoint(job_id) == (3, 2, 3)


async def test_malformed_rows_keep_their_errors_in_the_report(store: Store) -> None:
    job_id = await new_job(store)
    rows = [bad(0), good(1), bad(2)]
    await add_chunk(store, job_id, 0, rows, lines_read=3)
    await drive(store, job_id, S.PREPARING, S.READY, S.ACTIVE)
    claim = await store.claim_chunk(job_id, "w1", 30)

    # The runner records each decoded row's outcome: a malformed one fails with its reason and raw line.
    outcomes = [ran(Row(r.seq, r.target, r.error, r.raw)) for r in claimed(claim)]
    assert await store.record_outcomes(job_id, outcomes, [0]) == (1, 2)

    failed = [r async for r in store.report_rows(job_id, TaskStatus.FAILED)]
    assert failed == [
        ReportRow(
            "", "raw-line-0", None, TaskStatus.FAILED, "InvalidManifestRow", 400, "row 0 has 1 field, expected 2"
        ),
        ReportRow(
            "", "raw-line-2", None, TaskStatus.FAILED, "InvalidManifestRow", 400, "row 2 has 1 field, expected 2"
        ),
    ]
    assert [r.key async for r in store.report_rows(job_id, TaskStatus.SUCCEEDED)] == ["k001"]
    assert not await store.has_unfinished_chunks(job_id)


async def test_listing_cursor_moves_with_its_chunk_and_the_saved_manifest_shows_on_the_job(store: Store) -> None:
    job_id = await new_job(store, manifest=None, generator=GeneratorSpec("arn:aws:s3:::src", True))
    assert await store.manifest_cursor(job_id) is None
    await add_chunk(store, job_id, 0, [good(0), good(1)], lines_read=2, cursor="k001")
    await add_chunk(store, job_id, 1, [], lines_read=2)  # no cursor given: the last one stays
    assert await store.manifest_cursor(job_id) == "k001"
    saved = GeneratedManifest("S3InventoryReport_CSV_20211130", "arn:aws:s3:::out/job/manifest.json", '"e"')
    await store.set_generated_manifest(job_id, saved)
    job = await store.get_job(ACCOUNT, job_id)
    assert job.generated_manifest == saved
    assert job.spec.manifest is None and job.spec.generator == GeneratorSpec("arn:aws:s3:::src", True)



async def test_a_version_listing_cursor_holding_nul_round_trips(store: Store) -> None:
    # The generator's cursor when listing versions is key NUL version id; PostgreSQL text cannot hold NUL.
    job_id = await new_job(store, manifest=None, generator=GeneratorSpec("arn:aws:s3:::src", True))
    for cursor in ["k\x00v1", "\ufffek\x00\ufffe0"]:  # the second: FreeText's escape itself, around NUL
        await add_chunk(store, job_id, 0, [], lines_read=0, cursor=cursor)
        assert await store.manifest_cursor(job_id) == cursor

async def test_prepare_checkpoint_after_two_chunks(store: Store) -> None:
    job_id = await new_job(store)
    await add_chunk(store, job_id, 0, [good(0), good(1), bad(2)], lines_read=4)  # one blank line skipped
    assert await store.prepare_checkpoint(job_id) == (4, 1, 3)
    await add_chunk(store, job_id, 1, [good(3), good(4)], lines_read=6)
    assert await store.prepare_checkpoint(job_id) == (6, 2, 5)

    # The last call of Preparing may carry no rows: only the line count moves.
    await add_chunk(store, job_id, 2, [], lines_read=8)
    assert await store.prepare_checkpoint(job_id) == (8, 2, 5)
    job = await store.get_job(ACCOUNT, job_id)
    assert (job.progress.total, job.progress.failed) == (5, 0)
    assert await count_rows(store, chunks, job_id) == 2

    assert not job.manifest_done
    await store.finish_manifest(job_id)
    assert (await store.get_job(ACCOUNT, job_id)).manifest_done


async def test_chunk_of_only_malformed_rows_runs_and_is_then_done(store: Store) -> None:
    job_id = await new_job(store)
    await add_chunk(store, job_id, 0, [bad(0), bad(1)], lines_read=2)
    await drive(store, job_id, S.PREPARING, S.READY, S.ACTIVE)
    assert await store.has_unfinished_chunks(job_id)

    claim = await store.claim_chunk(job_id, "w1", 30)
    assert await store.record_outcomes(job_id, [ran(bad(0)), ran(bad(1))], [chunk_no(claim)]) == (0, 2)

    assert not await store.has_unfinished_chunks(job_id)
    assert await store.claim_chunk(job_id, "w2", 30) is None


# --- leases ---------------------------------------------------------------------------------


async def two_chunks(store: Store) -> str:
    job_id = await new_job(store)
    await add_chunk(store, job_id, 0, [good(0), bad(1), good(2)], lines_read=3)
    await add_chunk(store, job_id, 1, [good(3), good(4)], lines_read=5)
    await drive(store, job_id, JobStatus.PREPARING, JobStatus.READY, JobStatus.ACTIVE)
    return job_id


async def test_only_an_active_job_can_be_claimed(store: Store) -> None:
    job_id = await new_job(store)
    await add_chunk(store, job_id, 0, [good(0)], lines_read=1)
    await drive(store, job_id, JobStatus.PREPARING, JobStatus.READY)
    assert await store.claim_chunk(job_id, "w1", 30) is None
    await drive(store, job_id, JobStatus.ACTIVE)
    assert await store.claim_chunk(job_id, "w1", 30) is not None


async def test_claim_chunk_by_number_leases_only_that_chunk(store: Store) -> None:
    job_id = await two_chunks(store)

    second = await store.claim_chunk(job_id, "w1", 30, chunk_no=1)
    again = await store.claim_chunk(job_id, "w2", 30, chunk_no=1)
    first = await store.claim_chunk(job_id, "w2", 30)

    assert chunk_no(second) == 1 and [r.target for r in claimed(second)] == [
        ObjectRef("b", "k003"),
        ObjectRef("b", "k004"),
    ]
    assert again is None  # a dispatched chunk delivered twice runs once while its lease lives
    assert chunk_no(first) == 0


async def test_free_chunks_are_the_unleased_unfinished_ones_in_order(store: Store) -> None:
    job_id = await two_chunks(store)
    assert await store.free_chunks(job_id, 5) == [0, 1]
    assert await store.free_chunks(job_id, 1) == [0]

    await store.claim_chunk(job_id, "w1", 30, chunk_no=0)

    assert await store.free_chunks(job_id, 5) == [1]


async def test_claim_chunk_leases_each_chunk_once(store: Store) -> None:
    job_id = await two_chunks(store)

    first = await store.claim_chunk(job_id, "w1", 30)
    second = await store.claim_chunk(job_id, "w2", 30)
    third = await store.claim_chunk(job_id, "w3", 30)

    assert chunk_no(first) == 0 and [r.target for r in claimed(first)] == [
        ObjectRef("b", "k000"),
        None,
        ObjectRef("b", "k002"),
    ]
    assert chunk_no(second) == 1 and [r.target for r in claimed(second)] == [
        ObjectRef("b", "k003"),
        ObjectRef("b", "k004"),
    ]
    assert third is None
    assert await store.claim_chunk(job_id, "w1", 30) is None  # the owner's own lease is not free either


async def test_concurrent_claims_get_distinct_chunks(store: Store) -> None:
    job_id = await new_job(store)
    for n in range(5):
        await add_chunk(store, job_id, n, [good(n)], lines_read=n + 1)
    await drive(store, job_id, S.PREPARING, S.READY, S.ACTIVE)

    claims = await asyncio.gather(*(store.claim_chunk(job_id, f"w{i}", 30) for i in range(8)))

    got = [c.chunk_no for c in claims if c is not None]
    assert sorted(got) == [0, 1, 2, 3, 4]
    assert claims.count(None) == 3


async def test_expired_lease_can_be_claimed_again(store: Store, clock: ManualClock) -> None:
    job_id = await two_chunks(store)
    await store.claim_chunk(job_id, "w1", 30)
    await store.claim_chunk(job_id, "w2", 30)

    clock.advance(30)
    assert await store.claim_chunk(job_id, "w3", 30) is None  # expiry is at, not before, 30 s
    clock.advance(1)
    claim = await store.claim_chunk(job_id, "w3", 30)
    assert claim is not None and claim.chunk_no == 0
    claim = await store.claim_chunk(job_id, "w4", 30)
    assert claim is not None and claim.chunk_no == 1
    assert await store.claim_chunk(job_id, "w5", 30) is None


async def test_renewed_lease_is_not_claimable(store: Store, clock: ManualClock) -> None:
    job_id = await new_job(store)
    await add_chunk(store, job_id, 0, [good(0)], lines_read=1)
    await drive(store, job_id, S.PREPARING, S.READY, S.ACTIVE)
    assert await store.claim_chunk(job_id, "w1", 10) is not None

    clock.advance(8)
    await store.renew_leases("w1", 10)
    clock.advance(5)  # 13 s after the claim: expired without the renewal
    assert await store.claim_chunk(job_id, "w2", 10) is None
    clock.advance(6)
    claim = await store.claim_chunk(job_id, "w2", 10)
    assert claim is not None and claim.chunk_no == 0


async def test_renew_leases_only_touches_the_owner(store: Store, clock: ManualClock) -> None:
    job_id = await two_chunks(store)
    await store.claim_chunk(job_id, "w1", 10)
    await store.claim_chunk(job_id, "w2", 10)

    clock.advance(8)
    await store.renew_leases("w1", 10)
    clock.advance(5)
    claim = await store.claim_chunk(job_id, "w3", 10)
    assert claim is not None and claim.chunk_no == 1  # w2's lapsed, w1's was renewed


async def test_renew_leases_says_whether_the_owner_still_holds_its_chunk(store: Store, clock: ManualClock) -> None:
    job_id = await two_chunks(store)
    await store.claim_chunk(job_id, "frozen", 10, chunk_no=0)
    assert await store.renew_leases("frozen", 10) == 1

    clock.advance(11)  # the frozen worker misses its renewals: its lease lapses and another worker takes the chunk
    assert await store.claim_chunk(job_id, "other", 10, chunk_no=0) is not None

    assert await store.renew_leases("frozen", 10) == 0  # on waking it learns the chunk is no longer its own
    assert await store.renew_leases("other", 10) == 1


async def test_a_live_lease_means_the_job_has_not_drained(store: Store) -> None:
    job_id = await two_chunks(store)
    assert not await store.has_live_lease(job_id)
    await store.claim_chunk(job_id, "w1", 60)
    assert await store.has_live_lease(job_id)
    await store.release_chunks(owner="w1")  # a dead worker's leases, given back by the supervisor
    assert not await store.has_live_lease(job_id)
    await store.claim_chunk(job_id, "w2", -1)  # a lease that has already expired
    assert not await store.has_live_lease(job_id)


async def test_release_chunks_by_owner_job_and_all(store: Store) -> None:
    job_id = await two_chunks(store)
    other_job = await new_job(store, token="other")
    await add_chunk(store, other_job, 0, [good(0)], lines_read=1)
    await drive(store, other_job, S.PREPARING, S.READY, S.ACTIVE)
    await store.claim_chunk(job_id, "w1", 30)
    await store.claim_chunk(job_id, "w2", 30)
    await store.claim_chunk(other_job, "w1", 30)

    await store.release_chunks(job_id=job_id, owner="w1")
    claim = await store.claim_chunk(job_id, "w3", 30)
    assert claim is not None and claim.chunk_no == 0
    assert await store.claim_chunk(job_id, "w4", 30) is None  # w2 still holds chunk 1
    assert await store.claim_chunk(other_job, "w4", 30) is None  # other job untouched

    await store.release_chunks(job_id=job_id)
    assert [chunk_no(await store.claim_chunk(job_id, "w5", 30)) for _ in range(3)] == [0, 1, None]
    assert await store.claim_chunk(other_job, "w5", 30) is None

    await store.release_chunks()
    claim = await store.claim_chunk(other_job, "w6", 30)
    assert claim is not None and claim.chunk_no == 0


async def test_release_chunk_gives_back_that_chunks_lease_only(store: Store) -> None:
    job_id = await two_chunks(store)
    other_job = await new_job(store, token="other")
    await add_chunk(store, other_job, 0, [good(0)], lines_read=1)
    await drive(store, other_job, S.PREPARING, S.READY, S.ACTIVE)
    await store.claim_chunk(job_id, "dead", 60)
    await store.claim_chunk(job_id, "alive", 60)
    await store.claim_chunk(other_job, "dead", 60)

    await store.release_chunk(job_id, 0)

    assert await store.free_chunks(job_id, 10) == [0]
    assert await store.free_chunks(other_job, 10) == []  # same chunk number, other job: still leased
    await store.renew_leases("dead", 60)  # a frozen holder that wakes does not get it back by renewing
    claim = await store.claim_chunk(job_id, "next", 60, chunk_no=0)
    assert claim is not None and claim.chunk_no == 0
    assert await store.claim_chunk(job_id, "other", 60) is None  # chunk 1 is still alive's
    await store.release_chunk(job_id, 7)  # no such chunk: nothing happens


# --- outcomes -------------------------------------------------------------------------------


async def test_record_outcomes_counts_each_task_once(store: Store) -> None:
    job_id = await two_chunks(store)  # seq 1 is a malformed row
    claim = await store.claim_chunk(job_id, "w1", 30)
    assert chunk_no(claim) == 0
    outcomes = [
        ran(good(0), message="tags deleted"),
        ran(bad(1)),
        ran(good(2), TaskStatus.FAILED, 403, "AccessDenied", "no"),
    ]

    assert await store.record_outcomes(job_id, outcomes, [0]) == (1, 2)
    # The same outcomes again (the chunk ran a second time after a crash): nothing is counted twice.
    assert await store.record_outcomes(job_id, outcomes, [0]) == (1, 2)
    # A late, different outcome of a finished task changes nothing either.
    assert await store.record_outcomes(job_id, [ran(good(2))], []) == (1, 2)
    # Nor does an outcome for the malformed row, which already failed.
    assert await store.record_outcomes(job_id, [ran(good(1))], []) == (1, 2)

    job = await store.get_job(ACCOUNT, job_id)
    assert (job.progress.total, job.progress.succeeded, job.progress.failed) == (5, 1, 2)
    failed = [r async for r in store.report_rows(job_id, TaskStatus.FAILED)]
    assert [r.key for r in failed] == ["raw-line-1", "k002"]
    assert (failed[1].error_code, failed[1].http_status, failed[1].message) == ("AccessDenied", 403, "no")
    succeeded = [r async for r in store.report_rows(job_id, TaskStatus.SUCCEEDED)]
    assert succeeded == [ReportRow("b", "k000", None, TaskStatus.SUCCEEDED, "", 200, "tags deleted")]


async def test_duplicate_outcomes_in_one_call_count_once(store: Store) -> None:
    job_id = await two_chunks(store)
    outcome = ran(good(3))

    assert await store.record_outcomes(job_id, [outcome, outcome, outcome], []) == (1, 0)
    # Even when the copies disagree (a retry after a crash), the first one written is the outcome.
    assert await store.record_outcomes(job_id, [ran(good(4)), ran(good(4), TaskStatus.FAILED, 500)], []) == (2, 0)
    assert await count_rows(store, tasks, job_id) == 2


async def test_record_outcomes_marks_finished_chunks_done(store: Store, clock: ManualClock) -> None:
    job_id = await two_chunks(store)
    assert await store.has_unfinished_chunks(job_id)
    await store.claim_chunk(job_id, "w1", 30)
    await store.claim_chunk(job_id, "w1", 30)

    # Chunk 1 only half done: it stays unfinished.
    await store.record_outcomes(job_id, [ran(good(0)), ran(bad(1)), ran(good(2)), ran(good(3))], [0])
    assert await store.has_unfinished_chunks(job_id)

    # After the lease lapses only chunk 1 comes back, saying which of its seqs already have an outcome.
    clock.advance(31)
    claim = await store.claim_chunk(job_id, "w2", 30)
    assert claim is not None and (claim.chunk_no, claim.ended) == (1, frozenset({3}))
    assert [r.seq for r in claimed(claim) if r.seq not in claim.ended] == [4]
    assert await store.claim_chunk(job_id, "w3", 30) is None

    assert await store.record_outcomes(job_id, [ran(good(4), TaskStatus.FAILED, 404, "NoSuchKey")], [1]) == (3, 2)
    assert not await store.has_unfinished_chunks(job_id)
    clock.advance(3600)
    assert await store.claim_chunk(job_id, "w4", 30) is None


async def test_has_unfinished_chunks_without_chunks(store: Store) -> None:
    job_id = await new_job(store)
    assert not await store.has_unfinished_chunks(job_id)
    await add_chunk(store, job_id, 0, [good(0)], lines_read=1)
    assert await store.has_unfinished_chunks(job_id)


async def test_record_outcomes_only_touch_their_job(store: Store) -> None:
    first = await two_chunks(store)
    second = await new_job(store, token="second")
    await add_chunk(store, second, 0, [good(0), good(1)], lines_read=2)

    assert await store.record_outcomes(second, [ran(good(0))], [0]) == (1, 0)

    job = await store.get_job(ACCOUNT, first)
    assert (job.progress.succeeded, job.progress.failed) == (0, 0)
    assert await store.has_unfinished_chunks(first)
    assert await count_rows(store, tasks, first) == 0
    claim = await store.claim_chunk(first, "w1", 30)
    assert claim is not None and claim.ended == frozenset()


# --- reports --------------------------------------------------------------------------------


@pytest.mark.parametrize("page", [1, 2, 3, 4, 50])
async def test_report_rows_pages_in_seq_order(store: Store, page: int) -> None:
    job_id = await new_job(store)
    rows = [bad(seq) if seq % 7 == 3 else good(seq) for seq in range(23)]
    # Outcomes in a shuffled order: the report follows seq, not insertion.
    expected: dict[TaskStatus, list[int]] = {s: [] for s in TaskStatus}
    outcomes = []
    for row in rows:
        if row.target is None:
            outcomes.append(ran(row))
            expected[TaskStatus.FAILED].append(row.seq)
        elif row.seq % 4 == 0:
            outcomes.append(ran(row, message=f"ok {row.seq}"))
            expected[TaskStatus.SUCCEEDED].append(row.seq)
        elif row.seq % 5 == 0:
            outcomes.append(ran(row, TaskStatus.FAILED, 500, "InternalError", f"bad {row.seq}"))
            expected[TaskStatus.FAILED].append(row.seq)
        else:
            expected[TaskStatus.PENDING].append(row.seq)  # never ran: in no report
    await store.record_outcomes(job_id, outcomes[7:], [])
    await store.record_outcomes(job_id, outcomes[:7], [])

    for status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED):
        got = [r async for r in store.report_rows(job_id, status, page=page)]
        assert all(r.status is status for r in got)
        keys = [f"raw-line-{s}" if s % 7 == 3 else f"k{s:03d}" for s in sorted(expected[status])]
        assert [r.key for r in got] == keys, status
    assert [r async for r in store.report_rows(job_id, TaskStatus.PENDING, page=page)] == []


async def test_report_rows_page_size_equal_to_count(store: Store) -> None:
    job_id = await new_job(store)
    await store.record_outcomes(job_id, [ran(good(s)) for s in range(4)], [])

    got = [r.key async for r in store.report_rows(job_id, TaskStatus.SUCCEEDED, page=2)]
    assert got == ["k000", "k001", "k002", "k003"]
    assert [r async for r in store.report_rows(job_id, TaskStatus.FAILED, page=2)] == []


async def test_report_rows_keep_version_ids(store: Store) -> None:
    job_id = await new_job(store)
    row = Row(0, ObjectRef("bkt", "a b/c", "v-123"))
    await add_chunk(store, job_id, 0, [row], lines_read=1)
    await store.record_outcomes(job_id, [ran(row, http=204)], [0])

    got = [r async for r in store.report_rows(job_id, TaskStatus.SUCCEEDED)]
    assert got == [ReportRow("bkt", "a b/c", "v-123", TaskStatus.SUCCEEDED, "", 204, "")]


async def test_recent_failures_newest_first(store: Store) -> None:
    job_id = await new_job(store)
    await store.record_outcomes(
        job_id,
        [ran(bad(0)), ran(good(2), TaskStatus.FAILED, 403, "AccessDenied"), ran(good(3)), ran(bad(4))],
        [],
    )

    recent = await store.recent_failures(job_id)
    assert [r.key for r in recent] == ["raw-line-4", "k002", "raw-line-0"]
    assert [(r.error_code, r.http_status) for r in recent] == [
        ("InvalidManifestRow", 400),
        ("AccessDenied", 403),
        ("InvalidManifestRow", 400),
    ]
    assert [r.key for r in await store.recent_failures(job_id, limit=2)] == ["raw-line-4", "k002"]
    assert all(r.status is TaskStatus.FAILED for r in await store.recent_failures(job_id))


async def test_task_counts_count_the_failed_tasks_by_error_code_with_the_job_counters(store: Store) -> None:
    job_id = await new_job(store)
    assert await store.task_counts(job_id) == TaskCounts(0, 0, {})
    await store.record_outcomes(
        job_id,
        [ran(bad(0)), ran(good(2), TaskStatus.FAILED, 403, "AccessDenied"), ran(good(3)), ran(bad(4))],
        [],
    )
    assert await store.task_counts(job_id) == TaskCounts(1, 3, {"InvalidManifestRow": 2, "AccessDenied": 1})


async def test_task_counts_agree_with_themselves_while_outcomes_are_recorded(store: Store) -> None:
    """The codes add up to the failures in every read, however reads and writes interleave (issue 15's live counts:
    PostgreSQL reads the counter and the codes in one snapshot only if they are one statement)."""
    job_id = await new_job(store)
    written = 120

    async def record() -> None:
        for seq in range(written):
            code = ("NoSuchKey", "AccessDenied")[seq % 2]
            await store.record_outcomes(job_id, [ran(good(seq), TaskStatus.FAILED, 404, code)], [])

    async def read_until_done(writer: asyncio.Task[None]) -> list[TaskCounts]:
        seen = []
        while not writer.done():
            seen.append(await store.task_counts(job_id))
            await asyncio.sleep(0)  # the memory store's read never yields: let the writer on
        return seen

    writer = asyncio.create_task(record())
    seen = await read_until_done(writer)
    await writer
    assert seen and all(sum(counts.by_error_code.values()) == counts.failed for counts in seen)
    assert await store.task_counts(job_id) == TaskCounts(0, written, {"NoSuchKey": 60, "AccessDenied": 60})


# --- retention ------------------------------------------------------------------------------


async def test_purge_ended_before_deletes_everything_of_old_jobs(store: Store, clock: ManualClock) -> None:
    old = await two_chunks(store)
    await drive(store, old, S.CANCELLING, S.CANCELLED)  # ends at T0
    await store.record_outcomes(old, [ran(good(0))], [])
    running = await new_job(store, token="running")
    await add_chunk(store, running, 0, [good(0), good(1)], lines_read=2)
    await store.record_outcomes(running, [ran(good(0))], [])
    await drive(store, running, S.PREPARING, S.READY, S.ACTIVE)
    clock.advance(100)
    later = await new_job(store, token="later")
    await add_chunk(store, later, 0, [good(0), good(1)], lines_read=2)
    await store.record_outcomes(later, [ran(good(0))], [])
    await drive(store, later, S.CANCELLING, S.CANCELLED)  # ends at T0 + 100

    assert await store.purge_ended_before(T0 + 50) == 1

    with pytest.raises(JobNotFound):
        await store.job_for_engine(old)
    assert await store.status_history(old) == []
    for table in (tasks, chunks, job_events):
        assert await count_rows(store, table, old) == 0, table.name
    assert await count_rows(store, jobs, old) == 0

    for kept in (running, later):
        assert (await store.job_for_engine(kept)).id == kept
        assert await count_rows(store, tasks, kept) == 1
        assert await count_rows(store, chunks, kept) == 1
        assert len(await store.status_history(kept)) >= 3

    assert await store.purge_ended_before(T0 + 50) == 0
    assert await store.purge_ended_before(T0 + 101) == 1
    assert [j.id for j in await store.jobs_in(list(JobStatus))] == [running]


async def test_hold_reason_is_set_shown_and_cleared(store: Store) -> None:
    job_id, _ = await store.create_job(ACCOUNT, make_spec(), [])
    await store.set_hold_reason(job_id, "holding: the object store is unreachable")
    assert (await store.get_job(ACCOUNT, job_id)).hold_reason == "holding: the object store is unreachable"
    await store.set_hold_reason(job_id, None)
    assert (await store.get_job(ACCOUNT, job_id)).hold_reason is None


# --- a full disk ----------------------------------------------------------------------------
# SQLite's own SQLITE_FULL is tested in test_outcome_recording; the in-memory store simulates it (``full_disk``).


async def test_the_memory_stores_full_disk_holds_jobs_and_refuses_work_as_sqlite_does(clock: ManualClock) -> None:
    store = MemoryStore(clock)
    job_id = await new_job(store)
    store.full_disk = "database or disk is full"

    with pytest.raises(StoreFull):
        await store.set_hold_reason(job_id, "anything")
    assert store.write_fault == WriteFault("database or disk is full", T0)
    hold_reason = (await store.get_job(ACCOUNT, job_id)).hold_reason
    assert hold_reason is not None and "(database or disk is full)" in hold_reason
    with pytest.raises(StoreFull, match="free space"):
        await store.create_job(ACCOUNT, make_spec("while-full"), [])
    assert not await store.probe_write()

    store.full_disk = None
    assert await store.probe_write()
    assert store.write_fault is None
    assert (await store.get_job(ACCOUNT, job_id)).hold_reason is None


async def test_counts_and_positions_past_32_bits_are_kept(store: Store) -> None:
    # A job of billions of tasks: seqs, chunk numbers, counters and the manifest position past 2**31 (PostgreSQL's
    # integer) are stored and read back exactly.
    far = 3_000_000_000
    job_id = await new_job(store)
    await store.add_chunks(job_id, [blob(far // 1000, [good(far)])], far + 1, None)
    await drive(store, job_id, JobStatus.PREPARING, JobStatus.READY, JobStatus.ACTIVE)
    claim = await store.claim_chunk(job_id, "w1", 30)
    assert claim is not None and (claim.chunk_no, claim.first_seq) == (far // 1000, far)
    assert await store.record_outcomes(job_id, [ran(good(far))], [claim.chunk_no]) == (1, 0)
    assert await store.prepare_checkpoint(job_id) == (far + 1, far // 1000 + 1, far + 1)
    assert (await store.get_job(ACCOUNT, job_id)).progress.succeeded == 1
    [row] = [r async for r in store.report_rows(job_id, TaskStatus.SUCCEEDED)]
    assert row.key == f"k{far:03d}"
