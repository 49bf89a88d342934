"""CSV manifests (``S3BatchOperations_CSV_20180820``, ``COSBatchOperations_CSV_V1``) as a manifest source.

``CsvSource.rows`` streams parsed rows (batchops.manifests.rows); ``CsvSource.chunks``, for Preparing, cuts the
raw lines into chunk blobs without decoding or parsing them (the runner parses each chunk's rows).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from batchops.domain.job import ManifestSpec
from batchops.errors import ManifestError
from batchops.manifests.chunks import encode_lines
from batchops.manifests.objects import body_chunks, location_object, open_manifest
from batchops.manifests.rows import (
    BOM,
    HEAD_BYTES,
    MAX_LINE_BYTES,
    RAW_KEEP,
    RowError,
    decode_text,
    header_row,
    iter_lines,
    no_header_message,
    parse_row,
)
from batchops.manifests.source import Position, PreparedChunk, SourceRow
from batchops.s3.types import S3Client


class CsvSource:
    """``S3BatchOperations_CSV_20180820`` / ``COSBatchOperations_CSV_V1``: one task per non-blank line.

    Positions count physical lines, so a restart re-reads the object and skips the committed lines.
    """

    def __init__(self, s3: S3Client, manifest: ManifestSpec) -> None:
        self._s3 = s3
        self._manifest = manifest

    async def chunks(self, start: Position, chunk_size: int) -> AsyncIterator[PreparedChunk]:
        """The non-blank lines after ``start``, unparsed, ``chunk_size`` per chunk blob."""
        body = await open_manifest(self._s3, self._manifest.location)
        batcher = _LineBatch(chunk_size, start.entries)
        data_chunks = body_chunks(body, READ_BYTES)
        if start.entries == 0:  # a resumed read checked its first line before
            data_chunks = self._refusing_a_header(data_chunks, body)
        async for data in data_chunks:
            for batch in batcher.add(data):
                yield _prepared(batch)
        for batch in batcher.finish():
            yield _prepared(batch)

    async def rows(self, start: Position) -> AsyncIterator[SourceRow]:
        body = await open_manifest(self._s3, self._manifest.location)
        line_no = 0
        async for line in iter_lines(body_chunks(body)):
            line_no += 1
            if line_no <= start.entries:
                continue
            if line_no == 1:
                self._refuse_a_header(line)
            row = _source_row(Position(line_no), line, self._manifest.fields)
            if row is not None:
                yield row

    async def _refusing_a_header(self, data_chunks: AsyncIterator[bytes], body: Any) -> AsyncIterator[bytes]:
        """The same bytes, once the first line is known not to be a header row (ManifestError if it is)."""
        head = b""
        async for data in data_chunks:
            head += data
            if b"\n" in head or len(head) >= HEADER_LOOK_BYTES:
                break
        try:
            self._refuse_a_header(decode_text(head[:HEADER_LOOK_BYTES].split(b"\n", 1)[0]))
        except ManifestError:
            body.close()
            raise
        if head:
            yield head
        async for data in data_chunks:
            yield data

    def _refuse_a_header(self, first_line: str) -> None:
        line = header_row(first_line, self._manifest.fields)
        if line is not None:
            bucket, key = location_object(self._manifest.location)
            raise ManifestError("InvalidManifest", no_header_message(line, f"s3://{bucket}/{key}"))


def _source_row(position: Position, line: str, fields: tuple[str, ...]) -> SourceRow | None:
    try:
        target = parse_row(line, fields)
    except RowError as exc:
        return SourceRow(position, None, error=str(exc), raw=line[:RAW_KEEP])
    return None if target is None else SourceRow(position, target)


# ---------------------------------------------------------------------------------------------
# Lines in bulk, for Preparing: no decoding, no parsing

#: How much of the manifest Preparing reads at once.
READ_BYTES = 1024 * 1024
#: How much of a manifest's start is enough to tell a header row: a longer first line is not one.
HEADER_LOOK_BYTES = 1024
#: What ``str.strip`` removes among ASCII characters (``bytes.strip`` alone misses \x1c-\x1f).
_ASCII_SPACE = bytes(c for c in range(128) if chr(c).isspace())


class OverlongBytes(bytes):
    """A raw line over ``MAX_LINE_BYTES``: its first bytes only, and its true ``length``."""

    length: int

    def __new__(cls, head: bytes, length: int) -> OverlongBytes:
        line = super().__new__(cls, head)
        line.length = length
        return line


class _LineBatch:
    """Cuts a byte stream into raw lines and groups the non-blank ones in batches of ``size``.

    Each batch comes with the physical line number of its last line, so a restart can skip the lines
    consumed (blank ones included), as ``CsvSource.rows`` counts them, and with its overlong lines
    (index → length). Lines stay bytes, split in C; only a block holding blank, non-ASCII or
    overlong lines takes a per-line look.
    """

    def __init__(self, size: int, skip: int) -> None:
        self._size = size
        self._skip = skip  # physical lines already committed
        self._line_no = 0  # physical lines seen
        self._tail = b""
        self._over = 0  # > 0 while discarding the rest of an overlong line: its bytes so far
        self._head = b""
        self._marked = False  # an overlong line was seen: batches are searched for them
        self._lines: list[bytes] = []
        self._numbers: list[int] = []  # the physical line number of each of ``_lines``

    def add(self, data: bytes) -> list[Batch]:
        return self._take(self._split(data), data.isascii())

    def finish(self) -> list[Batch]:
        last: list[bytes] = []
        if self._over:
            last = [OverlongBytes(self._head, self._over)]
            self._marked = True
        elif self._tail:
            tail = self._tail[len(BOM) :] if self._line_no == 0 and self._tail.startswith(BOM) else self._tail
            last = self._mark_overlong([tail])
        self._over, self._tail = 0, b""
        batches = self._take(last, False) if last else []
        if self._lines:
            batches.append(self._cut(len(self._lines)))
        return batches

    def _split(self, data: bytes) -> list[bytes]:
        first: list[bytes] = []
        if self._over:  # the rest of an overlong line, up to its end
            cut = data.find(b"\n")
            if cut < 0:
                self._over += len(data)
                return []
            first = [OverlongBytes(self._head, self._over + cut)]
            self._over, data = 0, data[cut + 1 :]
        lines = (self._tail + data).split(b"\n") if self._tail else data.split(b"\n")
        self._tail = lines.pop()
        if len(self._tail) > MAX_LINE_BYTES + len(BOM) + 1:  # room for a BOM and a "\r"
            self._over, self._head, self._tail = len(self._tail), self._tail[:HEAD_BYTES], b""
            self._marked = True
        if self._line_no == 0 and lines and lines[0].startswith(BOM):
            lines[0] = lines[0][len(BOM) :]
        return first + self._mark_overlong(lines) if first else self._mark_overlong(lines)

    def _mark_overlong(self, lines: list[bytes]) -> list[bytes]:
        if not lines or max(map(len, lines)) <= MAX_LINE_BYTES:
            return lines
        self._marked = True
        return [_overlong_or_line(line) for line in lines]

    def _take(self, lines: list[bytes], ascii_only: bool) -> list[Batch]:
        start = self._line_no
        self._line_no += len(lines)
        if self._line_no <= self._skip:
            return []
        if start < self._skip:
            lines, start = lines[self._skip - start :], self._skip
        kept = [line for line in lines if line.strip(_ASCII_SPACE)]
        numbers: list[int] | None = None  # physical numbers of ``kept``; None: start + 1, start + 2, …
        if len(kept) != len(lines) or not ascii_only or self._marked:
            numbers = [start + 1 + i for i, line in enumerate(lines) if not _is_blank(line)]
            kept = [lines[n - start - 1] for n in numbers]
        held_numbers, held = self._numbers, len(self._numbers)

        def number(index: int) -> int:  # the physical line number of ``self._lines[index]``
            if index < held:
                return held_numbers[index]
            return numbers[index - held] if numbers is not None else start + 1 + index - held

        self._lines += kept
        whole = len(self._lines) // self._size * self._size
        batches = [
            self._batch(self._lines[cut : cut + self._size], number(cut + self._size - 1))
            for cut in range(0, whole, self._size)
        ]
        self._numbers = [number(index) for index in range(whole, len(self._lines))]
        del self._lines[:whole]
        return batches

    def _cut(self, count: int) -> Batch:
        lines, self._lines = self._lines[:count], self._lines[count:]
        last, self._numbers = self._numbers[count - 1], self._numbers[count:]
        return self._batch(lines, last)

    def _batch(self, lines: list[bytes], last_line: int) -> Batch:
        overlong = None
        if self._marked:
            overlong = {i: line.length for i, line in enumerate(lines) if isinstance(line, OverlongBytes)}
        return Batch(lines, last_line, overlong)


@dataclass(frozen=True)
class Batch:
    """Raw lines for one chunk, the physical number of the last, and the overlong ones (index → length)."""

    lines: list[bytes]
    last_line: int
    overlong: dict[int, int] | None


def _prepared(batch: Batch) -> PreparedChunk:
    return PreparedChunk(encode_lines(batch.lines, batch.overlong), len(batch.lines), Position(batch.last_line))


def _is_blank(line: bytes) -> bool:
    if type(line) is OverlongBytes:
        return False  # an overlong line is a row error even when it is all spaces
    if not line.strip(_ASCII_SPACE):
        return True
    return not line.isascii() and not decode_text(line).strip()


def _overlong_or_line(line: bytes) -> bytes:
    if type(line) is OverlongBytes or len(line.removesuffix(b"\r")) <= MAX_LINE_BYTES:
        return line
    return OverlongBytes(line[:HEAD_BYTES], len(line.removesuffix(b"\r")))
