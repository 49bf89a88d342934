"""JobService: every job use case the edges offer (both API dialects and the console), each rule written once.

The edges decode their wire (XML, query strings, forms), call one method here, and encode the answer; the
dialects' error tables (batchops.api.errors) translate the errors raised here. The engine learns of a change
through ``wake``, which only this class calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from batchops.domain.chain import ChainView
from batchops.domain.extras import JobExtras
from batchops.domain.job import MAX_PRIORITY, MIN_PRIORITY, Job, JobSpec
from batchops.domain.retry import RetryLinks
from batchops.domain.status import TERMINAL, USER_REQUESTS, JobStatus, PausedBy, priority_is_final, user_move
from batchops.domain.task import ReportRow
from batchops.domain.tasklist import TaskCounts, TaskPage, TaskQuery
from batchops.domain.throughput import ProgressSample, RatePoint, current_rate, rates
from batchops.domain.webhook import SHOWN_ATTEMPTS, DeliveryAttempt
from batchops.errors import JobNotFound, JobStatusRefused, PriorityFinal, RateFinal, StatusNotRequestable
from batchops.manifests.precheck import check_manifest
from batchops.operations.registry import get_operation
from batchops.reports.target import TIMEOUT_SECONDS as CHECK_TIMEOUT_SECONDS
from batchops.reports.target import ProvenWrites, check_report_writable
from batchops.s3.client import QuickClients
from batchops.s3.resolver import check_role
from batchops.service import objects
from batchops.service.chains import chain_view, running_step
from batchops.service.objects import Readable, ReportFile, ReportFileStream
from batchops.service.rates import changed_caps
from batchops.service.retry import RetryRequest, retry_failures
from batchops.service.targets import check_copy_target
from batchops.settings import Settings
from batchops.store.base import SEARCH_SORTS, Store
from batchops.tenancy import Account
from batchops.wire_numbers import parse_int
from batchops.xmlutil import check_xml_chars

#: Jobs whose counts by error code ``task_counts`` keeps (a few hundred small dicts).
_CODES_KEPT = 256

#: Active jobs whose current throughput the console's summary adds up (far more than run at once).
_ACTIVE_SUMMED = 200

#: The ``requestedJobStatus`` spellings a user may send, in the order messages list them.
_REQUESTABLE = {status.value: status for status in USER_REQUESTS}

__all__ = ["SEARCH_SORTS", "AccountTotals", "JobDetail", "JobSearch", "JobService", "SearchPage"]

Tags = list[dict[str, str]]
#: (when, from status or None for the first event, to status, reason)
StatusEvent = tuple[float, str | None, str, str | None]


@dataclass(frozen=True)
class JobSearch:
    """One console list page: filters, order and window."""

    statuses: Sequence[JobStatus] = ()
    text: str = ""
    sort: str = "created"
    descending: bool = True
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class SearchPage:
    jobs: list[Job]
    total: int  # jobs matching the search, over every page
    counts: dict[JobStatus, int]  # the account's visible jobs per status (not filtered)


@dataclass(frozen=True)
class AccountTotals:
    """The console's summary strip over an account's visible jobs."""

    succeeded: int
    failed: int
    active_jobs: int
    #: Tasks/s across the Active jobs, each job's latest sampled interval summed.
    succeeded_per_second: float
    failed_per_second: float


@dataclass(frozen=True)
class JobDetail:
    job: Job
    history: list[StatusEvent]
    failures: list[ReportRow]  # the most recent failed tasks, newest first
    #: A dry run's failed tasks by error code (its counts by outcome); empty for any other job.
    failure_codes: dict[str, int] = field(default_factory=dict)


class JobService:
    """The job use cases, scoped by account: another account's job is not found."""

    def __init__(self, store: Store, wake: Callable[[], None], settings: Settings) -> None:
        self._store = store
        self._wake = wake  # tells the engine to look at the jobs now, not at its next tick
        self._settings = settings
        # The last counts by error code read per job (task_counts), oldest first: (failures then, counts).
        self._codes_seen: dict[str, tuple[int, dict[str, int]]] = {}
        # CreateJob's store checks reuse their clients: opening one costs more than the check.
        self._check_clients = QuickClients(min(settings.s3_timeout_seconds, CHECK_TIMEOUT_SECONDS))
        self._proven_reports = ProvenWrites()

    async def close(self) -> None:
        """Close the clients CreateJob's checks keep open (the server calls it when it stops)."""
        await self._check_clients.close()

    # --- create ---------------------------------------------------------------------------------

    async def create(self, account: Account, spec: JobSpec, tags: Tags) -> tuple[str, bool]:
        """CreateJob's rules past parsing: a declared RoleArn, the operation's settings, a manifest with the
        ETag given and no header row (when the role can read it now), a report the role can write, the account's
        job quota.

        Returns (job id, created); a replayed ClientRequestToken returns the first job's id.
        """
        check_role(self._settings, account.id, spec.role_arn)
        operation = get_operation(spec.operation.name)
        operation.check_settings(operation.decode(spec.operation.params), self._settings)
        await _all_pass(
            check_manifest(self._settings, account.id, spec, self._check_clients),
            check_report_writable(self._settings, account.id, spec, self._check_clients, self._proven_reports),
            check_copy_target(self._settings, account.id, spec, self._check_clients),
        )
        limit = self._settings.max_unfinished_jobs(account)
        made = await self._store.create_job(account.id, spec, tags, max_unfinished=limit)
        self._wake()
        return made

    async def retry(self, account: Account, request: RetryRequest) -> tuple[str, bool]:
        """A new job over a finished job's failed tasks (those with ``request.error_codes``, if any), with the
        same operation and settings; (retry job id, created). A replayed ClientRequestToken returns the first.

        Raises JobNotFound, JobStatusRefused (not finished), NothingToRetry, StoreCallFailed, or CreateJob's errors.
        """
        return await retry_failures(self._store, self._settings, self.create, account, request)

    async def retry_links(self, account_id: str, job_id: str) -> RetryLinks:
        """The job the account's job retries, and its retries (DescribeJob, the console)."""
        await self._store.get_job(account_id, job_id)
        return await self._store.retry_links(job_id)

    async def chain(self, job: Job) -> ChainView | None:
        """The chain the job belongs to, and where it is (None: the job is in no chain)."""
        return await chain_view(self._store, job.account_id, job)

    async def webhook_attempts(self, job: Job) -> list[DeliveryAttempt]:
        """The most recent attempts to deliver the job's webhook events, oldest first (DescribeJob, the console)."""
        return await self._store.delivery_attempts(job.id, SHOWN_ATTEMPTS)

    async def extras(self, job: Job) -> JobExtras:
        """What DescribeJob and the console show beyond the job's record: retry links, chain, webhook attempts."""
        links = await self._store.retry_links(job.id)
        return JobExtras(links, await self.chain(job), tuple(await self.webhook_attempts(job)))

    # --- read -----------------------------------------------------------------------------------

    async def describe(self, account_id: str, job_id: str) -> Job:
        return await self._store.get_job(account_id, job_id)

    async def detail(self, account_id: str, job_id: str) -> JobDetail:
        """The job with its status history and its latest failures (the console's job page)."""
        job = await self._store.get_job(account_id, job_id)
        history = await self._store.status_history(job.id)
        codes = (await self._counts(job)).by_error_code if job.spec.dry_run else {}
        return JobDetail(job, history, await self._store.recent_failures(job.id, 20), codes)

    async def tasks(self, account_id: str, job_id: str, query: TaskQuery) -> TaskPage:
        """One page of the account's job's ended tasks (``batchops job tasks``), while it runs or after.

        Raises JobNotFound, or ValidationError for a token that is not one of this listing."""
        job = await self._store.get_job(account_id, job_id)
        return await self._store.list_tasks(job.id, query)

    async def task_counts(self, account_id: str, job_id: str) -> TaskCounts:
        """The job's ended tasks now: succeeded, failed, and failed by error code (adding up to the failures)."""
        return await self._counts(await self._store.get_job(account_id, job_id))

    async def _counts(self, job: Job) -> TaskCounts:
        """The job's counts, its failures by code read again only when it has failed more since: the read visits
        every failure (0.3 s for 100,000 on PostgreSQL), and the console's job page asks every 2 s. An outcome is
        recorded once and never changes, so the same number of failures has the same codes."""
        if not job.progress.failed:
            return TaskCounts(job.progress.succeeded, 0)
        known = self._codes_seen.get(job.id)
        if known is not None and known[0] == job.progress.failed:
            return TaskCounts(job.progress.succeeded, job.progress.failed, dict(known[1]))
        counts = await self._store.task_counts(job.id)  # may be newer than ``job``, and agrees with itself
        self._codes_seen[job.id] = (counts.failed, dict(counts.by_error_code))
        while len(self._codes_seen) > _CODES_KEPT:
            self._codes_seen.pop(next(iter(self._codes_seen)))
        return counts

    async def throughput(self, job: Job) -> list[RatePoint]:
        """The job's tasks/s (succeeded and failed) between its progress samples, oldest first (the console's
        chart); empty until it has run for one sampling interval. An ended job's last interval reaches its end even
        before the server's next sample: its final counts are in the job itself."""
        samples = await self._store.progress_samples(job.id)
        ended = _end_sample(job)
        if samples and ended is not None and ended.at > samples[-1].at:
            samples.append(ended)
        return rates(samples)

    async def totals(self, account_id: str) -> AccountTotals:
        """Tasks ended over the account's visible jobs, and its Active jobs' current throughput. One read per
        Active job (at most ``max_active_jobs`` of them run at once)."""
        horizon = self._settings.retention_days
        succeeded, failed = await self._store.task_totals(account_id, horizon)
        active, _ = await self._store.search_jobs(
            account_id, (JobStatus.ACTIVE,), "", "created", True, _ACTIVE_SUMMED, 0, horizon
        )
        now = [current_rate(await self._store.progress_samples(job.id)) for job in active]
        latest = [point for point in now if point is not None]
        return AccountTotals(
            succeeded,
            failed,
            len(active),
            sum(p.succeeded_per_second for p in latest),
            sum(p.failed_per_second for p in latest),
        )

    async def list_jobs(
        self, account_id: str, statuses: Sequence[JobStatus], limit: int, token: str | None
    ) -> tuple[list[Job], str | None]:
        """A page of the account's visible jobs, newest first; the token is opaque (S3 Control)."""
        horizon = self._settings.retention_days
        return await self._store.list_jobs(account_id, statuses, limit, token, horizon)

    async def list_jobs_after(
        self, account_id: str, statuses: Sequence[JobStatus], limit: int, after_job_id: str | None
    ) -> tuple[list[Job], str | None]:
        """``list_jobs`` paged the COS way: the token is the last job id of the previous page."""
        horizon = self._settings.retention_days
        return await self._store.list_jobs_after(account_id, statuses, limit, after_job_id, horizon)

    async def counts_by_status(self) -> dict[JobStatus, int]:
        """Every account's jobs in each status (for /metrics: the operator's view, not an account's)."""
        return await self._store.job_counts()

    async def search(self, account_id: str, query: JobSearch) -> SearchPage:
        """The console's list: filtered, sorted and counted."""
        horizon = self._settings.retention_days
        jobs, total = await self._store.search_jobs(
            account_id, query.statuses, query.text, query.sort, query.descending, query.limit, query.offset, horizon
        )
        return SearchPage(jobs, total, await self._store.status_counts(account_id, horizon))

    # --- change ---------------------------------------------------------------------------------

    async def update_priority(self, account_id: str, job_id: str, priority: str) -> Job:
        """Set the priority of a job that has not ended; ``priority`` is the integer as the user wrote it.

        Raises ValidationError (not an integer in range), JobNotFound, PriorityFinal (the job has ended).
        """
        value = parse_int(priority, "priority", MIN_PRIORITY, MAX_PRIORITY)
        job = await self._store.get_job(account_id, job_id)
        if priority_is_final(job.status):
            raise PriorityFinal(job.id, job.status.value)
        job = await self._store.update_priority(account_id, job_id, value)  # guarded again in SQL, for races
        self._wake()
        return job

    async def update_rate(self, account_id: str, job_id: str, requests: str | None, tasks: str | None) -> Job:
        """Change the rate caps of a job that has not ended (None: that cap unchanged; ``none``: no cap). Its
        running tasks follow within a second or two (the engine reads the caps with the job).

        Raises ValidationError, JobNotFound, RateFinal (the job has ended).
        """
        job = await self._store.get_job(account_id, job_id)
        caps = changed_caps(job.rate, requests, tasks)
        if job.status in TERMINAL:
            raise RateFinal(job.id, job.status.value)
        job = await self._store.update_rate(account_id, job_id, caps)  # guarded again in SQL, for races
        self._wake()
        return job

    async def request_status(self, account_id: str, job_id: str, requested: str | None, reason: str | None) -> Job:
        """Confirm or resume (``Ready``), pause (``Paused``) or cancel (``Cancelled``) a job, if its status allows;
        returns the job afterwards.

        Raises StatusNotRequestable, JobNotFound or JobStatusRefused (the job's status does not allow it now).
        """
        wanted = _REQUESTABLE.get(requested) if requested is not None else None
        if wanted is None:
            raise StatusNotRequestable(requested, tuple(_REQUESTABLE))
        check_xml_chars(reason, "statusUpdateReason")  # DescribeJob answers it in XML
        job = await self._store.get_job(account_id, job_id)
        if wanted is JobStatus.CANCELLED:  # cancelling a chain cancels its running step
            job = await running_step(self._store, account_id, job)
            job_id = job.id
        for _ in range(3):  # the engine may move the job between our read and our write: look again
            if await self._apply_request(job, wanted, reason):
                break
            job = await self._store.get_job(account_id, job_id)
        else:
            raise _refusal(job, wanted)
        job = await self._store.get_job(account_id, job_id)
        self._wake()
        return job

    async def _apply_request(self, job: Job, wanted: JobStatus, reason: str | None) -> bool:
        """One try at the request against the job as last read; False if its status changed meanwhile.
        JobStatusRefused if the status it is in refuses the request."""
        target = user_move(wanted, job.status)
        if target is None:
            raise _refusal(job, wanted)
        said = reason or _default_reason(wanted, job.status)
        if target is not job.status:
            paused_by = PausedBy.USER if wanted is JobStatus.PAUSED else None
            return await self._store.transition(
                job.id, target, said, user_reason=True, only_from=frozenset({job.status}), paused_by=paused_by
            )
        if wanted is JobStatus.PAUSED:  # pausing or paused already (pre-empted): now the owner's pause
            return await self._store.pin_pause(job.id, said)
        return True

    # --- tags -----------------------------------------------------------------------------------

    async def tags(self, account_id: str, job_id: str) -> Tags:
        return await self._store.get_tags(account_id, job_id)

    async def put_tags(self, account_id: str, job_id: str, tags: Tags) -> None:
        """Replace the job's whole tag set."""
        await self._store.put_tags(account_id, job_id, tags)

    async def delete_tags(self, account_id: str, job_id: str) -> None:
        await self._store.put_tags(account_id, job_id, [])

    # --- the job's objects, on its role's store ---------------------------------------------------

    async def report_files(self, job: Job) -> list[ReportFile]:
        """The files of the job's written report, read from its manifest.json. StoreCallFailed if unreadable."""
        return await objects.report_files(self._settings, job)

    async def open_report_file(self, account_id: str, job_id: str, key: str) -> ReportFileStream:
        """One file of the job's report, to stream. JobNotFound, NotAReportFile or StoreCallFailed."""
        job = await self._store.get_job(account_id, job_id)
        if not job.spec.report.enabled:
            raise JobNotFound(job.id)
        return await objects.open_report_file(self._settings, job, key)

    def require_role(self, account_id: str, role_arn: str) -> None:
        """RoleNotDeclared unless the account declared ``role_arn`` (the console's form checks it first)."""
        check_role(self._settings, account_id, role_arn)

    async def manifest_etag(self, account_id: str, role_arn: str, bucket: str, key: str) -> str:
        """The ETag of a manifest where the role will read it. RoleNotDeclared or StoreCallFailed."""
        check_role(self._settings, account_id, role_arn)
        return await objects.etag_of(self._settings, account_id, role_arn, bucket, key)

    async def upload_manifest(
        self, account_id: str, role_arn: str, bucket: str, key: str, source: Readable, size: int
    ) -> str:
        """Put a manifest where the role will read it (streamed in parts); its ETag."""
        check_role(self._settings, account_id, role_arn)
        return await objects.upload(self._settings, account_id, role_arn, bucket, key, source, size)


async def _all_pass(*checks: Awaitable[None]) -> None:
    """Run the store checks side by side (each is a round trip CreateJob waits for); the first one's refusal,
    in the order given, if any refuses."""
    outcomes = await asyncio.gather(*checks, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome


_DEFAULT_REASONS = {
    JobStatus.READY: "confirmed by the user",
    JobStatus.PAUSED: "paused by the user",
    JobStatus.CANCELLED: "cancelled by the user",
}


def _end_sample(job: Job) -> ProgressSample | None:
    if job.status not in TERMINAL or job.termination_time is None:
        return None
    return ProgressSample(job.termination_time.timestamp(), job.progress.succeeded, job.progress.failed)


def _default_reason(requested: JobStatus, current: JobStatus) -> str:
    if requested is JobStatus.READY and current is JobStatus.PAUSED:
        return "resumed by the user"
    return _DEFAULT_REASONS[requested]


def _refusal(job: Job, requested: JobStatus) -> JobStatusRefused:
    allowed = ", ".join(sorted(s.value for s in USER_REQUESTS[requested]))
    return JobStatusRefused(
        f"job {job.id} is {job.status.value}; requestedJobStatus={requested.value} is accepted only while the job is "
        f"one of: {allowed}"
    )
