"""S3InitiateRestoreObject and COSInitiateRestoreObject: bring archived objects back for some days.

One RestoreObject call per object. The store's answers are handled like this:

* 202 (restore started) and 200 (the object was already restored: its expiry is extended) succeed;
* 409 ``RestoreAlreadyInProgress`` succeeds too: what the job asked for is under way;
* anything else (e.g. 403 ``InvalidObjectState`` for an object that is not archived) fails the task.

Our extension ``<BatchOpsWaitForRestore>SECONDS</BatchOpsWaitForRestore>`` makes each task wait until
the restored copy is readable (HEAD's ``x-amz-restore`` says ``ongoing-request="false"``), polling
with backoff for at most SECONDS, so that a restore job can be followed by a copy job. A task whose
restore is still running when the bound passes fails with ``RestoreNotFinished``. A waiting task
holds one of the server's task slots while it waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from botocore.exceptions import ClientError

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError
from batchops.operations.base import Operation, Params, TaskContext, version_kwargs
from batchops.operations.fields import choice, required_choice
from batchops.xmlutil import check_children, integer

WAIT_ELEMENT = "BatchOpsWaitForRestore"
MAX_WAIT_SECONDS = 7 * 24 * 3600
FIRST_POLL_SECONDS = 0.5
MAX_POLL_SECONDS = 60.0
#: The job's tier names → RestoreObject's.
TIERS = {"BULK": "Bulk", "STANDARD": "Standard", "Bulk": "Bulk", "Standard": "Standard"}


@dataclass(frozen=True)
class RestoreParams(Params):
    """S3's and COS's restore alike; stored with every key, absent values as null."""

    days: int | None  # None: the store's default (Intelligent-Tiering archive tiers)
    tier: str | None  # RestoreObject's tier name (Bulk, Standard)
    wait: int | None  # seconds to wait for the restored copy (BatchOpsWaitForRestore); None: do not wait

    def to_json(self) -> dict[str, Any]:
        return {"Days": self.days, "Tier": self.tier, "Wait": self.wait}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> RestoreParams:
        return cls(stored["Days"], stored["Tier"], stored["Wait"])


class S3InitiateRestoreObject(Operation[RestoreParams]):
    name = "S3InitiateRestoreObject"
    params_type = RestoreParams

    def parse(self, element: Element) -> RestoreParams:
        check_children(element, ("ExpirationInDays", "GlacierJobTier", WAIT_ELEMENT), self.name)
        # 0 or none: Intelligent-Tiering archive tiers; GLACIER / DEEP_ARCHIVE need >= 1 (the store says so).
        days = integer(element, "ExpirationInDays", lo=0, hi=2**31 - 1, where=self.name)
        tier = choice(element, "GlacierJobTier", ("BULK", "STANDARD"), self.name)
        return RestoreParams(days or None, TIERS[tier] if tier else None, wait_bound(element, self.name))

    async def run(self, ctx: TaskContext, params: RestoreParams, target: ObjectRef) -> str:
        return await restore(ctx, params, target)


class COSInitiateRestoreObject(Operation[RestoreParams]):
    name = "COSInitiateRestoreObject"
    params_type = RestoreParams

    def parse(self, element: Element) -> RestoreParams:
        check_children(element, ("ExpirationInDays", "JobTier", WAIT_ELEMENT), self.name)
        days = integer(element, "ExpirationInDays", lo=1, hi=365, required=True, where=self.name)
        tier = required_choice(element, "JobTier", ("Bulk", "Standard"), self.name)
        return RestoreParams(days, TIERS[tier], wait_bound(element, self.name))

    async def run(self, ctx: TaskContext, params: RestoreParams, target: ObjectRef) -> str:
        return await restore(ctx, params, target)


def wait_bound(element: Element, where: str) -> int | None:
    return integer(element, WAIT_ELEMENT, lo=1, hi=MAX_WAIT_SECONDS, where=where)


async def restore(ctx: TaskContext, params: RestoreParams, target: ObjectRef) -> str:
    """Request the restore; with a wait bound, also wait for it to finish."""
    request: dict[str, Any] = {}
    if params.days:
        request["Days"] = params.days
    if params.tier:
        request["GlacierJobParameters"] = {"Tier": params.tier}
    state = await _request_restore(ctx, target, request)
    if params.wait is None:
        return state
    waited = await wait_until_restored(ctx, target, params.wait)
    return f"{state}; restored copy readable after {waited:.1f}s"


async def _request_restore(ctx: TaskContext, target: ObjectRef, request: dict[str, Any]) -> str:
    try:
        response = await ctx.s3.restore_object(
            Bucket=target.bucket, Key=target.key, RestoreRequest=request, **version_kwargs(target)
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "RestoreAlreadyInProgress":
            return "restore already in progress"
        raise
    if response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 200:
        return "already restored; expiry updated"
    return "restore started"


async def wait_until_restored(ctx: TaskContext, target: ObjectRef, bound: float) -> float:
    """Poll HEAD until ``x-amz-restore`` says the restore is over; the seconds waited, or RestoreNotFinished."""
    start = time.monotonic()
    delay = FIRST_POLL_SECONDS
    while True:
        head = await ctx.s3.head_object(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
        if restore_finished(head.get("Restore")):
            return time.monotonic() - start
        left = bound - (time.monotonic() - start)
        if left <= 0:
            raise TaskError(
                "RestoreNotFinished",
                0,
                f"the restore was requested but had not finished after {bound:.0f}s "
                f"(x-amz-restore: {head.get('Restore') or 'absent'}); raise {WAIT_ELEMENT} or run a "
                "job without it and check later",
            )
        await asyncio.sleep(min(delay, left))
        delay = min(delay * 2, MAX_POLL_SECONDS)


def restore_finished(header: str | None) -> bool:
    """``ongoing-request="false", expiry-date="…"`` means a readable restored copy exists."""
    return bool(header) and 'ongoing-request="false"' in (header or "")
