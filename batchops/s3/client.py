"""S3 client factory: one client per store, with retries for throttling and transient errors.

``open_client`` gives a FastS3 (batchops.s3.fast): the lean signed-HTTP client for the hot calls, over the
aiobotocore client for the rest. ``kind="botocore"`` (setting ``s3_client``) gives the bare aiobotocore
client, for comparison; so does a store without explicit keys (the SDK's credential chain resolves those).
Both kinds send every request through the circuit breaker given (batchops.s3.breaker; the engine gives one
per store, so an outage holds its jobs).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session

from batchops.s3.breaker import WATCH_ONLY, BotocoreGuard, CircuitBreaker
from batchops.s3.fast import FastS3
from batchops.s3.lean import LeanSession
from batchops.s3.observe import BotocoreTimer, StoreMetrics, store_label
from batchops.s3.ratecap import RequestRate
from batchops.s3.types import S3Client
from batchops.s3.xmlbody import escape_in_botocore


@dataclass(frozen=True)
class StoreCredentials:
    """Where a job's tasks go and who they act as."""

    endpoint_url: str | None
    region: str
    access_key_id: str | None
    secret_access_key: str | None = field(repr=False)


def client_config(max_connections: int, max_attempts: int, timeout: float) -> AioConfig:
    # botocore's "adaptive" mode retries 5xx, 503 SlowDown, throttling codes, timeouts and connection
    # errors with exponential backoff and, on throttling, slows the client's own send rate.
    return AioConfig(
        retries={"mode": "adaptive", "max_attempts": max_attempts},
        max_pool_connections=max_connections,
        connect_timeout=timeout,
        read_timeout=timeout,
        s3={"addressing_style": "path"},
        signature_version="s3v4",
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )


_quick_session: AioSession | None = None


def quick_client(creds: StoreCredentials, timeout: float, max_connections: int = 2) -> Any:
    """An S3 client (an async context manager) for a check a waiting request makes, such as CreateJob's: two
    attempts, ``timeout`` per answer."""
    # One session for every check: a new one reloads botocore's service models (~50 ms); a client from
    # a warm session takes ~3 ms.
    global _quick_session
    if _quick_session is None:
        _quick_session = get_session()
    return _quick_session.create_client(
        "s3",
        endpoint_url=creds.endpoint_url,
        region_name=creds.region,
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        config=client_config(max_connections, 2, timeout),
    )


class QuickClients:
    """The clients of ``quick_client``, one per store and keys, opened on first use and kept open until
    ``close``: opening a client and its connection costs more than the check it makes."""

    #: Connections per client: as many CreateJobs as this check their store at once.
    CONNECTIONS = 32

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._stack = AsyncExitStack()
        self._open: dict[StoreCredentials, Any] = {}
        self._opening = asyncio.Lock()  # a burst of first CreateJobs opens one client, not one each

    async def client(self, creds: StoreCredentials) -> Any:
        found = self._open.get(creds)
        if found is None:
            async with self._opening:
                found = self._open.get(creds)
                if found is None:
                    found = await self._stack.enter_async_context(quick_client(creds, self.timeout, self.CONNECTIONS))
                    self._open[creds] = found
        return found

    async def close(self) -> None:
        self._open.clear()
        await self._stack.aclose()


@asynccontextmanager
async def checking_client(creds: StoreCredentials, timeout: float, clients: QuickClients | None) -> AsyncIterator[Any]:
    """A client of ``clients`` (left open for the next check) or, without them, a new one closed after."""
    if clients is not None:
        yield await clients.client(creds)
        return
    async with quick_client(creds, timeout) as s3:
        yield s3


async def open_client(
    stack: AsyncExitStack,
    creds: StoreCredentials,
    *,
    max_connections: int = 64,
    max_attempts: int = 6,
    timeout: float = 30.0,
    kind: str = "lean",
    breaker: CircuitBreaker | None = None,
    store_rate: RequestRate | None = None,
) -> S3Client:
    """An S3 client living as long as ``stack``. Every request it sends (lean or SDK) passes ``breaker``; without
    one, a breaker that never opens: an outage fails the calls after their attempts (the console's uploads)."""
    breaker = breaker or CircuitBreaker(creds.endpoint_url or creds.region, WATCH_ONLY)
    session = get_session()
    # aiobotocore is untyped; its S3 client has every method of the S3Client seam.
    client: S3Client = await stack.enter_async_context(
        session.create_client(
            "s3",
            endpoint_url=creds.endpoint_url,
            region_name=creds.region,
            aws_access_key_id=creds.access_key_id,
            aws_secret_access_key=creds.secret_access_key,
            config=client_config(max_connections, max_attempts, timeout),
        )
    )
    escape_in_botocore(client)  # the calls botocore serialises keep a "\r" in a key or tag as "\r"
    BotocoreGuard(breaker, store_rate).install(client)
    BotocoreTimer(StoreMetrics(store_label(creds.endpoint_url, creds.region))).install(client)  # after the guard
    if kind != "lean" or not (creds.access_key_id and creds.secret_access_key):
        return client
    lean = LeanSession(
        creds.endpoint_url,
        creds.region,
        creds.access_key_id,
        creds.secret_access_key,
        max_connections=max_connections,
        max_attempts=max_attempts,
        timeout=timeout,
        breaker=breaker,
        store_rate=store_rate,
    )
    return FastS3(client, await stack.enter_async_context(lean))
