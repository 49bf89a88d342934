"""A CSV manifest served in small pieces by a fake S3 client, cut into chunks, and the chunks read back as rows."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

from batchops.domain.job import ManifestLocation, ManifestSpec
from batchops.manifests.chunks import ChunkRow, decode, source_chunks
from batchops.manifests.csv import CsvSource
from batchops.manifests.source import Position, PreparedChunk

BK = ("Bucket", "Key")
BKV = ("Bucket", "Key", "VersionId")


class Body:
    def __init__(self, data: bytes, piece: int) -> None:
        self._data, self._piece = data, piece

    async def iter_chunks(self, chunk_size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(self._data), self._piece):
            yield self._data[start : start + self._piece]

    def close(self) -> None:
        pass


class S3:
    def __init__(self, data: bytes, piece: int) -> None:
        self.data, self.piece = data, piece

    async def get_object(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        return {"Body": Body(self.data, self.piece), "ETag": f'"{hashlib.md5(self.data).hexdigest()}"'}


def csv_source(data: bytes, fields: tuple[str, ...] = BK, piece: int = 7) -> CsvSource:
    etag = hashlib.md5(data).hexdigest()
    return CsvSource(
        S3(data, piece),
        ManifestSpec("S3BatchOperations_CSV_20180820", fields, ManifestLocation("arn:aws:s3:::manifests/m.csv", etag)),
    )


async def all_chunks(source: Any, start: Position, size: int) -> list[PreparedChunk]:
    return [chunk async for chunk in source_chunks(source, start, size)]


def as_rows(chunks: list[PreparedChunk], fields: tuple[str, ...], first_seq: int = 0) -> list[ChunkRow]:
    rows = []
    for chunk in chunks:
        rows += decode(chunk.data, first_seq, fields)
        first_seq += chunk.count
    return rows
