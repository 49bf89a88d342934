"""The S3 Control job API (``/v20180820/jobs…``), as boto3's ``s3control`` client calls it."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchops.api import s3control_xml as wire
from batchops.api import tasks_xml
from batchops.api.auth import read_body, signer_of
from batchops.api.errors import ApiError
from batchops.api.s3control_retry import parse_retry
from batchops.auth.accounts import check_account_header
from batchops.domain.job import MAX_PRIORITY, MIN_PRIORITY
from batchops.domain.status import JobStatus
from batchops.errors import ValidationError
from batchops.service import services
from batchops.tenancy import ACCOUNT_ID_PATTERN
from batchops.wire_numbers import parse_int
from batchops.xmlutil import check_length

_JOB_ID = re.compile(r"^[a-zA-Z0-9\-_]{5,36}$")


def xml_response(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/xml")


#: batchops extension on CreateJob's response: "true" when the request made a new job, "false" when its
#: ClientRequestToken replayed an earlier request and the answer is that request's job (``batchops job apply``
#: tells "created" from "exists" by it).
CREATED_HEADER = "x-batchops-created"


def created_header(created: bool) -> str:
    return "true" if created else "false"


def account_of(request: Request) -> str:
    account_id = request.headers.get("x-amz-account-id")
    if not account_id:
        raise ApiError("BadRequestException", 400, "the x-amz-account-id header is required (your 12-digit account id)")
    if not ACCOUNT_ID_PATTERN.match(account_id):
        raise ApiError("BadRequestException", 400, f"x-amz-account-id must be 12 digits, not {account_id!r}")
    check_account_header(signer_of(request), account_id)
    return account_id


def job_id_of(request: Request) -> str:
    job_id = str(request.path_params["job_id"])
    if not _JOB_ID.match(job_id):
        raise ApiError("NotFoundException", 404, f"job {job_id!r} does not exist: job ids are 5-36 of [a-zA-Z0-9-_]")
    return job_id


async def create_job(request: Request) -> Response:
    account_of(request)  # x-amz-account-id must name the signer's account
    signer = signer_of(request)
    app = services(request)
    spec, tags = wire.parse_create_job(await read_body(request), default_threshold=app.settings.threshold)
    job_id, created = await app.jobs.create(signer, spec, tags)
    response = xml_response(wire.render_create_job(job_id))
    response.headers[CREATED_HEADER] = created_header(created)
    return response


async def describe_job(request: Request) -> Response:
    app = services(request)
    account_id = account_of(request)
    job = await app.jobs.describe(account_id, job_id_of(request))
    extras = await app.jobs.extras(job)
    return xml_response(wire.render_describe_job(job, region=app.settings.s3_region, extras=extras))


async def list_jobs(request: Request) -> Response:
    account_id = account_of(request)
    statuses = _statuses(request.query_params.getlist("jobStatuses"))
    limit = _max_results(request.query_params.get("maxResults"))
    token = request.query_params.get("nextToken") or None
    try:
        check_length(token, "nextToken", 1, 1024)
        jobs, next_token = await services(request).jobs.list_jobs(account_id, statuses, limit, token)
    except ValidationError as exc:
        raise ApiError("InvalidNextTokenException", 400, str(exc)) from None
    return xml_response(wire.render_list_jobs(jobs, next_token))


def _statuses(values: list[str]) -> list[JobStatus]:
    names = [part for value in values for part in value.split(",") if part]
    known = {s.value for s in JobStatus}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ApiError(
            "InvalidRequestException",
            400,
            f"jobStatuses has unknown status {unknown[0]!r}; use any of {', '.join(s.value for s in JobStatus)}",
        )
    return [JobStatus(n) for n in names]


def _max_results(value: str | None) -> int:
    if value in (None, ""):
        return 1000
    try:
        number = parse_int(value, "maxResults", 0, 1000)
    except ValidationError as exc:
        raise ApiError("InvalidRequestException", 400, str(exc)) from None
    return number or 1000


async def update_priority(request: Request) -> Response:
    account_id = account_of(request)
    job_id = job_id_of(request)
    raw = request.query_params.get("priority")
    if raw is None:
        raise ApiError(
            "BadRequestException", 400, f"the priority query parameter is required ({MIN_PRIORITY}-{MAX_PRIORITY})"
        )
    job = await services(request).jobs.update_priority(account_id, job_id, raw)
    return xml_response(wire.render_update_priority(job.id, job.priority))


async def update_rate(request: Request) -> Response:
    """Our extension: change a running job's rate caps (``maxRequestsPerSecond``, ``maxTasksInFlight``)."""
    account_id = account_of(request)
    job_id = job_id_of(request)
    query = request.query_params
    job = await services(request).jobs.update_rate(
        account_id, job_id, query.get("maxRequestsPerSecond"), query.get("maxTasksInFlight")
    )
    return xml_response(wire.render_update_rate(job))


