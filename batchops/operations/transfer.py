"""One object's bytes into another bucket, by the cheapest way that works.

* same store, source up to the multipart threshold: one server-side ``CopyObject`` (with the default
  threshold, S3's 5 GiB limit, tried before any HEAD, so a copy costs one request);
* same store, larger source (S3 refuses CopyObject above 5 GiB): ``CreateMultipartUpload`` +
  ``UploadPartCopy`` per byte range (a few parts at once) + ``CompleteMultipartUpload``, aborted on failure;
* target on another store (``[[targets]]``): server-side copy is impossible, so the bytes stream through
  batchops — ``GetObject`` (ranged) → ``PutObject`` or multipart upload — each part in flight held in
  one of a few reused buffers, under a byte budget per process (``batchops.s3.pool.PartBuffers``).

All three take the same CopyObject arguments (what ``copy.parse`` produced) and give the new object the
same metadata, tags, ACL, encryption, storage class and lock settings: where CopyObject would copy the
source's metadata or tags (no REPLACE directive), the other two read them from the source and set them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from botocore.exceptions import ClientError

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError
from batchops.operations.base import TaskContext, version_kwargs
from batchops.operations.fields import to_datetime
from batchops.s3.types import S3Client

log = logging.getLogger(__name__)
T = TypeVar("T")

#: S3 allows at most this many parts in one multipart upload.
MAX_PARTS = 10_000
MIB = 1024 * 1024
#: A streamed part is read from the source and sent to the target this many bytes at a time.
READ_CHUNK = 1 * MIB
SEND_SLICE = 1 * MIB
#: S3 refuses CopyObject for larger sources.
MAX_COPY_OBJECT_BYTES = 5 * 1024 * MIB
#: The source's headers that CopyObject copies under MetadataDirective COPY (not the website redirect).
SOURCE_HEADERS = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage", "ContentType", "Expires")
#: CopyObject arguments that mean nothing to PutObject / CreateMultipartUpload.
COPY_ONLY = (
    "MetadataDirective",
    "TaggingDirective",
    "AnnotationDirective",
    "CopySourceIfModifiedSince",
    "CopySourceIfUnmodifiedSince",
)
#: CopyObject arguments kept as ISO strings in params and turned into datetimes for the call.
TIMESTAMP_ARGUMENTS = (
    "CopySourceIfModifiedSince",
    "CopySourceIfUnmodifiedSince",
    "Expires",
    "ObjectLockRetainUntilDate",
)


@dataclass(frozen=True)
class Destination:
    bucket: str
    key: str


@dataclass(frozen=True)
class Copied:
    etag: str | None
    parts: int = 0  # 0: one CopyObject / PutObject call
    streamed: bool = False

    def describe(self) -> str:
        how = ""
        if self.streamed:
            how = " to another store" + (f" in {self.parts} parts" if self.parts else "")
        elif self.parts:
            how = f" by multipart copy in {self.parts} parts"
        return f"copied{how}, ETag {self.etag}" if self.etag else f"copied{how}"


# --- arguments -------------------------------------------------------------------------------------


def with_datetimes(arguments: dict[str, Any]) -> dict[str, Any]:
    """ISO strings of the timestamp arguments as datetimes (values that are datetimes already stay)."""
    return {
        name: to_datetime(value) if name in TIMESTAMP_ARGUMENTS and isinstance(value, str) else value
        for name, value in arguments.items()
    }


def tag_query(tags: Sequence[dict[str, str]]) -> str:
    """A tag set as the ``x-amz-tagging`` query string."""
    return urlencode([(tag["Key"], tag["Value"]) for tag in tags], quote_via=quote)


def payer(arguments: dict[str, Any]) -> dict[str, Any]:
    return {"RequestPayer": arguments["RequestPayer"]} if "RequestPayer" in arguments else {}


def copy_source(source: ObjectRef) -> dict[str, str]:
    return {"Bucket": source.bucket, "Key": source.key, **version_kwargs(source)}


def source_metadata(head: dict[str, Any]) -> dict[str, Any]:
    """What CopyObject keeps of the source under MetadataDirective COPY, as PutObject arguments."""
    headers = {name: head[name] for name in SOURCE_HEADERS if head.get(name) and name != "Expires"}
    if isinstance(head.get("Expires"), datetime):
        headers["Expires"] = head["Expires"]
    return {**headers, **({"Metadata": head["Metadata"]} if head.get("Metadata") else {})}


async def write_arguments(
    s3: S3Client, source: ObjectRef, head: dict[str, Any], arguments: dict[str, Any]
) -> dict[str, Any]:
    """PutObject / CreateMultipartUpload arguments that give the new object what CopyObject would."""
    if arguments.get("AnnotationDirective") == "COPY":
        raise TaskError(
            "NotImplemented",
            501,
            "object annotations cannot be copied by a multipart or cross-store copy; "
            "set AnnotationDirective EXCLUDE (or leave it out) for objects this large or on another store",
        )
    write = {name: value for name, value in with_datetimes(arguments).items() if name not in COPY_ONLY}
    if arguments.get("MetadataDirective") != "REPLACE":
        write.update(source_metadata(head))
    if arguments.get("TaggingDirective") != "REPLACE":
        tags = await s3.get_object_tagging(Bucket=source.bucket, Key=source.key, **version_kwargs(source))
        if tags.get("TagSet"):
            write["Tagging"] = tag_query(tags["TagSet"])
    return write


# --- the source ------------------------------------------------------------------------------------


async def head_source(ctx: TaskContext, source: ObjectRef, arguments: dict[str, Any]) -> dict[str, Any]:
    """HEAD the source; a missing object (or version) is NoSuchKey, like CopyObject reports it."""
    try:
        head: dict[str, Any] = await ctx.s3.head_object(
            Bucket=source.bucket, Key=source.key, **version_kwargs(source), **payer(arguments)
        )
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            raise TaskError("NoSuchKey", 404, "the source object (or version) does not exist") from None
        raise
    return head


def check_preconditions(head: dict[str, Any], arguments: dict[str, Any]) -> None:
    """ModifiedSinceConstraint / UnModifiedSinceConstraint, judged on the source's Last-Modified."""
    modified = head["LastModified"]
    since = arguments.get("CopySourceIfModifiedSince")
    if since and not modified > to_datetime(since):
        raise TaskError(
            "PreconditionFailed", 412, f"the source was not modified since {since} (ModifiedSinceConstraint)"
        )
    until = arguments.get("CopySourceIfUnmodifiedSince")
    if until and modified > to_datetime(until):
        raise TaskError("PreconditionFailed", 412, f"the source was modified after {until} (UnModifiedSinceConstraint)")


