"""The SQLite plumbing the repositories share: engines and pragmas, one write transaction at a time (BEGIN
IMMEDIATE), reads that never queue behind a write, and a full disk remembered as the store's write fault.

Several processes may open the same file (the server and its workers): WAL, busy_timeout and writes that take
SQLite's lock at BEGIN keep them apart.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from batchops.errors import StoreFull
from batchops.store import migrate
from batchops.store.base import Clock
from batchops.store.health import WriteHealth


class Database:
    def __init__(self, engine: AsyncEngine, reader: AsyncEngine, point: Engine | None, clock: Clock) -> None:
        self.engine = engine
        #: Connections for reads only (ListJobs, the engine's tick): never queued behind a write.
        self.reader = reader
        #: Read-only connections used on the event loop itself for one-row reads (``first``).
        self._point = point
        self.clock = clock
        # One writer at a time inside this process: SQLite allows one anyway (across processes too:
        # write transactions begin IMMEDIATE, so lock waits happen at BEGIN, under busy_timeout).
        self._write_lock = asyncio.Lock()
        self.health = WriteHealth(clock)

    @classmethod
    async def open(cls, path: str, *, migrate_schema: bool, clock: Clock) -> Database:
        """Open (and, unless ``migrate_schema`` is False, migrate) the SQLite file at ``path``."""
        if migrate_schema:
            await asyncio.to_thread(migrate.upgrade, f"sqlite:///{path}")
        engine = create_async_engine(f"sqlite+aiosqlite:///{path}", pool_size=4, max_overflow=4)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "connect", _driver_leaves_transactions_to_us)
        event.listen(engine.sync_engine, "begin", _begin)
        reader = create_async_engine(f"sqlite+aiosqlite:///{path}", pool_size=2, max_overflow=6)
        event.listen(reader.sync_engine, "connect", _sqlite_pragmas)
        event.listen(reader.sync_engine, "connect", _read_only)
        # Used only on the event loop's thread, one user at a time (the pool hands a connection out once).
        point = create_engine(f"sqlite:///{path}", pool_size=2, connect_args={"check_same_thread": False})
        event.listen(point, "connect", _sqlite_pragmas)
        event.listen(point, "connect", _read_only)
        return cls(engine, reader, point, clock)

    async def close(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()
        if self._point is not None:
            self._point.dispose()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One write transaction (BEGIN IMMEDIATE). A full disk raises StoreFull and is remembered as the store's
        write fault (``health``) until a write commits again."""
        async with self._write_lock:
            try:
                async with self.engine.connect() as conn:
                    await conn.execution_options(**{_WRITE_OPTION: True})
                    async with conn.begin():
                        yield conn
            except DBAPIError as exc:
                if not _is_disk_full(exc):
                    raise
                raise self.health.failed(str(exc.orig)) from exc
            self.health.committed()

    async def probe_write(self) -> bool:
        """Write one page (the database header's user_version, set to itself): True if the store has room again.

        Clears the write fault on success, sets it on a full disk; another write error is raised."""
        try:
            async with self.write() as conn:
                version = int((await conn.exec_driver_sql("PRAGMA user_version")).scalar() or 0)
                await conn.exec_driver_sql(f"PRAGMA user_version = {version}")
        except StoreFull:
            return False
        return True

    def read(self) -> AsyncConnection:
        """A read connection (``async with db.read() as conn``), from the read-only pool."""
        return self.reader.connect()

    async def first(self, query: Any) -> Any:
        """The first row of a one-row read (by key), read on the event loop itself: a WAL read waits for no
        writer and takes ~0.2 ms, while aiosqlite's thread hand-offs cost ~1.4 ms and, when the CPUs are busy
        with tasks, each hand-off can wait for a time slice (DescribeJob's latency tail)."""
        if self._point is None:
            async with self.read() as conn:
                return (await conn.execute(query)).first()
        with self._point.connect() as conn:
            return conn.execute(query).first()


def _is_disk_full(exc: DBAPIError) -> bool:
    """SQLITE_FULL: the real engine found no room to write (in the database, its WAL, or under max_page_count)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or (code is None and "database or disk is full" in str(exc.orig))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: setting WAL may itself wait for another process
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


#: Execution option ``Database.write`` sets: its transaction begins IMMEDIATE (takes SQLite's write lock at once).
_WRITE_OPTION = "batchops_write"


def _driver_leaves_transactions_to_us(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 driver would BEGIN (deferred) only before the first INSERT/UPDATE, after the
    # transaction's reads: two processes could read the same free chunk, then both lease it. ``_begin``
    # emits BEGIN itself instead (SQLAlchemy's documented recipe for pysqlite/aiosqlite).
    dbapi_connection.isolation_level = None


def _begin(conn: Any) -> None:
    """Writes begin IMMEDIATE: the lock wait (busy_timeout) happens here, never mid-transaction."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE_OPTION) else "BEGIN")


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


class Repository:
    """Named reads and writes of one aggregate, over the ``Database`` every repository of a store shares."""

    def __init__(self, db: Database) -> None:
        self._db = db
