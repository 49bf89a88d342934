"""Manifest sources (batchops.manifests): inventory manifest.json and rows, gunzip, Parquet/ORC, generator
filters and listing in bounded memory, resumable positions, and the dispatch by format.

The S3 client is an in-memory fake with the calls the sources make (get_object with a streaming body).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tracemalloc
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.orc as orc
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError

from batchops.domain.job import (
    GeneratorFilter,
    GeneratorSpec,
    JobSpec,
    ManifestLocation,
    ManifestOutputSpec,
    ManifestSpec,
    OperationSpec,
    ReportSpec,
)
from batchops.domain.task import ObjectRef
from batchops.errors import ManifestError
from batchops.manifests import open_source
from batchops.manifests.csv import CsvSource
from batchops.manifests.generator import GeneratorSource, ListedObject, matches
from batchops.manifests.inventory import (
    CsvColumns,
    Gunzip,
    InventorySource,
    parse_inventory_line,
    parse_inventory_manifest,
)
from batchops.manifests.output import GENERATED_FORMAT, ManifestWriter
from batchops.manifests.rows import RowError
from batchops.manifests.source import Position, SourceRow

SCHEMA = "Bucket, Key, VersionId, IsLatest, Size"


# --- an in-memory S3 -------------------------------------------------------------------------


class FakeBody:
    def __init__(self, data: bytes) -> None:
        self._data = data

    async def iter_chunks(self, chunk_size: int) -> AsyncIterator[bytes]:
        for start in range(0, len(self._data), 7):  # tiny chunks: lines and gzip members split anywhere
            yield self._data[start : start + 7]

    async def read(self) -> bytes:
        return self._data

    def close(self) -> None:
        pass


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}
        self.metadata: dict[tuple[str, str], dict[str, str]] = {}

    def put(self, bucket: str, key: str, data: bytes) -> str:
        self.objects[(bucket, key)] = data
        return f'"{hashlib.md5(data).hexdigest()}"'

    async def put_object(self, Bucket: str, Key: str, Body: bytes, Metadata: dict[str, str], **_: Any) -> Any:
        self.metadata[(Bucket, Key)] = Metadata
        return {"ETag": self.put(Bucket, Key, Body)}

    async def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        await self.get_object(Bucket, Key)
        return {"ContentLength": len(self.objects[(Bucket, Key)]), "Metadata": self.metadata.get((Bucket, Key), {})}

    async def get_object(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        if (Bucket, Key) not in self.objects:
            error = {"Error": {"Code": "NoSuchKey", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 404}}
            raise ClientError(error, "GetObject")  # type: ignore[arg-type]
        data = self.objects[(Bucket, Key)]
        return {"Body": FakeBody(data), "ETag": f'"{hashlib.md5(data).hexdigest()}"'}


def inventory(
    s3: FakeS3, files: list[bytes], *, file_format: str = "CSV", schema: str = SCHEMA, **extra: Any
) -> ManifestSpec:
    entries = []
    for number, data in enumerate(files):
        key = f"inv/data/{number}.{'csv.gz' if file_format == 'CSV' else file_format.lower()}"
        s3.put("inv-bucket", key, data)
        entries.append({"key": key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()})
    body = json.dumps({"fileFormat": file_format, "fileSchema": schema, "files": entries, **extra}).encode()
    etag = s3.put("inv-bucket", "inv/manifest.json", body)
    s3.put("inv-bucket", "inv/manifest.checksum", hashlib.md5(body).hexdigest().encode() + b"\n")
    return ManifestSpec(
        "S3InventoryReport_CSV_20161130",
        ("Bucket", "Key"),
        ManifestLocation("arn:aws:s3:::inv-bucket/inv/manifest.json", etag),
    )


async def collect(source: Any, start: Position | None = None) -> list[SourceRow]:
    return [row async for row in source.rows(start or Position())]


def gz(text: str) -> bytes:
    return gzip.compress(text.encode())


# --- manifest.json ---------------------------------------------------------------------------


def test_manifest_json_gives_format_schema_files_and_bucket() -> None:
    body = json.dumps(
        {
            "destinationBucket": "arn:aws:s3:::dest",
            "fileFormat": "CSV",
            "fileSchema": "Bucket, Key, Size",
            "files": [{"key": "a.csv.gz", "size": 1, "MD5checksum": "ABC"}],
        }
    ).encode()
    parsed = parse_inventory_manifest(body, "manifest-bucket")
    assert (parsed.bucket, parsed.file_format, parsed.schema) == ("dest", "CSV", ("Bucket", "Key", "Size"))
    assert parsed.files[0].key == "a.csv.gz" and parsed.files[0].md5 == "abc"


def test_cos_destination_bucket_and_default_bucket() -> None:
    cos = {"destinationBucket": "qcs::cos:ap-guangzhou::examplebucket-1250000000", "files": []}
    assert parse_inventory_manifest(json.dumps(cos).encode(), "m").bucket == "examplebucket-1250000000"
    assert parse_inventory_manifest(b'{"files": []}', "manifest-bucket").bucket == "manifest-bucket"


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"fileFormat": "XLSX", "files": []}', "fileFormat 'XLSX'"),
        (b'{"fileFormat": "CSV"}', "no files list"),
        (b'{"files": [{"size": 1}]}', "files entry 1 has no key"),
    ],
)
def test_unusable_manifest_json_is_named(body: bytes, problem: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_inventory_manifest(body, "b")
    assert problem in str(caught.value)
    assert caught.value.code == "InvalidInventoryManifest"


def test_schema_without_key_is_refused() -> None:
    with pytest.raises(ManifestError, match="no Key column"):
        CsvColumns.from_schema(("Bucket", "Size"))


# --- inventory CSV rows ----------------------------------------------------------------------


def test_inventory_line_finds_columns_by_name_and_decodes_the_key() -> None:
    columns = CsvColumns.from_schema(("Size", "Key", "Bucket"))
    assert parse_inventory_line('"12","a%20b%2Bc+d","bkt"', columns) == ObjectRef("bkt", "a b+c+d")


def test_empty_version_in_an_all_versions_inventory_is_the_null_version() -> None:
    columns = CsvColumns.from_schema(tuple(SCHEMA.split(", ")))
    assert parse_inventory_line('"bkt","k","","true","1"', columns) == ObjectRef("bkt", "k", "null")
    assert parse_inventory_line('"bkt","k","v1","true","1"', columns) == ObjectRef("bkt", "k", "v1")


def test_cos_app_id_completes_the_bucket_name() -> None:
    columns = CsvColumns.from_schema(("AppID", "Bucket", "Key"))
    assert parse_inventory_line('"125","photos","k"', columns) == ObjectRef("photos-125", "k")
    assert parse_inventory_line('"125","photos-125","k"', columns) == ObjectRef("photos-125", "k")


def test_header_and_blank_lines_are_not_rows() -> None:
    columns = CsvColumns.from_schema(("Bucket", "Key"))
    assert parse_inventory_line('"Bucket","Key"', columns) is None
    assert parse_inventory_line("  ", columns) is None


@pytest.mark.parametrize(
    ("line", "problem"),
    [('"bkt"', "has 1 fields"), ('"Not_A_Bucket","k"', "not a valid bucket"), ('"bkt",""', "Key is empty")],
)
def test_bad_inventory_lines_are_row_errors(line: str, problem: str) -> None:
    with pytest.raises(RowError, match=problem):
        parse_inventory_line(line, CsvColumns.from_schema(("Bucket", "Key")))


# --- gunzip ----------------------------------------------------------------------------------


def gunzip_all(data: bytes, step: int = 1000) -> list[bytes]:
    unzip = Gunzip("f.gz")
    pieces = [piece for start in range(0, len(data), step) for piece in unzip.feed(data[start : start + step])]
    return [*pieces, unzip.finish()]


def test_gunzip_reads_several_members_in_bounded_pieces() -> None:
    data = gzip.compress(b"a" * 5_000_000) + gzip.compress(b"tail\n")
    pieces = gunzip_all(data, step=len(data))
    assert b"".join(pieces) == b"a" * 5_000_000 + b"tail\n"
    assert max(len(p) for p in pieces) <= 1024 * 1024


@pytest.mark.parametrize(
    ("data", "problem"),
    [(gzip.compress(b"x" * 1000, mtime=0)[:-12], "truncated"), (b"plain text", "not valid gzip")],
    ids=["truncated", "not-gzip"],  # the same ids in every xdist worker (a gzip header carries a time)
)
def test_broken_gzip_fails_the_manifest(data: bytes, problem: str) -> None:
    with pytest.raises(ManifestError, match=problem):
        gunzip_all(data, step=3)


# --- the inventory source ----------------------------------------------------------------------


async def test_inventory_source_reads_every_file_in_order_and_resumes() -> None:
    s3 = FakeS3()
    files = [
        gz('"bk1","k1","","true","1"\n"bk1","k2","v2","true","1"\n'),
        gz('\n"bk1","k%203","","true","1"\n"Bad!","k","","",""\n'),
    ]
    spec = inventory(s3, files)
    rows = await collect(InventorySource(s3, spec))
    assert [r.target for r in rows[:3]] == [
        ObjectRef("bk1", "k1", "null"),
        ObjectRef("bk1", "k2", "v2"),
        ObjectRef("bk1", "k 3", "null"),
    ]
    assert rows[3].target is None and rows[3].error and "bucket" in rows[3].error and '"Bad!"' in rows[3].raw
    assert [r.position.entries for r in rows] == [1, 2, 4, 5]  # the blank line counts as an entry
    # After a restart at a committed position, only the later rows come again
    assert await collect(InventorySource(s3, spec), rows[1].position) == rows[2:]


async def test_inventory_data_file_checksum_mismatch_fails() -> None:
    s3 = FakeS3()
    spec = inventory(s3, [gz('"bk1","k1","","true","1"\n')])
    s3.objects[("inv-bucket", "inv/data/0.csv.gz")] = gz('"bk1","k9","","true","1"\n')
    with pytest.raises(ManifestError) as caught:
        await collect(InventorySource(s3, spec))
    assert caught.value.code == "InventoryChecksumMismatch" and "inv/data/0.csv.gz" in str(caught.value)


async def test_manifest_checksum_is_checked_when_present() -> None:
    s3 = FakeS3()
    spec = inventory(s3, [gz('"bk1","k1","","true","1"\n')])
    s3.objects[("inv-bucket", "inv/manifest.checksum")] = b"0" * 32
    with pytest.raises(ManifestError, match=r"manifest\.checksum says"):
        await collect(InventorySource(s3, spec))
    del s3.objects[("inv-bucket", "inv/manifest.checksum")]  # an inventory without one is read as is
    assert len(await collect(InventorySource(s3, spec))) == 1


async def test_manifest_etag_is_checked() -> None:
    s3 = FakeS3()
    spec = inventory(s3, [gz('"bk1","k1","","true","1"\n')])
    stale = ManifestSpec(spec.format, spec.fields, ManifestLocation(spec.location.object_arn, '"0000"'))
    with pytest.raises(ManifestError) as caught:
        await collect(InventorySource(s3, stale))
    assert caught.value.code == "ManifestETagMismatch"


def columnar(file_format: str, columns: dict[str, list[Any]]) -> bytes:
    sink = io.BytesIO()
    table = pa.table(columns)
    if file_format == "Parquet":
        pq.write_table(table, sink, row_group_size=500)
    else:
        orc.write_table(table, sink, stripe_size=64 * 1024)
    return sink.getvalue()


@pytest.mark.parametrize("file_format", ["Parquet", "ORC"])
async def test_columnar_inventories_are_read_by_column_name(file_format: str) -> None:
    s3 = FakeS3()
    keys = [f"k {i}%" for i in range(3000)]  # not URL-encoded in these formats
    data = columnar(
        file_format,
        {"size": [1] * 3000, "key": keys, "version_id": ["v"] * 2999 + [""], "bucket": ["bk1"] * 2999 + ["BAD"]},
    )
    rows = await collect(InventorySource(s3, inventory(s3, [data], file_format=file_format, schema="…")))
    assert [r.target for r in rows[:2]] == [ObjectRef("bk1", "k 0%", "v"), ObjectRef("bk1", "k 1%", "v")]
    assert len(rows) == 3000 and rows[-1].target is None and rows[-1].raw == "BAD,k 2999%,"


async def test_columnar_file_without_a_key_column_is_refused() -> None:
    s3 = FakeS3()
    data = columnar("Parquet", {"bucket": ["bk1"], "size": [1]})
    with pytest.raises(ManifestError, match="no key column"):
        await collect(InventorySource(s3, inventory(s3, [data], file_format="Parquet")))


# --- generator filters and listing -----------------------------------------------------------

AT = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def item(key: str = "logs/a.txt", size: int = 10, storage_class: str = "STANDARD") -> ListedObject:
    return ListedObject(key, size, AT, storage_class)


@pytest.mark.parametrize(
    ("rules", "kept", "dropped"),
    [
        (GeneratorFilter(created_after="2024-05-01T11:59:59Z"), item(), None),
        (GeneratorFilter(created_after="2024-05-01T12:00:00Z"), None, item()),  # strictly after
        (GeneratorFilter(created_before="2024-05-01T12:00:01Z"), item(), None),
        (GeneratorFilter(created_before="2024-05-01T12:00:00Z"), None, item()),
        (GeneratorFilter(match_any_prefix=("img/", "logs/")), item(), item("x/logs/a")),
        (GeneratorFilter(match_any_suffix=(".txt",)), item(), item("a.csv")),
        (GeneratorFilter(match_any_substring=("og",)), item(), item("img/a")),
        (GeneratorFilter(size_greater_than=9), item(size=10), item(size=9)),
        (GeneratorFilter(size_less_than=11), item(size=10), item(size=11)),
        (GeneratorFilter(storage_classes=("GLACIER",)), item(storage_class="GLACIER"), item()),
    ],
)
def test_each_filter_keeps_and_drops(
    rules: GeneratorFilter, kept: ListedObject | None, dropped: ListedObject | None
) -> None:
    if kept is not None:
        assert matches(rules, kept)
    if dropped is not None:
        assert not matches(rules, dropped)


def fake_lister(count: int, calls: list[tuple[str, str | None, str | None]]) -> Any:
    async def lister(bucket: str, prefix: str | None, cursor: str | None) -> AsyncIterator[ListedObject]:
        calls.append((bucket, prefix, cursor))
        start = cursor.partition("\0")[0] if cursor else None
        for i in range(count):
            key = f"logs/{i:07d}"
            if start is None or key > start:
                yield ListedObject(key, i % 100, AT)

    return lister


def generator(**rules: Any) -> GeneratorSpec:
    return GeneratorSpec("arn:aws:s3:::src", False, filter=GeneratorFilter(**rules))


async def test_generator_source_narrows_by_one_prefix_and_resumes_after_its_cursor() -> None:
    calls: list[tuple[str, str | None, str | None]] = []
    source = GeneratorSource(None, generator(match_any_prefix=("logs/",), size_less_than=50), fake_lister(300, calls))
    rows = await collect(source)
    assert calls == [("src", "logs/", None)]
    assert len(rows) == 150 and rows[0].target == ObjectRef("src", "logs/0000000")
    assert [r.position.entries for r in rows[:3]] == [1, 2, 3]
    again = await collect(source, rows[99].position)
    assert calls[-1][2] == rows[99].position.cursor
    assert again == rows[100:]


@pytest.mark.parametrize("keys", [200_000, pytest.param(1_000_000, marks=pytest.mark.soak)])
async def test_generator_listing_many_keys_keeps_memory_bounded(keys: int) -> None:
    source = GeneratorSource(None, generator(match_any_suffix=("05",)), fake_lister(keys, []))
    tracemalloc.start()
    try:
        count = 0
        async for _row in source.rows(Position()):
            count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == keys // 100
    assert peak < 2 * 1024 * 1024, f"peak {peak} bytes"


# --- dispatch --------------------------------------------------------------------------------


def job_spec(manifest: ManifestSpec | None = None, generator_spec: GeneratorSpec | None = None) -> JobSpec:
    return JobSpec(
        "t",
        1,
        "r",
        manifest,
        OperationSpec("S3PutObjectTagging", {}, "<x/>"),
        ReportSpec(False),
        generator=generator_spec,
    )


@pytest.mark.parametrize(
    ("manifest_format", "kind"),
    [
        ("S3BatchOperations_CSV_20180820", CsvSource),
        ("COSBatchOperations_CSV_V1", CsvSource),
        ("S3InventoryReport_CSV_20161130", InventorySource),
        ("COSInventoryReport_CSV_V1", InventorySource),
    ],
)
def test_open_source_picks_the_source_by_format(manifest_format: str, kind: type) -> None:
    manifest = ManifestSpec(manifest_format, ("Bucket", "Key"), ManifestLocation("arn:aws:s3:::b/k", "e"))
    assert isinstance(open_source(job_spec(manifest), None), kind)
    assert isinstance(open_source(job_spec(None, generator()), None), GeneratorSource)


async def test_saved_generated_manifest_reads_back_as_an_inventory() -> None:
    s3 = FakeS3()
    spec = GeneratorSpec(
        "arn:aws:s3:::src",
        True,
        output=ManifestOutputSpec("arn:aws:s3:::out", GENERATED_FORMAT, "gen/"),
        include_all_versions=True,
    )
    writer = ManifestWriter(s3, "job-1", spec, spec.output)  # type: ignore[arg-type]
    await writer.write_chunk(0, [ObjectRef("src", "a b,c", "v1"), ObjectRef("src", "d", "null")])
    await writer.write_chunk(1, [])  # a chunk without targets writes no file
    await writer.write_chunk(2, [ObjectRef("src", "e", "v3")])
    await writer.write_chunk(3, [ObjectRef("src", "stale", "v")])  # beyond the final count: left out
    saved = await writer.finish(3)
    assert saved.object_arn == "arn:aws:s3:::out/gen/job-job-1/manifest.json"
    location = ManifestLocation(saved.object_arn, saved.etag)
    rows = await collect(InventorySource(s3, ManifestSpec("S3InventoryReport_CSV_20161130", (), location)))
    assert [r.target for r in rows] == [
        ObjectRef("src", "a b,c", "v1"),
        ObjectRef("src", "d", "null"),
        ObjectRef("src", "e", "v3"),
    ]
