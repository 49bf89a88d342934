"""Which store a bucket lives on, and the limits of copies between objects.

A job's tasks act on the job's store (``TaskContext.s3``). Copies and replicas may write to a bucket
that lives on another store, with other credentials (``[[targets]]`` in the config); ``StoreRoutes``
opens one client per such store, on first use, and hands it to the operation. Server-side copy is
impossible between stores, so the operation streams the bytes through batchops, one part at a time,
under a byte budget per process (``TransferLimits.buffer``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from batchops.s3.client import StoreCredentials
from batchops.s3.types import S3Client
from batchops.settings import Settings
from batchops.tenancy import Replica, TargetStore

#: Opens an S3 client for a store (it lives as long as the engine).
ClientOpener = Callable[[StoreCredentials], Awaitable[S3Client]]


@dataclass(frozen=True)
class TransferLimits:
    """Multipart threshold and part size of copies; ``buffer`` bounds streamed parts held in memory."""

    multipart_threshold: int = 5 * 1024**3
    part_size: int = 16 * 1024**2
    part_concurrency: int = 4
    buffer: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(8), compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> TransferLimits:
        parts_in_memory = max(1, settings.copy_stream_buffer_bytes // settings.copy_part_size_bytes)
        return cls(
            multipart_threshold=settings.copy_multipart_threshold_bytes,
            part_size=settings.copy_part_size_bytes,
            part_concurrency=settings.copy_part_concurrency,
            buffer=asyncio.Semaphore(parts_in_memory),
        )


class StoreRoutes:
    """Bucket → store. ``client_for`` returns None for a bucket on the job's own store."""

    def __init__(
        self,
        targets: tuple[TargetStore, ...] = (),
        replicas: tuple[Replica, ...] = (),
        opener: ClientOpener | None = None,
    ) -> None:
        self._targets = targets
        self._replicas = replicas
        self._opener = opener
        self._clients: dict[int, S3Client] = {}
        self._lock = asyncio.Lock()

    def target_for(self, bucket: str) -> TargetStore | None:
        """The first ``[[targets]]`` entry whose bucket name or pattern matches ``bucket``."""
        return next((t for t in self._targets if fnmatchcase(bucket, t.bucket)), None)

    def replica_for(self, source_bucket: str) -> Replica | None:
        return next((r for r in self._replicas if r.source_bucket == source_bucket), None)

    async def client_for(self, bucket: str) -> S3Client | None:
        """A client of the store ``bucket`` lives on, or None when that is the job's own store."""
        target = self.target_for(bucket)
        if target is None:
            return None
        index = self._targets.index(target)
        if index in self._clients:
            return self._clients[index]
        async with self._lock:
            if index not in self._clients:
                if self._opener is None:
                    raise RuntimeError("StoreRoutes has targets but no way to open clients")
                creds = StoreCredentials(target.endpoint, target.region, target.access_key_id, target.secret_access_key)
                self._clients[index] = await self._opener(creds)
        return self._clients[index]


#: For tasks run without routes (tests, tools): every bucket is on the job's store.
NO_ROUTES = StoreRoutes()