async def update_status(request: Request) -> Response:
    account_id = account_of(request)
    job_id = job_id_of(request)
    requested = request.query_params.get("requestedJobStatus")
    reason = check_length(request.query_params.get("statusUpdateReason"), "statusUpdateReason", 1, 256)
    job = await services(request).jobs.request_status(account_id, job_id, requested, reason)
    return xml_response(wire.render_update_status(job.id, job.status, job.status_update_reason))


async def retry_job(request: Request) -> Response:
    """batchops's retry extension: a new job over this finished job's failed tasks."""
    account_of(request)  # x-amz-account-id must name the signer's account
    retry = parse_retry(job_id_of(request), await read_body(request))
    job_id, _created = await services(request).jobs.retry(signer_of(request), retry)
    return xml_response(wire.render_retry(job_id))


async def list_job_tasks(request: Request) -> Response:
    """batchops's task listing extension: a page of the job's ended tasks (the counts with the first page)."""
    account_id = account_of(request)
    job_id = job_id_of(request)
    jobs = services(request).jobs
    try:
        query = tasks_xml.parse_query(request)
        page = await jobs.tasks(account_id, job_id, query)
    except ValidationError as exc:
        if exc.field != "nextToken":
            raise
        raise ApiError("InvalidNextTokenException", 400, str(exc)) from None
    counts = await jobs.task_counts(account_id, job_id) if query.token is None else None
    return xml_response(tasks_xml.render_tasks(wire.document(tasks_xml.RESULT_ROOT), job_id, page, counts))


async def get_job_tagging(request: Request) -> Response:
    tags = await services(request).jobs.tags(account_of(request), job_id_of(request))
    return xml_response(wire.render_job_tagging(tags))


async def put_job_tagging(request: Request) -> Response:
    account_id = account_of(request)
    job_id = job_id_of(request)
    tags = wire.parse_job_tagging(await read_body(request))
    await services(request).jobs.put_tags(account_id, job_id, tags)
    return Response(status_code=200)


async def delete_job_tagging(request: Request) -> Response:
    await services(request).jobs.delete_tags(account_of(request), job_id_of(request))
    return Response(status_code=204)


ROUTES = [
    Route("/v20180820/jobs", create_job, methods=["POST"]),
    Route("/v20180820/jobs", list_jobs, methods=["GET"]),
    Route("/v20180820/jobs/{job_id}", describe_job, methods=["GET"]),
    Route("/v20180820/jobs/{job_id}/priority", update_priority, methods=["POST"]),
    Route("/v20180820/jobs/{job_id}/status", update_status, methods=["POST"]),
    Route("/v20180820/jobs/{job_id}/batchops-retry", retry_job, methods=["POST"]),
    Route("/v20180820/jobs/{job_id}/batchops-rate", update_rate, methods=["POST"]),
    Route("/v20180820/jobs/{job_id}/batchops-tasks", list_job_tasks, methods=["GET"]),
    Route("/v20180820/jobs/{job_id}/tagging", get_job_tagging, methods=["GET"]),
    Route("/v20180820/jobs/{job_id}/tagging", put_job_tagging, methods=["PUT"]),
    Route("/v20180820/jobs/{job_id}/tagging", delete_job_tagging, methods=["DELETE"]),
]
