"""The S3 client seam: exactly the calls batchops makes on a store, as a Protocol.

Three things satisfy it: ``FastS3`` (batchops.s3.fast: lean hot calls over aiobotocore), aiobotocore's own
client (untyped, so it passes as is), and ``RecordingS3`` (batchops.s3.recording), the fake that tests
script. Every call takes botocore's keyword arguments and answers botocore's result dict, or raises
botocore's ``ClientError``; the required arguments are spelled out so a call that forgets one fails mypy.
A new S3 call in batchops is added here first, then to ``RecordingS3``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any, Protocol

#: botocore's answer to one call: top-level fields by name, plus ``ResponseMetadata``.
Response = dict[str, Any]


class Paginator(Protocol):
    """aiobotocore's paginator: ``async for page in paginator.paginate(**request)``."""

    def paginate(self, **kwargs: Any) -> AsyncIterable[Response]: ...


class SeekableBody(Protocol):
    """A request body botocore reads in pieces (to sign it) and rewinds (to retry): a file, or
    ``transfer.PartBody``, a streamed part's buffer."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


#: What PutObject and UploadPart take as Body.
Body = bytes | SeekableBody


class S3Client(Protocol):
    # --- objects -----------------------------------------------------------------------------

    async def get_object(self, *, Bucket: str, Key: str, **kwargs: Any) -> Response: ...

    async def head_object(self, *, Bucket: str, Key: str, **kwargs: Any) -> Response: ...

    async def put_object(self, *, Bucket: str, Key: str, Body: Body, **kwargs: Any) -> Response: ...

    async def copy_object(self, *, Bucket: str, Key: str, CopySource: dict[str, str], **kwargs: Any) -> Response: ...

    async def delete_object(self, *, Bucket: str, Key: str, **kwargs: Any) -> Response: ...

    async def delete_objects(self, *, Bucket: str, Delete: dict[str, Any], **kwargs: Any) -> Response: ...

    async def restore_object(
        self, *, Bucket: str, Key: str, RestoreRequest: dict[str, Any], **kwargs: Any
    ) -> Response: ...

    # --- tags, ACLs, Object Lock ---------------------------------------------------------------

    async def get_object_tagging(self, *, Bucket: str, Key: str, **kwargs: Any) -> Response: ...

    async def put_object_tagging(
        self, *, Bucket: str, Key: str, Tagging: dict[str, Any], **kwargs: Any
    ) -> Response: ...

    async def delete_object_tagging(self, *, Bucket: str, Key: str, **kwargs: Any) -> Response: ...

    async def get_object_acl(self, *, Bucket: str, Key: str, **kwargs: Any) -> Response: ...

    async def put_object_acl(self, *, Bucket: str, Key: str, **kwargs: Any) -> Response: ...

    async def put_object_legal_hold(
        self, *, Bucket: str, Key: str, LegalHold: dict[str, str], **kwargs: Any
    ) -> Response: ...

    async def put_object_retention(
        self, *, Bucket: str, Key: str, Retention: dict[str, Any], **kwargs: Any
    ) -> Response: ...

    # --- multipart uploads ---------------------------------------------------------------------

    async def create_multipart_upload(self, *, Bucket: str, Key: str, **kwargs: Any) -> Response: ...

    async def upload_part(
        self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, Body: Body, **kwargs: Any
    ) -> Response: ...

    async def upload_part_copy(
        self, *, Bucket: str, Key: str, UploadId: str, PartNumber: int, CopySource: dict[str, str], **kwargs: Any
    ) -> Response: ...

    async def complete_multipart_upload(
        self, *, Bucket: str, Key: str, UploadId: str, MultipartUpload: dict[str, Any], **kwargs: Any
    ) -> Response: ...

    async def abort_multipart_upload(self, *, Bucket: str, Key: str, UploadId: str, **kwargs: Any) -> Response: ...

    # --- buckets and listings ------------------------------------------------------------------

    async def head_bucket(self, *, Bucket: str, **kwargs: Any) -> Response: ...

    async def get_bucket_versioning(self, *, Bucket: str, **kwargs: Any) -> Response: ...

    async def get_object_lock_configuration(self, *, Bucket: str, **kwargs: Any) -> Response: ...

    async def list_objects_v2(self, *, Bucket: str, **kwargs: Any) -> Response: ...

    async def list_object_versions(self, *, Bucket: str, **kwargs: Any) -> Response: ...

    def get_paginator(self, operation_name: str) -> Paginator: ...
