"""The accounts and store moves the route tests share (tests/unit/test_routes_*.py): two accounts, each with its
own keys and COS APPID, and jobs put in a status through the store, as the engine would (none runs there)."""

from __future__ import annotations

from pathlib import Path

from batchops.domain.status import JobStatus
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.tenancy import Account

OWNER = Account("111122223333", "AKIDROUTEOWNER", "owner-secret", appid="1250000000", any_role=True)
OTHER = Account("444455556666", "AKIDROUTEOTHER", "other-secret", appid="1250000001", any_role=True)


def route_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, accounts=(OWNER, OTHER))


async def move(store: Store, job_id: str, *path: JobStatus) -> None:
    """Walk the job along ``path``, each step an allowed move (the store refuses any other)."""
    for status in path:
        assert await store.transition(job_id, status, f"moved to {status.value} by the test")


async def suspend_job(store: Store, job_id: str) -> None:
    """A new job as Preparing leaves it when it waits for confirmation."""
    await move(store, job_id, JobStatus.PREPARING, JobStatus.SUSPENDED)


async def end_job(store: Store, job_id: str) -> None:
    """A new job cancelled and ended (Cancelled)."""
    await move(store, job_id, JobStatus.CANCELLING, JobStatus.CANCELLED)
