"""The engine of one server: the supervisor, the workforce that runs the tasks of Active jobs, and the S3 clients
they share, started and stopped together. ``batchops.server`` (the composition root) chooses the parts."""

from __future__ import annotations

from dataclasses import dataclass

from batchops.engine.clients import StoreClients
from batchops.engine.supervisor import Supervisor, Workforce


@dataclass(frozen=True)
class Engine:
    supervisor: Supervisor
    workforce: Workforce
    clients: StoreClients

    async def start(self) -> None:
        await self.supervisor.start()  # first: it voids the leases of a previous run before anything claims
        await self.workforce.start()

    async def stop(self) -> None:
        await self.supervisor.stop()
        await self.workforce.stop()  # its runners record their last outcomes and give their leases back
        await self.clients.aclose()

    @property
    def role(self) -> str:
        """A server whose engine runs without a leadership lock is the only one on its store: it leads."""
        return "leader"

    def wake(self) -> None:
        """Ask for a tick now (after an API call changed a job)."""
        self.supervisor.wake()
