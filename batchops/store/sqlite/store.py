"""``SqliteStore``: the whole ``Store`` on one SQLite file, its repositories sharing one ``Database``."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncEngine

from batchops.store.base import Clock, WriteFault
from batchops.store.sqlite.database import Database
from batchops.store.sqlite.jobs import SqliteJobs
from batchops.store.sqlite.reads import SqliteReads
from batchops.store.sqlite.sessions import SqliteSessions
from batchops.store.sqlite.work import SqliteWork


# The repositories are bases rather than attributes so the store answers the ``Store`` protocol by name
# without a forwarding method per operation; each one reaches SQLite only through the shared ``Database``.
class SqliteStore(SqliteJobs, SqliteWork, SqliteReads, SqliteSessions):
    @classmethod
    async def open(cls, path: str, *, migrate_schema: bool = True, clock: Clock = time.time) -> SqliteStore:
        """Open (and, unless ``migrate_schema`` is False, migrate) the SQLite store; several processes may
        open the same file (the server and its workers): WAL, busy_timeout and BEGIN IMMEDIATE writes."""
        return cls(await Database.open(path, migrate_schema=migrate_schema, clock=clock))

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
