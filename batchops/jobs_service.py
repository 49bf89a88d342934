"""Job actions shared by both API dialects and the console, so all of them follow the same rules."""

from __future__ import annotations

from batchops.auth.accounts import check_role
from batchops.domain.job import Job, JobSpec
from batchops.domain.status import USER_REQUESTS, JobStatus
from batchops.errors import JobStatusRefused, ValidationError
from batchops.operations.registry import get_operation
from batchops.reports.target import check_report_writable
from batchops.settings import Settings
from batchops.store.sqlstore import Store
from batchops.tenancy import Account
from batchops.xmlutil import check_xml_chars

#: What a user may ask UpdateJobStatus for (``requestedJobStatus``).
REQUESTABLE = tuple(s.value for s in USER_REQUESTS)


async def create_job(
    settings: Settings, store: Store, account: Account, spec: JobSpec, tags: list[dict[str, str]]
) -> tuple[str, bool]:
    """CreateJob's rules past parsing: a declared RoleArn, the operation's settings, a report the role can
    write, the account's job quota.

    Returns (job id, created); a replayed ClientRequestToken returns the first job's id.
    """
    check_role(settings, account.id, spec.role_arn)
    get_operation(spec.operation.name).check_settings(spec.operation.params, settings)
    await check_report_writable(settings, account.id, spec)
    limit = settings.max_unfinished_jobs(account)
    return await store.create_job(account.id, spec, tags, max_unfinished=limit)


async def request_status(store: Store, account_id: str, job_id: str, requested: str, reason: str | None) -> Job:
    """Confirm (``Ready``) or cancel (``Cancelled``) a job, if its status allows; returns the job afterwards.

    Raises JobNotFound, ValidationError (not a requestable status) or JobStatusRefused (wrong status now).
    """
    if requested not in REQUESTABLE:
        raise ValidationError(
            f"requestedJobStatus must be Ready or Cancelled, not {requested!r}", field="requestedJobStatus"
        )
    check_xml_chars(reason, "statusUpdateReason")  # DescribeJob answers it in XML
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
