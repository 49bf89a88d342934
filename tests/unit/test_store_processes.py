"""One SQL store (a SQLite file, a PostgreSQL database) opened by several processes (the server and its
workers, on one machine or many): leases are never shared, and reads never wait for a writer (a lease's
liveness, which tells the supervisor a job drained, is a contract test in test_store.py)."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from batchops.domain.job import JobStatus
from batchops.store.base import Store
from batchops.store.schema import jobs
from batchops.store.sql import SqlStore
from tests.support import postgres
from tests.support.job_store import ACCOUNT, add_chunk, drive, good, new_job

S = JobStatus
CHUNKS = 40


@pytest.fixture(params=["sqlite", "postgres"])
async def path(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A store (a SQLite file's path, or a PostgreSQL URL) with one Active job of CHUNKS one-task chunks."""
    if request.param == "sqlite":
        db = str(tmp_path / "db.sqlite3")
    else:
        db = request.getfixturevalue("postgres_database")
        postgres.empty(db)
    store = await SqlStore.open(db)
    try:
        job_id = await new_job(store)
        for n in range(CHUNKS):
            await add_chunk(store, job_id, n, [good(n)], lines_read=n + 1)
        await drive(store, job_id, S.PREPARING, S.READY, S.ACTIVE)
    finally:
        await store.close()
    yield db


async def _job_id(store: Store) -> str:
    return (await store.jobs_in([S.ACTIVE]))[0].id


async def _claim_all(path: str, owner: str) -> list[int]:
    store = await SqlStore.open(path, migrate_schema=False)
    try:
        job_id = await _job_id(store)
        got = []
        while (claim := await store.claim_chunk(job_id, owner, 60)) is not None:
            got.append(claim.chunk_no)
        return got
    finally:
        await store.close()


def _claim_all_in_process(path: str, owner: str) -> list[int]:
    return asyncio.run(_claim_all(path, owner))


def test_workers_in_separate_processes_never_lease_the_same_chunk(path: str) -> None:
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        results = pool.starmap(_claim_all_in_process, [(path, f"w{i}") for i in range(3)])
    claimed = [chunk for result in results for chunk in result]
    assert sorted(claimed) == list(range(CHUNKS)), results  # each chunk once, none missing


async def test_two_stores_on_one_file_claim_distinct_chunks(path: str) -> None:
    # Two Store objects do not share the in-process write lock: only SQLite's lock (BEGIN IMMEDIATE), or
    # PostgreSQL's row locks (FOR UPDATE SKIP LOCKED), order them.
    results = await asyncio.gather(*(_claim_all(path, f"w{i}") for i in range(4)))
    claimed = [chunk for result in results for chunk in result]
    assert sorted(claimed) == list(range(CHUNKS))


async def test_reads_do_not_wait_for_an_open_write_transaction(path: str) -> None:
    store = await SqlStore.open(path, migrate_schema=False)
    try:
        job_id = await _job_id(store)
        async with store.db.write() as conn:  # holds SQLite's write lock (PostgreSQL's row lock) until it ends
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(priority=77))
            job = await asyncio.wait_for(store.get_job(ACCOUNT, job_id), timeout=2)
            assert job.priority == 10  # the committed state, not the open write
            listed, _ = await asyncio.wait_for(store.list_jobs(ACCOUNT, [], 10, None, 90), timeout=2)
            assert [j.id for j in listed] == [job_id]
        assert (await store.get_job(ACCOUNT, job_id)).priority == 77
    finally:
        await store.close()


async def test_a_claim_that_finds_nothing_does_not_wait_for_the_write_lock(path: str) -> None:
    # Every worker asks about every Active job: the asks that find nothing must not queue on SQLite's one write
    # lock (nor take PostgreSQL row locks), or many small jobs spend their time waiting for it.
    store = await SqlStore.open(path, migrate_schema=False)
    try:
        job_id = await _job_id(store)
        assert len(await _claim_all(path, "other-worker")) == CHUNKS  # every chunk leased elsewhere
        async with store.db.write() as conn:  # another writer holds the lock until it ends
            await conn.execute(update(jobs).where(jobs.c.id == job_id).values(priority=77))
            assert await asyncio.wait_for(store.claim_chunk(job_id, "w", 60), timeout=2) is None
            assert await asyncio.wait_for(store.claim_chunk(job_id, "w", 60, chunk_no=3), timeout=2) is None
    finally:
        await store.close()


async def test_reads_cannot_write(path: str) -> None:
    store = await SqlStore.open(path, migrate_schema=False)
    try:
        async with store.db.read() as conn:
            with pytest.raises(Exception, match=r"readonly|read-only transaction"):
                await conn.execute(update(jobs).values(description="x"))
    finally:
        await store.close()
