"""Recording outcomes, whatever they hold and whatever fails.

* Any text in a task's key, bucket, version id, raw line, error code or message (the whole character space,
  lone surrogates included) is recorded: never an exception that would drop the flush (on each store
  implementation, conftest ``any_store``).
* A flush that fails is retried with growing waits and its tasks never run again; past the bound the job
  goes Failing with OutcomeRecordFailed naming the cause.
* A real SQLITE_FULL (``PRAGMA max_page_count``, the engine's own limit) holds the job visibly, refuses new
  jobs, and the job ends with exact counts once there is room again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sqlite3
import time
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

from batchops.domain.status import JobStatus
from batchops.domain.task import ObjectRef, ReportRow, TaskOutcome, TaskStatus
from batchops.engine.runner import JobRunner, RunnerConfig
from batchops.errors import StoreFull
from batchops.manifests.rows import encode_key
from batchops.store.base import Store
from batchops.store.outcomes import KEY_NOT_UTF8
from batchops.store.sql import SqlStore
from tests.support.runner import Recording, active_job, spec

#: Every code point, surrogates included, and what a manifest line that is not UTF-8 decodes to.
ANY_TEXT = st.one_of(
    st.text(st.characters(codec=None, exclude_categories=()), max_size=40),
    st.binary(max_size=40).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
)


def utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def rows(store: Store, job_id: str) -> list[ReportRow]:
    found: list[ReportRow] = []
    for status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED):
        found += [row async for row in store.report_rows(job_id, status)]
    return found


outcomes = st.lists(
    st.tuples(
        st.sampled_from([TaskStatus.SUCCEEDED, TaskStatus.FAILED]),
        ANY_TEXT,
        ANY_TEXT,
        st.one_of(st.none(), st.builds(ObjectRef, ANY_TEXT, ANY_TEXT, st.one_of(st.none(), ANY_TEXT))),
        ANY_TEXT,
    ),
    min_size=1,
    max_size=8,
)
tokens = itertools.count()


async def record_and_check(store: Store, drawn: list[tuple[TaskStatus, str, str, ObjectRef | None, str]]) -> None:
    job_id, _ = await store.create_job("111111111111", spec(f"t{next(tokens)}"), [])
    given_outcomes = [
        TaskOutcome(seq, status, 200 if status is TaskStatus.SUCCEEDED else 500, code, message, target, raw)
        for seq, (status, code, message, target, raw) in enumerate(drawn)
    ]

    succeeded, failed = await store.record_outcomes(job_id, given_outcomes, [])

    recorded = await rows(store, job_id)
    assert (succeeded, failed) == (
        sum(r.status is TaskStatus.SUCCEEDED for r in recorded),
        sum(r.status is TaskStatus.FAILED for r in recorded),
    )
    by_status: dict[TaskStatus, list[TaskOutcome]] = {TaskStatus.SUCCEEDED: [], TaskStatus.FAILED: []}
    for outcome in given_outcomes:
        names = (outcome.target.bucket, outcome.target.key, outcome.target.version_id or "") if outcome.target else ()
        wrong = not all(utf8(name) for name in names)
        by_status[TaskStatus.FAILED if wrong else outcome.status].append(outcome)
    expected = [*by_status[TaskStatus.SUCCEEDED], *by_status[TaskStatus.FAILED]]
    for outcome, row in zip(expected, recorded, strict=True):
        check_row(outcome, row)


RELAXED = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]  # one store for every example, a job each


@settings(max_examples=40, deadline=None, suppress_health_check=RELAXED)
@given(drawn=outcomes)
async def test_any_outcome_is_recorded_and_a_key_that_is_not_utf8_fails_its_row_alone(
    any_store: Store, drawn: list[tuple[TaskStatus, str, str, ObjectRef | None, str]]
) -> None:
    await record_and_check(any_store, drawn)


async def test_nul_and_the_escape_character_in_keys_and_messages_come_back_exactly(any_store: Store) -> None:
    # Drawn rarely by the property above, and what PostgreSQL text cannot hold (schema.ObjectName, FreeText).
    texts = ["k\x00ey", "\ufffe", "\ufffe0", "a\ufffe\x00\ufffe\ufffe0\x00", "\\x00 plain"]
    drawn = [(TaskStatus.FAILED, text, text, ObjectRef("b", text, text), text) for text in texts]
    drawn += [(TaskStatus.SUCCEEDED, "", "", ObjectRef("b\x00", "k", None), "")]
    await record_and_check(any_store, drawn)


@pytest.mark.soak
@settings(max_examples=3000, deadline=None, suppress_health_check=RELAXED)
@given(drawn=outcomes)
async def test_soak_any_outcome_is_recorded(
    any_store: Store, drawn: list[tuple[TaskStatus, str, str, ObjectRef | None, str]]
) -> None:
    await record_and_check(any_store, drawn)


def check_row(outcome: TaskOutcome, row: ReportRow) -> None:
    assert utf8(row.message) and utf8(row.error_code)
    encode_key(row.key)  # the report can always write it
    target = outcome.target
    names = (target.bucket, target.key, target.version_id or "") if target else (outcome.raw,)
    if all(utf8(name) for name in names) or target is None:
        assert row.status is outcome.status
        assert row.error_code == _escaped(outcome.error_code)
        assert row.message == _escaped(outcome.message)
    else:  # the task's object is not UTF-8: a failed row that says so, and says how the task ended
        assert (row.status, row.error_code, row.http_status) == (TaskStatus.FAILED, KEY_NOT_UTF8, 400)
        assert "not valid UTF-8" in row.message
        assert f"ended {outcome.status.name.lower()} ({outcome.http_status}" in row.message
    given = (target.bucket, target.key, target.version_id) if target else ("", outcome.raw, None)
    for kept, name in zip((row.bucket, row.key, row.version_id), given, strict=True):
        if name is None or _bytes_of(name) is not None:  # kept as its own bytes: the report shows exactly them
            assert kept == name


def _escaped(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode() if not utf8(text) else text


def _bytes_of(text: str) -> bytes | None:
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None


# --- the runner, when recording fails ----------------------------------------------------------


class FailingRecords:
    """The real store, but ``record_outcomes`` raises StoreFull ``failures`` times first (all: None); the
    time of each attempt is kept. What is tested is the runner's retry, not the store."""

    def __init__(self, store: Store, failures: int | None) -> None:
        self._store = store
        self._failures = failures
        self.attempts: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def record_outcomes(self, job_id: str, outcomes: Sequence[TaskOutcome], chunks: Any) -> tuple[int, int]:
        self.attempts.append(time.monotonic())
        if self._failures is None or len(self.attempts) <= self._failures:
            raise StoreFull("database or disk is full")
        return await self._store.record_outcomes(job_id, outcomes, chunks)


