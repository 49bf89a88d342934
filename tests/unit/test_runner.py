"""The job runner on a real SQLite store: chunk blobs become tasks (malformed rows fail at once), a chunk
claimed again after a crash runs only the seqs without an outcome, counters move exactly once, and an
operation's own ``max_in_flight`` replaces the shared slots."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import pytest

from batchops.domain.status import JobStatus
from batchops.domain.task import ObjectRef, ReportRow, TaskOutcome, TaskStatus
from batchops.engine.runner import JobRunner, RunnerConfig
from batchops.errors import TaskError
from batchops.operations.base import Operation
from batchops.operations.noop import NoOp
from batchops.s3.breaker import BREAKERS, CircuitBreaker, Ticket
from batchops.s3.ratecap import JobRate
from batchops.store.base import Store
from tests.support.runner import Counted, Recording, active_job

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


class Grouped(Recording):
    """Acts on many objects at once: records each group's targets and how many groups ran at once; a key
    named ``bad…`` fails on its own, a group holding ``boom`` fails as a whole, and ``down…`` keys fail with a
    connection error (an outage) the first time, opening ``breaker``, which closes 50 ms later."""

    group_size: ClassVar[int] = 3
    groups_in_flight: ClassVar[int] = 2

    def __init__(self, breaker: CircuitBreaker | None = None) -> None:
        super().__init__()
        self.groups: list[list[str]] = []
        self.breaker = breaker

    async def run_many(self, ctx: Any, params: Any, targets: Sequence[ObjectRef]) -> list[str | Exception]:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        self.groups.append([t.key for t in targets])
        if any(t.key == "boom" for t in targets):
            raise TaskError("Boom", 500, "the whole group failed")
        return [self._one(target) for target in targets]

    def _one(self, target: ObjectRef) -> str | Exception:
        if target.key.startswith("bad"):
            return TaskError("AccessDenied", 403, "not this one")
        if target.key.startswith("down") and self.breaker is not None and not self.breaker.trips:
            self.breaker.trips += 1
            self.breaker.is_open = True
            asyncio.get_running_loop().call_later(0.05, self._close)
            return ConnectionResetError("the store went away")
        return "grouped"

    def _close(self) -> None:
        assert self.breaker is not None
        self.breaker.record(Ticket(), None)  # an answer: what closes it is the probe; here the test's hand
        self.breaker._close()


async def test_a_grouped_operation_gets_a_chunks_rows_in_groups_and_each_row_its_own_outcome(store: Store) -> None:
    lines = [b"bkt,a", b"bkt,bad1", b"no-bucket-here", b"bkt,c", b"bkt,d", b"bkt,e", b"bkt,f", b"bkt,g"]
    job_id = await active_job(store, lines, [b"bkt,boom", b"bkt,h"])
    operation = Grouped()

    assert await run(store, job_id, operation)

    # The malformed row never reaches the operation; the rest go in groups of at most 3, 2 groups at once
    assert sorted(map(sorted, operation.groups)) == [["a", "bad1", "c"], ["boom", "h"], ["d", "e", "f"], ["g"]]
    assert operation.most == 2
    job = await store.job_for_engine(job_id)
    assert (job.progress.total, job.progress.succeeded, job.progress.failed) == (10, 6, 4)
    failed = {(r.key, r.error_code) for r in await rows(store, job_id, TaskStatus.FAILED)}
    assert failed == {
        ("bad1", "AccessDenied"),
        ("no-bucket-here", "InvalidManifestRow"),
        ("boom", "Boom"),
        ("h", "Boom"),
    }
    assert not await store.has_unfinished_chunks(job_id)


async def test_a_grouped_rows_outage_runs_it_again_once_the_store_is_back(store: Store) -> None:
    breaker = BREAKERS.new("test-grouped-outage")
    job_id = await active_job(store, [b"bkt,a", b"bkt,down1", b"bkt,b"])
    operation = Grouped(breaker)

    assert await run(store, job_id, operation)

    # The row that failed for the outage ran again, alone, after the breaker closed; none failed
    assert operation.groups == [["a", "down1", "b"], ["down1"]]
    job = await store.job_for_engine(job_id)
    assert (job.progress.succeeded, job.progress.failed) == (3, 0)


@pytest.mark.parametrize("dry_run, tasks_cap", [(True, None), (False, 1)])
async def test_a_dry_run_or_a_job_capped_in_tasks_runs_one_task_per_row_even_for_a_grouped_operation(
    store: Store, dry_run: bool, tasks_cap: int | None
) -> None:
    job_id = await active_job(store, [b"bkt,a", b"bkt,b"])
    job = await store.job_for_engine(job_id)
    job = replace(job, spec=replace(job.spec, dry_run=dry_run))
    operation = Grouped()
    config = RunnerConfig(owner="w", flush_interval=0.01)

    async def no_stop(_job: Any, _ok: int, _bad: int) -> bool:
        return False

    rate = JobRate(None, tasks_cap)
    assert await JobRunner(job, store, None, operation, asyncio.Semaphore(4), config, no_stop, rate=rate).run()

    # Each row ran as a task of its own: run (or check), never run_many
    assert operation.groups == []
    assert (await store.job_for_engine(job_id)).progress.total == 2


class Miscounts(Grouped):
    async def run_many(self, ctx: Any, params: Any, targets: Sequence[ObjectRef]) -> list[str | Exception]:
        return ["grouped"]  # one answer, whatever the group


async def test_a_grouped_operation_answering_for_too_few_rows_fails_them_and_the_job_runs_on(store: Store) -> None:
    job_id = await active_job(store, [b"bkt,a", b"bkt,b", b"bkt,c", b"bkt,d"])

    assert await run(store, job_id, Miscounts())

    job = await store.job_for_engine(job_id)
    # Groups of 3: the first got one answer for three rows, so its rows failed; the second (d) got its one
    assert (job.progress.succeeded, job.progress.failed) == (1, 3)
    failed = await rows(store, job_id, TaskStatus.FAILED)
    assert [(r.key, r.error_code) for r in failed] == [(key, "InternalError") for key in "abc"]
    assert "answered for 1 of 3 objects" in failed[0].message
    assert not await store.has_unfinished_chunks(job_id)


# --- the lease guard (a worker frozen past its chunk's lease) --------------------------------------------------------


class Freezes(Recording):
    """Its second task "freezes the process" past the lease: the runner's clock jumps 50 s (of a 60 s lease)."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self.clock = clock

    async def run(self, ctx: Any, params: Any, target: ObjectRef) -> str:
        if len(self.ran) == 1:
            self.clock[0] += 50.0
        return await super().run(ctx, params, target)


