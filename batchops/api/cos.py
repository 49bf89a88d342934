"""The Tencent COS job API (``/jobs…`` with ``x-cos-appid``), on the same job store as S3 Control.

Only the wire differs: a job created here is described through S3 Control and the other way round.
Errors are answered in COS's ``<Error>`` XML by the app's boundary (``COS`` dialect, codes in
batchops.api.errors.COS_CODES).
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from batchops.api import cos_xml as wire
from batchops.api import tasks_xml
from batchops.api.auth import read_body, signer_of
from batchops.api.errors import ApiError
from batchops.api.s3control import CREATED_HEADER, created_header, xml_response
from batchops.api.s3control_retry import parse_retry
from batchops.domain.job import MAX_PRIORITY, MIN_PRIORITY
from batchops.domain.status import JobStatus
from batchops.errors import StatusNotRequestable, ValidationError
from batchops.service import services
from batchops.wire_numbers import parse_int

MAX_JOB_ID_BYTES = 64


def account_of(request: Request) -> str:
    """The account a COS request acts for: the signer of the request, whose APPID is ``x-cos-appid``.

    ``cos_authenticated`` (batchops.api.auth) verified the signature and the header before the route ran.
    """
    return signer_of(request).id


def job_id_of(request: Request) -> str:
    job_id = str(request.path_params["job_id"])
    if len(job_id.encode()) > MAX_JOB_ID_BYTES:
        raise ApiError("NoSuchJob", 404, f"job ids are at most {MAX_JOB_ID_BYTES} bytes; no job {job_id[:64]!r}…")
    return job_id


async def create_job(request: Request) -> Response:
    body = await read_body(request)
    if not body.strip():
        raise ApiError("InvalidRequest", 400, "the request body is empty; send a CreateJobRequest XML document")
    app = services(request)
    spec = wire.parse_create_job(body, default_threshold=app.settings.threshold)
    job_id, created = await app.jobs.create(signer_of(request), spec, [])
    response = xml_response(wire.render_create_job(job_id))
    response.headers[CREATED_HEADER] = created_header(created)
    return response


async def describe_job(request: Request) -> Response:
    jobs = services(request).jobs
    job = await jobs.describe(account_of(request), job_id_of(request))
    return xml_response(wire.render_describe_job(job, await jobs.extras(job)))


async def retry_job(request: Request) -> Response:
    """batchops's retry extension, as on S3 Control: a new job over this finished job's failed tasks."""
    retry = parse_retry(job_id_of(request), await read_body(request))
    job_id, _created = await services(request).jobs.retry(signer_of(request), retry)
    return xml_response(wire.render_retry(job_id))


async def list_job_tasks(request: Request) -> Response:
    """batchops's task listing extension, as on S3 Control (the counts with the first page)."""
    account_id = account_of(request)
    job_id = job_id_of(request)
    jobs = services(request).jobs
    query = tasks_xml.parse_query(request)
    page = await jobs.tasks(account_id, job_id, query)
    counts = await jobs.task_counts(account_id, job_id) if query.token is None else None
    return xml_response(tasks_xml.render_tasks(Element(tasks_xml.RESULT_ROOT), job_id, page, counts))


async def list_jobs(request: Request) -> Response:
    account_id = account_of(request)
    statuses = job_statuses(request.query_params.getlist("jobStatuses"))
    limit = max_results(request.query_params.get("maxResults"))
    after = request.query_params.get("nextToken") or None
    if after is not None and len(after.encode()) > MAX_JOB_ID_BYTES:
        raise ApiError("InvalidArgument", 400, "nextToken is the last JobId of the previous page (at most 64 bytes)")
    jobs, next_token = await services(request).jobs.list_jobs_after(account_id, statuses, limit, after)
    return xml_response(wire.render_list_jobs(jobs, next_token))


def job_statuses(values: list[str]) -> list[JobStatus]:
    """``jobStatuses``: one status, a comma-separated list, or the key repeated; COS console spellings too."""
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    return [wire.parse_status(name, "jobStatuses") for name in names]


def max_results(value: str | None) -> int:
    if value in (None, ""):
        return 1000
    return parse_int(value, "maxResults", 1, 1000)


async def update_priority(request: Request) -> Response:
    account_id = account_of(request)
    job_id = job_id_of(request)
    raw = request.query_params.get("priority")
    if raw is None or raw == "":
        raise ApiError(
            "InvalidRequest", 400, f"the priority query parameter is required ({MIN_PRIORITY}-{MAX_PRIORITY})"
        )
    job = await services(request).jobs.update_priority(account_id, job_id, raw)
    return xml_response(wire.render_update_priority(job.id, job.priority))


async def update_rate(request: Request) -> Response:
    """Our extension, as on S3 Control: change a running job's rate caps."""
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
    value = request.query_params.get("requestedJobStatus")
    reason = wire.check_bytes(request.query_params.get("statusUpdateReason"), "statusUpdateReason", 256)
    try:
        job = await services(request).jobs.request_status(account_id, job_id, _api_spelling(value), reason or None)
    except StatusNotRequestable as exc:  # COS's wording: the choices in alphabetical order, the value as sent
        choices = " or ".join(sorted(exc.choices))
        raise ApiError("InvalidArgument", 400, f"requestedJobStatus must be {choices}, not {value!r}") from None
    return xml_response(wire.render_update_status(job.id, job.status, job.status_update_reason))


def _api_spelling(value: str | None) -> str | None:
    """A status as the API spells it (a COS client may write ``Canceled``); an unknown one is passed on as sent."""
    try:
        return wire.parse_status(value or "", "requestedJobStatus").value
    except ValidationError:
        return value


ROUTES = [
    Route("/jobs", create_job, methods=["POST"]),
    Route("/jobs", list_jobs, methods=["GET"]),
    Route("/jobs/{job_id}", describe_job, methods=["GET"]),
    Route("/jobs/{job_id}/priority", update_priority, methods=["POST"]),
    Route("/jobs/{job_id}/status", update_status, methods=["POST"]),
    Route("/jobs/{job_id}/batchops-retry", retry_job, methods=["POST"]),
    Route("/jobs/{job_id}/batchops-rate", update_rate, methods=["POST"]),
    Route("/jobs/{job_id}/batchops-tasks", list_job_tasks, methods=["GET"]),
]
