"""Fixtures for the unit tests (no network): a job store on a fresh SQLite file (``store``), and every store
implementation in turn on a manual clock (``any_store``), for the store's contract tests, or on the real clock
(``live_store``), for the engine's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from batchops.store.base import Store
from batchops.store.memory import MemoryStore
from batchops.store.sqlite import SqliteStore
from tests.support.clock import T0, ManualClock


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    opened = await SqliteStore.open(str(tmp_path / "db.sqlite3"))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture(params=["memory", "sqlite"])
async def live_store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """Each implementation of the Store protocol on the real clock: for the engine's tests, whose loops wait."""
    opened: Store = MemoryStore() if request.param == "memory" else await SqliteStore.open(str(tmp_path / "db.sqlite3"))
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(params=["memory", "sqlite"])
async def any_store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> AsyncIterator[Store]:
    """Each implementation of the Store protocol, its time the manual ``clock``."""
    opened: Store
    if request.param == "memory":
        opened = MemoryStore(clock)
    else:
        opened = await SqliteStore.open(str(tmp_path / "db.sqlite3"), clock=clock)
    try:
        yield opened
    finally:
        await opened.close()