# --- the three ways --------------------------------------------------------------------------------


async def copy(ctx: TaskContext, source: ObjectRef, dest: Destination, arguments: dict[str, Any]) -> Copied:
    """Copy ``source`` to ``dest``. With the default threshold (S3's own 5 GiB limit) on one store, try one
    CopyObject first and HEAD the source only if the store finds it too large: one request per object."""
    if ctx.transfer.multipart_threshold >= MAX_COPY_OBJECT_BYTES and await ctx.stores.client_for(dest.bucket) is None:
        try:
            return await copy_object(ctx, source, dest, arguments)
        except ClientError as exc:
            if not too_large_to_copy(exc):
                raise
    head = await head_source(ctx, source, arguments)
    return await copy_to(ctx, source, head, dest, arguments)


def too_large_to_copy(exc: ClientError) -> bool:
    """The store's refusal of a CopyObject source above its size limit (AWS: InvalidRequest, 400)."""
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    return code == "EntityTooLarge" or (code == "InvalidRequest" and "maximum allowable size" in message)


async def copy_object(ctx: TaskContext, source: ObjectRef, dest: Destination, arguments: dict[str, Any]) -> Copied:
    response = await ctx.s3.copy_object(
        Bucket=dest.bucket, Key=dest.key, CopySource=copy_source(source), **with_datetimes(arguments)
    )
    return Copied(response.get("CopyObjectResult", {}).get("ETag"))


