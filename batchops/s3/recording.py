"""RecordingS3: a fake S3 client, shipped beside the real ones, for tests of anything that takes an ``S3Client``.

It records every call (method and keyword arguments, in order) and answers from a script: per method, a
queue of responses or errors, taken first in, first out. A call with nothing scripted succeeds with an
empty answer (HTTP 200), so a test scripts only the answers its code reads. An error is botocore's
``ClientError``, built as botocore builds it from the store's error answer.

    s3 = RecordingS3()
    s3.answer("get_object_tagging", {"TagSet": [{"Key": "a", "Value": "1"}]})
    s3.fail("put_object_tagging", "AccessDenied", 403)
    ... run the code ...
    assert s3.calls == [Call("get_object_tagging", {"Bucket": "b", "Key": "k"}), ...]

A paginator records one call per page it serves (the operation's name and the ``paginate`` arguments) and
serves that operation's scripted answers as pages until one is not ``IsTruncated``.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from batchops.s3.types import Response, S3Client


@dataclass(frozen=True)
class Call:
    """One call the code made: the client method's name and its keyword arguments."""

    method: str
    kwargs: dict[str, Any] = field(default_factory=dict)


class FakeBody:
    """A GetObject ``Body``: what batchops reads of aiobotocore's streaming body."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._offset = 0
        self.closed = False

    async def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._offset + size
        chunk = self._data[self._offset : end]
        self._offset += len(chunk)
        return chunk

    async def iter_chunks(self, chunk_size: int = 1024) -> AsyncIterator[bytes]:
        while chunk := await self.read(chunk_size):
            yield chunk

    def close(self) -> None:
        self.closed = True

    async def __aenter__(self) -> FakeBody:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


def client_error(operation: str, code: str, status: int, message: str = "") -> ClientError:
    """The ``ClientError`` botocore raises for an error answer of the store."""
    error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(error, operation)


def operation_name(method: str) -> str:
    """botocore's operation name of a client method: ``get_object_acl`` → ``GetObjectAcl``."""
    return "".join(part[:1].upper() + part[1:] for part in method.split("_"))


class _Paginator:
    def __init__(self, s3: RecordingS3, operation: str) -> None:
        self._s3 = s3
        self._operation = operation

    async def paginate(self, **kwargs: Any) -> AsyncIterator[Response]:
        while True:
            page = await self._s3.record(self._operation, kwargs)
            yield page
            if not page.get("IsTruncated"):
                return


class RecordingS3:
    """Satisfies ``S3Client``: every call is recorded in ``calls`` and answered from the script."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._script: defaultdict[str, deque[Response | BaseException]] = defaultdict(deque)

    # --- the script --------------------------------------------------------------------------

    def answer(self, method: str, response: Response) -> None:
        """The next call of ``method`` answers ``response`` (ResponseMetadata added if it has none)."""
        self._script[method].append(response)

    def fail(self, method: str, code: str, status: int, message: str = "") -> None:
        """The next call of ``method`` raises botocore's ClientError with this code and HTTP status."""
        self._script[method].append(client_error(operation_name(method), code, status, message))

    def raise_error(self, method: str, error: BaseException) -> None:
        """The next call of ``method`` raises ``error`` (a connection error, a timeout…)."""
        self._script[method].append(error)

    def unused(self) -> dict[str, int]:
        """Scripted answers no call took, by method: a test that scripted more than ran says so."""
        return {method: len(queue) for method, queue in self._script.items() if queue}

    async def record(self, method: str, kwargs: dict[str, Any]) -> Response:
        self.calls.append(Call(method, dict(kwargs)))
        queue = self._script[method]
        outcome = queue.popleft() if queue else {}
        if isinstance(outcome, BaseException):
            raise outcome
        return {"ResponseMetadata": {"HTTPStatusCode": 200}, **outcome}

    # --- objects -----------------------------------------------------------------------------

    async def get_object(self, **kwargs: Any) -> Response:
        return await self.record("get_object", kwargs)

    async def head_object(self, **kwargs: Any) -> Response:
        return await self.record("head_object", kwargs)

    async def put_object(self, **kwargs: Any) -> Response:
        return await self.record("put_object", kwargs)

    async def copy_object(self, **kwargs: Any) -> Response:
        return await self.record("copy_object", kwargs)

    async def delete_object(self, **kwargs: Any) -> Response:
        return await self.record("delete_object", kwargs)

    async def delete_objects(self, **kwargs: Any) -> Response:
        return await self.record("delete_objects", kwargs)

    async def restore_object(self, **kwargs: Any) -> Response:
        return await self.record("restore_object", kwargs)

    # --- tags, ACLs, Object Lock ---------------------------------------------------------------

    async def get_object_tagging(self, **kwargs: Any) -> Response:
        return await self.record("get_object_tagging", kwargs)

    async def put_object_tagging(self, **kwargs: Any) -> Response:
        return await self.record("put_object_tagging", kwargs)

    async def delete_object_tagging(self, **kwargs: Any) -> Response:
        return await self.record("delete_object_tagging", kwargs)

    async def get_object_acl(self, **kwargs: Any) -> Response:
        return await self.record("get_object_acl", kwargs)

    async def put_object_acl(self, **kwargs: Any) -> Response:
        return await self.record("put_object_acl", kwargs)

    async def put_object_legal_hold(self, **kwargs: Any) -> Response:
        return await self.record("put_object_legal_hold", kwargs)

    async def put_object_retention(self, **kwargs: Any) -> Response:
        return await self.record("put_object_retention", kwargs)

    # --- multipart uploads ---------------------------------------------------------------------

    async def create_multipart_upload(self, **kwargs: Any) -> Response:
        return await self.record("create_multipart_upload", kwargs)

    async def upload_part(self, **kwargs: Any) -> Response:
        return await self.record("upload_part", kwargs)

    async def upload_part_copy(self, **kwargs: Any) -> Response:
        return await self.record("upload_part_copy", kwargs)

    async def complete_multipart_upload(self, **kwargs: Any) -> Response:
        return await self.record("complete_multipart_upload", kwargs)

    async def abort_multipart_upload(self, **kwargs: Any) -> Response:
        return await self.record("abort_multipart_upload", kwargs)

    # --- buckets and listings ------------------------------------------------------------------

    async def head_bucket(self, **kwargs: Any) -> Response:
        return await self.record("head_bucket", kwargs)

    async def get_bucket_versioning(self, **kwargs: Any) -> Response:
        return await self.record("get_bucket_versioning", kwargs)

    async def get_object_lock_configuration(self, **kwargs: Any) -> Response:
        return await self.record("get_object_lock_configuration", kwargs)

    async def list_objects_v2(self, **kwargs: Any) -> Response:
        return await self.record("list_objects_v2", kwargs)

    async def list_object_versions(self, **kwargs: Any) -> Response:
        return await self.record("list_object_versions", kwargs)

    def get_paginator(self, operation_name: str) -> _Paginator:
        return _Paginator(self, operation_name)


def _satisfies_the_seam(s3: RecordingS3) -> S3Client:
    """Never called: mypy checks here that RecordingS3 has every method of S3Client, with fitting signatures."""
    return s3
