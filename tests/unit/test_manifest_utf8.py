"""A manifest entry that is not valid UTF-8 fails its own row at decode and never reaches the object store:
the error names the field, and the row's raw text keeps the bytes (the job store records them as bytes)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchops.domain.task import ObjectRef
from batchops.manifests.chunks import ChunkRow, decode, encode_lines, encode_rows
from batchops.manifests.inventory import CsvColumns, parse_inventory_line
from batchops.manifests.rows import RowError
from batchops.manifests.source import Position, SourceRow
from tests.support.chunks import BK, BKV, all_chunks, as_rows, csv_source

KEY_NOT_UTF8 = "Key '%FF%FEbad' is not valid UTF-8 (each byte that is not is shown as %XX)"


def storable(text: str | None) -> bool:
    """Whether the text can go to the object store or a text column: UTF-8 with no lone surrogate."""
    try:
        (text or "").encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def row_is_storable(row: ChunkRow) -> bool:
    """A task names only UTF-8; a failed row's error is UTF-8 (its raw text may keep bytes: stored as bytes)."""
    strings: list[Any] = [row.error]
    if row.target is not None:
        strings += [row.target.bucket, row.target.key, row.target.version_id]
    return all(storable(text) for text in strings)


def test_the_issue_row_fails_alone_keeping_its_bytes() -> None:
    # Given the issue's manifest: a line with invalid UTF-8 among good ones
    blob = encode_lines([b"data,good1", b"data,\xff\xfebad", b"data,good2"])
    # When the chunk is decoded into tasks
    rows = decode(blob, 0, BK)
    # Then the good rows are tasks and the bad one is a failed row naming the Key, its bytes kept
    assert rows[0] == ChunkRow(0, ObjectRef("data", "good1"))
    assert rows[2] == ChunkRow(2, ObjectRef("data", "good2"))
    assert rows[1].target is None and rows[1].raw == "data,\udcff\udcfebad"
    assert rows[1].error.startswith(KEY_NOT_UTF8) and "save the manifest as UTF-8" in rows[1].error


@pytest.mark.parametrize(
    ("line", "named"),
    [(b"bkt,k,v\xc0", "VersionId"), (b"b\xe9t,k,v", "Bucket"), (b"bkt,\xed\xa0\x80,v", "Key")],
)
def test_the_error_names_the_field_that_is_not_utf8(line: bytes, named: str) -> None:
    [row] = decode(encode_lines([line]), 0, BKV)
    assert row.target is None and row.error.startswith(f"{named} '") and "not valid UTF-8" in row.error
    assert row.raw == line.decode("utf-8", "surrogateescape")


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=8))
async def test_no_manifest_line_gives_a_task_or_row_the_database_cannot_store(lines: list[bytes]) -> None:
    # Whatever bytes a manifest line holds, both chunk kinds decode to storable tasks and rows only.
    manifest = b"\n".join([b"bkt,k%C3%BC", *lines, b"bkt,last"]) + b"\n"
    source = csv_source(manifest, BKV, piece=5)
    raw_chunks = as_rows(await all_chunks(source, Position(), 3), BKV)
    parsed = [row async for row in source.rows(Position())]
    normalized = decode(encode_rows(parsed), 0, ())
    assert all(map(row_is_storable, raw_chunks)), [r for r in raw_chunks if not row_is_storable(r)]
    assert all(map(row_is_storable, normalized)), [r for r in normalized if not row_is_storable(r)]
    assert [r.target for r in raw_chunks] == [r.target for r in normalized]


def test_a_normalized_row_whose_key_is_not_utf8_fails_alone() -> None:
    # A source row carrying a key that was not UTF-8 (should one ever) is a failed row, not a task.
    rows = [SourceRow(Position(1), ObjectRef("bkt", "\udcff\udcfebad")), SourceRow(Position(2), ObjectRef("bkt", "k"))]
    bad, good = decode(encode_rows(rows), 0, ())
    assert bad.target is None and bad.error.startswith(KEY_NOT_UTF8) and bad.raw == "bkt,\udcff\udcfebad"
    assert good == ChunkRow(1, ObjectRef("bkt", "k"))


@pytest.mark.parametrize(
    ("line", "named"),
    [('"bkt","\udcff\udcfebad","v1"', "Key"), ('"bkt","k","v\udcc0"', "VersionId")],
)
def test_an_inventory_line_that_is_not_utf8_is_a_row_error(line: str, named: str) -> None:
    columns = CsvColumns.from_schema(("Bucket", "Key", "VersionId"))
    with pytest.raises(RowError, match=f"^{named} '.*' is not valid UTF-8"):
        parse_inventory_line(line, columns)


def test_the_error_quotes_a_long_field_only_in_part() -> None:
    [row] = decode(encode_lines([b"bkt," + b"\xff" * 20000]), 0, BK)
    assert row.error.startswith("Key '" + "%FF" * 200 + "…'") and len(row.error) < 1000
    assert row.raw == "bkt," + "\udcff" * 1020  # the stored raw line keeps its first RAW_KEEP characters
