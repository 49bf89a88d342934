"""S3 client factory: one client per store, with retries for throttling and transient errors.

``open_client`` gives a FastS3 (batchops.s3.fast): the lean signed-HTTP client for the hot calls, over the
aiobotocore client for the rest. ``kind="botocore"`` (setting ``s3_client``) gives the bare aiobotocore
client, for comparison; so does a store without explicit keys (the SDK's credential chain resolves those).
Both kinds send every request through the circuit breaker given (batchops.s3.breaker; the engine gives one
per store, so an outage holds its jobs).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

from batchops.s3.breaker import WATCH_ONLY, BotocoreGuard, CircuitBreaker
from batchops.s3.fast import FastS3
from batchops.s3.lean import LeanSession
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


async def open_client(
    stack: AsyncExitStack,
    creds: StoreCredentials,
    *,
    max_connections: int = 64,
    max_attempts: int = 6,
    timeout: float = 30.0,
    kind: str = "lean",
    breaker: CircuitBreaker | None = None,
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
    BotocoreGuard(breaker).install(client)
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
    )
    return FastS3(client, await stack.enter_async_context(lean))
