"""Stand-ins for the engine's unit tests: a workforce that records what the supervisor asks, S3 clients that all
lead to one in-memory store, and a store that refuses every call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from botocore.exceptions import ClientError

from batchops.domain.job import Job
from batchops.engine.clients import JobClient, StoreClients
from batchops.s3.breaker import BREAKERS
from batchops.settings import Settings


class Workforce:
    """Records what the supervisor asks; the jobs in ``busy`` still have tasks running."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.drained: list[str] = []
        self.busy: set[str] = set()

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def run(self, job: Job) -> None:
        self.ran.append(job.id)

    def drain(self, job_id: str) -> None:
        self.drained.append(job_id)

    async def busy_with(self, job: Job) -> bool:
        return job.id in self.busy

    def retry_now(self) -> None:
        pass


class RefusingS3:
    """A store that refuses every call (the report bucket is not writable with the job's role)."""

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        async def refuse(**_: Any) -> Any:
            error = {
                "Error": {"Code": "AccessDenied", "Message": "denied"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            }
            raise ClientError(error, name)  # type: ignore[arg-type]

        return refuse


class OneStore(StoreClients):
    """Every job's RoleArn leads to the one in-memory ``s3``."""

    def __init__(self, settings: Settings, s3: Any) -> None:
        super().__init__(settings)
        self._s3 = s3
        self._breaker = BREAKERS.new("in-memory")

    async def for_job(self, job: Job) -> JobClient:
        return JobClient(self._s3, self._breaker)
