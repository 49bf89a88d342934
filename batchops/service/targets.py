"""CreateJob's check that a copy's target bucket exists, before any task runs.

Without it a copy into a missing bucket fails only task by task; on SeaweedFS it is worse: CopyObject into a missing
bucket answers HTTP 500, which the engine takes for a store outage, so the job holds until the outage bound fails
it. One HeadBucket on the job's role's store refuses such a job at once with what to fix. A bucket routed to another
store (``[[targets]]``) is not checked here, and an answer other than "no such bucket" lets the job through: the
check may only refuse what is certainly wrong.
"""

from __future__ import annotations

import asyncio
from fnmatch import fnmatchcase

from botocore.exceptions import BotoCoreError, ClientError

from batchops.domain.job import JobSpec
from batchops.errors import ValidationError
from batchops.s3.client import QuickClients, checking_client
from batchops.s3.resolver import resolve
from batchops.settings import Settings

#: The operations whose ``TargetBucket`` parameter names a bucket the job writes into.
COPIES = frozenset({"S3PutObjectCopy", "COSPutObjectCopy"})
TIMEOUT_SECONDS = 5.0


async def check_copy_target(settings: Settings, account_id: str, spec: JobSpec, clients: QuickClients) -> None:
    """ValidationError (naming TargetResource) if a copy's target bucket does not exist on the job's store."""
    if spec.dry_run:  # a dry run's report says it, task by task (NoSuchBucket)
        return
    bucket = spec.operation.params.get("TargetBucket") if spec.operation.name in COPIES else None
    if not bucket or any(fnmatchcase(bucket, target.bucket) for target in settings.targets):
        return
    creds = resolve(settings, account_id, spec.role_arn)
    if creds is None:
        return
    try:
        async with checking_client(creds, TIMEOUT_SECONDS, clients) as s3, asyncio.timeout(TIMEOUT_SECONDS):
            await s3.head_bucket(Bucket=bucket)
    except ClientError as exc:
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if status == 404 or exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise ValidationError(
                f"{spec.operation.name}.TargetResource: bucket {bucket} does not exist in the job's store; create "
                "it first, or name another bucket",
                field="TargetResource",
            ) from None
    except (TimeoutError, BotoCoreError, OSError):
        return
