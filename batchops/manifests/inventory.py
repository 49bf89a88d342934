"""Inventory reports as manifests: ``S3InventoryReport_CSV_20161130`` and ``COSInventoryReport_CSV_V1``.

The job's ObjectArn names the inventory's ``manifest.json``. It is read whole (it only lists the data
files), checked against its ETag and, when the inventory has one, its ``manifest.checksum`` (the MD5 of
manifest.json). Then every ``files[]`` entry is read in order:

* CSV (gzip or plain): streamed, gunzipped in bounded pieces and split into lines as it arrives; the
  columns are located by name in ``fileSchema``; keys are URL-encoded, as in every CSV inventory.
* Parquet and ORC: downloaded to a temporary file (their index is at the end), then read in record
  batches with pyarrow; the columns are found by name (``bucket``, ``key``, ``version_id``); keys are
  not URL-encoded in these formats.

Each data file's ``MD5checksum`` is checked over the bytes as they are read; a mismatch fails the job.
Positions count data rows across all files, so a restart re-reads the files and skips committed rows.

Versions: an inventory whose schema has a VersionId column lists object versions ("all versions"). In
such an inventory an empty VersionId is the object written while versioning was off, whose version id
is the literal ``null``: the row acts on exactly that version (AWS instead fails such a row unless the
user rewrote it to ``null``). Without a VersionId column every row acts on the current version.
"""

from __future__ import annotations

import csv
import hashlib
import json
import zlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import BUCKET_RULE, is_bucket_name, parse_bucket_arn
from batchops.domain.job import ManifestSpec
from batchops.domain.task import ObjectRef
from batchops.errors import ManifestError, ValidationError
from batchops.manifests import columnar
from batchops.manifests.objects import body_chunks, get_object, location_object, open_manifest
from batchops.manifests.rows import RAW_KEEP, LineSplitter, RowError, decode_key, require_utf8
from batchops.manifests.source import Position, SourceRow
from batchops.s3.types import S3Client

#: manifest.json only lists files; anything bigger is not an inventory manifest.
MAX_MANIFEST_JSON_BYTES = 64 * 1024 * 1024
#: Largest piece gunzipped at once, so a highly compressed file cannot blow up memory.
_GUNZIP_PIECE = 1024 * 1024
_FILE_FORMATS = {"csv": "CSV", "parquet": "Parquet", "orc": "ORC"}


@dataclass(frozen=True)
class InventoryFile:
    key: str
    md5: str | None  # hex MD5 of the object's bytes, when the manifest gives one


@dataclass(frozen=True)
class Inventory:
    bucket: str  # where the data files are
    file_format: str  # CSV | Parquet | ORC
    schema: tuple[str, ...]  # column names (CSV)
    files: tuple[InventoryFile, ...]


# ---------------------------------------------------------------------------------------------
# manifest.json


