"""A report's result files on their way to the store, uploaded while the next rows are read.

A result file's text buffers up to one part (``UPLOAD_PART_BYTES``). A file that fits in one part goes out with a
single ``put_object``; a larger one becomes a multipart upload, so memory stays near one part whatever its rows.
Each ``put_object`` and ``upload_part`` runs in the background (``Uploads``), at most ``UPLOADS_AT_ONCE`` at
a time, so reading the rows never waits for the store, and memory holds at most that many parts more. The
report's index is written only once every one of them has finished (``Uploads.wait``). No server-side
encryption header is sent: not every S3-compatible store supports it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections import deque
from collections.abc import Coroutine
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

from batchops.domain.task import TaskStatus
from batchops.reports.layout import result_file_key
from batchops.s3.types import S3Client

UPLOAD_PART_BYTES = 8 * 1024 * 1024  # S3 needs >= 5 MiB for every multipart part but the last
#: Uploads (a whole file or one part each) under way at once.
UPLOADS_AT_ONCE = 4

T = TypeVar("T")


@dataclass(frozen=True)
class FileTarget:
    """Where one status's result files go."""

    s3: S3Client
    bucket: str
    folder: str
    job_id: str
    status: TaskStatus

    def key(self, part: int) -> str:
        return result_file_key(self.folder, self.job_id, self.status, part)


class Uploads:
    """Uploads running in the background, at most ``limit`` at once: ``start`` waits for the oldest when that
    many run. A failed upload's error is raised by the ``start`` or ``wait`` that awaits it."""

    def __init__(self, limit: int = UPLOADS_AT_ONCE) -> None:
        self._limit = limit
        self._running: deque[asyncio.Task[Any]] = deque()

    async def start(self, upload: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
        while len(self._running) >= self._limit:
            await self._running.popleft()
        task = asyncio.ensure_future(upload)
        self._running.append(task)
        return task

    async def wait(self) -> None:
        """Until every upload has finished; the first error among them is raised."""
        while self._running:
            await self._running.popleft()

    async def stop(self) -> None:
        """Cancel what still runs (after an error elsewhere) and wait until it has stopped."""
        for task in self._running:
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        self._running.clear()


class ResultUpload:
    """One result file on its way out: text buffers up to one part, then goes out as a multipart part."""

    def __init__(self, target: FileTarget, key: str, uploads: Uploads) -> None:
        self._target = target
        self.key = key
        self._uploads = uploads
        self._pending: list[bytes] = []  # joined once a part is full: no copy per piece added
        self._pending_bytes = 0
        self._md5 = hashlib.md5()
        self._upload_id: str | None = None
        self._parts: list[asyncio.Task[dict[str, Any]]] = []

    def write(self, text: str) -> int:
        """Add text (a file-like ``write``, for the csv module)."""
        self.write_bytes(to_bytes(text))
        return len(text)

    def write_bytes(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_bytes += len(data)
        self._md5.update(data)

    async def send_full_part(self) -> None:
        if self._pending_bytes >= UPLOAD_PART_BYTES:
            await self._send_part()

    async def finish(self) -> str:
        """Send what is left (completing the object in the background); return the hex MD5 of its content."""
        if self._upload_id is None:
            body = self._take_pending()
            md5 = self._md5.digest()  # of the whole file, which is this one body
            await self._uploads.start(put_bytes(self._target.s3, self._target.bucket, self.key, body, "text/csv", md5))
        else:
            await self._send_part()
            await self._uploads.start(self._complete())
        return self._md5.hexdigest()

    def _take_pending(self) -> bytes:
        body = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        return body

    async def abort(self) -> None:
        """Stop a multipart upload this file began (its parts under way first)."""
        for part in self._parts:
            part.cancel()
        await asyncio.gather(*self._parts, return_exceptions=True)
        await self._abort_upload()

    async def _send_part(self) -> None:
        if self._upload_id is None:
            self._upload_id = await self._create()
        body, number = self._take_pending(), len(self._parts) + 1
        self._parts.append(await self._uploads.start(self._upload_part(self._upload_id, number, body)))

    async def _upload_part(self, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = await self._target.s3.upload_part(
            Bucket=self._target.bucket,
            Key=self.key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ContentMD5=content_md5(body),
        )
        return {"ETag": answer["ETag"], "PartNumber": number}

    async def _create(self) -> str:
        answer = await self._target.s3.create_multipart_upload(
            Bucket=self._target.bucket, Key=self.key, ContentType="text/csv"
        )
        return str(answer["UploadId"])

    async def _complete(self) -> None:
        assert self._upload_id is not None  # _send_part opened the upload
        try:
            parts = list(await asyncio.gather(*self._parts))
            await self._target.s3.complete_multipart_upload(
                Bucket=self._target.bucket,
                Key=self.key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            await asyncio.shield(self.abort())  # even when cancelled: no upload left behind
            raise

    async def _abort_upload(self) -> None:
        if self._upload_id is None:
            return
        # Best effort: the caller's error matters more; a leftover upload is only storage.
        with suppress(Exception):
            await self._target.s3.abort_multipart_upload(
                Bucket=self._target.bucket, Key=self.key, UploadId=self._upload_id
            )


def to_bytes(text: str) -> bytes:
    """Report text as its file holds it: UTF-8, a lone surrogate (e.g. from a badly encoded manifest) written as
    its escape rather than aborting the report."""
    return text.encode("utf-8", errors="backslashreplace")


async def put_bytes(
    s3: S3Client, bucket: str, key: str, body: bytes, content_type: str, md5: bytes | None = None
) -> None:
    """Put one object; ``md5``: the body's MD5 digest, when the caller has it already."""
    checksum = content_md5(body) if md5 is None else base64.b64encode(md5).decode()
    await s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type, ContentMD5=checksum)


def content_md5(body: bytes) -> str:
    """The Content-MD5 header: the store refuses the upload if the bytes were damaged on the way."""
    return base64.b64encode(hashlib.md5(body).digest()).decode()