async def start_guarded(
    store: Store, job_id: str, operation: Operation, slots: asyncio.Semaphore, clock: list[float]
) -> tuple[JobRunner, asyncio.Task[bool]]:
    """A runner with the lease guard on ``clock`` (a 60 s lease), running."""

    async def no_stop(_job: Any, _ok: int, _bad: int) -> bool:
        return False

    config = RunnerConfig(owner="w", flush_interval=0.01, lease_seconds=60.0, lease_guard=True, clock=lambda: clock[0])
    runner = JobRunner(await store.job_for_engine(job_id), store, None, operation, slots, config, no_stop)
    return runner, asyncio.create_task(runner.run())


async def until_idle(operation: Recording, ran: int) -> None:
    """Until ``ran`` tasks have ended and a few more turns of the loop passed (room for a task to start)."""
    async with asyncio.timeout(5):
        while len(operation.ran) < ran or operation.running:
            await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_guarded_runner_starts_no_task_past_its_leases_renewals_until_one_is_heard(store: Store) -> None:
    job_id = await active_job(store, [b"bkt,k%d" % n for n in range(6)])
    clock = [1000.0]
    operation = Freezes(clock)
    runner, running = await start_guarded(store, job_id, operation, asyncio.Semaphore(1), clock)

    await until_idle(operation, 2)
    assert len(operation.ran) == 2  # the clock says two renewals were missed: the rest wait

    runner.lease_renewed(clock[0])  # the worker's heartbeat: the lease is still this run's
    assert await asyncio.wait_for(running, 5)
    assert len(operation.ran) == 6


async def test_a_guarded_runner_whose_lease_was_lost_starts_nothing_more_and_gives_its_slot_back(
    store: Store,
) -> None:
    job_id = await active_job(store, [b"bkt,k%d" % n for n in range(6)])
    clock, slots = [1000.0], asyncio.Semaphore(1)
    operation = Freezes(clock)
    runner, running = await start_guarded(store, job_id, operation, slots, clock)

    await until_idle(operation, 2)
    runner.stop(cut_off=True)  # the heartbeat found another worker holds the chunk

    assert not await asyncio.wait_for(running, 5)
    assert len(operation.ran) == 2
    await asyncio.wait_for(slots.acquire(), 1.0)  # the slot it held while it waited is free again
    assert [r.key for r in await rows(store, job_id, TaskStatus.SUCCEEDED)] == ["k0", "k1"]


class FreezesInAGroup(Grouped):
    groups_in_flight: ClassVar[int] = 1

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self.clock = clock
        self.started = 0

    async def run_many(self, ctx: Any, params: Any, targets: Sequence[ObjectRef]) -> list[str | Exception]:
        self.started += 1
        if self.started == 1:  # the first group: the process freezes while it runs
            self.clock[0] += 50.0
        return await super().run_many(ctx, params, targets)


async def test_a_guarded_runner_holds_its_next_group_too(store: Store) -> None:
    job_id = await active_job(store, [b"bkt,k%d" % n for n in range(9)])
    clock = [1000.0]
    operation = FreezesInAGroup(clock)
    runner, running = await start_guarded(store, job_id, operation, asyncio.Semaphore(4), clock)

    async with asyncio.timeout(5):
        while not operation.groups:
            await asyncio.sleep(0)
    for _ in range(20):
        await asyncio.sleep(0)
    assert (operation.started, operation.groups) == (1, [["k0", "k1", "k2"]])

    runner.lease_renewed(clock[0])
    assert await asyncio.wait_for(running, 5)
    assert len(operation.groups) == 3


async def test_a_run_that_claimed_nothing_gives_nothing_back_and_one_that_claimed_does(store: Store) -> None:
    job_id = await active_job(store, [b"bkt,a", b"bkt,b"])
    counted = Counted(store, "release_chunks")

    assert await run(counted, job_id, Recording())  # type: ignore[arg-type]
    assert counted.calls == 1  # it claimed the chunk: its lease is given back
    assert await run(counted, job_id, Recording())  # type: ignore[arg-type]
    assert counted.calls == 1  # nothing left to claim: no lease, no write to give one back
