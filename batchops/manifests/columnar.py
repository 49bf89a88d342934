"""Parquet and ORC inventory data files, read with pyarrow in bounded record batches.

Both formats keep their index at the end of the file, so a file is first spooled to a temporary file
(its MD5 checked on the way), then read a batch at a time in a worker thread. pyarrow is imported on
first use, so the API process does not pay for it.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator, Iterator
from typing import IO, Any

from batchops.errors import ManifestError

#: Rows turned into Python values at a time.
BATCH_ROWS = 1024
#: Column names as inventories spell them (AWS: bucket, key, version_id), compared without case or "_".
_WANTED = {"bucket": "bucket", "key": "key", "versionid": "version_id"}


def spool() -> IO[bytes]:
    """A temporary file for one data file; gone when closed."""
    return tempfile.TemporaryFile(prefix="batchops-inventory-")


async def read_rows(spooled: IO[bytes], file_format: str, name: str) -> AsyncIterator[tuple[str, str, str | None]]:
    """(bucket, key, version id or None when the file has no version column) for every row."""
    spooled.flush()
    spooled.seek(0)
    batches = await asyncio.to_thread(_open_batches, spooled, file_format, name)
    while True:
        batch = await asyncio.to_thread(next, batches, None)
        if batch is None:
            return
        for row in batch:
            yield row


def _open_batches(spooled: IO[bytes], file_format: str, name: str) -> Iterator[list[tuple[str, str, str | None]]]:
    try:
        if file_format == "Parquet":
            return _parquet_batches(spooled, name)
        return _orc_batches(spooled, name)
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise ManifestError(
            "InvalidInventoryManifest", f"inventory data file {name} is not a readable {file_format} file ({exc})"
        ) from None


def _parquet_batches(spooled: IO[bytes], name: str) -> Iterator[list[tuple[str, str, str | None]]]:
    import pyarrow.parquet as pq

    reader = pq.ParquetFile(spooled)
    columns = _columns(reader.schema_arrow.names, name)
    batches = reader.iter_batches(batch_size=BATCH_ROWS, columns=columns)
    return _guarded((_rows(batch, columns) for batch in batches), name)


def _orc_batches(spooled: IO[bytes], name: str) -> Iterator[list[tuple[str, str, str | None]]]:
    import pyarrow.orc as orc

    reader = orc.ORCFile(spooled)
    columns = _columns(reader.schema.names, name)

    def stripes() -> Iterator[list[tuple[str, str, str | None]]]:
        for index in range(reader.nstripes):
            stripe = reader.read_stripe(index, columns=columns)
            for offset in range(0, stripe.num_rows, BATCH_ROWS):
                yield _rows(stripe.slice(offset, BATCH_ROWS), columns)

    return _guarded(stripes(), name)


def _guarded(batches: Iterator[list[tuple[str, str, str | None]]], name: str) -> Iterator[list[Any]]:
    try:
        yield from batches
    except (OSError, ValueError) as exc:
        raise ManifestError("InvalidInventoryManifest", f"inventory data file {name} cannot be read ({exc})") from None


def _columns(names: list[str], name: str) -> list[str]:
    """The file's own names for bucket, key and (if present) version id, in that order."""
    found: dict[str, str] = {}
    for column in names:
        wanted = _WANTED.get(column.lower().replace("_", ""))
        if wanted and wanted not in found:
            found[wanted] = column
    missing = [c for c in ("bucket", "key") if c not in found]
    if missing:
        raise ManifestError(
            "InvalidInventoryManifest",
            f"inventory data file {name} has no {' or '.join(missing)} column (it has {', '.join(names)})",
        )
    return [found[c] for c in ("bucket", "key", "version_id") if c in found]


def _rows(batch: Any, columns: list[str]) -> list[tuple[str, str, str | None]]:
    values = [batch.column(name).to_pylist() for name in columns]  # by name: ORC keeps the file's order
    buckets, keys = values[0], values[1]
    versions = values[2] if len(values) > 2 else [None] * len(keys)
    has_versions = len(values) > 2
    return [
        (bucket or "", key or "", (version or "") if has_versions else None)
        for bucket, key, version in zip(buckets, keys, versions, strict=True)
    ]