async def copy_to(
    ctx: TaskContext, source: ObjectRef, head: dict[str, Any], dest: Destination, arguments: dict[str, Any]
) -> Copied:
    """Copy ``source`` (already HEADed) to ``dest`` with CopyObject ``arguments``."""
    check_preconditions(head, arguments)
    other_store = await ctx.stores.client_for(dest.bucket)
    if other_store is not None:
        return await stream_copy(ctx, other_store, source, head, dest, arguments)
    if head["ContentLength"] > min(ctx.transfer.multipart_threshold, MAX_COPY_OBJECT_BYTES):
        return await multipart_copy(ctx, source, head, dest, arguments)
    return await copy_object(ctx, source, dest, arguments)


async def multipart_copy(
    ctx: TaskContext, source: ObjectRef, head: dict[str, Any], dest: Destination, arguments: dict[str, Any]
) -> Copied:
    s3 = ctx.s3
    write = await write_arguments(s3, source, head, arguments)
    ranges = part_ranges(head["ContentLength"], ctx.transfer.part_size)
    # Every part must come from the same bytes: pin the source's ETag (and the preconditions).
    conditions = {"CopySourceIfMatch": head["ETag"], **payer(arguments)}

    async def part(number: int, first: int, last: int) -> dict[str, Any]:
        response = await s3.upload_part_copy(
            Bucket=dest.bucket,
            Key=dest.key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource=copy_source(source),
            CopySourceRange=f"bytes={first}-{last}",
            **conditions,
        )
        return completed_part(number, response["CopyPartResult"])

    upload_id = (await s3.create_multipart_upload(Bucket=dest.bucket, Key=dest.key, **write))["UploadId"]
    etag = await finish_upload(s3, dest, upload_id, payer(arguments), ranges, part, ctx.transfer.part_concurrency)
    return Copied(etag, parts=len(ranges))


async def stream_copy(
    ctx: TaskContext,
    target: S3Client,
    source: ObjectRef,
    head: dict[str, Any],
    dest: Destination,
    arguments: dict[str, Any],
) -> Copied:
    """Copy between stores: read the source in parts, each into a buffer of ``ctx.transfer.buffers``, and
    write them to the target's client."""
    write = await write_arguments(ctx.s3, source, head, arguments)
    size = head["ContentLength"]
    ranges = part_ranges(size, ctx.transfer.part_size)
    buffers = ctx.transfer.buffers
    get_kwargs = {"IfMatch": head["ETag"], **version_kwargs(source), **payer(arguments)}

    async def read(first: int, into: memoryview) -> PartBody:
        byte_range = {"Range": f"bytes={first}-{first + len(into) - 1}"} if size else {}
        response = await ctx.s3.get_object(Bucket=source.bucket, Key=source.key, **byte_range, **get_kwargs)
        return PartBody(into, await fill(response["Body"], into))

    if len(ranges) <= 1:
        async with buffers.take(size) as data:
            part_body = await read(0, data)
            body = part_body if size else b""  # an empty object: no body to stream
            response = await target.put_object(Bucket=dest.bucket, Key=dest.key, Body=body, **write)
        return Copied(response.get("ETag"), streamed=True)

    checksum = {"ChecksumAlgorithm": write["ChecksumAlgorithm"]} if "ChecksumAlgorithm" in write else {}

    async def part(number: int, first: int, last: int) -> dict[str, Any]:
        async with buffers.take(last - first + 1) as data:
            body = await read(first, data)
            response = await target.upload_part(
                Bucket=dest.bucket,
                Key=dest.key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                **checksum,
                **payer(arguments),
            )
        return completed_part(number, response)

    upload_id = (await target.create_multipart_upload(Bucket=dest.bucket, Key=dest.key, **write))["UploadId"]
    etag = await finish_upload(target, dest, upload_id, payer(arguments), ranges, part, ctx.transfer.part_concurrency)
    return Copied(etag, parts=len(ranges), streamed=True)


async def fill(body: Any, into: memoryview) -> str:
    """Read a GetObject body into ``into``, chunk by chunk (never the whole part as one more bytes object);
    returns its SHA-256 (hex), computed as the chunks came, for the upload's signature."""
    filled, digest = 0, hashlib.sha256()
    async with body:
        while chunk := await body.read(READ_CHUNK):
            end = filled + len(chunk)
            if end > len(into):
                raise TaskError("InternalError", 500, f"the source sent more than the {len(into)} bytes asked for")
            into[filled:end] = chunk
            digest.update(chunk)
            filled = end
    if filled != len(into):
        raise TaskError("InternalError", 500, f"the source sent {filled} of the {len(into)} bytes asked for")
    return digest.hexdigest()


