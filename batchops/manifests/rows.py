"""CSV manifest lines and rows: bytes → physical lines → one ``ObjectRef`` (or ``RowError``) each; the key codec.

Lines are split on ``\\n`` at the byte level before decoding. A ``\\n`` byte never occurs inside a
multi-byte UTF-8 sequence, so a character split across chunks simply waits in the pending bytes
of its line, and no incremental decoder is needed. Memory is bounded by the longest accepted line
(``MAX_LINE_BYTES``) plus one chunk. A row may not span lines: a key containing a newline must be
URL-encoded (``%0A``), as manifests require anyway.

Each line is decoded with ``errors="surrogateescape"`` so that a line with invalid UTF-8 still
comes out as one line (its bad bytes as lone surrogates) and ``parse_row`` reports that row alone,
instead of the whole stream failing. Such a row is never sent to the object store: its error names the field
(``storable_raw`` shows each bad byte as ``%XX`` there), and its raw text keeps the bytes, which the job store
records as bytes (batchops.store.outcomes), so the report shows them URL-encoded as the manifest had them.
Every physical line is yielded, blank ones included, so a caller can count lines to resume a manifest
where it stopped.
"""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator, Sequence
from urllib.parse import quote, unquote

from batchops.arns import BUCKET_RULE, is_bucket_name
from batchops.domain.task import ObjectRef

MAX_LINE_BYTES = 64 * 1024
MAX_KEY_BYTES = 1024
FIELD_NAMES = ("Ignore", "Bucket", "Key", "VersionId")
DEFAULT_FIELDS = ("Bucket", "Key")
_FIELD_NAMES = frozenset(name.lower() for name in FIELD_NAMES)

BOM = b"\xef\xbb\xbf"
HEAD_BYTES = 64  # how much of an overlong line to keep for the error message
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHOWN_CHARS = 200  # how much of a field an error message quotes


class RowError(Exception):
    """One manifest row cannot become a task; the message names the problem and how to fix it."""

    code = "InvalidManifestRow"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class LineTooLong(RowError):
    code = "LineTooLong"


class OverlongLine(str):
    """Stands in for a line longer than ``MAX_LINE_BYTES``: its text is the line's start only.

    ``iter_lines`` cannot raise for one line without ending the stream, so it yields this marker
    and ``parse_row`` turns it into ``LineTooLong`` for that row.
    """

    length: int

    def __new__(cls, head: str, length: int) -> OverlongLine:
        line = super().__new__(cls, head)
        line.length = length
        return line


# ---------------------------------------------------------------------------------------------
# bytes → lines


class LineSplitter:
    """Cuts a byte stream into decoded lines; ``feed`` each chunk, then ``finish`` once."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._overflow = 0  # > 0 while discarding the rest of an overlong line: bytes seen so far
        self._head = b""
        self._first_line = True

    def feed(self, chunk: bytes) -> list[str]:
        *complete, rest = chunk.split(b"\n")
        lines = [self._end_line(piece) for piece in complete]
        self._extend(rest)
        return lines

    def finish(self) -> list[str]:
        if self._pending or self._overflow:
            return [self._end_line(b"")]
        return []

    def _extend(self, piece: bytes) -> None:
        if self._overflow:
            self._overflow += len(piece)
            return
        self._pending += piece
        if len(self._pending) > MAX_LINE_BYTES + len(BOM) + 1:  # room for a BOM and a "\r"
            self._start_overflow()

    def _start_overflow(self) -> None:
        self._overflow = len(self._pending)
        self._head = bytes(self._pending[:HEAD_BYTES])
        self._pending.clear()

    def _end_line(self, piece: bytes) -> str:
        if self._pending or self._overflow or self._first_line:
            self._extend(piece)
            line = self._take_overlong() if self._overflow else self._take_pending()
            self._first_line = False
            return line
        return _finish_line(piece)  # the common case: a whole line inside one chunk, no copying

    def _take_pending(self) -> str:
        raw = bytes(self._pending)
        self._pending.clear()
        if self._first_line and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        return _finish_line(raw)

    def _take_overlong(self) -> str:
        line = OverlongLine(decode_text(self._head), self._overflow)
        self._overflow = 0
        self._head = b""
        return line


def _finish_line(raw: bytes) -> str:
    raw = raw.removesuffix(b"\r")
    if len(raw) > MAX_LINE_BYTES:
        return OverlongLine(decode_text(raw[:HEAD_BYTES]), len(raw))
    return decode_text(raw)


def decode_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


async def iter_lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Every physical line of the stream, without its ``\\n`` / ``\\r\\n``, blank lines included."""
    splitter = LineSplitter()
    async for chunk in chunks:
        for line in splitter.feed(chunk):
            yield line
    for line in splitter.finish():
        yield line


