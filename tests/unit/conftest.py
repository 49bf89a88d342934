"""Fixtures for the unit tests (no network): a job store on a fresh SQLite file."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from batchops.store.sqlstore import Store


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open_sqlite(str(tmp_path / "db.sqlite3"))
    try:
        yield opened
    finally:
        await opened.close()
