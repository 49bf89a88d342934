"""Job actions shared by the S3 Control API and the console, so both follow the same rules."""

from __future__ import annotations

from batchops.domain.job import Job
from batchops.domain.status import USER_REQUESTS, JobStatus
from batchops.errors import JobStatusRefused, ValidationError
from batchops.store.sqlstore import Store

#: What a user may ask UpdateJobStatus for (``requestedJobStatus``).
REQUESTABLE = tuple(s.value for s in USER_REQUESTS)


async def request_status(store: Store, account_id: str, job_id: str, requested: str, reason: str | None) -> Job:
    """Confirm (``Ready``) or cancel (``Cancelled``) a job, if its status allows; returns the job afterwards.

    Raises JobNotFound, ValidationError (not a requestable status) or JobStatusRefused (wrong status now).
    """
    if requested not in REQUESTABLE:
        raise ValidationError(
            f"requestedJobStatus must be Ready or Cancelled, not {requested!r}", field="requestedJobStatus"
        )
    job = await store.get_job(account_id, job_id)
    target, allowed_from = USER_REQUESTS[JobStatus(requested)]
    if job.status is not target:
        moved = await store.transition(
            job_id, target, reason or default_reason(target), user_reason=True, only_from=allowed_from
        )
        if not moved:
            raise refusal(await store.get_job(account_id, job_id), requested, allowed_from)
    return await store.get_job(account_id, job_id)


def allowed_requests(status: JobStatus) -> list[str]:
    """The ``requestedJobStatus`` values a job in ``status`` accepts now (the console shows only these)."""
    return [requested.value for requested, (_, sources) in USER_REQUESTS.items() if status in sources]


def default_reason(target: JobStatus) -> str:
    return "confirmed by the user" if target is JobStatus.READY else "cancelled by the user"


def refusal(job: Job, requested: str, allowed_from: frozenset[JobStatus]) -> JobStatusRefused:
    allowed = ", ".join(sorted(s.value for s in allowed_from))
    return JobStatusRefused(
        f"job {job.id} is {job.status.value}; requestedJobStatus={requested} is accepted only while the job is "
        f"one of: {allowed}"
    )
