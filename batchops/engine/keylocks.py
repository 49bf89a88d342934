"""Key locks held across processes through the job store: what the engine gives tasks as ``TaskContext.key_locks``.

A holding first queues in this process (``operations.keylocks.IN_PROCESS``: FIFO, no store traffic between tasks
of one process), then takes the store's lock on the name under a token of its own, polling with growing waits
while a task in another process holds it. The store's lock has a lease, renewed while held, so a holder that dies
(kill -9, a lost host) blocks the name for one lease at most. If the store cannot be written, taking waits and
tries again (tasks hold as their outcomes would); letting go that fails leaves the lease to expire.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from batchops.engine.backoff import Backoff
from batchops.operations.keylocks import IN_PROCESS, KeyedLocks
from batchops.store.base import Store

log = logging.getLogger(__name__)

#: How long a holder's lock outlives its last renewal (a dead holder's blocks others this long at most).
KEY_LOCK_SECONDS = 60.0
KEY_LOCK_RENEW_SECONDS = 20.0
#: Waits between tries while another process holds the name: short first (a replica key's tasks are short).
POLL_FIRST_SECONDS = 0.02
POLL_MOST_SECONDS = 1.0


class StoreKeyLocks:
    """One job's key locks (``KeyLocks``), held across every process that shares the store."""

    def __init__(
        self,
        store: Store,
        job_id: str,
        *,
        lease_seconds: float = KEY_LOCK_SECONDS,
        renew_seconds: float = KEY_LOCK_RENEW_SECONDS,
        local: KeyedLocks = IN_PROCESS,
    ) -> None:
        self._store = store
        self._job_id = job_id
        self._lease_seconds = lease_seconds
        self._renew_seconds = renew_seconds
        self._local = local

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[None]:
        async with self._local.hold(name):
            owner = f"keylock-{uuid.uuid4().hex}"
            try:
                await self._take(name, owner)
            except asyncio.CancelledError:  # the task stopped while taking: a take may have committed all the same
                await self._let_go(name, owner)
                raise
            renewal = asyncio.create_task(self._renew(name, owner), name=f"keylock-renew-{owner}")
            try:
                yield
            finally:
                renewal.cancel()
                await asyncio.gather(renewal, return_exceptions=True)
                await self._let_go(name, owner)

    async def _take(self, name: str, owner: str) -> None:
        waits = Backoff(POLL_FIRST_SECONDS, POLL_MOST_SECONDS)
        while True:
            try:
                if await self._store.lock_key(self._job_id, name, owner, self._lease_seconds):
                    return
            except Exception as exc:  # the store cannot write now: wait as for a holder
                log.warning("job %s: a key lock cannot be taken yet (%s)", self._job_id, type(exc).__name__)
            await asyncio.sleep(waits.failed())

    async def _renew(self, name: str, owner: str) -> None:
        while True:
            await asyncio.sleep(self._renew_seconds)
            try:
                held = await self._store.renew_key_lock(name, owner, self._lease_seconds)
            except Exception as exc:  # tried again at the next renewal, within the lease
                log.warning("job %s: a key lock not renewed (%s)", self._job_id, type(exc).__name__)
                continue
            if not held:
                log.warning("job %s: a key lock expired while held (the store was out of reach)", self._job_id)
                return

    async def _let_go(self, name: str, owner: str) -> None:
        try:
            await self._store.unlock_key(name, owner)
        except Exception as exc:
            log.warning("job %s: a key lock not given back (%s); it expires by itself", self._job_id, exc)
