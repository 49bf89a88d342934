"""``SqlStore``: the whole ``Store`` on one SQL database (a SQLite file or PostgreSQL), its repositories sharing
one ``Database``; ``open_store`` opens it by URL (the server, its worker processes, the demo, ``batchops db``)."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from batchops.store.base import Clock, WriteFault
from batchops.store.sql.database import Database
from batchops.store.sql.jobs import SqlJobs
from batchops.store.sql.keylocks import SqlKeyLocks
from batchops.store.sql.progress import SqlProgress
from batchops.store.sql.reads import SqlReads
from batchops.store.sql.retries import SqlRetries
from batchops.store.sql.sessions import SqlSessions
from batchops.store.sql.urls import DatabaseUrl, parse
from batchops.store.sql.webhooks import SqlWebhooks
from batchops.store.sql.work import SqlWork


# The repositories are bases rather than attributes so the store answers the ``Store`` protocol by name
# without a forwarding method per operation; each one reaches the database only through the shared ``Database``.
class SqlStore(SqlJobs, SqlWork, SqlKeyLocks, SqlReads, SqlSessions, SqlRetries, SqlWebhooks, SqlProgress):
    @classmethod
    async def open(
        cls, url: str | Path | DatabaseUrl, *, migrate_schema: bool = True, clock: Clock = time.time
    ) -> SqlStore:
        """Open (and, unless ``migrate_schema`` is False, migrate) the store at ``url`` (a database URL or a
        SQLite file's path); several processes may open it (the server and its workers). DatabaseUnavailable
        for a URL batchops does not take or a database it cannot reach."""
        where = url if isinstance(url, DatabaseUrl) else parse(url)
        return cls(await Database.open(where, migrate_schema=migrate_schema, clock=clock))

    @property
    def db(self) -> Database:
        return self._db

    @property
    def engine(self) -> AsyncEngine:
        """The write engine (tests read and shape tables through it)."""
        return self._db.engine

    @property
    def write_fault(self) -> WriteFault | None:
        return self._db.health.write_fault

    @write_fault.setter
    def write_fault(self, fault: WriteFault | None) -> None:
        self._db.health.write_fault = fault

    @property
    def last_write_ok(self) -> float:
        return self._db.health.last_write_ok

    async def close(self) -> None:
        await self._db.close()

    async def rest(self, seconds: float) -> None:
        await self._db.health.rest(seconds)

    def check_writable(self) -> None:
        self._db.health.check_writable()

    async def probe_write(self) -> bool:
        return await self._db.probe_write()


async def open_store(url: str | Path | DatabaseUrl, *, migrate_schema: bool = True) -> SqlStore:
    """The server's store at ``url`` (``Settings.database_url``): what every process that serves or runs jobs
    opens."""
    return await SqlStore.open(url, migrate_schema=migrate_schema)
