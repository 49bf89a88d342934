"""The S3 clients of one process: one per (endpoint, region, keys), each with its circuit breaker, shared by every
job whose RoleArn leads there; plus the one function invoker and the routes to other stores (copy targets,
replicas). Everything opened here is closed by ``aclose``."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass

from batchops.domain.job import Job
from batchops.functions import FunctionInvoker
from batchops.s3.breaker import BREAKERS, CircuitBreaker, policy_for
from batchops.s3.client import StoreCredentials, open_client
from batchops.s3.pool import StoreRoutes, TransferLimits
from batchops.s3.ratecap import JobRates, StoreRates
from batchops.s3.resolver import credentials_for
from batchops.s3.types import S3Client
from batchops.settings import Settings


@dataclass(frozen=True)
class JobClient:
    """The client for a job's store and the breaker that holds its work while that store is down."""

    s3: S3Client
    breaker: CircuitBreaker


class StoreClients:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stack = AsyncExitStack()
        self._clients: dict[StoreCredentials, S3Client] = {}
        self._breakers: dict[StoreCredentials, CircuitBreaker] = {}  # one per store client
        self._functions: FunctionInvoker | None = None
        self._opening = asyncio.Lock()  # many jobs starting at once open one client per store, not one each
        # Buckets on other stores (copy targets, replicas) and the copy limits every job shares.
        self.routes = StoreRoutes(settings.targets, settings.replicas, self._open)
        self.transfer = TransferLimits.from_settings(settings)
        # Rate caps: each job's (shared by its runners here) and each store endpoint's, this process's share.
        self.job_rates = JobRates(settings.rate_share)
        self._store_rates = StoreRates(dict(settings.store_rates), settings.rate_share)

    async def for_job(self, job: Job) -> JobClient:
        """The client for the job's RoleArn; ManifestError ``RoleNotDeclared`` once its role is gone."""
        creds = credentials_for(self._settings, job.account_id, job.spec.role_arn)
        if creds not in self._clients:
            async with self._opening:
                if creds not in self._clients:
                    self._clients[creds] = await self._open(creds)
        return JobClient(self._clients[creds], self._breakers[creds])

    async def function_invoker(self) -> FunctionInvoker:
        """One invoker (one HTTP session) for every LambdaInvoke job."""
        if self._functions is None:
            self._functions = await self._stack.enter_async_context(FunctionInvoker(self._settings.functions))
        return self._functions

    async def aclose(self) -> None:
        await self._stack.aclose()

    async def _open(self, creds: StoreCredentials) -> S3Client:
        """A new S3 client: for a role's store, or a target/replica store's."""
        settings = self._settings
        policy = policy_for(settings.s3_max_attempts, settings.s3_timeout_seconds)
        self._breakers[creds] = breaker = BREAKERS.new(creds.endpoint_url or f"s3.{creds.region}.amazonaws.com", policy)
        return await open_client(
            self._stack,
            creds,
            max_connections=settings.task_concurrency,
            max_attempts=settings.s3_max_attempts,
            timeout=settings.s3_timeout_seconds,
            kind=settings.s3_client,
            breaker=breaker,
            store_rate=self._store_rates.for_endpoint(creds.endpoint_url),
        )
