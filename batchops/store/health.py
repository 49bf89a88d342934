"""Whether a store can write, as every implementation tracks it: a write that found the disk full sets the
store's ``write_fault`` (kept in memory, since it cannot be written), the next write that commits clears it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from time import monotonic

from batchops.errors import StoreFull
from batchops.store.base import Clock, WriteFault

log = logging.getLogger(__name__)


class WriteHealth:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        #: Set while the store cannot write (its disk is full), cleared by the next write that commits. Read by
        #: /healthz, CreateJob and the job views.
        self.write_fault: WriteFault | None = None
        #: ``monotonic()`` of the last write that committed (the engine probes a store that has been quiet).
        self.last_write_ok = monotonic()
        self._writable = asyncio.Event()  # cleared with a write fault, set by the next write that commits
        self._writable.set()

    def committed(self) -> None:
        self.write_fault = None
        self.last_write_ok = monotonic()
        self._writable.set()

    def failed(self, cause: str) -> StoreFull:
        """Remember that a write found no room; returns the error to raise."""
        self._writable.clear()
        if self.write_fault is None:
            self.write_fault = WriteFault(cause, self._clock())
            log.warning(
                "the store cannot write: %s; free space under the data directory", cause, extra={"action": "disk_full"}
            )
        return StoreFull(cause)

    async def rest(self, seconds: float) -> None:
        """Wait ``seconds`` before trying a failed write again, or less if the store can write again meanwhile
        (the engine's probe found room): work held by a full disk resumes as soon as space returns."""
        if self.write_fault is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):  # not wait_for: on 3.11 it can swallow the caller's cancel
            async with asyncio.timeout(seconds):
                await self._writable.wait()

    def check_writable(self) -> None:
        """Refuse new work at once (StoreFull) while the last write found the disk full."""
        if self.write_fault is not None:
            raise StoreFull(self.write_fault.cause)