def parse_inventory_manifest(body: bytes, manifest_bucket: str) -> Inventory:
    """manifest.json → the data files to read; ManifestError naming what is missing or wrong."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _bad_manifest(f"it is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise _bad_manifest("it must be a JSON object with fileFormat, fileSchema and files")
    file_format = _file_format(data.get("fileFormat", "CSV"))
    schema = tuple(name.strip() for name in str(data.get("fileSchema", "")).split(",") if name.strip())
    return Inventory(
        bucket=_destination_bucket(data.get("destinationBucket"), manifest_bucket),
        file_format=file_format,
        schema=schema,
        files=_files(data.get("files")),
    )


def _file_format(value: Any) -> str:
    found = _FILE_FORMATS.get(str(value).lower())
    if found is None:
        raise _bad_manifest(f"fileFormat {value!r} is not one of CSV, Parquet, ORC")
    return found


def _destination_bucket(value: Any, manifest_bucket: str) -> str:
    if not value:
        return manifest_bucket
    text = str(value)
    try:
        if text.startswith("arn:"):
            return parse_bucket_arn(text, "destinationBucket")
    except ValidationError as exc:
        raise _bad_manifest(str(exc)) from None
    name = text.rsplit(":", 1)[-1]  # qcs::cos:<region>:uid/<appid>:<bucket-appid>, or a plain name
    if not is_bucket_name(name):
        raise _bad_manifest(f"destinationBucket {text!r} names no valid bucket; {BUCKET_RULE}")
    return name


def _files(value: Any) -> tuple[InventoryFile, ...]:
    if not isinstance(value, list):
        raise _bad_manifest("it has no files list (files: [{key, size, MD5checksum}, …])")
    files = []
    for number, entry in enumerate(value, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str) or not entry["key"]:
            raise _bad_manifest(f"files entry {number} has no key")
        md5 = entry.get("MD5checksum")
        files.append(InventoryFile(entry["key"], str(md5).lower() if md5 else None))
    return tuple(files)


def _bad_manifest(problem: str) -> ManifestError:
    return ManifestError("InvalidInventoryManifest", f"the inventory manifest.json is unusable: {problem}")


# ---------------------------------------------------------------------------------------------
# CSV data rows


@dataclass(frozen=True)
class CsvColumns:
    """Where Bucket, Key, VersionId (and COS's AppID) are in an inventory CSV row."""

    width: int
    bucket: int
    key: int
    version_id: int | None = None
    app_id: int | None = None

    @classmethod
    def from_schema(cls, schema: tuple[str, ...]) -> CsvColumns:
        lowered = [name.lower() for name in schema]
        missing = [name for name in ("Bucket", "Key") if name.lower() not in lowered]
        if missing:
            raise _bad_manifest(f"fileSchema {', '.join(schema)!r} has no {' or '.join(missing)} column")

        def find(name: str) -> int | None:
            return lowered.index(name.lower()) if name.lower() in lowered else None

        bucket, key = find("Bucket"), find("Key")
        assert bucket is not None and key is not None
        return cls(len(schema), bucket, key, find("VersionId"), find("AppID"))

    def used(self, values: list[str]) -> tuple[list[str], list[str]]:
        """The values of a row that batchops reads, and their column names."""
        at = {"Bucket": self.bucket, "Key": self.key, "VersionId": self.version_id, "AppID": self.app_id}
        named = [(name, values[index]) for name, index in at.items() if index is not None]
        return [value for _, value in named], [name for name, _ in named]

    def is_header(self, values: list[str]) -> bool:
        return values[self.bucket].lower() == "bucket" and values[self.key].lower() == "key"


def parse_inventory_line(line: str, columns: CsvColumns) -> ObjectRef | None:
    """One inventory CSV line → its object; None for a blank line or a header; RowError if unusable."""
    if not line.strip():
        return None
    try:
        values = next(csv.reader([line], strict=True))
    except csv.Error as exc:
        raise RowError(f"inventory line is not valid CSV ({exc})") from None
    if len(values) < columns.width:
        raise RowError(f"inventory line has {len(values)} fields but fileSchema names {columns.width}")
    if columns.is_header(values):
        return None
    if not line.isascii():
        require_utf8(*columns.used(values))
    bucket = values[columns.bucket].strip()
    if columns.app_id is not None:
        bucket = cos_bucket(bucket, values[columns.app_id].strip())
    version = None if columns.version_id is None else values[columns.version_id].strip()
    return object_ref(bucket, decode_key(values[columns.key]), version)


def cos_bucket(bucket: str, app_id: str) -> str:
    """COS inventories give the bucket name and the AppID apart; the bucket is addressed as name-appid."""
    return bucket if not app_id or bucket.endswith(f"-{app_id}") else f"{bucket}-{app_id}"


def object_ref(bucket: str, key: str, version_id: str | None) -> ObjectRef:
    """A row's target; ``version_id`` None means the inventory has no VersionId column."""
    if not is_bucket_name(bucket):
        raise RowError(f"Bucket {bucket!r} is not a valid bucket name; {BUCKET_RULE}")
    if not key:
        raise RowError("Key is empty; every inventory row needs an object key")
    if version_id is not None and not version_id:
        version_id = "null"  # all-versions inventory: the version written while versioning was off
    return ObjectRef(bucket, key, version_id)


# ---------------------------------------------------------------------------------------------
# The source


class InventorySource:
    """Every data row of an inventory report, file after file (see the module docstring)."""

    def __init__(self, s3: S3Client, manifest: ManifestSpec) -> None:
        self._s3 = s3
        self._manifest = manifest

    async def rows(self, start: Position) -> AsyncIterator[SourceRow]:
        inventory = await self.read_manifest()
        entries = 0
        for file in inventory.files:
            async for target, error, raw in self._file_rows(inventory, file, skip=start.entries - entries):
                entries += 1
                if entries > start.entries and (target is not None or error is not None):
                    yield SourceRow(Position(entries), target, error, raw[:RAW_KEEP])

    async def read_manifest(self) -> Inventory:
        bucket, key = location_object(self._manifest.location)
        body = bytearray()
        async for chunk in body_chunks(await open_manifest(self._s3, self._manifest.location)):
            body += chunk
            if len(body) > MAX_MANIFEST_JSON_BYTES:
                raise _bad_manifest(f"it is over {MAX_MANIFEST_JSON_BYTES} bytes; is the ObjectArn a manifest.json?")
        await self._check_manifest_checksum(bucket, key, bytes(body))
        return parse_inventory_manifest(bytes(body), bucket)

    async def _check_manifest_checksum(self, bucket: str, key: str, body: bytes) -> None:
        checksum_key = key.rsplit("/", 1)[0] + "/manifest.checksum" if "/" in key else "manifest.checksum"
        try:
            response = await self._s3.get_object(Bucket=bucket, Key=checksum_key)
            expected = (await response["Body"].read()).decode("ascii", errors="replace").strip().lower()
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return  # the inventory has no checksum file: nothing to check
            raise ManifestError("ManifestNotReadable", f"could not read s3://{bucket}/{checksum_key}: {exc}") from None
        except BotoCoreError as exc:
            raise ManifestError("ManifestNotReadable", f"could not read s3://{bucket}/{checksum_key}: {exc}") from None
        actual = hashlib.md5(body).hexdigest()
        if expected.split()[0:1] != [actual]:
            raise ManifestError(
                "InventoryChecksumMismatch",
                f"s3://{bucket}/{key} has MD5 {actual} but manifest.checksum says {expected[:32]!r}; "
                "the inventory is incomplete or was changed: use an intact inventory",
            )

    def _file_rows(
        self, inventory: Inventory, file: InventoryFile, skip: int
    ) -> AsyncIterator[tuple[ObjectRef | None, str | None, str]]:
        if inventory.file_format == "CSV":
            return self._csv_rows(inventory, file, skip)
        return self._columnar_rows(inventory, file)

    async def _csv_rows(
        self, inventory: Inventory, file: InventoryFile, skip: int
    ) -> AsyncIterator[tuple[ObjectRef | None, str | None, str]]:
        columns = CsvColumns.from_schema(inventory.schema)
        async for line in self._csv_lines(inventory.bucket, file):
            skip -= 1
            if skip >= 0:  # committed before a restart: only counted
                yield None, None, ""
                continue
            try:
                yield parse_inventory_line(line, columns), None, line
            except RowError as exc:
                yield None, str(exc), line

    async def _csv_lines(self, bucket: str, file: InventoryFile) -> AsyncIterator[str]:
        body = (await get_object(self._s3, bucket, file.key, what="the inventory data file"))["Body"]
        md5 = hashlib.md5()
        splitter = LineSplitter()
        gunzip = Gunzip(file.key) if file.key.endswith(".gz") else None
        async for chunk in body_chunks(body):
            md5.update(chunk)
            for piece in gunzip.feed(chunk) if gunzip else [chunk]:
                for line in splitter.feed(piece):
                    yield line
        for line in splitter.feed(gunzip.finish()) if gunzip else []:
            yield line
        for line in splitter.finish():
            yield line
        check_md5(bucket, file, md5.hexdigest())

    async def _columnar_rows(
        self, inventory: Inventory, file: InventoryFile
    ) -> AsyncIterator[tuple[ObjectRef | None, str | None, str]]:
        body = (await get_object(self._s3, inventory.bucket, file.key, what="the inventory data file"))["Body"]
        with columnar.spool() as spooled:
            md5 = hashlib.md5()
            async for chunk in body_chunks(body):
                md5.update(chunk)
                spooled.write(chunk)
            check_md5(inventory.bucket, file, md5.hexdigest())
            async for bucket, key, version_id in columnar.read_rows(spooled, inventory.file_format, file.key):
                raw = f"{bucket},{key}" + ("" if version_id is None else f",{version_id}")
                try:
                    yield object_ref(bucket, key, version_id), None, raw
                except RowError as exc:
                    yield None, str(exc), raw


def check_md5(bucket: str, file: InventoryFile, actual: str) -> None:
    if file.md5 is not None and file.md5 != actual:
        raise ManifestError(
            "InventoryChecksumMismatch",
            f"inventory data file s3://{bucket}/{file.key} has MD5 {actual} but manifest.json says {file.md5}; "
            "the file is corrupt or was replaced: use an intact inventory",
        )


class Gunzip:
    """Incremental gunzip (several gzip members allowed), in pieces of at most ``_GUNZIP_PIECE`` bytes."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._inflate = zlib.decompressobj(wbits=31)
        self._in_member = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            while data:
                piece = self._inflate.decompress(data, _GUNZIP_PIECE)
                self._in_member = True
                if piece:
                    yield piece
                if self._inflate.eof:  # one gzip member ended; another may follow
                    data = self._inflate.unused_data
                    self._inflate = zlib.decompressobj(wbits=31)
                    self._in_member = False
                else:
                    data = self._inflate.unconsumed_tail
        except zlib.error as exc:
            raise self._error(f"is not valid gzip ({exc})") from None

    def finish(self) -> bytes:
        """What is still buffered; ManifestError if the file ended inside a gzip member."""
        if not self._in_member:
            return b""
        try:
            rest = self._inflate.flush()
        except zlib.error as exc:
            raise self._error(f"is not valid gzip ({exc})") from None
        if not self._inflate.eof:
            raise self._error("is truncated (its gzip stream does not end)")
        return rest

    def _error(self, problem: str) -> ManifestError:
        return ManifestError("InvalidInventoryManifest", f"inventory data file {self._name} {problem}")
