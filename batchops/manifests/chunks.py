"""A chunk of manifest rows stored as one compressed blob, and read back into tasks when it runs.

Preparing stores up to ``chunk_size`` rows per chunk as one zlib blob (a fast level), so reading a
manifest costs a split on ``\\n`` and a compression, not a parse per row. The blob is a header line
and the rows, one per line:

* ``r`` chunks (CSV manifests): the manifest's own lines, byte for byte (a trailing ``\\r`` kept).
  They are parsed when the chunk runs, with the job's ``Fields``; a malformed line then becomes a
  failed task. A line over ``MAX_LINE_BYTES`` is stored as its first bytes only, and the header
  lists it: ``r <index>:<length>,…``.
* ``n`` chunks (inventories, listings): rows the source already parsed, normalized as
  ``bucket,key[,version]`` with key and version URL-encoded (surrogates kept), or ``!error,raw``
  (both URL-encoded) for an entry that names no object. A key or version that was not UTF-8 (lone
  surrogates) comes back as a failed row; its raw text keeps the bytes (the store records them as bytes,
  batchops.store.outcomes, so the report shows them URL-encoded as the manifest had them).

Task ``seq`` numbers run from the chunk's first seq, one per line, in order.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Sequence
from typing import NamedTuple
from urllib.parse import unquote

from batchops.arns import is_bucket_name
from batchops.domain.task import ObjectRef
from batchops.manifests.rows import (
    MAX_KEY_BYTES,
    RAW_KEEP,
    OverlongLine,
    RowError,
    encode_key,
    parse_row,
    require_utf8,
    storable_raw,
)
from batchops.manifests.source import ChunkedSource, ManifestSource, Position, PreparedChunk, SourceRow

#: zlib level: 1 compresses manifest lines about 4 times at hundreds of MB/s.
LEVEL = 1
_RAW = b"r"
_ROWS = b"n"


class ChunkRow(NamedTuple):
    """One task of a chunk: its object, or why its manifest entry names none (``error``, ``raw``)."""

    seq: int
    target: ObjectRef | None
    error: str = ""
    raw: str = ""


def encode_lines(lines: Sequence[bytes], overlong: dict[int, int] | None = None) -> bytes:
    """A ``r`` chunk: raw manifest lines (no ``\\n`` inside); ``overlong`` maps index → true length."""
    header = _RAW
    if overlong:
        header += b" " + b",".join(b"%d:%d" % item for item in sorted(overlong.items()))
    return zlib.compress(header + b"\n" + b"\n".join(lines), LEVEL)


def encode_rows(rows: Sequence[SourceRow]) -> bytes:
    """A ``n`` chunk: rows a source has parsed already."""
    text = "\n".join(_row_line(row.target, row.error, row.raw) for row in rows)
    return zlib.compress(_ROWS + b"\n" + text.encode("utf-8", "surrogateescape"), LEVEL)


async def source_chunks(source: ManifestSource, start: Position, chunk_size: int) -> AsyncIterator[PreparedChunk]:
    """A source's rows after ``start`` as chunks: CSV manifests cut themselves, others are grouped here."""
    if isinstance(source, ChunkedSource):
        async for chunk in source.chunks(start, chunk_size):
            yield chunk
        return
    rows: list[SourceRow] = []
    async for row in source.rows(start):
        rows.append(row)
        if len(rows) >= chunk_size:
            yield _rows_chunk(rows)
            rows = []
    if rows:
        yield _rows_chunk(rows)


def _rows_chunk(rows: list[SourceRow]) -> PreparedChunk:
    targets = tuple(row.target for row in rows if row.target is not None)
    return PreparedChunk(encode_rows(rows), len(rows), rows[-1].position, targets)


def _row_line(target: ObjectRef | None, error: str | None, raw: str) -> str:
    if target is None:
        return f"!{encode_key(error or '')},{encode_key(raw)}"
    line = f"{target.bucket},{encode_key(target.key)}"
    return line if target.version_id is None else f"{line},{encode_key(target.version_id)}"


def _unquote(text: str) -> str:
    return unquote(text, errors="surrogateescape") if "%" in text else text


def decode(blob: bytes, first_seq: int, fields: Sequence[str]) -> list[ChunkRow]:
    """Every row of a chunk as a task; ``fields`` are the job's manifest Fields (for ``r`` chunks)."""
    header, _, body = zlib.decompress(blob).partition(b"\n")
    lines = body.decode("utf-8", "surrogateescape").split("\n")
    if header[:1] == _ROWS:
        return [_decode_row(first_seq + i, line) for i, line in enumerate(lines)]
    return _csv_rows(lines, first_seq, tuple(fields), _overlong(header))


def _csv_rows(lines: list[str], first_seq: int, fields: tuple[str, ...], overlong: dict[int, int]) -> list[ChunkRow]:
    """Manifest lines → tasks. The common line (ASCII, unquoted, a plain key) takes a short path that
    accepts exactly what ``parse_row`` accepts; anything else, or anything it would refuse, is parsed
    by ``parse_row`` itself, so errors and their messages are the reference ones."""
    width, bucket_at, key_at = len(fields), fields.index("Bucket"), fields.index("Key")
    version_at = fields.index("VersionId") if "VersionId" in fields else None
    buckets: set[str] = set()  # bucket names already found valid
    rows = []
    for i, line in enumerate(lines):
        seq = first_seq + i
        if i in overlong:
            rows.append(_parse_line(seq, OverlongLine(line, overlong[i]), fields))
            continue
        line = line.removesuffix("\r")
        values = line.split(",") if line.isascii() and '"' not in line else ()
        if len(values) == width:
            bucket, key = values[bucket_at].strip(), values[key_at].strip()
            version = values[version_at].strip() if version_at is not None else None
            plain_key = key and "%" not in key and len(key) <= MAX_KEY_BYTES
            if plain_key and version != "" and (bucket in buckets or _valid_bucket(bucket, buckets)):
                rows.append(ChunkRow(seq, ObjectRef(bucket, key, version)))
                continue
        rows.append(_parse_line(seq, line, fields))
    return rows


def _valid_bucket(bucket: str, valid: set[str]) -> bool:
    if not is_bucket_name(bucket):
        return False
    valid.add(bucket)
    return True


def _overlong(header: bytes) -> dict[int, int]:
    _, _, listed = header.partition(b" ")
    pairs = (item.split(b":") for item in listed.split(b",") if item)
    return {int(index): int(length) for index, length in pairs}


def _parse_line(seq: int, line: str, fields: tuple[str, ...]) -> ChunkRow:
    try:
        target = parse_row(line, fields)
    except RowError as exc:
        return ChunkRow(seq, None, str(exc), line[:RAW_KEEP])
    if target is None:  # Preparing keeps no blank line; should one come back, it is not an object either
        return ChunkRow(seq, None, "line is blank; remove it from the manifest", "")
    return ChunkRow(seq, target)


def _decode_row(seq: int, line: str) -> ChunkRow:
    if line.startswith("!"):
        error, _, raw = line[1:].partition(",")
        return ChunkRow(seq, None, storable_raw(_unquote(error)), _unquote(raw))
    parts = line.split(",")
    values = [parts[0], *map(_unquote, parts[1:3])]
    try:  # a source's row holds no bytes that were not UTF-8; should one, it fails alone, never reaching the store
        require_utf8(values, ("Bucket", "Key", "VersionId"))
    except RowError as exc:
        return ChunkRow(seq, None, str(exc), ",".join(values))
    return ChunkRow(seq, ObjectRef(values[0], values[1], values[2] if len(values) > 2 else None))
