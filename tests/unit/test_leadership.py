"""Several servers on one PostgreSQL database: the one holding the advisory lock runs its engine, the others stand
by; when the leader's lock session ends (its process died, or its connection broke) the leader steps down at once
and a standby takes over within seconds. The engines here only record being started and stopped: what is tested
is who runs one, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from batchops.domain.status import JobStatus
from batchops.engine.leadership import LEADER, STANDBY, AdvisoryLock, Leadership
from batchops.engine.queue import conninfo
from batchops.server import build_app
from batchops.settings import Settings
from batchops.store.base import WriteFault
from batchops.store.sql import SqlStore
from batchops.store.sql.urls import DatabaseUrl, parse
from tests.support import postgres
from tests.support.job_store import add_chunk, drive, good, new_job

#: A standby tries, and a leader checks its lock, this often here (1 s in the server).
EVERY = 0.1


class RecordedEngine:
    """An engine that records its start and stop."""

    def __init__(self) -> None:
        self.running = False
        self.terms = 0
        self.woken = 0

    @property
    def role(self) -> str:
        return LEADER

    async def start(self) -> None:
        self.running = True
        self.terms += 1

    async def stop(self) -> None:
        self.running = False

    def wake(self) -> None:
        self.woken += 1


class Server:
    """One server's leadership over its recorded engine."""

    def __init__(self, url: DatabaseUrl, key: int) -> None:
        self.key = key
        self.engine = RecordedEngine()
        self.lock = AdvisoryLock(url, key)
        self.leadership = Leadership(self.lock, self._build, retry_seconds=EVERY, check_seconds=EVERY)

    def _build(self) -> RecordedEngine:
        return self.engine

    @property
    def leads(self) -> bool:
        return self.leadership.role == LEADER and self.engine.running


@pytest.fixture
def url(postgres_database: str) -> DatabaseUrl:
    return parse(postgres_database)


@pytest.fixture
async def servers(url: DatabaseUrl) -> AsyncIterator[list[Server]]:
    key = random.getrandbits(62)  # a lock of this test's own
    started = [Server(url, key), Server(url, key)]
    for server in started:
        await server.leadership.start()
    yield started
    for server in started:
        await server.leadership.stop()


