"""Locks on names (a replica's key) that an operation's tasks hold one at a time: the ``KeyLocks`` a task finds
in its ``TaskContext``, and the in-process FIFO every holding goes through first.

The engine gives tasks locks held across processes through the job store (``engine.keylocks``); a context built
without an engine (unit tests, tools) gets ``LOCAL_KEY_LOCKS``, which serialises the tasks of this process only.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Protocol


class KeyLocks(Protocol):
    def hold(self, name: str) -> AbstractAsyncContextManager[None]:
        """Wait until no other task holds ``name``, then hold it for the ``async with`` block."""
        ...


class KeyedLocks:
    """One FIFO lock per name, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(name, (asyncio.Lock(), 0))
        self._locks[name] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[name]
            if users == 1:
                del self._locks[name]
            else:
                self._locks[name] = (lock, users - 1)


#: This process's holdings, one at a time per name: in front of the store's lock too, so the tasks of one process
#: queue here rather than poll the store against each other.
IN_PROCESS = KeyedLocks()
#: Key locks for a context without an engine: this process only.
LOCAL_KEY_LOCKS: KeyLocks = IN_PROCESS
