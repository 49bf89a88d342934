"""Console sessions that are signed in, in SQL (logout deletes the row, so a copied cookie ends with it)."""

from __future__ import annotations

from sqlalchemy import delete, insert, select

from batchops.store.schema import console_sessions
from batchops.store.sql.database import Repository


class SqlSessions(Repository):
    async def start_console_session(self, session_id: str, account_id: str, expired_before: float) -> None:
        """Record a signed-in session (and forget those that expired)."""
        async with self._db.write() as conn:
            await conn.execute(delete(console_sessions).where(console_sessions.c.created_at < expired_before))
            values = {"id": session_id, "account_id": account_id, "created_at": self._db.clock()}
            await conn.execute(insert(console_sessions).values(**values))

    async def console_session_account(self, session_id: str) -> str | None:
        """The account of a session still signed in; None once it was ended (or never was)."""
        row = await self._db.first(select(console_sessions.c.account_id).where(console_sessions.c.id == session_id))
        return None if row is None else str(row.account_id)

    async def end_console_session(self, session_id: str) -> None:
        async with self._db.write() as conn:
            await conn.execute(delete(console_sessions).where(console_sessions.c.id == session_id))