async def eventually(predicate: Callable[[], bool], timeout: float, what: str) -> float:
    """Wait until ``predicate()`` holds; how long it took (fails after ``timeout`` seconds)."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


def leaders(servers: list[Server]) -> list[Server]:
    return [server for server in servers if server.leads]


def end_lock_session(url: DatabaseUrl, key: int) -> int:
    """End the session holding the lock ``key``, as PostgreSQL does when its process dies; how many ended."""
    query = (
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted "
        "AND classid = %s AND objid = %s AND objsubid = 1"  # a bigint key: its high and low 32 bits
    )
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        return len(conn.execute(query, (key >> 32, key & 0xFFFFFFFF)).fetchall())


async def test_one_of_two_servers_leads_and_the_other_stands_by(servers: list[Server]) -> None:
    await eventually(lambda: len(leaders(servers)) == 1, 5, "one leader")
    await asyncio.sleep(5 * EVERY)  # several tries of the standby: it must still stand by (a deliberate wait)

    leader, standby = sorted(servers, key=lambda s: not s.leads)
    assert leaders(servers) == [leader]
    assert standby.leadership.role == STANDBY and standby.engine.terms == 0
    leader.leadership.wake()
    standby.leadership.wake()
    assert (leader.engine.woken, standby.engine.woken) == (1, 0)  # a standby has no engine to wake


async def test_the_leaders_session_ends_and_the_standby_takes_over_within_seconds(
    servers: list[Server], url: DatabaseUrl
) -> None:
    await eventually(lambda: len(leaders(servers)) == 1, 5, "one leader")
    old, standby = sorted(servers, key=lambda s: not s.leads)

    assert end_lock_session(url, old.key) == 1  # its lock connection breaks (its process died, its host is cut off)

    took = await eventually(lambda: standby.leads, 5, "the standby to take over")
    assert took < 3
    await eventually(lambda: not old.engine.running, 5, "the old leader to step down")
    assert old.leadership.role == STANDBY
    await asyncio.sleep(5 * EVERY)  # the old leader competes again: it must not lead while the new one holds
    assert leaders(servers) == [standby]


async def test_a_leader_that_stops_lets_the_standby_lead(servers: list[Server]) -> None:
    await eventually(lambda: len(leaders(servers)) == 1, 5, "one leader")
    old, standby = sorted(servers, key=lambda s: not s.leads)

    await old.leadership.stop()  # a server shut down (SIGTERM) closes its lock connection

    await eventually(lambda: standby.leads, 5, "the standby to take over")
    assert not old.engine.running and old.engine.terms == 1


async def test_a_dispatching_servers_healthz_says_standby_until_it_takes_the_lead(
    postgres_database: str, tmp_path: Path
) -> None:
    postgres.empty(postgres_database)  # an earlier test's jobs would give this engine work to stop mid-way
    settings = Settings(data_dir=tmp_path, dispatch="procrastinate", database=postgres_database)
    store = await SqlStore.open(postgres_database, migrate_schema=False)
    other_server = AdvisoryLock(parse(postgres_database))  # the default key: the one every server competes for
    assert await other_server.try_take()
    app = build_app(settings, store)
    shutdown = asyncio.Event()
    lifespan = asyncio.create_task(_run_lifespan(app, shutdown))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    try:

        async def role() -> str:
            return str((await client.get("/healthz")).json()["role"])

        assert await role() == "standby"
        await other_server.release()  # the other server is gone: this one takes the lead within seconds
        started = time.monotonic()
        while await role() != LEADER:
            assert time.monotonic() - started < 5, "the server did not take the lead"
            await asyncio.sleep(0.05)
    finally:
        await other_server.release()
        await _stop(lifespan, shutdown)  # the lifespan's end stops the engine and closes the store
        await client.aclose()


async def test_a_leader_dispatching_a_jobs_chunks_stops_within_seconds(postgres_database: str, tmp_path: Path) -> None:
    postgres.empty(postgres_database)
    store = await SqlStore.open(postgres_database, migrate_schema=False)
    job_id = await new_job(store)
    await drive(store, job_id, JobStatus.PREPARING)
    for chunk_no in range(4):
        await add_chunk(store, job_id, chunk_no, [good(chunk_no * 5 + i) for i in range(5)], (chunk_no + 1) * 5)
    await drive(store, job_id, JobStatus.READY)  # no other server: this one leads, makes it Active, queues chunks
    settings = Settings(data_dir=tmp_path, dispatch="procrastinate", database=postgres_database)
    shutdown = asyncio.Event()
    lifespan = asyncio.create_task(_run_lifespan(build_app(settings, store), shutdown))
    try:
        await eventually_async(lambda: _queued_chunks(postgres_database), 10, "its chunks queued for the workers")
    finally:
        await _stop(lifespan, shutdown)


async def eventually_async(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    started = time.monotonic()
    while not await predicate():
        assert time.monotonic() - started < timeout, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.05)


async def _queued_chunks(url: str) -> bool:
    async with await psycopg.AsyncConnection.connect(conninfo(parse(url))) as conn:
        row = await (await conn.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")).fetchone()
    return bool(row and row[0])


async def _stop(lifespan: asyncio.Task[None], shutdown: asyncio.Event) -> None:
    """Shut the server down; it must stop within 20 s (else the failure says what each task still waits on)."""
    shutdown.set()
    done, _ = await asyncio.wait({lifespan}, timeout=20)
    assert done, "the server did not stop within 20 s; its tasks:\n" + _stacks()
    lifespan.result()


def _stacks() -> str:
    """Every task still running, with the chain of awaits it is stuck in (what a hung shutdown waits for)."""
    lines = []
    for task in asyncio.all_tasks():
        lines.append(task.get_name())
        awaited: Any = task.get_coro()
        while awaited is not None and hasattr(awaited, "cr_frame"):
            frame = awaited.cr_frame
            if frame is not None:
                lines.append(f"  {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}")
            awaited = awaited.cr_await
    return "\n".join(lines)


async def _run_lifespan(app: Any, shutdown: asyncio.Event) -> None:
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        if inbox[0]["type"] == "lifespan.shutdown":
            await shutdown.wait()
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        assert not message["type"].endswith(".failed"), message

    await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)


async def test_a_standby_clears_its_stores_write_fault_once_the_store_writes_again(
    postgres_database: str, tmp_path: Path
) -> None:
    postgres.empty(postgres_database)
    settings = Settings(data_dir=tmp_path, dispatch="procrastinate", database=postgres_database)
    store = await SqlStore.open(postgres_database, migrate_schema=False)
    other_server = AdvisoryLock(parse(postgres_database))
    assert await other_server.try_take()  # this server stays a standby: no supervisor's store watch runs here
    app = build_app(settings, store)
    shutdown = asyncio.Event()
    lifespan = asyncio.create_task(_run_lifespan(app, shutdown))
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
    try:
        store.write_fault = WriteFault("could not extend file: No space left on device", time.time())
        first = await client.get("/healthz")
        assert (first.status_code, first.json()["role"]) == (503, "standby")

        started = time.monotonic()  # room is back (the database was never full): the standby's probe sees it
        while (await client.get("/healthz")).status_code != 200:
            assert time.monotonic() - started < 5, "the standby's /healthz stayed 503"
            await asyncio.sleep(0.05)
        assert store.write_fault is None
    finally:
        await other_server.release()
        await _stop(lifespan, shutdown)
        await client.aclose()
