"""The job runner on a real SQLite store: chunk blobs become tasks (malformed rows fail at once), a chunk
claimed again after a crash runs only the seqs without an outcome, counters move exactly once, and an
operation's own ``max_in_flight`` replaces the shared slots."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from batchops.domain.status import JobStatus
from batchops.domain.task import ObjectRef, ReportRow, TaskOutcome, TaskStatus
from batchops.engine.runner import JobRunner, RunnerConfig
from batchops.operations.base import Operation
from batchops.operations.noop import NoOp
from batchops.store.base import Store
from tests.support.runner import Recording, active_job

S = JobStatus


class Wide(Recording):
    max_in_flight: ClassVar[int | None] = 5


async def run(store: Store, job_id: str, operation: Operation, slots: int = 4) -> bool:
    async def no_stop(_job: Any, _ok: int, _bad: int) -> bool:
        return False

    job = await store.job_for_engine(job_id)
    config = RunnerConfig(owner="w", flush_interval=0.01)
    return await JobRunner(job, store, None, operation, asyncio.Semaphore(slots), config, no_stop).run()


async def rows(store: Store, job_id: str, status: TaskStatus) -> list[ReportRow]:
    return [row async for row in store.report_rows(job_id, status)]


async def test_chunks_run_and_malformed_rows_fail_with_their_line(store: Store) -> None:
    job_id = await active_job(store, [b"bkt,a", b"only-one-field", b"bkt,b%20c\r"], [b"bkt,d"])

    assert await run(store, job_id, NoOp())

    job = await store.job_for_engine(job_id)
    assert (job.progress.total, job.progress.succeeded, job.progress.failed) == (4, 3, 1)
    assert not await store.has_unfinished_chunks(job_id)
    assert [(r.bucket, r.key, r.message) for r in await rows(store, job_id, TaskStatus.SUCCEEDED)] == [
        ("bkt", "a", "no-op"),
        ("bkt", "b c", "no-op"),
        ("bkt", "d", "no-op"),
    ]
    [failed] = await rows(store, job_id, TaskStatus.FAILED)
    assert (failed.bucket, failed.key, failed.error_code, failed.http_status) == (
        "",
        "only-one-field",
        "InvalidManifestRow",
        400,
    )
    assert failed.message.startswith("expected 2 fields (Bucket,Key) but found 1")


async def test_a_chunk_claimed_again_runs_only_the_seqs_without_an_outcome(store: Store) -> None:
    job_id = await active_job(store, [b"bkt,a", b"bkt,b", b"bkt,c"])
    # A previous process ran seq 1, flushed its outcome, and was killed before the chunk was done.
    earlier = TaskOutcome(1, TaskStatus.FAILED, 503, "SlowDown", "later", ObjectRef("bkt", "b"))
    assert await store.record_outcomes(job_id, [earlier], []) == (0, 1)
    operation = Recording()

    assert await run(store, job_id, operation)

    assert operation.ran == [ObjectRef("bkt", "a"), ObjectRef("bkt", "c")]
    job = await store.job_for_engine(job_id)
    assert (job.progress.succeeded, job.progress.failed) == (2, 1)  # seq 1 counted once, as it first ended
    assert [r.error_code for r in await rows(store, job_id, TaskStatus.FAILED)] == ["SlowDown"]
    assert not await store.has_unfinished_chunks(job_id)
    # Running the finished job again finds no work and counts nothing.
    assert await run(store, job_id, operation)
    assert len(operation.ran) == 2
    assert (await store.job_for_engine(job_id)).progress.succeeded == 2


async def test_operation_limit_replaces_the_shared_slots(store: Store) -> None:
    job_id = await active_job(store, [b"bkt,k%d" % n for n in range(40)])
    shared, wide = Recording(), Wide()
    assert await run(store, job_id, shared, slots=1)
    other = await active_job(store, [b"bkt,k%d" % n for n in range(40)], token="other")
    assert await run(store, other, wide, slots=1)

    assert shared.most == 1
    assert wide.most == 5


class StopsTheRunner(Recording):
    """Stops its runner from inside the first task, while the tasks spawned after it have not started yet."""

    runner: JobRunner | None = None

    async def run(self, ctx: Any, params: dict[str, Any], target: ObjectRef) -> str:
        assert self.runner is not None
        self.runner.stop()
        return await super().run(ctx, params, target)


async def test_a_stopped_runner_gives_back_every_slot_even_of_tasks_cancelled_before_they_started(
    store: Store,
) -> None:
    # The engine's slots are shared by every job and outlive the runner: one lost here is lost for good, and
    # a worker whose slots are all lost claims chunks it never runs (a cancelled job's next job hangs).
    job_id = await active_job(store, [b"bkt,k%d" % n for n in range(20)])
    slots, operation = asyncio.Semaphore(4), StopsTheRunner()
    config = RunnerConfig(owner="w", flush_interval=0.01)

    async def no_stop(_job: Any, _ok: int, _bad: int) -> bool:
        return False

    operation.runner = JobRunner(await store.job_for_engine(job_id), store, None, operation, slots, config, no_stop)
    assert not await operation.runner.run()

    assert len(operation.ran) < 20
    for _ in range(4):  # every slot is free again
        await asyncio.wait_for(slots.acquire(), 1.0)
