"""The SQL plumbing the repositories share, on SQLite or PostgreSQL (``sqlite``/``postgres`` hold what differs):
engines, one write transaction at a time in this process, reads that never queue behind a write, and a full
disk remembered as the store's write fault.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from batchops.errors import DatabaseUnavailable, StoreFull
from batchops.store import migrate
from batchops.store.base import Clock
from batchops.store.health import WriteHealth
from batchops.store.sql import postgres, sqlite
from batchops.store.sql.urls import POSTGRESQL, DatabaseUrl


class Database:
    def __init__(
        self, url: DatabaseUrl, engine: AsyncEngine, reader: AsyncEngine, point: Engine | None, clock: Clock
    ) -> None:
        self.url = url
        self.engine = engine
        #: Connections for reads only (ListJobs, the engine's tick): never queued behind a write.
        self.reader = reader
        #: Read-only connections used on the event loop itself for one-row reads (``first``; SQLite only).
        self._point = point
        self.clock = clock
        # One writer at a time inside this process. SQLite allows one anyway (across processes too: write
        # transactions begin IMMEDIATE, so lock waits happen at BEGIN, under busy_timeout); on PostgreSQL,
        # other processes write at once, kept apart by row locks.
        self._write_lock = asyncio.Lock()
        self.health = WriteHealth(clock)

    @property
    def postgres(self) -> bool:
        return self.url.dialect == POSTGRESQL

    @classmethod
    async def open(cls, url: DatabaseUrl, *, migrate_schema: bool, clock: Clock) -> Database:
        """Open (and, unless ``migrate_schema`` is False, migrate) the database; DatabaseUnavailable if it
        cannot be reached (checked by the migration)."""
        if migrate_schema:
            await asyncio.to_thread(upgrade, url)
        if url.dialect == POSTGRESQL:
            return cls(url, *postgres.engines(url), None, clock)
        return cls(url, *sqlite.engines(url), clock)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()
        if self._point is not None:
            self._point.dispose()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction (on SQLite, BEGIN IMMEDIATE). A full disk raises StoreFull and is remembered as
        the store's write fault (``health``) until a write commits again."""
        async with self._write_lock:
            try:
                async with self.engine.connect() as conn:
                    await conn.execution_options(**{sqlite.WRITE_OPTION: True})
                    async with conn.begin():
                        yield conn
            except DBAPIError as exc:
                if not self._is_disk_full(exc):
                    raise
                raise self.health.failed(str(exc.orig)) from exc
            self.health.committed()

    def _is_disk_full(self, exc: DBAPIError) -> bool:
        return postgres.is_disk_full(exc) if self.postgres else sqlite.is_disk_full(exc)

    async def probe_write(self) -> bool:
        """Write one page (or row version): True if the store has room again.

        Clears the write fault on success, sets it on a full disk; another write error is raised."""
        try:
            async with self.write() as conn:
                await (postgres.probe_write(conn) if self.postgres else sqlite.probe_write(conn))
        except StoreFull:
            return False
        return True

    def read(self) -> AsyncConnection:
        """A read connection (``async with db.read() as conn``), from the read-only pool."""
        return self.reader.connect()

    async def first(self, query: Any) -> Any:
        """The first row of a one-row read (by key). On SQLite, read on the event loop itself: a WAL read waits
        for no writer and takes ~0.2 ms, while aiosqlite's thread hand-offs cost ~1.4 ms and, when the CPUs are
        busy with tasks, each hand-off can wait for a time slice (DescribeJob's latency tail)."""
        if self._point is None:
            async with self.read() as conn:
                return (await conn.execute(query)).first()
        with self._point.connect() as conn:
            return conn.execute(query).first()


def upgrade(url: DatabaseUrl) -> None:
    """Apply the migrations; DatabaseUnavailable (naming the URL without its password) if the database cannot
    be reached."""
    try:
        migrate.upgrade(url.sync_url)
    except DBAPIError as exc:
        if exc.connection_invalidated or _never_connected(exc):
            raise DatabaseUnavailable(f"cannot reach the database {url.shown}: {_first_line(exc.orig)}") from None
        raise


def _never_connected(exc: DBAPIError) -> bool:
    # psycopg's OperationalError at connect (refused, unknown host, no such database, bad password), or
    # SQLite's "unable to open database file".
    return type(exc.orig).__name__ == "OperationalError"


def _first_line(error: BaseException | None) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class Repository:
    """Named reads and writes of one aggregate, over the ``Database`` every repository of a store shares."""

    def __init__(self, db: Database) -> None:
        self._db = db
