"""A manifest that starts with a header row, and one whose ETag is not the job's: each fails the job once, with
a reason that says what is wrong (batchops.manifests.rows.header_row, batchops.manifests.objects)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batchops.domain.job import ManifestLocation, ManifestSpec
from batchops.errors import ManifestError
from batchops.manifests.csv import CsvSource
from batchops.manifests.objects import ManifestETagMismatch, same_etag
from batchops.manifests.rows import header_row
from batchops.manifests.source import Position
from tests.unit.test_manifest_sources import FakeS3

CREATED = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ("Bucket,Key", ("Bucket", "Key")),
        ("\ufeffBucket,Key\r", ("Bucket", "Key")),
        (" BUCKET , key ", ("Bucket", "Key")),
        ('"Bucket","Key"', ("Bucket", "Key")),
        ("Bucket,Key,VersionId", ("Bucket", "Key", "VersionId")),
        ("Bucket,Key", ("Bucket", "Key", "VersionId")),  # fewer columns than Fields
        ("Bucket,Key,VersionId", ("Bucket", "Key")),  # more, all of them field names
        ("size,Bucket,Key", ("Ignore", "Bucket", "Key")),
    ],
)
def test_a_row_naming_the_fields_is_a_header(line: str, fields: tuple[str, ...]) -> None:
    assert header_row(line, fields) == line.removeprefix("\ufeff").strip()


@pytest.mark.parametrize(
    ("line", "fields"),
    [
        ("bucket,key", ("Bucket", "Key")),  # the object `key` in a bucket named `bucket`: a task
        ("bucket,Key", ("Bucket", "Key")),
        ("my-bucket,Bucket", ("Bucket", "Key")),
        ("Bucket,photo.jpg", ("Bucket", "Key")),  # an invalid bucket: one failed task, as any other bad row
        ("Key,Bucket", ("Bucket", "Key")),
        ("Bucket,Key,Size", ("Bucket", "Key")),
        ("Bucket", ("Bucket", "Key")),
        ('"Bucket,Key', ("Bucket", "Key")),  # not valid CSV: a row error, not a header
        ("", ("Bucket", "Key")),
    ],
)
def test_other_rows_are_not(line: str, fields: tuple[str, ...]) -> None:
    assert header_row(line, fields) is None


def csv_manifest(s3: FakeS3, text: str, fields: tuple[str, ...] = ("Bucket", "Key")) -> ManifestSpec:
    etag = s3.put("mbucket", "manifests/objects.csv", text.encode())
    location = ManifestLocation("arn:aws:s3:::mbucket/manifests/objects.csv", etag)
    return ManifestSpec("S3BatchOperations_CSV_20180820", fields, location)


async def chunked_rows(source: CsvSource, start: Position) -> int:
    return sum([chunk.count async for chunk in source.chunks(start, 2)])


HEADED = "Bucket,Key\nb1,k1\nb1,k2\n"
NO_HEADER = "manifests have no header row: remove the first line `Bucket,Key` from the manifest s3://mbucket/manifests"


async def test_preparing_refuses_a_header_read_in_small_pieces() -> None:
    s3 = FakeS3()
    source = CsvSource(s3, csv_manifest(s3, HEADED))  # the fake body comes 7 bytes at a time
    with pytest.raises(ManifestError, match=NO_HEADER) as refused:
        await chunked_rows(source, Position())
    assert refused.value.code == "InvalidManifest"
    with pytest.raises(ManifestError, match=NO_HEADER):
        [row async for row in source.rows(Position())]


async def test_a_manifest_without_one_is_read_whole() -> None:
    s3 = FakeS3()
    assert await chunked_rows(CsvSource(s3, csv_manifest(s3, "bucket,key\nb1,k2\n")), Position()) == 2
    assert await chunked_rows(CsvSource(s3, csv_manifest(s3, "b1,k1")), Position()) == 1  # no newline at all
    assert await chunked_rows(CsvSource(s3, csv_manifest(s3, "")), Position()) == 0


async def test_a_resumed_read_past_the_first_line_does_not_look_again() -> None:
    s3 = FakeS3()
    assert await chunked_rows(CsvSource(s3, csv_manifest(s3, HEADED)), Position(1)) == 2


def test_etags_compare_without_quotes_or_case() -> None:
    assert same_etag('"ABCDEF0123"', "abcdef0123 ")
    assert not same_etag('"abcdef0123"', '"abcdef0124"')


class DatedS3(FakeS3):
    def __init__(self, modified: datetime) -> None:
        super().__init__()
        self.modified = modified

    async def get_object(self, Bucket: str, Key: str, **extra: Any) -> dict[str, Any]:
        return {**await super().get_object(Bucket, Key, **extra), "LastModified": self.modified}


async def mismatch(modified: datetime) -> ManifestETagMismatch:
    s3 = DatedS3(modified)
    spec = csv_manifest(s3, "b1,k1\n")
    wrong = ManifestSpec(spec.format, spec.fields, ManifestLocation(spec.location.object_arn, '"0123ABCD"'))
    with pytest.raises(ManifestETagMismatch) as caught:
        await chunked_rows(CsvSource(s3, wrong), Position())
    return caught.value


async def test_an_etag_that_never_matched_says_so() -> None:
    found = (await mismatch(CREATED - timedelta(hours=1))).told_apart(CREATED)
    assert found.code == "ManifestETagMismatch"
    assert str(found).startswith("the ETag 0123abcd given at CreateJob never matched the manifest s3://mbucket/")
    assert "before the job was created" in str(found) and "changed" not in str(found)


async def test_a_manifest_changed_after_creation_says_so() -> None:
    found = (await mismatch(CREATED + timedelta(minutes=5))).told_apart(CREATED)
    assert "changed after the job was created (last modified 2026-11-30 12:05:00 UTC)" in str(found)
    assert "0123abcd" in str(found)


@pytest.mark.parametrize("skew", [timedelta(seconds=-1), timedelta(0), timedelta(seconds=2)])
async def test_too_close_to_tell_names_both_etags_and_claims_neither(skew: timedelta) -> None:
    found = (await mismatch(CREATED + skew)).told_apart(CREATED)
    assert str(found).startswith("the manifest s3://mbucket/manifests/objects.csv has ETag ")
    assert "not the ETag 0123abcd the job was created with" in str(found)
    assert "never" not in str(found) and "changed" not in str(found)