async def run(store: Any, job_id: str, operation: Recording, attempts: int = 20) -> bool:
    async def no_stop(_job: Any, _ok: int, _bad: int) -> bool:
        return False

    job = await store.job_for_engine(job_id)
    config = RunnerConfig(owner="w", flush_interval=0.01, record_attempts=attempts, retry_first=0.02, retry_most=0.1)
    runner = JobRunner(job, store, None, operation, asyncio.Semaphore(4), config, no_stop)
    return await asyncio.wait_for(runner.run(), 30)


async def test_a_flush_that_fails_is_retried_with_growing_waits_and_no_task_runs_twice(store: Store) -> None:
    job_id = await active_job(store, [b"bkt,a", b"bkt,b", b"bkt,c"], [b"bkt,d", b"bkt,e"])
    failing, operation = FailingRecords(store, failures=4), Recording()

    assert await run(failing, job_id, operation)

    assert sorted(target.key for target in operation.ran) == ["a", "b", "c", "d", "e"]
    job = await store.job_for_engine(job_id)
    assert (job.status, job.progress.succeeded, job.progress.failed) == (JobStatus.ACTIVE, 5, 0)
    assert not await store.has_unfinished_chunks(job_id)
    waits = [later - earlier for earlier, later in itertools.pairwise(failing.attempts[:5])]
    assert all(wait >= expected * 0.9 for wait, expected in zip(waits, [0.02, 0.04, 0.08, 0.1], strict=True))


