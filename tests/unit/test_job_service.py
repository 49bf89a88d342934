"""JobService's rules on a real SQLite store in a temporary directory: the priority range, an ended job's
final priority, which statuses a user may request, account scoping, job tags, and that the engine is woken
after each change (and only then).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from batchops.api.errors import COS_CODES, S3CONTROL_CODES, ApiError, to_api_error
from batchops.domain.job import (
    MAX_PRIORITY,
    FailureThreshold,
    JobSpec,
    ManifestLocation,
    ManifestSpec,
    OperationSpec,
    ReportSpec,
)
from batchops.domain.status import JobStatus
from batchops.domain.task import ObjectRef, TaskOutcome, TaskStatus
from batchops.domain.tasklist import TaskCounts, TaskQuery
from batchops.errors import (
    JobNotFound,
    JobStatusRefused,
    PriorityFinal,
    RoleNotDeclared,
    StatusNotRequestable,
    ValidationError,
)
from batchops.service import JobSearch, JobService
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.tenancy import Account, Role

S = JobStatus
ACCOUNT = "111111111111"
OTHER = "222222222222"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch"
SETTINGS = Settings(
    accounts=(
        Account(ACCOUNT, "AKIDONE", "secret-one", roles=(Role(ROLE),)),
        Account(OTHER, "AKIDTWO", "secret-two", any_role=True),
    )
)


@dataclass
class Wakes:
    """Counts the service's calls to the engine's ``wake``."""

    count: int = 0

    def __call__(self) -> None:
        self.count += 1


@pytest.fixture
def wakes() -> Wakes:
    return Wakes()


@pytest.fixture
def service(store: Store, wakes: Wakes) -> JobService:
    return JobService(store, wakes, SETTINGS)


def spec(token: str, **changes: Any) -> JobSpec:
    values: dict[str, Any] = {
        "client_request_token": token,
        "priority": 10,
        "role_arn": ROLE,
        "manifest": ManifestSpec(
            "S3BatchOperations_CSV_20180820",
            ("Bucket", "Key"),
            ManifestLocation("arn:aws:s3:::manifests/m.csv", "etag-1"),
        ),
        "operation": OperationSpec("S3DeleteObjectTagging", {}, "<S3DeleteObjectTagging />"),
        "report": ReportSpec(enabled=False),  # no report bucket to check: the service does no S3 call
        "description": "service test job",
        "threshold": FailureThreshold(min_tasks=10, percent=50.0),
    }
    return JobSpec(**{**values, **changes})


async def new_job(service: JobService, token: str = "token-1", account_id: str = ACCOUNT) -> str:
    account = SETTINGS.account(account_id)
    assert account is not None
    job_id, created = await service.create(account, spec(token), [])
    assert created
    return job_id


async def cancelled_job(service: JobService, store: Store) -> str:
    job_id = await new_job(service)
    await service.request_status(ACCOUNT, job_id, "Cancelled", "stop")
    assert await store.transition(job_id, S.CANCELLED, "report written")
    return job_id


# --- create ---------------------------------------------------------------------------------------


async def test_create_wakes_the_engine_and_a_replayed_token_returns_the_first_job(
    service: JobService, wakes: Wakes
) -> None:
    job_id = await new_job(service)
    assert (await service.describe(ACCOUNT, job_id)).status is S.NEW
    assert wakes.count == 1
    account = SETTINGS.account(ACCOUNT)
    assert account is not None
    assert await service.create(account, spec("token-1"), []) == (job_id, False)


async def test_create_refuses_an_undeclared_role_before_the_job_exists(service: JobService, wakes: Wakes) -> None:
    account = SETTINGS.account(ACCOUNT)
    assert account is not None
    with pytest.raises(RoleNotDeclared, match="not declared"):
        await service.create(account, spec("t", role_arn=f"arn:aws:iam::{ACCOUNT}:role/other"), [])
    assert (await service.list_jobs(ACCOUNT, [], 10, None))[0] == []
    assert wakes.count == 0


# --- priority -------------------------------------------------------------------------------------


async def test_update_priority_sets_it_and_wakes_the_engine(service: JobService, wakes: Wakes) -> None:
    job_id = await new_job(service)
    job = await service.update_priority(ACCOUNT, job_id, str(MAX_PRIORITY))
    assert job.priority == MAX_PRIORITY
    assert (await service.describe(ACCOUNT, job_id)).priority == MAX_PRIORITY
    assert wakes.count == 2  # create, then the priority


@pytest.mark.parametrize("value", ["-1", str(MAX_PRIORITY + 1), "high", " 5", ""])
async def test_a_priority_out_of_range_or_not_an_integer_is_refused(
    service: JobService, wakes: Wakes, value: str
) -> None:
    job_id = await new_job(service)
    with pytest.raises(ValidationError, match="priority must be") as refused:
        await service.update_priority(ACCOUNT, job_id, value)
    assert refused.value.field == "priority"
    assert (await service.describe(ACCOUNT, job_id)).priority == 10
    assert wakes.count == 1


async def test_an_ended_jobs_priority_is_final(service: JobService, store: Store, wakes: Wakes) -> None:
    job_id = await cancelled_job(service, store)
    woken = wakes.count
    with pytest.raises(PriorityFinal, match=f"job {job_id} has already ended \\(Cancelled\\)"):
        await service.update_priority(ACCOUNT, job_id, "99")
    assert (await service.describe(ACCOUNT, job_id)).priority == 10
    assert wakes.count == woken


# --- requested status -----------------------------------------------------------------------------


@pytest.mark.parametrize("requested", ["Active", "Complete", "cancelled", "", None])
async def test_a_status_a_user_may_not_request_is_refused(
    service: JobService, wakes: Wakes, requested: str | None
) -> None:
    job_id = await new_job(service)
    with pytest.raises(StatusNotRequestable, match="requestedJobStatus must be Ready or Cancelled") as refused:
        await service.request_status(ACCOUNT, job_id, requested, None)
    assert refused.value.field == "requestedJobStatus"
    assert (await service.describe(ACCOUNT, job_id)).status is S.NEW
    assert wakes.count == 1


async def test_cancel_moves_the_job_records_the_reason_and_wakes_the_engine(service: JobService, wakes: Wakes) -> None:
    job_id = await new_job(service)
    job = await service.request_status(ACCOUNT, job_id, "Cancelled", "not needed")
    assert (job.status, job.status_update_reason) == (S.CANCELLING, "not needed")
    assert wakes.count == 2


async def test_confirming_a_job_that_is_not_suspended_is_refused(service: JobService, wakes: Wakes) -> None:
    job_id = await new_job(service)
    with pytest.raises(JobStatusRefused, match=f"job {job_id} is New; requestedJobStatus=Ready is accepted only"):
        await service.request_status(ACCOUNT, job_id, "Ready", None)
    assert wakes.count == 1


async def test_confirm_moves_a_suspended_job_to_ready(service: JobService, store: Store) -> None:
    job_id = await new_job(service)
    assert await store.transition(job_id, S.PREPARING) and await store.transition(job_id, S.SUSPENDED)
    job = await service.request_status(ACCOUNT, job_id, "Ready", None)
    assert (job.status, job.status_update_reason) == (S.READY, "confirmed by the user")


# --- accounts -------------------------------------------------------------------------------------


async def test_another_accounts_job_is_not_found_by_any_use_case(service: JobService, wakes: Wakes) -> None:
    job_id = await new_job(service, account_id=OTHER)
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "describe": lambda: service.describe(ACCOUNT, job_id),
        "detail": lambda: service.detail(ACCOUNT, job_id),
        "priority": lambda: service.update_priority(ACCOUNT, job_id, "99"),
        "cancel": lambda: service.request_status(ACCOUNT, job_id, "Cancelled", None),
        "tags": lambda: service.tags(ACCOUNT, job_id),
        "put tags": lambda: service.put_tags(ACCOUNT, job_id, [{"Key": "k", "Value": "v"}]),
        "delete tags": lambda: service.delete_tags(ACCOUNT, job_id),
    }
    for name, call in calls.items():
        with pytest.raises(JobNotFound):
            await call()
            pytest.fail(f"{name} found another account's job")
    job = await service.describe(OTHER, job_id)
    assert (job.status, job.priority, await service.tags(OTHER, job_id)) == (S.NEW, 10, [])
    assert wakes.count == 1
    assert (await service.list_jobs(ACCOUNT, [], 10, None))[0] == []
    assert (await service.search(ACCOUNT, JobSearch())).total == 0


# --- reads and tags -------------------------------------------------------------------------------


async def test_job_tags_are_replaced_whole_and_deleted(service: JobService) -> None:
    job_id = await new_job(service)
    await service.put_tags(ACCOUNT, job_id, [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}])
    assert await service.tags(ACCOUNT, job_id) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]
    await service.put_tags(ACCOUNT, job_id, [{"Key": "c", "Value": "3"}])
    assert await service.tags(ACCOUNT, job_id) == [{"Key": "c", "Value": "3"}]
    await service.delete_tags(ACCOUNT, job_id)
    assert await service.tags(ACCOUNT, job_id) == []


async def test_lists_page_by_token_and_by_last_job_id(service: JobService) -> None:
    ids = [await new_job(service, f"token-{n}") for n in range(3)]
    first, token = await service.list_jobs(ACCOUNT, [], 2, None)
    rest, end = await service.list_jobs(ACCOUNT, [], 2, token)
    assert end is None and {j.id for j in first + rest} == set(ids)
    cos_first, after = await service.list_jobs_after(ACCOUNT, [], 2, None)
    assert after == cos_first[-1].id
    cos_rest, _ = await service.list_jobs_after(ACCOUNT, [], 2, after)
    assert [j.id for j in cos_first + cos_rest] == [j.id for j in first + rest]


async def test_search_counts_every_status_and_detail_shows_the_history(service: JobService, store: Store) -> None:
    done = await cancelled_job(service, store)
    waiting = await new_job(service, "token-2")
    page = await service.search(ACCOUNT, JobSearch(statuses=[S.NEW]))
    assert ([j.id for j in page.jobs], page.total) == ([waiting], 1)
    assert page.counts == {S.NEW: 1, S.CANCELLED: 1}
    detail = await service.detail(ACCOUNT, done)
    assert [(source, target) for _, source, target, _ in detail.history] == [
        (None, "New"),
        ("New", "Cancelling"),
        ("Cancelling", "Cancelled"),
    ]
    assert detail.failures == []


# --- how each dialect answers the service's refusals -----------------------------------------------


def test_each_dialect_answers_the_service_refusals_with_its_own_code() -> None:
    final = PriorityFinal("job-1", "Complete")
    not_requestable = StatusNotRequestable("Active", ("Ready", "Cancelled"))
    assert to_api_error(final, S3CONTROL_CODES) == ApiError("BadRequestException", 400, str(final))
    assert to_api_error(final, COS_CODES) == ApiError("NoSuchJob", 404, str(final))
    assert to_api_error(not_requestable, S3CONTROL_CODES).code == "BadRequestException"
    assert to_api_error(not_requestable, COS_CODES).code == "InvalidArgument"


# --- task listing ---------------------------------------------------------------------------------


async def test_task_listing_and_counts_are_the_accounts_own(service: JobService, store: Store) -> None:
    job_id = await new_job(service)
    failed = TaskOutcome(0, TaskStatus.FAILED, 404, "NoSuchKey", "gone", ObjectRef("b", "k0"))
    succeeded = TaskOutcome(1, TaskStatus.SUCCEEDED, 200, "", "", ObjectRef("b", "k1"))
    await store.record_outcomes(job_id, [failed, succeeded], [])

    page = await service.tasks(ACCOUNT, job_id, TaskQuery())
    assert [(task.seq, task.row.key, task.row.error_code) for task in page.tasks] == [(0, "k0", "NoSuchKey")]
    assert await service.task_counts(ACCOUNT, job_id) == TaskCounts(1, 1, {"NoSuchKey": 1})
    with pytest.raises(JobNotFound):
        await service.tasks(OTHER, job_id, TaskQuery())
    with pytest.raises(JobNotFound):
        await service.task_counts(OTHER, job_id)


async def test_task_counts_follow_new_failures(service: JobService, store: Store) -> None:
    job_id = await new_job(service)
    assert await service.task_counts(ACCOUNT, job_id) == TaskCounts(0, 0, {})
    first = TaskOutcome(0, TaskStatus.FAILED, 404, "NoSuchKey", "", ObjectRef("b", "k0"))
    await store.record_outcomes(job_id, [first], [])
    assert await service.task_counts(ACCOUNT, job_id) == TaskCounts(0, 1, {"NoSuchKey": 1})
    assert await service.task_counts(ACCOUNT, job_id) == TaskCounts(0, 1, {"NoSuchKey": 1})  # kept: same failures

    later = TaskOutcome(1, TaskStatus.FAILED, 503, "SlowDown", "", ObjectRef("b", "k1"))
    await store.record_outcomes(job_id, [later, first], [])  # the repeated outcome is not counted twice
    assert await service.task_counts(ACCOUNT, job_id) == TaskCounts(0, 2, {"NoSuchKey": 1, "SlowDown": 1})
