"""The engine's key locks (``engine.keylocks.StoreKeyLocks``) on each store: holdings of one name in two processes
(two in-process queues on one store) never overlap, a dead holder blocks only until its lease ends, a holding
longer than the lease keeps it by renewal, tasks of one process queue in it rather than poll the store, and a
runner uses the store's locks only where other processes run tasks too."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from batchops.domain.task import ObjectRef
from batchops.engine.keylocks import StoreKeyLocks
from batchops.engine.runner import JobRunner, RunnerConfig
from batchops.operations.base import NoParams, TaskContext
from batchops.operations.keylocks import KeyedLocks
from batchops.store.base import Store
from tests.support.runner import Recording, active_job

NAME = "replica/doc"


def process(store: Store, lease: float = 60.0, renew: float = 20.0) -> StoreKeyLocks:
    """The key locks one worker process gives its tasks: its own in-process queue, the shared store."""
    return StoreKeyLocks(store, "job-1", lease_seconds=lease, renew_seconds=renew, local=KeyedLocks())


async def test_holdings_in_two_processes_never_overlap(live_store: Store) -> None:
    first, second = process(live_store), process(live_store)
    inside: list[int] = []
    overlaps: list[int] = []

    async def task(locks: StoreKeyLocks, label: int) -> None:
        async with locks.hold(NAME):
            if inside:
                overlaps.append(label)
            inside.append(label)
            await asyncio.sleep(0.01)  # the task's S3 calls
            inside.remove(label)

    await asyncio.gather(*(task(first if n % 2 else second, n) for n in range(12)))

    assert overlaps == []
    assert await live_store.lock_key("job-1", NAME, "after", 60.0)  # every holding let go


async def test_a_dead_holder_blocks_only_until_its_lease_ends(live_store: Store) -> None:
    assert await live_store.lock_key("job-1", NAME, "killed-worker", 0.5)
    started = time.monotonic()

    async with process(live_store).hold(NAME):
        waited = time.monotonic() - started

    assert 0.4 <= waited < 5.0


async def test_a_holding_longer_than_its_lease_keeps_it_by_renewal(live_store: Store) -> None:
    locks = process(live_store, lease=0.4, renew=0.1)
    async with locks.hold(NAME):
        await asyncio.sleep(1.0)  # a task that takes more than two leases
        assert not await live_store.lock_key("job-1", NAME, "other-process", 0.4)
    assert await live_store.lock_key("job-1", NAME, "other-process", 0.4)


async def test_tasks_of_one_process_queue_in_it_without_polling_the_store(live_store: Store) -> None:
    tries: list[bool] = []
    lock_key = live_store.lock_key

    async def counted(job_id: str, name: str, owner: str, lease: float) -> bool:
        tries.append(await lock_key(job_id, name, owner, lease))
        return tries[-1]

    live_store.lock_key = counted  # type: ignore[method-assign]
    locks = process(live_store)

    async def task() -> None:
        async with locks.hold(NAME):
            await asyncio.sleep(0.01)

    await asyncio.gather(*(task() for _ in range(5)))

    assert tries == [True] * 5  # one try per holding: none was refused


class HoldsItsKey(Recording):
    """Holds its object's key lock, and looks whether another process would find that key taken in the store."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.store = store
        self.taken_in_store: list[bool] = []

    async def run(self, ctx: TaskContext, params: NoParams, target: ObjectRef) -> str:
        async with ctx.key_locks.hold(f"{target.bucket}/{target.key}"):
            free = await self.store.lock_key("elsewhere", f"{target.bucket}/{target.key}", "other-process", 60.0)
            if free:
                await self.store.unlock_key(f"{target.bucket}/{target.key}", "other-process")
            self.taken_in_store.append(not free)
        return "held"


@pytest.mark.parametrize("shared", [True, False], ids=["workers-share-the-store", "one-process-runs-every-task"])
async def test_runners_hold_key_locks_in_the_store_only_where_other_processes_run_tasks(
    store: Store, shared: bool
) -> None:
    job_id = await active_job(store, [b"bkt,a", b"bkt,b"])
    operation = HoldsItsKey(store)
    config = RunnerConfig(owner="w", flush_interval=0.01, shared_key_locks=shared)

    async def no_stop(_job: Any, _ok: int, _bad: int) -> bool:
        return False

    job = await store.job_for_engine(job_id)
    assert await JobRunner(job, store, None, operation, asyncio.Semaphore(4), config, no_stop).run()

    assert operation.taken_in_store == [shared, shared]
