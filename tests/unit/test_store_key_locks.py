"""The store's key locks (a replica's key held by one task at a time, across processes), on each implementation:
one holder at a time, renewal, take-over of a lock whose holder stopped renewing, release by its holder only, and
purged with their job. Time is the stores' manual clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from batchops.domain.status import JobStatus
from batchops.store.base import Store
from batchops.store.memory import MemoryStore
from batchops.store.schema import key_locks
from batchops.store.sql import SqlStore
from tests.support.clock import T0, ManualClock
from tests.support.job_store import drive, new_job

LEASE = 60.0
NAME = "replica-bucket/docs/report.pdf"


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


async def test_one_holder_at_a_time_until_it_lets_go(store: Store) -> None:
    assert await store.lock_key("job-1", NAME, "a", LEASE)
    assert not await store.lock_key("job-1", NAME, "b", LEASE)
    assert not await store.lock_key("job-2", NAME, "b", LEASE)  # a name is one lock, whichever job asks
    assert not await store.lock_key("job-1", NAME, "a", LEASE)  # not re-entrant: a holding is one token

    await store.unlock_key(NAME, "a")

    assert await store.lock_key("job-1", NAME, "b", LEASE)


async def test_names_are_separate_locks_even_long_and_not_utf8(store: Store) -> None:
    odd = "bucket/" + "\udcff" * 1017  # a key's bytes that are not UTF-8, 1 KiB
    assert await store.lock_key("job-1", NAME, "a", LEASE)
    assert await store.lock_key("job-1", odd, "b", LEASE)
    assert await store.lock_key("job-1", NAME + "x", "c", LEASE)
    assert not await store.lock_key("job-1", odd, "d", LEASE)


async def test_a_holder_that_stops_renewing_is_taken_over_and_cannot_let_go_of_the_new_hold(
    store: Store, clock: ManualClock
) -> None:
    assert await store.lock_key("job-1", NAME, "dead", LEASE)
    clock.advance(LEASE)
    assert not await store.lock_key("job-1", NAME, "b", LEASE)  # expiry inclusive, as chunk leases
    clock.advance(0.5)

    assert await store.lock_key("job-1", NAME, "b", LEASE)

    assert not await store.renew_key_lock(NAME, "dead", LEASE)
    await store.unlock_key(NAME, "dead")
    assert not await store.lock_key("job-1", NAME, "c", LEASE)  # still b's


async def test_a_renewed_hold_outlives_its_first_lease(store: Store, clock: ManualClock) -> None:
    assert await store.lock_key("job-1", NAME, "a", LEASE)
    clock.advance(LEASE - 1)
    assert await store.renew_key_lock(NAME, "a", LEASE)
    clock.advance(LEASE - 1)  # past the first lease, within the renewed one

    assert not await store.lock_key("job-1", NAME, "b", LEASE)
    assert not await store.renew_key_lock(NAME, "b", LEASE)
    assert not await store.renew_key_lock("other", "a", LEASE)


async def test_concurrent_takers_get_one_hold(store: Store, clock: ManualClock) -> None:
    assert await store.lock_key("job-1", NAME, "dead", LEASE)
    clock.advance(LEASE + 1)  # a free lock, and one to take over: each goes to exactly one taker
    for name in (NAME, "free"):
        taken = await asyncio.gather(*(store.lock_key("job-1", name, f"t{n}", LEASE) for n in range(8)))
        assert sorted(taken) == [False] * 7 + [True]


async def test_takers_in_two_processes_get_one_hold(any_store: Store, tmp_path: Path, clock: ManualClock) -> None:
    """Two stores open on one database (what two worker processes have) race for the same names."""
    if isinstance(any_store, MemoryStore):
        pytest.skip("the in-memory store lives in one process")
    assert isinstance(any_store, SqlStore)
    other = await SqlStore.open(any_store.db.url, migrate_schema=False, clock=clock)
    try:
        for n in range(5):
            name = f"{NAME}-{n}"
            taken = await asyncio.gather(
                *(
                    store.lock_key("job-1", name, f"{side}{i}", LEASE)
                    for i in range(4)
                    for side, store in (
                        ("a", any_store),
                        ("b", other),
                    )
                )
            )
            assert sorted(taken) == [False] * 7 + [True], name
    finally:
        await other.close()


async def test_purging_a_job_forgets_its_key_locks(store: Store, clock: ManualClock) -> None:
    ended, running = await new_job(store, token="ended"), await new_job(store, token="running")
    await drive(store, ended, JobStatus.CANCELLING, JobStatus.CANCELLED)  # ends at T0
    assert await store.lock_key(ended, "left-by-a-dead-holder", "a", LEASE)
    assert await store.lock_key(running, NAME, "b", LEASE)
    clock.advance(10)

    assert await store.purge_ended_before(T0 + 5) == 1

    assert await held_by(store, ended) == 0
    assert await held_by(store, running) == 1


async def held_by(store: Store, job_id: str) -> int:
    """How many key locks the store keeps for the job."""
    if isinstance(store, MemoryStore):
        return sum(lock.job_id == job_id for lock in store.tables.key_locks.values())
    assert isinstance(store, SqlStore)
    async with store.engine.connect() as conn:
        query = select(func.count()).select_from(key_locks).where(key_locks.c.job_id == job_id)
        return int((await conn.execute(query)).scalar_one())
