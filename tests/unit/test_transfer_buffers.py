"""The buffers of copies streamed between stores: a byte budget that holds, buffers reused part after part,
a part read into its buffer exactly, and the upload body botocore signs and aiohttp sends in slices."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from batchops.errors import TaskError
from batchops.operations.transfer import SEND_SLICE, PartBody, fill
from batchops.s3.pool import PartBuffers, TransferLimits
from batchops.settings import Settings

MIB = 1024 * 1024


async def test_parts_never_hold_more_buffers_than_the_budget_and_reuse_them() -> None:
    buffers = PartBuffers(budget=3 * MIB, size=MIB)
    held, peak, seen = 0, 0, set()

    async def part() -> None:
        nonlocal held, peak
        async with buffers.take(MIB) as view:
            held += 1
            peak = max(peak, held)
            seen.add(id(view.obj))
            await asyncio.sleep(0)  # let the other parts run meanwhile
            held -= 1

    await asyncio.gather(*(part() for _ in range(20)))
    assert (buffers.count, peak, len(seen)) == (3, 3, 3)


async def test_a_short_part_gets_a_view_of_its_length_and_a_long_one_a_buffer_of_its_own() -> None:
    buffers = PartBuffers(budget=2 * MIB, size=MIB)
    async with buffers.take(10) as short:
        assert (len(short), len(short.obj)) == (10, MIB)
    async with buffers.take(3 * MIB) as long:
        assert len(long) == len(long.obj) == 3 * MIB


def test_the_budget_comes_from_the_settings() -> None:
    settings = Settings(copy_stream_buffer_bytes=64 * MIB, copy_part_size_bytes=8 * MIB)
    limits = TransferLimits.from_settings(settings)
    assert (limits.buffers.count, limits.buffers.size) == (8, 8 * MIB)


class Body:
    """A GetObject body: the chunks given, then EOF."""

    def __init__(self, *chunks: bytes) -> None:
        self.chunks = list(chunks)

    async def __aenter__(self) -> Body:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def read(self, size: int) -> bytes:
        return self.chunks.pop(0) if self.chunks else b""


async def test_fill_reads_the_body_into_the_buffer_chunk_by_chunk() -> None:
    into = memoryview(bytearray(7))
    sha256 = await fill(Body(b"abc", b"defg"), into)
    assert (bytes(into), sha256) == (b"abcdefg", hashlib.sha256(b"abcdefg").hexdigest())


@pytest.mark.parametrize(("chunks", "says"), [((b"abc",), "sent 3 of the 4"), ((b"abc", b"de"), "more than the 4")])
async def test_a_body_of_the_wrong_length_fails_the_part(chunks: tuple[bytes, ...], says: str) -> None:
    with pytest.raises(TaskError, match=says):
        await fill(Body(*chunks), memoryview(bytearray(4)))


def test_part_body_reads_seeks_and_reads_into_like_a_file() -> None:
    body = PartBody(memoryview(b"0123456789"))
    assert (len(body), body.read(4), body.tell()) == (10, b"0123", 4)
    target = bytearray(3)
    assert (body.readinto(memoryview(target)), bytes(target)) == (3, b"456")
    assert (body.read(), body.read()) == (b"789", b"")
    assert (body.seek(-2, 2), body.read(), body.seek(0)) == (8, b"89", 0)


async def test_part_body_sends_slices_from_where_it_stands_again_after_a_rewind() -> None:
    data = bytes(range(256)) * (3 * SEND_SLICE // 256 + 5)
    body = PartBody(memoryview(data))
    digest = hashlib.sha256()
    while chunk := body.read(MIB):  # botocore hashes it to sign the request...
        digest.update(chunk)
    body.seek(0)  # ...rewinds it, and aiohttp sends it
    sent = [bytes(piece) async for piece in body]
    assert [len(piece) for piece in sent] == [SEND_SLICE] * 3 + [len(data) - 3 * SEND_SLICE]
    assert (b"".join(sent), digest.digest()) == (data, hashlib.sha256(data).digest())
