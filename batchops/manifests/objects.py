"""Reading manifest objects from S3: fetch by ARN with the ETag check, stream the body in chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import parse_object_arn
from batchops.domain.job import ManifestLocation
from batchops.errors import ManifestError, ValidationError
from batchops.s3.errors import to_task_error
from batchops.s3.types import S3Client

CHUNK_BYTES = 256 * 1024


def location_object(location: ManifestLocation) -> tuple[str, str]:
    """The (bucket, key) a manifest location names; ManifestError if its ARN is unusable."""
    try:
        return parse_object_arn(location.object_arn)
    except ValidationError as exc:
        raise ManifestError("InvalidManifestLocation", str(exc)) from None


async def open_manifest(s3: S3Client, location: ManifestLocation) -> Any:
    """The manifest object's streaming body, after checking its ETag against the job's."""
    bucket, key = location_object(location)
    response = await get_object(s3, bucket, key, location.object_version_id)
    _check_etag(location.etag, response.get("ETag", ""), bucket, key, response["Body"])
    return response["Body"]


async def get_object(
    s3: S3Client, bucket: str, key: str, version_id: str | None = None, what: str = "the manifest"
) -> Any:
    extra = {"VersionId": version_id} if version_id else {}
    try:
        return await s3.get_object(Bucket=bucket, Key=key, **extra)
    except (ClientError, BotoCoreError) as exc:
        error = to_task_error(exc)
        raise ManifestError(
            "ManifestNotReadable",
            f"could not read {what} s3://{bucket}/{key}: {error.code} (HTTP {error.http_status}): {error.message}",
        ) from None


def _check_etag(expected: str, actual: str, bucket: str, key: str, body: Any) -> None:
    if expected.strip().strip('"') != actual.strip().strip('"'):
        body.close()
        raise ManifestError(
            "ManifestETagMismatch",
            f"the manifest s3://{bucket}/{key} has ETag {actual} but the job expects {expected}; "
            "the manifest changed after the job was created: create the job again with the current ETag",
        )


async def body_chunks(body: Any, size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """The body's bytes in chunks; a read error midway is a ManifestError. Closes the body."""
    try:
        async for chunk in body.iter_chunks(chunk_size=size):
            yield chunk
    except (ClientError, BotoCoreError, OSError) as exc:
        raise ManifestError("ManifestNotReadable", f"reading the manifest failed midway: {exc}") from None
    finally:
        body.close()
