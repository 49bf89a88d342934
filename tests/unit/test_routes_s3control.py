"""Every S3 Control route (batchops.api.s3control.ROUTES) through the whole ASGI app (batchops.server.build_app)
on a MemoryStore, with requests signed as boto3 signs them: each route's answer and its refusals in the S3 Control
dialect. No engine runs (tests/support/asgi.py); a test moves a job between statuses through the store itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from batchops.api.s3control import CREATED_HEADER
from batchops.domain.status import JobStatus
from batchops.store.memory import MemoryStore
from tests.support.asgi import asgi_client, s3control_call, xml_of
from tests.support.clock import ManualClock
from tests.support.routes import OTHER, OWNER, end_job, route_settings, suspend_job
from tests.support.wire_bodies import S3CONTROL_NAMESPACE as NAMESPACE
from tests.support.wire_bodies import s3control_body

JOBS = "/v20180820/jobs"
NO_REPORT = "<Report><Enabled>false</Enabled></Report>"
NO_SUCH_JOB = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def memory_store(clock: ManualClock) -> MemoryStore:
    return MemoryStore(clock)


@pytest.fixture
async def client(tmp_path: Path, memory_store: MemoryStore) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(route_settings(tmp_path), memory_store) as opened:
        yield opened


def tags_xml(count: int, prefix: str = "k") -> str:
    members = "".join(f"<member><Key>{prefix}{n}</Key><Value>v{n}</Value></member>" for n in range(count))
    return f"<Tags>{members}</Tags>"


def create_body(token: str = "token-1", tags: str = "", description: str = "bent body") -> bytes:
    return s3control_body(
        Report=NO_REPORT,
        ClientRequestToken=f"<ClientRequestToken>{token}</ClientRequestToken>",
        Description=f"<Description>{description}</Description>",
        Tags=tags,
    )


async def create(client: httpx.AsyncClient, token: str = "token-1", tags: str = "", **kw: str) -> str:
    reply = await s3control_call(client, "POST", JOBS, OWNER, body=create_body(token, tags, **kw))
    assert reply.status_code == 200, reply.text
    job_id = xml_of(reply).findtext("JobId")
    assert job_id
    return job_id


def assert_error(reply: httpx.Response, status: int, code: str, *words: str) -> None:
    """An S3 Control error answer: ErrorResponse/Error/Code, and a message naming what was wrong."""
    root = xml_of(reply)
    assert (reply.status_code, root.tag, root.findtext("Error/Code")) == (status, "ErrorResponse", code), reply.text
    message = root.findtext("Error/Message") or ""
    for word in words:
        assert word in message
    assert reply.headers["x-amz-request-id"]


def tags_of(reply: httpx.Response) -> list[tuple[str | None, str | None]]:
    return [(m.findtext("Key"), m.findtext("Value")) for m in xml_of(reply).iterfind("Tags/member")]


# --- every route: who may call it ------------------------------------------------------------

TAGGING_BODY = f'<PutJobTaggingRequest xmlns="{NAMESPACE}">{tags_xml(1)}</PutJobTaggingRequest>'
#: (method, path after /jobs/{id} or None for /jobs, query, body) of each route.
ROUTES = [
    pytest.param("POST", None, {}, create_body(), id="CreateJob"),
    pytest.param("GET", None, {}, b"", id="ListJobs"),
    pytest.param("GET", "", {}, b"", id="DescribeJob"),
    pytest.param("POST", "/priority", {"priority": "5"}, b"", id="UpdateJobPriority"),
    pytest.param("POST", "/status", {"requestedJobStatus": "Cancelled"}, b"", id="UpdateJobStatus"),
    pytest.param("GET", "/tagging", {}, b"", id="GetJobTagging"),
    pytest.param("PUT", "/tagging", {}, TAGGING_BODY.encode(), id="PutJobTagging"),
    pytest.param("DELETE", "/tagging", {}, b"", id="DeleteJobTagging"),
]
JOB_ROUTES = [route for route in ROUTES if route.values[1] is not None]


def path_of(suffix: str | None, job_id: str) -> str:
    return JOBS if suffix is None else f"{JOBS}/{job_id}{suffix}"


@pytest.mark.parametrize(("method", "suffix", "params", "body"), ROUTES)
async def test_every_route_needs_the_account_header(
    client: httpx.AsyncClient, method: str, suffix: str | None, params: dict[str, str], body: bytes
) -> None:
    job_id = await create(client, token="existing")
    reply = await s3control_call(
        client, method, path_of(suffix, job_id), OWNER, params=params, body=body, account_header=None
    )
    assert_error(reply, 400, "BadRequestException", "x-amz-account-id header is required")


@pytest.mark.parametrize(("method", "suffix", "params", "body"), ROUTES)
async def test_every_route_refuses_a_wrong_signature_and_another_accounts_header(
    client: httpx.AsyncClient, method: str, suffix: str | None, params: dict[str, str], body: bytes
) -> None:
    job_id = await create(client, token="existing")
    path = path_of(suffix, job_id)
    forged = await s3control_call(client, method, path, OWNER, params=params, body=body, secret_key="not-the-secret")
    assert_error(forged, 403, "SignatureDoesNotMatch")
    posing = await s3control_call(client, method, path, OTHER, params=params, body=body, account_header=OWNER.id)
    assert_error(posing, 403, "AccessDenied", OTHER.id, OWNER.id)


@pytest.mark.parametrize(("method", "suffix", "params", "body"), JOB_ROUTES)
async def test_every_job_route_answers_an_unknown_or_another_accounts_job_not_found(
    client: httpx.AsyncClient, method: str, suffix: str, params: dict[str, str], body: bytes
) -> None:
    theirs = await create(client, token="owners")
    for signer, job_id in ((OWNER, NO_SUCH_JOB), (OTHER, theirs), (OWNER, "bad!id")):
        reply = await s3control_call(client, method, path_of(suffix, job_id), signer, params=params, body=body)
        assert_error(reply, 404, "NotFoundException", job_id)


# --- CreateJob -------------------------------------------------------------------------------


async def test_create_job_answers_the_new_jobs_id_and_stores_the_job(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    job_id = await create(client, tags=tags_xml(2))
    job = await memory_store.get_job(OWNER.id, job_id)
    assert (job.status, job.priority, job.spec.report.enabled) == (JobStatus.NEW, 10, False)
    assert job.spec.manifest is not None and job.spec.manifest.location.object_arn.endswith("manifests/list.csv")
    assert await memory_store.get_tags(OWNER.id, job_id) == [{"Key": "k0", "Value": "v0"}, {"Key": "k1", "Value": "v1"}]


async def test_create_job_with_a_used_token_answers_the_first_job_or_refuses_another_body(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    first = await create(client, token="same")
    assert await create(client, token="same") == first
    assert len(memory_store.tables.jobs) == 1
    other = await s3control_call(client, "POST", JOBS, OWNER, body=create_body("same", description="another job"))
    assert_error(other, 400, "IdempotencyException", "'same'", first)


async def test_create_job_says_in_a_header_whether_the_job_is_new_or_a_replayed_tokens(
    client: httpx.AsyncClient,
) -> None:
    # `batchops job apply` tells "created" from "exists" by it
    answers = [await s3control_call(client, "POST", JOBS, OWNER, body=create_body("apply-1")) for _ in range(2)]
    assert [answer.headers[CREATED_HEADER] for answer in answers] == ["true", "false"]
    assert xml_of(answers[0]).findtext("JobId") == xml_of(answers[1]).findtext("JobId")


async def test_create_job_refuses_more_than_50_tags(client: httpx.AsyncClient, memory_store: MemoryStore) -> None:
    reply = await s3control_call(client, "POST", JOBS, OWNER, body=create_body(tags=tags_xml(51)))
    assert_error(reply, 400, "TooManyTagsException", "51 tags", "at most 50")
    assert memory_store.tables.jobs == {}


# --- DescribeJob -----------------------------------------------------------------------------


async def test_describe_job_answers_the_job_as_created(client: httpx.AsyncClient) -> None:
    job_id = await create(client)
    reply = await s3control_call(client, "GET", f"{JOBS}/{job_id}", OWNER)
    assert reply.status_code == 200
    job = xml_of(reply).find("Job")
    assert job is not None
    assert (job.findtext("JobId"), job.findtext("Status"), job.findtext("Priority")) == (job_id, "New", "10")
    assert job.findtext("JobArn") == f"arn:aws:s3:us-east-1:{OWNER.id}:job/{job_id}"
    assert (job.findtext("ConfirmationRequired"), job.findtext("Description")) == ("true", "bent body")
    assert job.findtext("CreationTime") == "2023-11-14T22:13:20.000Z"  # the store's manual clock, T0
    assert job.findtext("Manifest/Location/ETag") == '"abc123"'
    assert job.find("Operation/S3PutObjectTagging") is not None
    assert job.findtext("Report/Enabled") == "false"
    assert job.findtext("ProgressSummary/TotalNumberOfTasks") == "0"
    assert job.findtext("RoleArn") == "arn:aws:iam::123456789012:role/batch"


# --- ListJobs --------------------------------------------------------------------------------


async def test_list_jobs_pages_newest_first_with_next_tokens(client: httpx.AsyncClient, clock: ManualClock) -> None:
    created = []
    for n in range(3):
        created.append(await create(client, token=f"t{n}"))
        clock.advance(1)
    first = await s3control_call(client, "GET", JOBS, OWNER, params={"maxResults": "2"})
    token = xml_of(first).findtext("NextToken")
    assert token
    second = await s3control_call(client, "GET", JOBS, OWNER, params={"maxResults": "2", "nextToken": token})
    assert xml_of(second).findtext("NextToken") is None
    pages = [xml_of(first).iterfind("Jobs/member"), xml_of(second).iterfind("Jobs/member")]
    assert [[m.findtext("JobId") for m in page] for page in pages] == [created[:0:-1], created[:1]]


async def test_list_jobs_shows_the_list_fields_and_only_the_callers_jobs(client: httpx.AsyncClient) -> None:
    job_id = await create(client)
    mine = xml_of(await s3control_call(client, "GET", JOBS, OWNER)).findall("Jobs/member")
    assert [(m.findtext("JobId"), m.findtext("Operation"), m.findtext("Status")) for m in mine] == [
        (job_id, "S3PutObjectTagging", "New")
    ]
    theirs = await s3control_call(client, "GET", JOBS, OTHER)
    assert (theirs.status_code, xml_of(theirs).findall("Jobs/member")) == (200, [])


async def test_list_jobs_filters_by_status(client: httpx.AsyncClient, memory_store: MemoryStore) -> None:
    new = await create(client, token="new")
    ended = await create(client, token="ended")
    await end_job(memory_store, ended)

    async def listed(statuses: list[str]) -> set[str | None]:
        reply = await s3control_call(client, "GET", JOBS, OWNER, params={"jobStatuses": statuses})
        assert reply.status_code == 200, reply.text
        return {m.findtext("JobId") for m in xml_of(reply).iterfind("Jobs/member")}

    assert await listed(["Cancelled"]) == {ended}
    assert await listed(["New"]) == {new}
    assert await listed(["New,Cancelled"]) == await listed(["New", "Cancelled"]) == {new, ended}
    assert await listed(["Active"]) == set()


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ({"jobStatuses": "Running"}, "InvalidRequestException", ("'Running'", "Cancelled")),
        ({"maxResults": "1001"}, "InvalidRequestException", ("maxResults",)),
        ({"maxResults": "many"}, "InvalidRequestException", ("maxResults",)),
        ({"nextToken": "not-a-token"}, "InvalidNextTokenException", ("nextToken",)),
    ],
)
async def test_list_jobs_refuses_bad_filters_and_tokens(
    client: httpx.AsyncClient, params: dict[str, str], code: str, words: tuple[str, ...]
) -> None:
    assert_error(await s3control_call(client, "GET", JOBS, OWNER, params=params), 400, code, *words)


# --- UpdateJobPriority -----------------------------------------------------------------------


async def test_update_priority_answers_and_stores_the_new_priority(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    job_id = await create(client)
    reply = await s3control_call(client, "POST", f"{JOBS}/{job_id}/priority", OWNER, params={"priority": "42"})
    assert reply.status_code == 200
    assert (xml_of(reply).findtext("JobId"), xml_of(reply).findtext("Priority")) == (job_id, "42")
    assert (await memory_store.get_job(OWNER.id, job_id)).priority == 42


@pytest.mark.parametrize("priority", ["high", "1.5", "-1", "2147483648"])
async def test_update_priority_refuses_a_priority_not_an_integer_in_range(
    client: httpx.AsyncClient, memory_store: MemoryStore, priority: str
) -> None:
    job_id = await create(client)
    reply = await s3control_call(client, "POST", f"{JOBS}/{job_id}/priority", OWNER, params={"priority": priority})
    assert_error(reply, 400, "BadRequestException", "priority")
    assert (await memory_store.get_job(OWNER.id, job_id)).priority == 10


async def test_update_priority_needs_the_priority(client: httpx.AsyncClient) -> None:
    job_id = await create(client)
    reply = await s3control_call(client, "POST", f"{JOBS}/{job_id}/priority", OWNER)
    assert_error(reply, 400, "BadRequestException", "priority query parameter is required")


async def test_update_priority_of_an_ended_job_is_a_bad_request(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    job_id = await create(client)
    await end_job(memory_store, job_id)
    reply = await s3control_call(client, "POST", f"{JOBS}/{job_id}/priority", OWNER, params={"priority": "1"})
    assert_error(reply, 400, "BadRequestException", job_id, "Cancelled", "final")


# --- UpdateJobStatus -------------------------------------------------------------------------


async def test_update_status_confirms_a_suspended_job_with_the_reason(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    job_id = await create(client)
    await suspend_job(memory_store, job_id)
    params = {"requestedJobStatus": "Ready", "statusUpdateReason": "looks right"}
    reply = await s3control_call(client, "POST", f"{JOBS}/{job_id}/status", OWNER, params=params)
    assert reply.status_code == 200, reply.text
    answer = xml_of(reply)
    assert [answer.findtext(f) for f in ("JobId", "Status", "StatusUpdateReason")] == [job_id, "Ready", "looks right"]
    assert (await memory_store.get_job(OWNER.id, job_id)).status is JobStatus.READY


async def test_update_status_cancels_a_new_job(client: httpx.AsyncClient, memory_store: MemoryStore) -> None:
    job_id = await create(client)
    params = {"requestedJobStatus": "Cancelled"}
    reply = await s3control_call(client, "POST", f"{JOBS}/{job_id}/status", OWNER, params=params)
    assert xml_of(reply).findtext("Status") == "Cancelling"
    assert (await memory_store.get_job(OWNER.id, job_id)).status is JobStatus.CANCELLING


@pytest.mark.parametrize(("params", "sent"), [({"requestedJobStatus": "Active"}, "'Active'"), ({}, "None")])
async def test_update_status_refuses_a_status_no_user_may_request(
    client: httpx.AsyncClient, params: dict[str, str], sent: str
) -> None:
    job_id = await create(client)
    reply = await s3control_call(client, "POST", f"{JOBS}/{job_id}/status", OWNER, params=params)
    assert_error(reply, 400, "BadRequestException", "requestedJobStatus must be Ready or Cancelled", sent)


async def test_update_status_refuses_a_move_the_jobs_status_does_not_allow(
    client: httpx.AsyncClient, memory_store: MemoryStore
) -> None:
    fresh = await create(client, token="fresh")
    ended = await create(client, token="ended")
    await end_job(memory_store, ended)
    confirm = await s3control_call(
        client, "POST", f"{JOBS}/{fresh}/status", OWNER, params={"requestedJobStatus": "Ready"}
    )
    assert_error(confirm, 400, "JobStatusException", "is New", "Suspended")
    cancel = await s3control_call(
        client, "POST", f"{JOBS}/{ended}/status", OWNER, params={"requestedJobStatus": "Cancelled"}
    )
    assert_error(cancel, 400, "JobStatusException", "is Cancelled")
    assert (await memory_store.get_job(OWNER.id, fresh)).status is JobStatus.NEW


# --- Get/Put/DeleteJobTagging ----------------------------------------------------------------


async def test_get_job_tagging_answers_the_jobs_tags(client: httpx.AsyncClient) -> None:
    tagged = await create(client, token="tagged", tags=tags_xml(2))
    untagged = await create(client, token="untagged")
    reply = await s3control_call(client, "GET", f"{JOBS}/{tagged}/tagging", OWNER)
    assert (reply.status_code, tags_of(reply)) == (200, [("k0", "v0"), ("k1", "v1")])
    assert tags_of(await s3control_call(client, "GET", f"{JOBS}/{untagged}/tagging", OWNER)) == []


async def test_put_job_tagging_replaces_the_whole_tag_set(client: httpx.AsyncClient, memory_store: MemoryStore) -> None:
    job_id = await create(client, tags=tags_xml(2))
    body = TAGGING_BODY.replace(tags_xml(1), tags_xml(1, prefix="new")).encode()
    reply = await s3control_call(client, "PUT", f"{JOBS}/{job_id}/tagging", OWNER, body=body)
    assert (reply.status_code, reply.content) == (200, b"")
    assert await memory_store.get_tags(OWNER.id, job_id) == [{"Key": "new0", "Value": "v0"}]
    assert tags_of(await s3control_call(client, "GET", f"{JOBS}/{job_id}/tagging", OWNER)) == [("new0", "v0")]


async def test_put_job_tagging_refuses_more_than_50_tags(client: httpx.AsyncClient, memory_store: MemoryStore) -> None:
    job_id = await create(client, tags=tags_xml(1))
    body = TAGGING_BODY.replace(tags_xml(1), tags_xml(51)).encode()
    reply = await s3control_call(client, "PUT", f"{JOBS}/{job_id}/tagging", OWNER, body=body)
    assert_error(reply, 400, "TooManyTagsException", "51 tags", "remove 1")
    assert await memory_store.get_tags(OWNER.id, job_id) == [{"Key": "k0", "Value": "v0"}]


async def test_delete_job_tagging_removes_every_tag(client: httpx.AsyncClient, memory_store: MemoryStore) -> None:
    job_id = await create(client, tags=tags_xml(3))
    reply = await s3control_call(client, "DELETE", f"{JOBS}/{job_id}/tagging", OWNER)
    assert (reply.status_code, reply.content) == (204, b"")
    assert await memory_store.get_tags(OWNER.id, job_id) == []
