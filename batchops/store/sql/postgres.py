"""What the store does on PostgreSQL only: pooled psycopg 3 connections (writes, and reads in read-only
transactions), a full disk by its SQLSTATE, and the probe write. Many processes on many machines share one
database: what keeps them apart is row locks (a claim's ``FOR UPDATE SKIP LOCKED``, a job's ``FOR SHARE``),
not a lock in one process."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from batchops.store.sql.urls import DatabaseUrl

#: SQLSTATE disk_full: PostgreSQL could not extend a file (the table, an index or its WAL).
DISK_FULL = "53100"
#: A session idle inside a transaction this long is ended by the server, releasing its row locks: a process
#: frozen mid-transaction (SIGSTOP, a VM paused, a partition) must not hold a job's row until it wakes, stalling
#: every other process's flush of that job. Far above any pause between one transaction's statements here (ms);
#: below the chunk lease (60 s), so the others go on before its chunks would be taken over anyway.
IDLE_IN_TRANSACTION_MS = 15_000
_WRITES = {"options": f"-c idle_in_transaction_session_timeout={IDLE_IN_TRANSACTION_MS}"}
#: Reads never write, whatever a bug might ask (the ``query_only`` of the SQLite reader).
_READ_ONLY = {"options": f"{_WRITES['options']} -c default_transaction_read_only=on"}


def engines(url: DatabaseUrl) -> tuple[AsyncEngine, AsyncEngine]:
    """The write engine and the read engine (pre-pinged: a server restarted meanwhile costs no failed read)."""
    # hide_parameters: a database error's message (which may be logged) names the statement, not its values (a job's
    # spec carries its webhook secret).
    engine = create_async_engine(
        url.async_url, pool_size=4, max_overflow=4, pool_pre_ping=True, hide_parameters=True, connect_args=_WRITES
    )
    reader = create_async_engine(
        url.async_url, pool_size=2, max_overflow=6, pool_pre_ping=True, connect_args=_READ_ONLY
    )
    return engine, reader


def is_disk_full(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == DISK_FULL


async def probe_write(conn: AsyncConnection) -> None:
    """Write one row version (the schema's revision, set to itself): it needs room in the table and the WAL."""
    await conn.execute(text("UPDATE alembic_version SET version_num = version_num"))