# ---------------------------------------------------------------------------------------------
# Fields


# ---------------------------------------------------------------------------------------------
# One row


def parse_row(line: str, fields: Sequence[str]) -> ObjectRef | None:
    """The object a manifest line names, or None for a blank line; RowError if the line is unusable.

    ``fields`` were validated at CreateJob (``batchops.api.s3control_xml``).
    """
    if isinstance(line, OverlongLine):
        raise LineTooLong(
            f"line is {line.length} bytes long (starts {str(line)!r}); the limit is {MAX_LINE_BYTES} bytes"
        )
    if not line.strip():
        return None
    values = _split_csv(line)
    if not line.isascii():
        require_utf8(values, fields)
    _require_field_count(values, fields)
    bucket = _check_row_bucket(values[fields.index("Bucket")])
    key = decode_key(values[fields.index("Key")])
    version_id = _version_id(values[fields.index("VersionId")]) if "VersionId" in fields else None
    return ObjectRef(bucket, key, version_id)


def header_row(first_line: str, fields: Sequence[str]) -> str | None:
    """The manifest's first line, stripped, if it is a header row naming its Fields, which manifests do not
    have; None if it is not.

    Names are compared without case (``BUCKET,key`` is a header), Ignore columns hold anything, and a row may
    name fewer or more columns than Fields. But a row whose Bucket cell is a valid bucket name is a task:
    ``bucket,key`` names the object ``key`` in a bucket called ``bucket``, which may well exist (bucket names
    are lower-case, so ``Bucket,Key`` cannot be one).
    """
    line = first_line.removeprefix("\ufeff").strip()
    try:
        values = _split_csv(line)
    except RowError:
        return None
    names = [name.lower() for name in fields]
    if not {"bucket", "key"} <= set(names[: len(values)]) or is_bucket_name(values[names.index("bucket")]):
        return None  # a header names at least Bucket and Key
    named = all(name == "ignore" or value.lower() == name for value, name in zip(values, names, strict=False))
    extra_are_names = all(value.lower() in _FIELD_NAMES for value in values[len(names) :])
    return line if named and extra_are_names else None


def no_header_message(line: str, where: str) -> str:
    return (
        f"manifests have no header row: remove the first line `{line}` from the manifest {where}, "
        "and create the job again with its new ETag"
    )


def require_utf8(values: Sequence[str], names: Sequence[str]) -> None:
    """RowError naming the first field holding bytes that were not UTF-8 (lone surrogates once decoded)."""
    for index, value in enumerate(values):
        if not value.isascii() and _SURROGATE.search(value):
            name = names[index] if index < len(names) else f"field {index + 1}"
            shown = storable_raw(value[:_SHOWN_CHARS]) + ("…" if len(value) > _SHOWN_CHARS else "")
            raise RowError(
                f"{name} {shown!r} is not valid UTF-8 (each byte that is not is shown as %XX); "
                "save the manifest as UTF-8, with each key's UTF-8 bytes URL-encoded (ü is %C3%BC)"
            )


