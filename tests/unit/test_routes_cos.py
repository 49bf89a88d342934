"""Every COS route (batchops.api.cos.ROUTES) through the whole ASGI app (batchops.server.build_app) on a
MemoryStore, with requests signed by the COS SDK's signer: each route's answer and its refusals in the COS
dialect. No engine runs (tests/support/asgi.py); a test moves a job between statuses through the store itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from batchops.api.s3control import CREATED_HEADER
from batchops.domain.status import JobStatus
from batchops.store.memory import MemoryStore
from tests.support.asgi import asgi_client, cos_call, s3control_call, xml_of
from tests.support.clock import ManualClock
from tests.support.routes import OTHER, OWNER, end_job, route_settings, suspend_job
from tests.support.wire_bodies import COS_ROLE, cos_body

NO_REPORT = "<Report><Enabled>false</Enabled></Report>"
NO_SUCH_JOB = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def memory_store(clock: ManualClock) -> MemoryStore:
    return MemoryStore(clock)


@pytest.fixture
async def client(tmp_path: Path, memory_store: MemoryStore) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(route_settings(tmp_path), memory_store) as opened:
        yield opened


def create_body(token: str = "token-1", description: str = "bent body", **elements: str) -> bytes:
    return cos_body(
        Report=NO_REPORT,
        ClientRequestToken=f"<ClientRequestToken>{token}</ClientRequestToken>",
        Description=f"<Description>{description}</Description>",
        **elements,
    )


async def create(client: httpx.AsyncClient, token: str = "token-1", **kw: str) -> str:
    reply = await cos_call(client, "POST", "/jobs", OWNER, body=create_body(token, **kw))
    assert reply.status_code == 200, reply.text
    job_id = xml_of(reply).findtext("JobId")
    assert job_id
    return job_id


def assert_error(reply: httpx.Response, status: int, code: str, *words: str) -> None:
    """A COS error answer: Error/Code, the headers COS clients expect, and a message naming what was wrong."""
    root = xml_of(reply)
    assert (reply.status_code, root.tag, root.findtext("Code")) == (status, "Error", code), reply.text
    assert [child.tag for child in root] == ["Code", "Message", "Resource", "RequestId", "TraceId"]
    message = root.findtext("Message") or ""
    for word in words:
        assert word in message
    assert reply.headers["Server"] == "tencent-cos" and reply.headers["x-cos-request-id"]


async def listed(client: httpx.AsyncClient, **params: str) -> tuple[list[str | None], str | None]:
    """ListJobs: the job ids of the page and its NextToken."""
    reply = await cos_call(client, "GET", "/jobs", OWNER, params=params)
    assert reply.status_code == 200, reply.text
    answer = xml_of(reply)
    return [m.findtext("JobId") for m in answer.iterfind("Jobs/member")], answer.findtext("NextToken")


# --- every route: who may call it ------------------------------------------------------------

#: (method, path after /jobs/{id} or None for /jobs, query, body) of each route.
ROUTES = [
    pytest.param("POST", None, {}, create_body(), id="CreateJob"),
    pytest.param("GET", None, {}, b"", id="ListJobs"),
    pytest.param("GET", "", {}, b"", id="DescribeJob"),
    pytest.param("POST", "/priority", {"priority": "5"}, b"", id="UpdateJobPriority"),
    pytest.param("POST", "/status", {"requestedJobStatus": "Cancelled"}, b"", id="UpdateJobStatus"),
]
JOB_ROUTES = [route for route in ROUTES if route.values[1] is not None]


def path_of(suffix: str | None, job_id: str) -> str:
    return "/jobs" if suffix is None else f"/jobs/{job_id}{suffix}"


@pytest.mark.parametrize(("method", "suffix", "params", "body"), ROUTES)
async def test_every_route_needs_the_appid_header(
    client: httpx.AsyncClient, method: str, suffix: str | None, params: dict[str, str], body: bytes
) -> None:
    job_id = await create(client, token="existing")
    reply = await cos_call(client, method, path_of(suffix, job_id), OWNER, params=params, body=body, appid=None)
    assert_error(reply, 400, "InvalidArgument", "x-cos-appid cannot be empty")


@pytest.mark.parametrize(("method", "suffix", "params", "body"), ROUTES)
async def test_every_route_refuses_a_wrong_signature_and_another_accounts_appid(
    client: httpx.AsyncClient, method: str, suffix: str | None, params: dict[str, str], body: bytes
) -> None:
    job_id = await create(client, token="existing")
    path = path_of(suffix, job_id)
    forged = await cos_call(client, method, path, OWNER, params=params, body=body, secret_key="not-the-secret")
    assert_error(forged, 403, "SignatureDoesNotMatch")
    posing = await cos_call(client, method, path, OTHER, params=params, body=body, appid=OWNER.cos_appid)
    assert_error(posing, 403, "AccessDenied", f"x-cos-appid '{OWNER.cos_appid}'", f"({OTHER.cos_appid})")


@pytest.mark.parametrize(("method", "suffix", "params", "body"), JOB_ROUTES)
async def test_every_job_route_answers_an_unknown_or_another_accounts_job_no_such_job(
    client: httpx.AsyncClient, method: str, suffix: str, params: dict[str, str], body: bytes
) -> None:
    theirs = await create(client, token="owners")
    for signer, job_id in ((OWNER, NO_SUCH_JOB), (OTHER, theirs), (OWNER, "j" * 65)):
        reply = await cos_call(client, method, path_of(suffix, job_id), signer, params=params, body=body)
        assert_error(reply, 404, "NoSuchJob", job_id[:36])


# --- CreateJob -------------------------------------------------------------------------------


async def test_create_job_answers_the_new_jobs_id_and_stores_the_job(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    job_id = await create(client)
    job = await memory_store.get_job(OWNER.id, job_id)
    assert (job.status, job.priority, job.spec.report.enabled) == (JobStatus.NEW, 10, False)
    assert (job.spec.operation.name, job.spec.role_arn) == ("COSPutObjectTagging", COS_ROLE)
    assert await memory_store.get_tags(OWNER.id, job_id) == []


async def test_create_job_with_a_used_token_answers_the_first_job_or_refuses_another_body(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    first = await create(client, token="same")
    assert await create(client, token="same") == first
    assert len(memory_store.tables.jobs) == 1
    other = await cos_call(client, "POST", "/jobs", OWNER, body=create_body("same", description="another job"))
    assert_error(other, 400, "InvalidRequest", "'same'", first)


async def test_create_job_says_in_a_header_whether_the_job_is_new_or_a_replayed_tokens(
    client: httpx.AsyncClient,
) -> None:
    # `batchops job apply` tells "created" from "exists" by it
    answers = [await cos_call(client, "POST", "/jobs", OWNER, body=create_body("apply-1")) for _ in range(2)]
    assert [answer.headers[CREATED_HEADER] for answer in answers] == ["true", "false"]
    assert xml_of(answers[0]).findtext("JobId") == xml_of(answers[1]).findtext("JobId")


async def test_create_job_refuses_an_empty_body_and_job_tags(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    empty = await cos_call(client, "POST", "/jobs", OWNER, body=b" \n")
    assert_error(empty, 400, "InvalidRequest", "request body is empty")
    # COS jobs have no tags: the S3 Control dialect's Tags (and its 50-tag limit) is no COS CreateJob element
    tagged = create_body(Tags="<Tags><member><Key>k</Key><Value>v</Value></member></Tags>")
    reply = await cos_call(client, "POST", "/jobs", OWNER, body=tagged)
    assert_error(reply, 400, "InvalidArgument", "unknown element(s) Tags")
    assert memory_store.tables.jobs == {}


async def test_a_job_created_on_cos_is_described_through_s3_control(client: httpx.AsyncClient) -> None:
    job_id = await create(client)
    reply = await s3control_call(client, "GET", f"/v20180820/jobs/{job_id}", OWNER)
    assert reply.status_code == 200
    assert (xml_of(reply).findtext("Job/JobId"), xml_of(reply).findtext("Job/RoleArn")) == (job_id, COS_ROLE)


# --- DescribeJob -----------------------------------------------------------------------------


async def test_describe_job_answers_the_job_as_created_its_elements_in_alphabetical_order(
    client: httpx.AsyncClient,
) -> None:
    job_id = await create(client)
    reply = await cos_call(client, "GET", f"/jobs/{job_id}", OWNER)
    assert reply.status_code == 200
    job = xml_of(reply).find("Job")
    assert job is not None
    assert [child.tag for child in job] == sorted(child.tag for child in job)
    assert (job.findtext("JobId"), job.findtext("Status"), job.findtext("Priority")) == (job_id, "New", "10")
    assert (job.findtext("ConfirmationRequired"), job.findtext("Description")) == ("true", "bent body")
    assert job.findtext("CreationTime") == "2023-11-14T22:13:20Z"  # the store's manual clock, T0
    assert job.findtext("Manifest/Location/ETag") == '"abc123"'
    assert job.find("Operation/COSPutObjectTagging") is not None
    assert job.findtext("Report/Enabled") == "false"
    assert job.findtext("ProgressSummary/TotalNumberOfTasks") == "0"
    assert job.findtext("RoleArn") == COS_ROLE


# --- ListJobs --------------------------------------------------------------------------------


async def test_list_jobs_pages_newest_first_after_the_pages_last_job(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    created = []
    for n in range(3):
        created.append(await create(client, token=f"t{n}"))
        clock.advance(1)
    first, after = await listed(client, maxResults="2")
    assert (first, after) == ([created[2], created[1]], created[1])  # the token is the page's last JobId
    assert await listed(client, maxResults="2", nextToken=created[1]) == ([created[0]], None)


async def test_list_jobs_shows_only_the_callers_jobs(client: httpx.AsyncClient) -> None:
    job_id = await create(client)
    reply = await cos_call(client, "GET", "/jobs", OWNER)
    mine = xml_of(reply).findall("Jobs/member")
    assert [(m.findtext("JobId"), m.findtext("Operation"), m.findtext("Status")) for m in mine] == [
        (job_id, "COSPutObjectTagging", "New")
    ]
    theirs = await cos_call(client, "GET", "/jobs", OTHER)
    assert (theirs.status_code, xml_of(theirs).findall("Jobs/member")) == (200, [])


async def test_list_jobs_filters_by_status_in_either_spelling(
    client: httpx.AsyncClient, memory_store: MemoryStore, clock: ManualClock
) -> None:
    new = await create(client, token="new")
    clock.advance(1)
    ended = await create(client, token="ended")
    await end_job(memory_store, ended)
    assert await listed(client, jobStatuses="Cancelled") == await listed(client, jobStatuses="Canceled")
    assert await listed(client, jobStatuses="Canceled") == ([ended], None)
    assert await listed(client, jobStatuses="New") == ([new], None)
    assert await listed(client, jobStatuses="New, Cancelled") == ([ended, new], None)
    assert await listed(client, jobStatuses="Active") == ([], None)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"jobStatuses": "Running"}, ("'Running'", "Cancelled")),
        ({"maxResults": "0"}, ("maxResults",)),
        ({"maxResults": "1001"}, ("maxResults",)),
        ({"nextToken": NO_SUCH_JOB}, ("nextToken", "not a job of this account")),
        ({"nextToken": "j" * 65}, ("nextToken", "64 bytes")),
    ],
)
async def test_list_jobs_refuses_bad_filters_and_tokens(
    client: httpx.AsyncClient, params: dict[str, str], words: tuple[str, ...]
) -> None:
    assert_error(await cos_call(client, "GET", "/jobs", OWNER, params=params), 400, "InvalidArgument", *words)


async def test_list_jobs_refuses_another_accounts_job_as_next_token(client: httpx.AsyncClient) -> None:
    theirs = await create(client)
    reply = await cos_call(client, "GET", "/jobs", OTHER, params={"nextToken": theirs})
    assert_error(reply, 400, "InvalidArgument", theirs, "not a job of this account")


# --- UpdateJobPriority -----------------------------------------------------------------------


async def test_update_priority_answers_and_stores_the_new_priority(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    job_id = await create(client)
    reply = await cos_call(client, "POST", f"/jobs/{job_id}/priority", OWNER, params={"priority": "42"})
    assert reply.status_code == 200
    assert (xml_of(reply).findtext("JobId"), xml_of(reply).findtext("Priority")) == (job_id, "42")
    assert (await memory_store.get_job(OWNER.id, job_id)).priority == 42


@pytest.mark.parametrize("priority", ["high", "1.5", "-1", "2147483648"])
async def test_update_priority_refuses_a_priority_not_an_integer_in_range(
    client: httpx.AsyncClient, memory_store: MemoryStore, priority: str
) -> None:
    job_id = await create(client)
    reply = await cos_call(client, "POST", f"/jobs/{job_id}/priority", OWNER, params={"priority": priority})
    assert_error(reply, 400, "InvalidArgument", "priority")
    assert (await memory_store.get_job(OWNER.id, job_id)).priority == 10


@pytest.mark.parametrize("params", [{}, {"priority": ""}])
async def test_update_priority_needs_the_priority(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    job_id = await create(client)
    reply = await cos_call(client, "POST", f"/jobs/{job_id}/priority", OWNER, params=params)
    assert_error(reply, 400, "InvalidRequest", "priority query parameter is required")


async def test_update_priority_of_an_ended_job_is_no_such_job_on_cos(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    # S3 Control answers the same refusal as BadRequestException 400 (test_routes_s3control)
    job_id = await create(client)
    await end_job(memory_store, job_id)
    reply = await cos_call(client, "POST", f"/jobs/{job_id}/priority", OWNER, params={"priority": "1"})
    assert_error(reply, 404, "NoSuchJob", job_id, "Cancelled", "final")


# --- UpdateJobStatus -------------------------------------------------------------------------


async def test_update_status_confirms_a_suspended_job_with_the_reason(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    job_id = await create(client)
    await suspend_job(memory_store, job_id)
    params = {"requestedJobStatus": "Ready", "statusUpdateReason": "looks right"}
    reply = await cos_call(client, "POST", f"/jobs/{job_id}/status", OWNER, params=params)
    assert reply.status_code == 200, reply.text
    answer = xml_of(reply)
    assert [answer.findtext(f) for f in ("JobId", "Status", "StatusUpdateReason")] == [job_id, "Ready", "looks right"]
    assert (await memory_store.get_job(OWNER.id, job_id)).status is JobStatus.READY


@pytest.mark.parametrize("spelling", ["Cancelled", "Canceled"])
async def test_update_status_cancels_a_new_job(
    client: httpx.AsyncClient, memory_store: MemoryStore, spelling: str
) -> None:
    job_id = await create(client)
    reply = await cos_call(client, "POST", f"/jobs/{job_id}/status", OWNER, params={"requestedJobStatus": spelling})
    assert xml_of(reply).findtext("Status") == "Cancelling"
    assert (await memory_store.get_job(OWNER.id, job_id)).status is JobStatus.CANCELLING


@pytest.mark.parametrize(("params", "sent"), [({"requestedJobStatus": "Active"}, "'Active'"), ({}, "None")])
async def test_update_status_refuses_a_status_no_user_may_request(
    client: httpx.AsyncClient, params: dict[str, str], sent: str
) -> None:
    job_id = await create(client)
    reply = await cos_call(client, "POST", f"/jobs/{job_id}/status", OWNER, params=params)
    assert_error(reply, 400, "InvalidArgument", "requestedJobStatus must be Cancelled or Paused or Ready", sent)


async def test_update_status_refuses_a_move_the_jobs_status_does_not_allow(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    fresh = await create(client, token="fresh")
    ended = await create(client, token="ended")
    await end_job(memory_store, ended)
    confirm = await cos_call(client, "POST", f"/jobs/{fresh}/status", OWNER, params={"requestedJobStatus": "Ready"})
    assert_error(confirm, 400, "InvalidRequest", "is New", "Suspended")
    cancel = await cos_call(client, "POST", f"/jobs/{ended}/status", OWNER, params={"requestedJobStatus": "Canceled"})
    assert_error(cancel, 400, "InvalidRequest", "is Cancelled")
    assert (await memory_store.get_job(OWNER.id, fresh)).status is JobStatus.NEW


async def test_update_status_refuses_a_reason_over_256_bytes(client: httpx.AsyncClient) -> None:
    job_id = await create(client)
    params = {"requestedJobStatus": "Cancelled", "statusUpdateReason": "é" * 129}  # 129 characters, 258 bytes
    reply = await cos_call(client, "POST", f"/jobs/{job_id}/status", OWNER, params=params)
    assert_error(reply, 400, "InvalidArgument", "statusUpdateReason", "256 bytes")
