"""Which store a bucket lives on, and the limits of copies between objects.

A job's tasks act on the job's store (``TaskContext.s3``). Copies and replicas may write to a bucket
that lives on another store, with other credentials (``[[targets]]`` in the config); ``StoreRoutes``
opens one client per such store, on first use, and hands it to the operation. Server-side copy is
impossible between stores, so the operation streams the bytes through batchops, one part at a time,
each part in one of a few reused buffers, under a byte budget per process (``PartBuffers``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from batchops.s3.client import StoreCredentials
from batchops.s3.types import S3Client
from batchops.settings import Settings
from batchops.tenancy import Replica, TargetStore

#: Opens an S3 client for a store (it lives as long as the engine).
ClientOpener = Callable[[StoreCredentials], Awaitable[S3Client]]


class PartBuffers:
    """Where streamed parts are held: at most ``budget // size`` buffers of ``size`` bytes, made on first use
    and reused part after part, so a process's copies never hold more than ``budget`` bytes of object data
    (a part waits for a free buffer) nor pay to allocate and page in a fresh buffer per part.

    A part longer than ``size`` (an object so large that 10,000 parts of ``size`` cannot hold it) gets a
    buffer of its own for as long as it lasts, in one of the slots.
    """

    def __init__(self, budget: int, size: int) -> None:
        self.size = size
        self.count = max(1, budget // size)
        self._slots = asyncio.Semaphore(self.count)
        self._spare: list[bytearray] = []

    @asynccontextmanager
    async def take(self, length: int) -> AsyncIterator[memoryview]:
        """``length`` bytes of buffer, for as long as the ``async with`` lasts."""
        async with self._slots:
            pooled = length <= self.size
            buffer = (self._spare.pop() if self._spare else bytearray(self.size)) if pooled else bytearray(length)
            try:
                yield memoryview(buffer)[:length]
            finally:
                if pooled:
                    self._spare.append(buffer)


MIB = 1024**2


@dataclass(frozen=True)
class TransferLimits:
    """Multipart threshold and part size of copies; ``buffers`` hold streamed parts, within a byte budget."""

    multipart_threshold: int = 5 * 1024**3
    part_size: int = 16 * MIB
    part_concurrency: int = 4
    buffers: PartBuffers = field(default_factory=lambda: PartBuffers(128 * MIB, 16 * MIB), compare=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> TransferLimits:
        return cls(
            multipart_threshold=settings.copy_multipart_threshold_bytes,
            part_size=settings.copy_part_size_bytes,
            part_concurrency=settings.copy_part_concurrency,
            buffers=PartBuffers(settings.copy_stream_buffer_bytes, settings.copy_part_size_bytes),
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
