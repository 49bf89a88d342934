"""What the store does on SQLite only: one file shared by processes (WAL, busy_timeout, writes that begin
IMMEDIATE), a read-only pool, and point reads on the event loop's own thread; SQLITE_FULL is a full disk.

Several processes may open the same file (the server and its workers): WAL, busy_timeout and writes that take
SQLite's lock at BEGIN keep them apart.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from batchops.store.sql.urls import DatabaseUrl

#: Execution option ``Database.write`` sets: its transaction begins IMMEDIATE (takes SQLite's write lock at once).
WRITE_OPTION = "batchops_write"


def engines(url: DatabaseUrl) -> tuple[AsyncEngine, AsyncEngine, Engine]:
    """The write engine, the read-only engine, and the sync read-only engine of point reads."""
    path = url.sqlite_path
    # aiosqlite logs every call with its arguments at DEBUG: rows and parameters carry webhook secrets (a job's spec),
    # so `--log-level debug` must not reach it.
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
    # hide_parameters: a database error's message (which may be logged) names the statement, not its values.
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}", pool_size=4, max_overflow=4, hide_parameters=True)
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
    return engine, reader, point


def is_disk_full(exc: DBAPIError) -> bool:
    """SQLITE_FULL: the real engine found no room to write (in the database, its WAL, or under max_page_count)."""
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code == sqlite3.SQLITE_FULL or (code is None and "database or disk is full" in str(exc.orig))


async def probe_write(conn: AsyncConnection) -> None:
    """Write one page: the database header's user_version, set to itself."""
    version = int((await conn.exec_driver_sql("PRAGMA user_version")).scalar() or 0)
    await conn.exec_driver_sql(f"PRAGMA user_version = {version}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first: setting WAL may itself wait for another process
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _driver_leaves_transactions_to_us(dbapi_connection: Any, _record: Any) -> None:
    # The sqlite3 driver would BEGIN (deferred) only before the first INSERT/UPDATE, after the
    # transaction's reads: two processes could read the same free chunk, then both lease it. ``_begin``
    # emits BEGIN itself instead (SQLAlchemy's documented recipe for pysqlite/aiosqlite).
    dbapi_connection.isolation_level = None


def _begin(conn: Any) -> None:
    """Writes begin IMMEDIATE: the lock wait (busy_timeout) happens here, never mid-transaction."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()
