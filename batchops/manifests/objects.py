"""Reading manifest objects from S3: fetch by ARN with the ETag check, stream the body in chunks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import parse_object_arn
from batchops.domain.job import ManifestLocation
from batchops.errors import ManifestError, ValidationError
from batchops.s3.errors import to_task_error
from batchops.s3.types import S3Client

CHUNK_BYTES = 256 * 1024
#: How far apart the store's clock (LastModified) and the server's (the job's creation) may be for a manifest
#: modified before a job's creation to be told apart from one modified after it.
CLOCK_MARGIN = timedelta(seconds=2)


def same_etag(given: str, actual: str) -> bool:
    """Whether two ETags are the same, as written with or without their quotes, in either case."""
    return normal_etag(given) == normal_etag(actual)


def normal_etag(etag: str) -> str:
    return etag.strip().strip('"').lower()


class ManifestETagMismatch(ManifestError):
    """The manifest's ETag is not the one the job was created with. ``told_apart`` says whether it never
    matched or the manifest changed after the job was created, when the manifest's LastModified tells."""

    def __init__(self, where: str, actual: str, expected: str, last_modified: datetime | None) -> None:
        self.where, self.actual, self.expected = where, normal_etag(actual), normal_etag(expected)
        self.last_modified = last_modified
        super().__init__(
            "ManifestETagMismatch",
            f"the manifest {where} has ETag {self.actual}, not the ETag {self.expected} the job was created with: "
            f"create the job again with ETag {self.actual} if that manifest is the one meant",
        )

    def told_apart(self, created: datetime) -> ManifestError:
        """The same failure, saying whether the ETag never matched or the manifest changed after ``created``."""
        modified = self.last_modified
        if modified is None or abs(modified - created) <= CLOCK_MARGIN:
            return self
        if modified < created:
            return ManifestError(
                self.code,
                f"the ETag {self.expected} given at CreateJob never matched the manifest {self.where}: its ETag is "
                f"{self.actual} (last modified {modified:%Y-%m-%d %H:%M:%S} UTC, before the job was created); "
                f"create the job again with ETag {self.actual}",
            )
        return ManifestError(
            self.code,
            f"the manifest {self.where} changed after the job was created (last modified "
            f"{modified:%Y-%m-%d %H:%M:%S} UTC): its ETag is {self.actual}, not {self.expected}; "
            "create the job again with the current ETag",
        )


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
    if not same_etag(location.etag, response.get("ETag", "")):
        response["Body"].close()
        where = f"s3://{bucket}/{key}"
        raise ManifestETagMismatch(where, response.get("ETag", ""), location.etag, _utc(response.get("LastModified")))
    return response["Body"]


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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


async def body_chunks(body: Any, size: int = CHUNK_BYTES) -> AsyncIterator[bytes]:
    """The body's bytes in chunks; a read error midway is a ManifestError. Closes the body."""
    try:
        async for chunk in body.iter_chunks(chunk_size=size):
            yield chunk
    except (ClientError, BotoCoreError, OSError) as exc:
        raise ManifestError("ManifestNotReadable", f"reading the manifest failed midway: {exc}") from None
    finally:
        body.close()