async def test_past_the_bound_the_job_fails_naming_the_cause_and_its_tasks_never_run_again(store: Store) -> None:
    job_id = await active_job(store, [b"bkt,a", b"bkt,b"], [b"bkt,c"])
    failing, operation = FailingRecords(store, failures=None), Recording()

    assert not await run(failing, job_id, operation, attempts=3)

    assert len(failing.attempts) == 3 + 1  # and one last try once the job has failed, for its report
    job = await store.job_for_engine(job_id)
    assert job.status is JobStatus.FAILING
    [failure] = job.failure_reasons
    assert failure.code == "OutcomeRecordFailed"
    assert "after 3 attempts: database or disk is full" in failure.reason
    assert sorted(target.key for target in operation.ran) == ["a", "b", "c"]
    await run(store, job_id, operation)  # a Failing job claims nothing: its tasks never run again
    assert len(operation.ran) == 3


# --- a real SQLITE_FULL ---------------------------------------------------------------------


class PageLimit:
    """``PRAGMA max_page_count`` on every write connection of the store: SQLite's own SQLITE_FULL."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self.pages: int | None = None
        event.listen(store.engine.sync_engine, "connect", self._apply)

    def _apply(self, dbapi_connection: Any, _record: Any) -> None:
        if self.pages is not None:
            dbapi_connection.execute(f"PRAGMA max_page_count = {self.pages}")

    async def set(self, pages: int | None) -> None:
        self.pages = pages
        await self.store.engine.dispose()  # new connections get the new limit

    async def page_count(self) -> int:
        """The database's pages, once packed: with no free page left to reuse, the next new page is refused."""
        path = self.store.engine.url.database
        assert path is not None
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as packing:
            packing.execute("VACUUM")
        async with self.store.engine.connect() as conn:
            return int((await conn.exec_driver_sql("PRAGMA page_count")).scalar_one())


async def test_a_full_database_holds_the_job_visibly_and_it_ends_exactly_once_when_room_returns(
    store: SqlStore,
) -> None:
    lines = [b"bkt,%s-key-with-some-length-%04d" % (b"x" * 40, n) for n in range(600)]
    job_id = await active_job(store, lines[:300], lines[300:])
    limit, operation = PageLimit(store), Recording()
    await limit.set(await limit.page_count())  # no page more: the outcomes do not fit

    # Attempts enough to hold until room returns (the giving up has tests of its own): with 20, a loaded machine
    # gave up before this loop saw the hold, and the job went Failing.
    runner = asyncio.create_task(run(store, job_id, operation, attempts=100_000))
    async with asyncio.timeout(60):  # the outcomes cannot fit: the store reports the fault, the runner the hold
        while store.write_fault is None or (job := await store.job_for_engine(job_id)).hold_reason is None:
            await asyncio.sleep(0.01)

    # Held with most outcomes unrecorded (a first flush of a few, on a busy machine, may fit in a page's free room)
    assert job.status is JobStatus.ACTIVE and job.progress.succeeded < len(lines) // 2
    assert job.hold_reason is not None and "disk is full" in job.hold_reason
    assert "(database or disk is full)" in job.hold_reason
    with pytest.raises(StoreFull, match="free space"):
        await store.create_job("111111111111", spec("while-full"), [])

    await limit.set(None)
    assert await store.probe_write()
    assert await asyncio.wait_for(runner, 30)
    job = await store.job_for_engine(job_id)
    assert (job.progress.succeeded, job.progress.failed, job.hold_reason) == (600, 0, None)
    assert sorted(target.key for target in operation.ran) == sorted(line.split(b",")[1].decode() for line in lines)