class PartBody:
    """A part's bytes (a view of a reused buffer) as an upload's Body, never copied whole.

    aiohttp sends it as an async iterable, a slice at a time, each waiting for the socket to drain, so the
    transport buffers one slice rather than a copy of the part. ``sha256`` (when known) lets the lean client
    sign UploadPart without reading it again (batchops.s3.fast); botocore, for the other calls, reads it in
    pieces to sign it (``read``/``readinto``/``seek``/``tell``) and rewinds it for a retry.
    """

    def __init__(self, data: memoryview, sha256: str | None = None) -> None:
        self._data = data
        self._at = 0
        self.sha256 = sha256

    def __len__(self) -> int:
        return len(self._data)

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else min(len(self._data), self._at + size)
        chunk = bytes(self._data[self._at : end])
        self._at = end
        return chunk

    def readinto(self, into: memoryview) -> int:
        """For the CRT signer, which reads the body to hash it: straight into its buffer."""
        count = min(len(into), len(self._data) - self._at)
        into[:count] = self._data[self._at : self._at + count]
        self._at += count
        return count

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._at, 2: len(self._data)}[whence]
        self._at = max(0, min(len(self._data), base + offset))
        return self._at

    def tell(self) -> int:
        return self._at

    async def __aiter__(self) -> AsyncIterator[memoryview]:
        for start in range(self._at, len(self._data), SEND_SLICE):
            yield self._data[start : start + SEND_SLICE]


# --- multipart plumbing ----------------------------------------------------------------------------


def part_ranges(size: int, preferred_part_size: int) -> list[tuple[int, int]]:
    """Inclusive byte ranges of at most ``preferred_part_size`` (raised, in MiB steps, to fit 10,000 parts)."""
    needed = -(-size // MAX_PARTS)
    part_size = max(preferred_part_size, -(-needed // MIB) * MIB)
    return [(start, min(start + part_size, size) - 1) for start in range(0, size, part_size)] or [(0, -1)]


def completed_part(number: int, result: dict[str, Any]) -> dict[str, Any]:
    """A CompleteMultipartUpload part: its ETag and any checksum the store computed for it."""
    checksums = {k: v for k, v in result.items() if k.startswith("Checksum") and k != "ChecksumType" and v}
    return {"PartNumber": number, "ETag": result["ETag"], **checksums}


PartCopier = Callable[[int, int, int], Awaitable[dict[str, Any]]]


async def finish_upload(
    s3: S3Client,
    dest: Destination,
    upload_id: str,
    request_payer: dict[str, Any],
    ranges: list[tuple[int, int]],
    part: PartCopier,
    concurrency: int,
) -> str | None:
    """Run every part (``concurrency`` at once), complete the upload; abort it on any failure."""
    try:
        parts = await bounded(concurrency, [partial(part, n, *r) for n, r in enumerate(ranges, 1)])
        response = await s3.complete_multipart_upload(
            Bucket=dest.bucket, Key=dest.key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **request_payer
        )
    except BaseException:
        await asyncio.shield(abort(s3, dest, upload_id, request_payer))
        raise
    etag: str | None = response.get("ETag")
    return etag


async def abort(s3: S3Client, dest: Destination, upload_id: str, request_payer: dict[str, Any]) -> None:
    """Abort a failed upload so its parts do not linger; a failure to abort is only logged."""
    try:
        await s3.abort_multipart_upload(Bucket=dest.bucket, Key=dest.key, UploadId=upload_id, **request_payer)
    except Exception:  # the task's own error is what the report shows
        log.warning("could not abort multipart upload %s of %s/%s", upload_id, dest.bucket, dest.key, exc_info=True)


async def bounded(limit: int, factories: list[Callable[[], Awaitable[T]]]) -> list[T]:
    """Await every factory's result, ``limit`` at a time; on the first failure cancel the rest and raise it."""
    semaphore = asyncio.Semaphore(limit)

    async def one(factory: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await factory()

    tasks = [asyncio.ensure_future(one(factory)) for factory in factories]
    try:
        return list(await asyncio.gather(*tasks))
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
