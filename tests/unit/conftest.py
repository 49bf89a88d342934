"""Fixtures for the unit tests (no object store): a job store on a fresh SQLite file (``store``), and every store
implementation in turn (memory, SQLite, PostgreSQL on the local server) on a manual clock (``any_store``), for
the store's contract tests, or on the real clock (``live_store``), for the engine's."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from batchops.store.base import Clock, Store
from batchops.store.memory import MemoryStore
from batchops.store.sql import SqlStore
from tests.support import postgres
from tests.support.clock import T0, ManualClock

STORES = ["memory", "sqlite", "postgres"]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(str(tmp_path / "db.sqlite3"))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(autouse=True)
def no_manifest_look(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests have no object store: CreateJob's look at the manifest (a network round trip, to AWS when no
    endpoint is set) is off. test_manifest_header_and_etag.py and the integration tests cover what it checks."""

    async def nothing(*_: object) -> None:
        return None

    monkeypatch.setattr("batchops.service.jobs.check_manifest", nothing)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """One migrated PostgreSQL database for the session (tests empty it before use)."""
    with postgres.fresh_database() as url:
        yield url


async def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Store:
    if kind == "memory":
        return MemoryStore(clock)
    if kind == "sqlite":
        return await SqlStore.open(str(tmp_path / "db.sqlite3"), clock=clock)
    url = request.getfixturevalue("postgres_database")  # migrated once; emptied here for each test
    postgres.empty(url)
    return await SqlStore.open(url, migrate_schema=False, clock=clock)


@pytest.fixture(params=STORES)
async def live_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each implementation of the Store protocol on the real clock: for the engine's tests, whose loops wait."""
    opened = await _open(request.param, request, tmp_path, time.time)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=STORES)
async def any_store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Store]:
    """Each implementation of the Store protocol, its time the manual ``clock``."""
    opened = await _open(request.param, request, tmp_path, clock)
    try:
        yield opened
    finally:
        await opened.close()
