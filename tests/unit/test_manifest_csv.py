"""CSV manifest streaming and row parsing (batchops.manifests.csv)."""

from __future__ import annotations

import tracemalloc
from collections.abc import AsyncIterator, Iterable

import pytest

from batchops.arns import parse_bucket_arn, parse_object_arn
from batchops.domain.task import ObjectRef
from batchops.errors import ValidationError
from batchops.manifests.rows import (
    MAX_LINE_BYTES,
    LineTooLong,
    RowError,
    encode_key,
    iter_lines,
    parse_row,
)

BK = ("Bucket", "Key")
BKV = ("Bucket", "Key", "VersionId")


async def stream(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def one_byte_chunks(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


async def lines_of(chunks: Iterable[bytes]) -> list[str]:
    return [line async for line in iter_lines(stream(chunks))]


async def parse_all(data: bytes, fields: tuple[str, ...] = BK) -> list[ObjectRef | str | None]:
    """Each line's ObjectRef / None, or the RowError's class name."""
    results: list[ObjectRef | str | None] = []
    async for line in iter_lines(stream([data])):
        try:
            results.append(parse_row(line, fields))
        except RowError as exc:
            results.append(type(exc).__name__)
    return results


# ---------------------------------------------------------------------------------------------
# iter_lines


async def test_lines_split_on_lf_and_crlf_and_keep_blank_lines() -> None:
    assert await lines_of([b"a,1\r\n\nb,2\n\r\nc,3"]) == ["a,1", "", "b,2", "", "c,3"]


async def test_final_newline_does_not_add_an_empty_line() -> None:
    assert await lines_of([b"a,1\nb,2\n"]) == ["a,1", "b,2"]


async def test_empty_stream_has_no_lines() -> None:
    assert await lines_of([]) == []
    assert await lines_of([b""]) == []


async def test_leading_bom_is_dropped_only_at_the_start() -> None:
    bom = "\ufeff".encode()
    assert await lines_of([bom + b"a,1\n" + bom + b"b,2"]) == ["a,1", "\ufeffb,2"]


async def test_bom_split_across_chunks_is_dropped() -> None:
    assert await lines_of([b"\xef", b"\xbb", b"\xbfa,1"]) == ["a,1"]


async def test_one_byte_chunks_give_the_same_lines_as_one_chunk() -> None:
    data = '\ufeffbkt,caf%C3%A9\r\nbkt,日本/ü.txt\n\nbkt,"a,b"\nbkt,last'.encode()
    expected = await lines_of([data])
    assert await lines_of(one_byte_chunks(data)) == expected
    assert expected == ["bkt,caf%C3%A9", "bkt,日本/ü.txt", "", 'bkt,"a,b"', "bkt,last"]


async def test_crlf_split_between_chunks() -> None:
    assert await lines_of([b"a,1\r", b"\nb,2\r", b"\n"]) == ["a,1", "b,2"]


async def test_invalid_utf8_becomes_a_row_error_for_that_line_only() -> None:
    results = await parse_all(b"bkt,ok1\nbkt,bad\xff\xfe\nbkt,ok2\n")
    assert results == [ObjectRef("bkt", "ok1"), "RowError", ObjectRef("bkt", "ok2")]


async def test_invalid_utf8_message_says_so() -> None:
    [line] = await lines_of([b"bkt,\xc3(\n"])
    with pytest.raises(RowError, match="not valid UTF-8"):
        parse_row(line, BK)


async def test_overlong_line_is_one_row_error_and_the_stream_resyncs() -> None:
    long_line = b"bkt," + b"k" * (MAX_LINE_BYTES + 10)
    chunks = [b"bkt,first\n", long_line[:1000], long_line[1000:], b"\nbkt,after\n"]
    lines = await lines_of(chunks)
    assert len(lines) == 3
    assert parse_row(lines[0], BK) == ObjectRef("bkt", "first")
    with pytest.raises(LineTooLong, match=f"{len(long_line)} bytes long"):
        parse_row(lines[1], BK)
    assert parse_row(lines[2], BK) == ObjectRef("bkt", "after")


async def test_overlong_last_line_without_newline_is_reported() -> None:
    lines = await lines_of([b"bkt,", b"k" * (MAX_LINE_BYTES + 100)])
    with pytest.raises(LineTooLong):
        parse_row(lines[0], BK)


async def test_line_of_exactly_the_limit_is_accepted_even_with_crlf() -> None:
    line = b"x" * MAX_LINE_BYTES
    assert await lines_of([line[:7], line[7:] + b"\r", b"\n"]) == [line.decode()]


def synthetic_chunk(lines: int) -> bytes:
    """``lines`` manifest lines; every 100th key is percent-encoded (the decoding path), others plain."""
    keys = (f"dir/obj%20{n}.bin" if n % 100 == 0 else f"dir/obj-{n}.bin" for n in range(lines))
    return "".join(f"bucket-{n % 7},{key}\n" for n, key in enumerate(keys)).encode()


@pytest.mark.parametrize("chunks", [200, pytest.param(1000, marks=pytest.mark.soak)])
async def test_a_long_line_stream_keeps_memory_bounded(chunks: int) -> None:
    chunk = synthetic_chunk(1000)  # ~50 KB; the stream is ``chunks`` of these, produced lazily (10 MB in make test)

    async def lazy_chunks() -> AsyncIterator[bytes]:
        for _ in range(chunks):
            yield chunk

    tracemalloc.start()
    try:
        lines = refs = decoded = 0
        async for line in iter_lines(lazy_chunks()):
            ref = parse_row(line, BK)
            lines += 1
            refs += ref is not None
            decoded += ref is not None and " " in ref.key
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (lines, refs, decoded) == (chunks * 1000, chunks * 1000, chunks * 10)
    assert peak < 4 * 1024 * 1024, f"peak {peak} bytes for {len(chunk) * chunks} bytes streamed"


# ---------------------------------------------------------------------------------------------
# parse_row: keys


@pytest.mark.parametrize(
    ("encoded", "key"),
    [
        ("plain/key.txt", "plain/key.txt"),
        ("object%20key%20with%20spaces", "object key with spaces"),
        ("a%2Bb", "a+b"),
        ("a+b", "a+b"),
        ("100%25", "100%"),
        ("m%C3%BCnchen", "münchen"),
        ("münchen/日本", "münchen/日本"),
        ("%7B%22json%22%3A1%7D", '{"json":1}'),
    ],
)
def test_keys_are_url_decoded_and_plus_stays_plus(encoded: str, key: str) -> None:
    assert parse_row(f"bkt,{encoded}", BK) == ObjectRef("bkt", key)


@pytest.mark.parametrize("key", ["a b+c", "100%", "münchen/日本", 'q"u,o', "x/y z/%41", "~_.-"])
def test_encode_key_round_trips_through_parse(key: str) -> None:
    assert parse_row(f"bkt,{encode_key(key)}", BK) == ObjectRef("bkt", key)


def test_encode_key_keeps_slashes_and_escapes_the_rest() -> None:
    assert encode_key("dir/a b+ü") == "dir/a%20b%2B%C3%BC"


def test_encode_key_gives_back_bytes_that_were_not_utf8() -> None:
    assert encode_key("bad\udcff/k") == "bad%FF/k"


def test_encode_key_of_a_typical_manifest_key_gives_it_back() -> None:
    encoded = "photos/2024/object%20key%20with%20spaces%2C%20commas.jpg"
    ref = parse_row(f"bkt,{encoded}", BK)
    assert ref is not None
    assert encode_key(ref.key) == encoded


@pytest.mark.parametrize(
    ("encoded", "problem"),
    [
        ("", "Key is empty"),
        ("bad%zz", "not followed by two hex digits"),
        ("trailing%", "not followed by two hex digits"),
        ("short%4", "not followed by two hex digits"),
        ("latin1%FC", "not valid UTF-8"),
        ("k" * 1025, "1025 bytes"),
        ("%C3%BC" * 513, "1026 bytes"),
    ],
)
def test_bad_keys_are_row_errors(encoded: str, problem: str) -> None:
    with pytest.raises(RowError, match=problem):
        parse_row(f"bkt,{encoded}", BK)


def test_key_of_exactly_1024_bytes_is_accepted() -> None:
    ref = parse_row("bkt," + "%C3%BC" * 512, BK)
    assert ref is not None
    assert len(ref.key.encode()) == 1024


# ---------------------------------------------------------------------------------------------
# parse_row: CSV shape


def test_quoted_fields_may_hold_commas_and_quotes() -> None:
    assert parse_row('bkt,"a,b ""c"" d"', BK) == ObjectRef("bkt", 'a,b "c" d')


def test_spaces_around_fields_are_trimmed_cos_style() -> None:
    line = "examplebucket-1250000000, exampleobject, PZ9iOGI4OTAtOTIyMi00"
    assert parse_row(line, BKV) == ObjectRef("examplebucket-1250000000", "exampleobject", "PZ9iOGI4OTAtOTIyMi00")


def test_space_before_a_quoted_field_is_allowed() -> None:
    assert parse_row('bkt, "a,b"', BK) == ObjectRef("bkt", "a,b")


@pytest.mark.parametrize("line", ["", "   ", "\t"])
def test_blank_lines_are_not_tasks(line: str) -> None:
    assert parse_row(line, BK) is None


def test_ignore_columns_are_skipped() -> None:
    fields = ("Ignore", "Bucket", "Ignore", "Key")
    assert parse_row("x,bkt,y,k", fields) == ObjectRef("bkt", "k")


def test_missing_fields_name_the_declared_columns() -> None:
    with pytest.raises(RowError, match=r"expected 3 fields \(Bucket,Key,VersionId\) but found 2"):
        parse_row("bkt,key", BKV)


def test_extra_fields_are_a_row_error_suggesting_ignore() -> None:
    with pytest.raises(RowError, match=r"found 3 fields but Fields declares 2.*Ignore"):
        parse_row("bkt,key,extra", BK)


def test_unbalanced_quote_is_a_row_error() -> None:
    with pytest.raises(RowError, match="not valid CSV"):
        parse_row('bkt,"open', BK)


@pytest.mark.parametrize("bucket", ["ab", "Upper", "under_score", "-dash", "b" * 64, ""])
def test_implausible_buckets_are_row_errors(bucket: str) -> None:
    with pytest.raises(RowError, match="not a valid bucket name"):
        parse_row(f"{bucket},key", BK)


# ---------------------------------------------------------------------------------------------
# parse_row: VersionId


def test_version_id_column_is_read() -> None:
    assert parse_row("bkt,key,3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", BKV) == ObjectRef(
        "bkt", "key", "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    )


def test_literal_null_version_id_is_accepted() -> None:
    assert parse_row("bkt,key,null", BKV) == ObjectRef("bkt", "key", "null")


def test_empty_version_id_is_a_row_error() -> None:
    with pytest.raises(RowError, match="VersionId column is empty"):
        parse_row("bkt,key,", BKV)


def test_no_version_id_column_means_none() -> None:
    ref = parse_row("bkt,key", BK)
    assert ref is not None
    assert ref.version_id is None


async def test_whole_manifest_mixed_rows() -> None:
    data = b'\xef\xbb\xbfbkt,a%20b,v1\r\n\r\nbkt,c,\r\nbkt,"d,e",null\r\nbkt,f'
    assert await parse_all(data, BKV) == [
        ObjectRef("bkt", "a b", "v1"),
        None,
        "RowError",
        ObjectRef("bkt", "d,e", "null"),
        "RowError",
    ]


# ---------------------------------------------------------------------------------------------
# ARNs


def test_object_arn_gives_bucket_and_raw_key() -> None:
    assert parse_object_arn("arn:aws:s3:::my-bucket/manifests/a%20b.csv") == (
        "my-bucket",
        "manifests/a%20b.csv",
    )
    assert parse_object_arn("arn:aws-cn:s3:::bkt/k") == ("bkt", "k")


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:s3:::my-bucket",
        "arn:aws:s3:::my-bucket/",
        "my-bucket/key",
        "arn:aws:s3:us-east-1::bkt/key",
        "arn:aws:sqs:::bkt/key",
        "arn:aws:s3:::Bad_Bucket/key",
    ],
)
def test_bad_object_arns_are_refused(arn: str) -> None:
    with pytest.raises(ValidationError, match=r"not an object ARN|is not valid") as info:
        parse_object_arn(arn)
    assert info.value.field == "ObjectArn"


def test_bucket_arn_gives_the_name() -> None:
    assert parse_bucket_arn("arn:aws:s3:::my-reports") == "my-reports"


@pytest.mark.parametrize("arn", ["my-reports", "arn:aws:s3:::my-reports/prefix", "arn:aws:s3:::x", ""])
def test_bad_bucket_arns_are_refused(arn: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_bucket_arn(arn)
    assert info.value.field == "Bucket"
