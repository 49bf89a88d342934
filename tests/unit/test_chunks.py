"""Chunk blobs: the codec round-trips rows, and a CSV manifest cut into raw-line chunks (no parsing at
Preparing) gives exactly the tasks, errors and resume positions that parsing it row by row gives."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator

import pytest

from batchops.domain.task import ObjectRef
from batchops.manifests.chunks import ChunkRow, decode, encode_lines, encode_rows
from batchops.manifests.rows import MAX_LINE_BYTES
from batchops.manifests.source import Position, SourceRow
from tests.support.chunks import BK, BKV, all_chunks, as_rows, csv_source


def expected(rows: list[SourceRow]) -> list[ChunkRow]:
    return [ChunkRow(seq, row.target, row.error or "", row.raw) for seq, row in enumerate(rows)]


# --- the codec -------------------------------------------------------------------------------


def test_parsed_rows_round_trip_with_odd_keys_versions_and_errors() -> None:
    rows = [
        SourceRow(Position(1), ObjectRef("b", "a b/ü,%+\n\\udcff-x")),
        SourceRow(Position(2), ObjectRef("b", "k", "null")),
        SourceRow(Position(3), ObjectRef("b", "k", "")),
        SourceRow(Position(4), None, "Key is empty, fix it", "b,,x\udcfe"),
        SourceRow(Position(5), ObjectRef("b", "!k,", "v%2C1")),
    ]
    got = decode(encode_rows(rows), 40, ())
    # raw text comes back as it was, a byte that was not UTF-8 (a lone surrogate) included
    assert got == [ChunkRow(40 + i, r.target, r.error or "", r.raw) for i, r in enumerate(rows)]


def test_raw_lines_are_parsed_with_the_jobs_fields_when_decoded() -> None:
    blob = encode_lines([b"bkt,a%20b,v1\r", b"only-one", b"bkt,k,", b'bkt,"c,d",null'])
    got = decode(blob, 7, BKV)
    assert [r.seq for r in got] == [7, 8, 9, 10]
    assert got[0] == ChunkRow(7, ObjectRef("bkt", "a b", "v1"))
    assert (got[1].target, got[1].raw) == (None, "only-one") and "expected 3 fields" in got[1].error
    assert (got[2].target, got[2].raw) == (None, "bkt,k,") and "VersionId column is empty" in got[2].error
    assert got[3] == ChunkRow(10, ObjectRef("bkt", "c,d", "null"))


def test_blob_is_compressed() -> None:
    lines = [b"bucket-name,some/prefix/object-%08d" % i for i in range(1000)]
    blob = encode_lines(lines)
    assert len(blob) * 3 < sum(map(len, lines))
    assert zlib.decompress(blob).count(b"\n") == 1000  # header line + 999 separators


# --- CSV manifests cut into chunks ----------------------------------------------------------

LONG = b"bkt," + b"k" * (MAX_LINE_BYTES + 10)
MANIFESTS = {
    "plain": b"bkt,k1\nbkt,k2\nbkt,k3\nbkt,k4\nbkt,k5\n",
    "no final newline": b"bkt,k1\nbkt,k2",
    "bom, crlf, blank and whitespace-only lines": b"\xef\xbb\xbfbkt,k1\r\n\r\n  \n\tbkt,k2\n\x1c\x1f\nbkt,k3\r\n\n",
    "unicode whitespace only": "bkt,k1\n\u00a0\u3000\nbkt,\u00e9\n".encode(),
    "malformed and invalid utf-8": b"bkt,k1\nonly\nbkt,bad%ZZ\nbkt,\xff\xfe\nBAD_BUCKET,k\nbkt,k6\n",
    "overlong in the middle and last": b"bkt,k1\n"
    + LONG
    + b"\nbkt,k3\n"
    + b" " * (MAX_LINE_BYTES + 5)
    + b"\nbkt,k5\n"
    + LONG,
    "overlong crlf at the limit": b"bkt," + b"k" * (MAX_LINE_BYTES - 2) + b"\r\nbkt,k2\n",
    "fields the short path must refuse or pass on": b"bkt , k1 \nbkt,\nbkt,k,extra\n,k\nBkt,k\nbkt,%41\nbkt,"
    + b"k" * 1025
    + b"\nbkt,"
    + b"k" * 1024
    + b'\n"bkt",k\nbkt,k\x7f\n',
    "empty": b"",
    "only blank": b"\n\n \r\n",
}


@pytest.mark.parametrize("name", MANIFESTS)
@pytest.mark.parametrize("size", [1, 2, 3, 1000])
@pytest.mark.parametrize("piece", [7, 1 << 20])
async def test_csv_chunks_give_the_same_tasks_as_parsing_each_row(name: str, size: int, piece: int) -> None:
    data = MANIFESTS[name]
    source = csv_source(data, piece=piece)
    rows = [row async for row in source.rows(Position())]

    chunks = await all_chunks(source, Position(), size)

    assert as_rows(chunks, BK) == expected(rows)
    assert all(c.count == size for c in chunks[:-1]) and all(0 < c.count <= size for c in chunks)
    # Each chunk ends at the position of its last row, and resuming there gives exactly the rest.
    ends = [rows[sum(c.count for c in chunks[: n + 1]) - 1].position for n in range(len(chunks))]
    assert [c.position for c in chunks] == ends
    for n, end in enumerate(ends):
        done = sum(c.count for c in chunks[: n + 1])
        rest = await all_chunks(source, end, size)
        assert as_rows(rest, BK, done) == expected(rows)[done:]


async def test_overlong_lines_keep_their_length_in_the_error() -> None:
    source = csv_source(MANIFESTS["overlong in the middle and last"], piece=4096)
    [chunk] = await all_chunks(source, Position(), 1000)
    errors = [r.error for r in decode(chunk.data, 0, BK) if r.target is None]
    assert errors[0].startswith(f"line is {len(LONG)} bytes long")
    assert errors[1].startswith(f"line is {MAX_LINE_BYTES + 5} bytes long")
    assert errors[2].startswith(f"line is {len(LONG)} bytes long")


async def test_row_sources_are_grouped_into_parsed_chunks() -> None:
    class Rows:
        async def rows(self, start: Position) -> AsyncIterator[SourceRow]:
            for n in range(start.entries, 5):
                yield SourceRow(Position(n + 1, f"c{n}"), ObjectRef("b", f"k{n}") if n != 2 else None, "bad", "r")

    chunks = await all_chunks(Rows(), Position(1), 2)
    assert [(c.count, c.position) for c in chunks] == [(2, Position(3, "c2")), (2, Position(5, "c4"))]
    assert chunks[0].targets == (ObjectRef("b", "k1"),)
    assert as_rows(chunks, (), 1) == [
        ChunkRow(1, ObjectRef("b", "k1")),
        ChunkRow(2, None, "bad", "r"),
        ChunkRow(3, ObjectRef("b", "k3")),
        ChunkRow(4, ObjectRef("b", "k4")),
    ]


async def test_versioned_csv_chunks_match_parsing_each_row() -> None:
    data = b"bkt,k,v1\nbkt,k,\nbkt,k,null\nbkt,k\nbkt, k , v \nbkt,a%20b,v2\n"
    source = csv_source(data, BKV)
    rows = [row async for row in source.rows(Position())]

    chunks = await all_chunks(source, Position(), 4)

    assert as_rows(chunks, BKV) == expected(rows)
    assert [r.target.version_id if r.target else None for r in as_rows(chunks, BKV)] == [
        "v1",
        None,
        "null",
        None,
        "v",
        "v2",
    ]
