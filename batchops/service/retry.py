"""Retry the failures: a new job over a finished job's failed tasks, read from the job store (never by listing
again or reading the original manifest), with the same operation and settings.

The retry's manifest is derived (batchops.reports.derived) into the ``retries`` folder of the original's report
folder. Its name comes from the request (its ClientRequestToken and error codes), so a replayed request writes the
same file with the same content and CreateJob's idempotency returns the first retry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from batchops.domain.job import Job, JobSpec
from batchops.domain.status import TERMINAL
from batchops.domain.task import TaskStatus
from batchops.errors import JobStatusRefused, ValidationError
from batchops.reports import derived
from batchops.reports.derived import DerivedManifest
from batchops.service import objects
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.tenancy import Account
from batchops.xmlutil import check_length, check_xml_chars

#: Error codes one retry may filter on (a CLI line or a console form lists a few).
MAX_ERROR_CODES = 100
#: A description the retry job gets (CreateJob's limit is 256 characters).
DESCRIPTION = "retry of job {id}"


class NothingToRetry(ValidationError):
    """The job has no failed task to retry (none at all, or none with the error codes asked for)."""


@dataclass(frozen=True)
class RetryRequest:
    job_id: str
    client_request_token: str
    error_codes: tuple[str, ...] = ()


RetryManifest = DerivedManifest


def check_request(request: RetryRequest) -> None:
    check_length(request.client_request_token, "ClientRequestToken", 1, 64)
    check_xml_chars(request.client_request_token, "ClientRequestToken")
    if len(request.error_codes) > MAX_ERROR_CODES:
        raise ValidationError(f"give at most {MAX_ERROR_CODES} ErrorCodes, not {len(request.error_codes)}")
    for code in request.error_codes:
        check_length(code, "ErrorCode", 1, 1024)
        check_xml_chars(code, "ErrorCode")


def check_retryable(job: Job) -> None:
    """JobStatusRefused unless the job has finished (Complete, Failed or Cancelled) and ran some tasks."""
    if job.status not in TERMINAL:
        finished = ", ".join(sorted(s.value for s in TERMINAL))
        raise JobStatusRefused(
            f"job {job.id} is {job.status.value}; only a finished job ({finished}) can be retried: wait for it to "
            "end, or cancel it first"
        )
    if job.progress.failed == 0:
        raise NothingToRetry(f"job {job.id} has no failed tasks to retry ({job.progress.succeeded} succeeded)")


def manifest_target(parent: Job, request: RetryRequest) -> RetryManifest:
    """Where the retry manifest of ``parent`` goes.

    Named after the whole request: a replay rewrites the same bytes, and the same token sent with other error
    codes (refused by CreateJob's idempotency) never overwrites a manifest a retry may be reading."""
    asked = "\n".join([parent.id, request.client_request_token, *sorted(set(request.error_codes))])
    name = hashlib.sha256(asked.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return derived.place(parent, "retries", name)


def nothing_to_retry(job: Job, error_codes: Sequence[str], seen: set[str]) -> NothingToRetry:
    if error_codes:
        had = ", ".join(sorted(code or "(none)" for code in seen)) or "none"
        return NothingToRetry(
            f"job {job.id} has no failed task with error code {', '.join(error_codes)}; its failed tasks' codes are: "
            f"{had}"
        )
    return NothingToRetry(
        f"job {job.id}'s failed tasks are all manifest rows that name no object; they would fail again: fix those "
        "rows in the manifest and create a new job"
    )


def retry_spec(parent: Job, request: RetryRequest, where: RetryManifest, etag: str, versioned: bool) -> JobSpec:
    """The parent's spec over the retry manifest: same operation, priority, rate caps, role, report, threshold."""
    return replace(
        parent.spec,
        client_request_token=request.client_request_token,
        priority=parent.priority,
        rate=parent.rate,  # the caps it runs with now, as the priority: an operator may have changed both
        manifest=derived.manifest_spec(parent, where, etag, versioned),
        generator=None,
        confirmation_required=False,  # asking for the retry is the confirmation
        description=DESCRIPTION.format(id=parent.id),
    )


Create = Callable[[Account, JobSpec, list[dict[str, str]]], Awaitable[tuple[str, bool]]]


async def retry_failures(
    store: Store, settings: Settings, create: Create, account: Account, request: RetryRequest
) -> tuple[str, bool]:
    """Create the retry job of ``request.job_id`` and link the two; (retry job id, created)."""
    check_request(request)
    parent = await store.get_job(account.id, request.job_id)
    check_retryable(parent)
    where = manifest_target(parent, request)
    async with derived.spooled(store.report_rows(parent.id, TaskStatus.FAILED), request.error_codes) as spooled:
        if spooled.written == 0:
            raise nothing_to_retry(parent, request.error_codes, spooled.seen)
        etag = await _upload(settings, account, parent, where, spooled.reader(), spooled.size)
    versioned = spooled.versioned
    job_id, created = await create(account, retry_spec(parent, request, where, etag, versioned), [])
    await store.link_retry(parent.id, job_id)
    return job_id, created


async def _upload(
    settings: Settings, account: Account, parent: Job, where: RetryManifest, source: objects.Readable, size: int
) -> str:
    try:
        return await objects.upload(settings, account.id, parent.spec.role_arn, where.bucket, where.key, source, size)
    except objects.StoreCallFailed as exc:
        raise ValidationError(
            f"cannot write the retry manifest to s3://{where.bucket}/{where.key} with job {parent.id}'s role: {exc}; "
            "let the role write there (or name another report bucket on a new job)"
        ) from None
