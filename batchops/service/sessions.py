"""Console sign-in sessions: which are live, so logout (or a credential change) ends a copied cookie too."""

from __future__ import annotations

import time
from collections.abc import Callable

from batchops.store.base import SessionStore


class ConsoleSessions:
    def __init__(self, store: SessionStore, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    async def start(self, session_id: str, account_id: str, lifetime_seconds: float) -> None:
        """Record a new session; sessions older than ``lifetime_seconds`` are dropped on the way."""
        await self._store.start_console_session(session_id, account_id, self._clock() - lifetime_seconds)

    async def account_of(self, session_id: str) -> str | None:
        """The account a live session belongs to; None once it ended."""
        return await self._store.console_session_account(session_id)

    async def end(self, session_id: str) -> None:
        await self._store.end_console_session(session_id)
