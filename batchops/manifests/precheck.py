"""CreateJob's look at the manifest, so that a job that could only fail is refused with the reason instead.

One round trip with the job's role's keys, as CreateJob waits for it: for a CSV manifest a ranged GET of its
first KiB (the answer carries the whole object's ETag), for another format a HEAD. The ETag given must be the
manifest's, compared as Preparing compares it (``objects.same_etag``), and a CSV manifest must not start with
a header row (``rows.header_row``). A manifest that cannot be read now (missing, refused, empty, the store
slow) does not refuse the job: it is created, and Preparing reads the manifest and fails with the reason.
"""

from __future__ import annotations

import asyncio

from botocore.exceptions import BotoCoreError, ClientError

from batchops.arns import parse_object_arn
from batchops.domain.job import JobSpec, ManifestSpec
from batchops.errors import ValidationError
from batchops.manifests import CSV_FORMATS
from batchops.manifests.csv import HEADER_LOOK_BYTES
from batchops.manifests.objects import normal_etag, same_etag
from batchops.manifests.rows import decode_text, header_row, no_header_message
from batchops.s3.client import QuickClients, StoreCredentials, checking_client
from batchops.s3.resolver import resolve
from batchops.settings import Settings

#: CreateJob waits at most this long for the store's answer; then the job is created unchecked.
TIMEOUT_SECONDS = 5.0


async def check_manifest(
    settings: Settings, account_id: str, spec: JobSpec, clients: QuickClients | None = None
) -> None:
    """ValidationError if the manifest, read with the job's role's keys, does not have the ETag given or starts
    with a header row; nothing when it matches or cannot be read now. Call after ``check_role``; ``clients``:
    open ones to use."""
    manifest = spec.manifest
    creds = resolve(settings, account_id, spec.role_arn)
    if manifest is None or spec.generator is not None or creds is None:
        return
    bucket, key = parse_object_arn(manifest.location.object_arn)  # the wire parser accepted it already
    timeout = min(settings.s3_timeout_seconds, TIMEOUT_SECONDS)
    seen = await _look(creds, timeout, clients, bucket, key, manifest)
    if seen is None:
        return
    etag, head = seen
    where = f"s3://{bucket}/{key}"
    if not same_etag(manifest.location.etag, etag):
        raise ValidationError(
            f"Manifest.Location.ETag: {normal_etag(manifest.location.etag)} is not the ETag of the manifest {where}, "
            f"which is {normal_etag(etag)}: send that ETag, or name the manifest you meant",
            field="Manifest.Location.ETag",
        )
    line = header_row(decode_text(head.split(b"\n", 1)[0]), manifest.fields) if head else None
    if line is not None:
        raise ValidationError(f"Manifest: {no_header_message(line, where)}", field="Manifest")


async def _look(
    creds: StoreCredentials, timeout: float, clients: QuickClients | None, bucket: str, key: str, manifest: ManifestSpec
) -> tuple[str, bytes | None] | None:
    """(ETag, first bytes of a CSV manifest) or None when the manifest cannot be read now."""
    version = {"VersionId": manifest.location.object_version_id} if manifest.location.object_version_id else {}
    try:
        async with asyncio.timeout(timeout), checking_client(creds, timeout, clients) as s3:
            if manifest.format not in CSV_FORMATS:
                return str((await s3.head_object(Bucket=bucket, Key=key, **version))["ETag"]), None
            answer = await s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEADER_LOOK_BYTES - 1}", **version)
            async with answer["Body"] as body:
                return str(answer["ETag"]), bytes(await body.read())
    except (ClientError, BotoCoreError, OSError, TimeoutError, KeyError):
        return None  # an empty manifest (416) too: it has no header, and Preparing checks its ETag