def storable_raw(text: str) -> str:
    """``text`` with each byte that was not UTF-8 written ``%XX``: valid UTF-8, for the report and the database."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return _SURROGATE.sub(_percent_byte, text)


def _percent_byte(found: re.Match[str]) -> str:
    code = ord(found.group())
    # surrogateescape decodes byte 0xXX as U+DCXX; any other lone surrogate has no byte behind it
    return f"%{code - 0xDC00:02X}" if 0xDC80 <= code <= 0xDCFF else "\ufffd"


def _split_csv(line: str) -> list[str]:
    if '"' not in line:  # most rows: skip the csv module's per-call setup
        return [value.strip() for value in line.split(",")]
    try:
        values = next(csv.reader([line], skipinitialspace=True, strict=True))
    except csv.Error as exc:
        raise RowError(
            f"line is not valid CSV ({exc}); put a field containing commas or quotes in double quotes "
            'and double each quote inside it ("a ""b"" c")'
        ) from None
    return [value.strip() for value in values]


def _require_field_count(values: list[str], fields: Sequence[str]) -> None:
    if len(values) < len(fields):
        raise RowError(
            f"expected {len(fields)} fields ({','.join(fields)}) but found {len(values)}; "
            "every row needs a value for each column declared in Fields"
        )
    if len(values) > len(fields):
        raise RowError(
            f"found {len(values)} fields but Fields declares {len(fields)} ({','.join(fields)}); "
            "declare extra columns as Ignore, or quote values that contain commas"
        )


def _check_row_bucket(bucket: str) -> str:
    if not is_bucket_name(bucket):
        raise RowError(f"Bucket {bucket!r} is not a valid bucket name; {BUCKET_RULE}")
    return bucket


def _version_id(version_id: str) -> str:
    # The literal "null" is a real version id (the object written while versioning was off).
    if not version_id:
        raise RowError(
            "VersionId column is empty; every row must carry a version id when Fields includes "
            "VersionId (use null for an object written before versioning was enabled)"
        )
    return version_id


# ---------------------------------------------------------------------------------------------
# Keys


def decode_key(encoded: str) -> str:
    """A manifest key, URL-decoded; RowError if the encoding or the decoded key is invalid.

    Only percent-escapes are decoded: ``+`` stays a plus. Manifests encode a space as ``%20``
    (the documented example is ``object%20key%20with%20spaces``) and ``+`` is a common literal
    character in keys, so reading it as a space would silently act on another object.
    """
    if not encoded:
        raise RowError("Key is empty; every row needs an object key")
    if "%" not in encoded:
        return _check_key_length(encoded)
    bad = _BAD_PERCENT.search(encoded)
    if bad:
        raise RowError(
            f"Key {encoded!r} has a '%' at character {bad.start()} that is not followed by two hex digits; "
            "keys must be URL-encoded, so write a literal % as %25"
        )
    return _check_key_length(_unquote_strict(encoded))


def _unquote_strict(encoded: str) -> str:
    try:
        return unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        raise RowError(
            f"Key {encoded!r} percent-decodes to bytes that are not valid UTF-8; "
            "URL-encode the key's UTF-8 bytes (ü is %C3%BC)"
        ) from None


def _check_key_length(key: str) -> str:
    if len(key) * 4 <= MAX_KEY_BYTES:  # no UTF-8 character is longer than 4 bytes
        return key
    size = len(key.encode("utf-8"))
    if size > MAX_KEY_BYTES:
        raise RowError(f"Key is {size} bytes long once decoded; object keys are at most {MAX_KEY_BYTES} bytes")
    return key


def encode_key(key: str) -> str:
    """The URL-encoded form of a key, as report rows show it (``/`` kept, everything else escaped).

    A lone surrogate (a byte that was not UTF-8, kept by ``iter_lines``) is encoded back to that byte.
    """
    return quote(key, safe="/", errors="surrogateescape")


#: Longest raw line kept for a malformed row's report entry.
RAW_KEEP = 1024
