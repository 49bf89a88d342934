"""Key locks in SQL: one row per held name; taking one is a compare-and-set (insert, or take over a row past its
expiry) in one statement, so two processes never both hold a name; a dead holder's row expires."""

from __future__ import annotations

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from batchops.store.rules import lock_digest
from batchops.store.schema import key_locks
from batchops.store.sql.database import Repository


class SqlKeyLocks(Repository):
    async def lock_key(self, job_id: str, name: str, owner: str, lease_seconds: float) -> bool:
        now = self._db.clock()
        values = {"name": lock_digest(name), "job_id": job_id, "owner": owner, "expires": now + lease_seconds}
        upsert = (pg_insert if self._db.postgres else sqlite_insert)(key_locks).values(**values)
        take = upsert.on_conflict_do_update(
            index_elements=[key_locks.c.name],
            set_={column: upsert.excluded[column] for column in ("job_id", "owner", "expires")},
            where=key_locks.c.expires < now,  # a live holder's row is left alone: then no row comes back
        ).returning(key_locks.c.owner)
        async with self._db.write() as conn:
            return (await conn.execute(take)).first() is not None

    async def renew_key_lock(self, name: str, owner: str, lease_seconds: float) -> bool:
        query = (
            update(key_locks)
            .where(key_locks.c.name == lock_digest(name), key_locks.c.owner == owner)
            .values(expires=self._db.clock() + lease_seconds)
        )
        async with self._db.write() as conn:
            return bool((await conn.execute(query)).rowcount)

    async def unlock_key(self, name: str, owner: str) -> None:
        query = delete(key_locks).where(key_locks.c.name == lock_digest(name), key_locks.c.owner == owner)
        async with self._db.write() as conn:
            await conn.execute(query)
