"""The scaled-out workforce's dispatch window on procrastinate's InMemoryConnector: bounded per job and
cluster-wide, filled in priority order, never queuing a chunk twice, and drained by cancelling; and the commands
that refuse SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from procrastinate import App, testing

from batchops.cli import main
from batchops.devstore import free_port
from batchops.domain.status import JobStatus
from batchops.engine.dispatch import ProcrastinateWorkforce
from batchops.engine.queue import QUEUE, RUN_CHUNK, conninfo
from batchops.engine.queueworker import NEEDS_POSTGRESQL
from batchops.engine.supervisor import Supervisor
from batchops.settings import Settings
from batchops.store import migrate
from batchops.store.memory import MemoryStore
from batchops.store.sql.urls import parse
from tests.support.engine import OneStore, RefusingS3, Workforce
from tests.support.job_store import add_chunk, drive, good, new_job

#: A worker silent this long is dead (the default of worker_stall_seconds).
STALL = Settings().worker_stall_seconds

S = JobStatus


@pytest.fixture
async def app() -> AsyncIterator[App]:
    queue = App(connector=testing.InMemoryConnector())
    async with queue.open_async():
        yield queue


async def active_job(store: MemoryStore, token: str, priority: int, chunks: int = 5) -> str:
    job_id = await new_job(store, token, priority=priority)
    for no in range(chunks):
        await add_chunk(store, job_id, no, [good(no * 2), good(no * 2 + 1)], lines_read=no * 2 + 2)
    await drive(store, job_id, S.PREPARING, S.READY, S.ACTIVE)
    return job_id


def queued(app: App, status: str = "todo") -> list[dict[str, Any]]:
    connector = app.connector
    assert isinstance(connector, testing.InMemoryConnector)
    return [job for job in connector.jobs.values() if job["status"] == status]


def chunks_of(app: App, job_id: str) -> list[int]:
    return sorted(job["args"]["chunk_no"] for job in queued(app) if job["args"]["job_id"] == job_id)


async def test_the_window_bounds_the_chunks_queued_per_job_and_in_all(app: App) -> None:
    store = MemoryStore()
    low = await active_job(store, "low", priority=1)
    high = await active_job(store, "high", priority=9)
    workforce = ProcrastinateWorkforce(store, app, window=3, per_job=2, stall_seconds=STALL)

    await workforce.dispatch()

    # the higher priority first, up to its own share; the rest of the window to the other
    assert chunks_of(app, high) == [0, 1]
    assert chunks_of(app, low) == [0]
    assert {job["queue_name"] for job in queued(app)} == {QUEUE}
    assert {job["task_name"] for job in queued(app)} == {RUN_CHUNK}
    assert sorted(job["priority"] for job in queued(app)) == [1, 9, 9]


async def test_a_full_window_queues_nothing_more_and_never_a_chunk_twice(app: App) -> None:
    store = MemoryStore()
    job_id = await active_job(store, "only", priority=5)
    workforce = ProcrastinateWorkforce(store, app, window=4, per_job=4, stall_seconds=STALL)

    await workforce.dispatch()
    await workforce.dispatch()

    assert chunks_of(app, job_id) == [0, 1, 2, 3]


async def test_one_batch_queues_the_chunks_and_skips_one_queued_meanwhile(app: App) -> None:
    # procrastinate refuses a whole batch when one chunk's queueing lock is taken: the others still go in.
    store = MemoryStore()
    job = await store.job_for_engine(await active_job(store, "only", priority=5, chunks=4))
    workforce = ProcrastinateWorkforce(store, app, window=10, per_job=10, stall_seconds=STALL)
    assert await workforce.queue_chunks(job, [2]) == 1  # e.g. by a dispatch step that looked just before

    assert await workforce.queue_chunks(job, [0, 1, 2, 3]) == 3

    assert chunks_of(app, job.id) == [0, 1, 2, 3]
    assert await workforce.queue_chunks(job, []) == 0


async def test_chunks_leased_or_finished_are_not_dispatched(app: App) -> None:
    store = MemoryStore()
    job_id = await active_job(store, "only", priority=5, chunks=3)
    await store.claim_chunk(job_id, "someone", 60, chunk_no=0)  # a worker runs it already
    workforce = ProcrastinateWorkforce(store, app, window=10, per_job=10, stall_seconds=STALL)

    await workforce.dispatch()

    assert chunks_of(app, job_id) == [1, 2]


async def test_a_job_no_longer_active_gets_no_chunks(app: App) -> None:
    store = MemoryStore()
    job_id = await active_job(store, "paused", priority=5)
    await drive(store, job_id, S.PAUSING)
    workforce = ProcrastinateWorkforce(store, app, window=10, per_job=10, stall_seconds=STALL)

    await workforce.dispatch()

    assert chunks_of(app, job_id) == []


async def test_draining_a_job_cancels_its_queued_chunks_only(app: App) -> None:
    store = MemoryStore()
    drained = await active_job(store, "drained", priority=5, chunks=2)
    kept = await active_job(store, "kept", priority=5, chunks=2)
    workforce = ProcrastinateWorkforce(store, app, window=10, per_job=10, stall_seconds=STALL)
    await workforce.dispatch()

    await workforce.cancel_chunks(drained)

    assert chunks_of(app, drained) == []
    assert chunks_of(app, kept) == [0, 1]
    assert len(queued(app, "cancelled")) == 2


async def test_a_dead_workers_chunk_jobs_go_back_to_the_queue_with_their_leases_given_back(app: App) -> None:
    store = MemoryStore()
    job_id = await active_job(store, "only", priority=5, chunks=3)
    workforce = ProcrastinateWorkforce(store, app, window=10, per_job=10, stall_seconds=STALL)
    await workforce.dispatch()
    connector = app.connector
    assert isinstance(connector, testing.InMemoryConnector)
    live = (await connector.register_worker_one())["worker_id"]
    for row in connector.jobs.values():  # chunks 0 and 1 run on a worker whose heartbeats stopped, 2 on a live one
        row["status"], row["worker_id"] = "doing", (live if row["args"]["chunk_no"] == 2 else live + 1)
        await store.claim_chunk(job_id, f"worker-{row['worker_id']}", 60, chunk_no=row["args"]["chunk_no"])

    await workforce.retry_stalled()

    assert chunks_of(app, job_id) == [0, 1]  # queued again
    assert await store.free_chunks(job_id, 10) == [0, 1]  # and free to claim now, not in 60 s
    assert [job["args"]["chunk_no"] for job in queued(app, "doing")] == [2]


# --- the commands: PostgreSQL only, refused in one line --------------------------------------


def test_batchops_worker_refuses_sqlite_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["worker", "--data-dir", str(tmp_path)])

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output == f"error: {NEEDS_POSTGRESQL}\n"
    assert NEEDS_POSTGRESQL == "batchops worker needs PostgreSQL; with SQLite use batchops server --workers N"


def test_batchops_worker_names_an_unreachable_database_without_its_password() -> None:
    result = CliRunner().invoke(main, ["worker", "--database", "postgresql://u:s3cret@127.0.0.1:1/x"])

    assert result.exit_code == 1 and "Traceback" not in result.output and "s3cret" not in result.output
    assert result.output.startswith("error: cannot reach the database postgresql://u:***@127.0.0.1:1/x")


def test_a_dispatching_server_refuses_sqlite_before_opening_it(tmp_path: Path) -> None:
    port = str(free_port())  # not 8080, which something else on the machine may hold
    result = CliRunner().invoke(
        main, ["server", "--data-dir", str(tmp_path), "--dispatch", "procrastinate", "--port", port]
    )

    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output == "error: --dispatch procrastinate needs PostgreSQL (--database postgresql://…)\n"
    assert not (tmp_path / "batchops.sqlite3").exists()


def test_db_upgrade_creates_the_chunk_queue_once(postgres_database: str) -> None:
    url = parse(postgres_database)

    migrate.upgrade(url.sync_url)  # again: its tables exist already, nothing is applied twice

    with psycopg.connect(conninfo(url)) as conn:
        found = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    assert found == (True,)


@pytest.mark.parametrize("remote", [False, True], ids=["local-workers", "batchops-workers"])
async def test_a_starting_supervisor_leaves_remote_workers_leases_alone(tmp_path: Path, remote: bool) -> None:
    store = MemoryStore()
    job_id = await active_job(store, "leased", priority=5, chunks=1)
    await store.claim_chunk(job_id, "a-batchops-worker", 60)
    config = Settings(data_dir=tmp_path)
    clients = OneStore(config, RefusingS3())
    supervisor = Supervisor(config, store, clients, Workforce(), tick_seconds=60, remote_workers=remote)

    await supervisor.start()
    try:
        assert await store.has_live_lease(job_id) is remote  # a local worker's lease is void: its process is gone
    finally:
        await supervisor.stop()
        await clients.aclose()
