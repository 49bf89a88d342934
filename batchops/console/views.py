"""Console pages and actions. They go through the same JobService as the API, in-process."""

from __future__ import annotations

import functools
import logging
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from batchops import jobfile_export
from batchops.api.s3control_xml import render_describe_job
from batchops.arns import job_arn
from batchops.console import auth
from batchops.console.auth import Handler, account_of, login_required
from batchops.console.charts import HEIGHT as CHART_HEIGHT
from batchops.console.charts import WIDTH as CHART_WIDTH
from batchops.console.charts import bar_chart, rate_chart
from batchops.console.present import job_summary, rate_caps
from batchops.console.state import console_state
from batchops.console.tasks import task_table
from batchops.domain.job import Job
from batchops.domain.status import TERMINAL, JobStatus
from batchops.errors import BatchOpsError, JobNotFound, ValidationError
from batchops.service import SEARCH_SORTS, JobSearch
from batchops.service.objects import NotAReportFile, StoreCallFailed
from batchops.settings import Settings
from batchops.wire_numbers import parse_int
from batchops.xmlutil import check_length

log = logging.getLogger(__name__)

PAGE_SIZE = 50
#: Far past any real list (50 million jobs), and small enough that the page's row offset fits SQLite's integers.
MAX_PAGE = 1_000_000


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    context = {**_common(request), **context}
    templates = console_state(request).templates
    response: Response = templates.TemplateResponse(request, name, context, status_code=status_code)
    return response


def render_part(request: Request, name: str, context: dict[str, Any]) -> str:
    template = console_state(request).templates.get_template(name)
    return str(template.render({**_common(request), **context}))


def _common(request: Request) -> dict[str, Any]:
    context: dict[str, Any] = {"base": request.scope.get("root_path", ""), "account_id": None, "flashes": []}
    if "session" in request.scope:  # not when a server error is shown from outside the session middleware
        context["account_id"] = auth.signed_in(request)
        context["csrf_token"] = auth.csrf_token(request)
        context["flashes"] = request.session.pop("flash", [])
    return context


def flash(request: Request, kind: str, text: str) -> None:
    request.session["flash"] = [*request.session.get("flash", []), {"kind": kind, "text": text}]


def base(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def protected(handler: Handler) -> Handler:
    """Signed in, and for a POST the session's CSRF token must come with the form or header."""

    @functools.wraps(handler)
    async def checked(request: Request) -> Response:
        if request.method == "POST" and not await auth.csrf_ok(request):
            return csrf_refused(request)
        return await handler(request)

    return login_required(checked)


def csrf_refused(request: Request) -> Response:
    message = "This form has expired or did not come from this console. Reload the page and try again."
    return render(request, "error.html", {"title": "Request refused", "message": message}, status_code=403)


# --- sign in / out --------------------------------------------------------------------------


async def home(request: Request) -> Response:
    target = "/jobs" if auth.signed_in(request) else "/login"
    return RedirectResponse(base(request) + target, status_code=303)


async def login_page(request: Request) -> Response:
    return render(request, "login.html", {"identity": "", "error": None})


#: A sign-in form is a few hundred bytes, URL-encoded: anything else is refused before it is read.
MAX_LOGIN_BODY = 16 * 1024


def _login_body_refused(request: Request) -> Response | None:
    kind = request.headers.get("content-type", "")
    length = request.headers.get("content-length", "")
    if kind.startswith("application/x-www-form-urlencoded") and length.isdigit() and int(length) <= MAX_LOGIN_BODY:
        return None
    message = f"A sign-in is a URL-encoded form of at most {MAX_LOGIN_BODY} bytes; use the sign-in page's form."
    return render(request, "error.html", {"title": "Request refused", "message": message}, status_code=400)


async def login(request: Request) -> Response:
    if refused := _login_body_refused(request):
        return refused
    if not await auth.csrf_ok(request):
        return csrf_refused(request)
    form = await request.form()
    identity = str(form.get("identity") or "").strip()
    address = request.client.host if request.client else "unknown"
    state = console_state(request)
    throttle = state.login_throttle
    keys = throttle.keys(identity, address)
    wait = throttle.wait_seconds(keys)
    if wait:
        if refusals := throttle.refused():
            log.warning(
                "console sign-in refused: too many failed attempts (%d refused; latest identity %.64r from %s)",
                refusals,
                identity,
                address,
            )
        error = f"Too many failed sign-ins for this account or from this address. Try again in {wait} s."
        refused = render(request, "login.html", {"identity": identity, "error": error}, status_code=429)
        refused.headers["Retry-After"] = str(wait)
        return refused
    account = auth.authenticate(state.services.settings, identity, str(form.get("secret") or ""))
    if account is None:
        throttle.failed(keys)
        log.warning("console sign-in failed: wrong credentials (identity %.64r from %s)", identity, address)
        error = (
            "Those credentials match no account on this server. Use your access key ID and secret access key, "
            "or your account ID and console password."
        )
        return render(request, "login.html", {"identity": identity, "error": error}, status_code=401)
    throttle.succeeded(keys)
    await auth.sign_in(request, account, state.session_lifetime)
    return RedirectResponse(base(request) + "/jobs", status_code=303)


@protected
async def logout(request: Request) -> Response:
    await auth.sign_out(request)
    return RedirectResponse(base(request) + "/login", status_code=303)


# --- jobs list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListQuery:
    statuses: list[JobStatus]
    text: str
    sort: str
    descending: bool
    page: int

    @classmethod
    def of(cls, request: Request) -> ListQuery:
        params = request.query_params
        known = {s.value: s for s in JobStatus}
        statuses = [known[v] for v in params.getlist("status") if v in known]
        sort = params.get("sort", "created")
        return cls(
            statuses=statuses,
            text=params.get("q", "").strip()[:256],
            sort=sort if sort in SEARCH_SORTS else "created",
            descending=params.get("dir", "desc") != "asc",
            page=parse_int(params.get("page") or "1", "page", 1, MAX_PAGE),
        )

    def url(self, path: str, **changes: Any) -> str:
        values: dict[str, Any] = {
            "status": [s.value for s in self.statuses],
            "q": self.text,
            "sort": self.sort,
            "dir": "desc" if self.descending else "asc",
            "page": self.page,
            **changes,
        }
        return f"{path}?{urlencode({k: v for k, v in values.items() if v not in ('', [])}, doseq=True)}"

    def search(self) -> JobSearch:
        return JobSearch(self.statuses, self.text, self.sort, self.descending, PAGE_SIZE, (self.page - 1) * PAGE_SIZE)

    def sort_url(self, path: str, column: str) -> str:
        descending = not self.descending if column == self.sort else column != "description"
        return self.url(path, sort=column, dir="desc" if descending else "asc", page=1)


async def _list_context(request: Request) -> dict[str, Any]:
    query = ListQuery.of(request)
    jobs = console_state(request).services.jobs
    found = await jobs.search(account_of(request), query.search())
    return {
        "totals": await jobs.totals(account_of(request)),
        "jobs": found.jobs,
        "total": found.total,
        "query": query,
        "pages": max((found.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        "page_size": PAGE_SIZE,
        "counts": found.counts,
        "statuses": list(JobStatus),
        "list_path": base(request) + "/jobs",
    }


def bad_query(request: Request, exc: ValidationError) -> Response:
    """A list URL with a bad parameter (e.g. ``?page=²``): say which, on the page, as a 400."""
    return render(request, "error.html", {"title": "Bad request", "message": str(exc)}, status_code=400)


@protected
async def jobs_page(request: Request) -> Response:
    try:
        context = await _list_context(request)
    except ValidationError as exc:
        return bad_query(request, exc)
    context["live_url"] = context["query"].url(base(request) + "/api/jobs")
    return render(request, "jobs.html", context)


@protected
async def jobs_live(request: Request) -> Response:
    try:
        context = await _list_context(request)
    except ValidationError as exc:
        return bad_query(request, exc)
    return JSONResponse(
        {
            "total": context["total"],
            "jobs": [job_summary(job) for job in context["jobs"]],
            "parts": {
                "rows": render_part(request, "_job_rows.html", context),
                "pager": render_part(request, "_pager.html", context),
                "totals": render_part(request, "_job_totals.html", context),
            },
        }
    )


# --- one job --------------------------------------------------------------------------------


async def _job_context(request: Request) -> dict[str, Any]:
    app = console_state(request).services
    detail = await app.jobs.detail(account_of(request), str(request.path_params["job_id"]))
    job: Job = detail.job
    extras = await app.jobs.extras(job)
    context: dict[str, Any] = {
        "job": job,
        "history": detail.history,
        "failures": detail.failures,
        "failure_codes": detail.failure_codes,
        "report_files": [],
        "report_error": None,
        "job_arn": job_arn(job.account_id, job.id, app.settings.s3_region),
        "retry_links": extras.links,
        "chain": extras.chain,
        "retry_token": str(uuid.uuid4()),  # one per page drawn: the retry form submitted twice retries once
        "tasks": await task_table(request, job),
        "rate_chart": rate_chart(await app.jobs.throughput(job)),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
        "webhook_url": _webhook_url(job, app.settings),
        "webhook_attempts": extras.deliveries,
    }
    context["failure_bars"] = bar_chart(context["tasks"].counts.by_error_code)
    if job.spec.report.enabled and job.status in TERMINAL:
        try:
            context["report_files"] = await app.jobs.report_files(job)
        except BatchOpsError as exc:
            context["report_error"] = str(exc)
    return context


@protected
async def job_page(request: Request) -> Response:
    context = await _job_context(request)
    # The live refresh asks for the same task table (filters and page) as the page shows.
    filters = request.scope.get("query_string", b"").decode("latin-1")
    context["live_url"] = f"{base(request)}/api/jobs/{context['job'].id}" + (f"?{filters}" if filters else "")
    return render(request, "job.html", context)


@protected
async def job_live(request: Request) -> Response:
    context = await _job_context(request)
    job = context["job"]
    parts = {name: render_part(request, f"_job_{name}.html", context) for name in LIVE_PARTS}
    return JSONResponse({**job_summary(job), "final": job.status in TERMINAL, "parts": parts})


LIVE_PARTS = (
    "status",
    "progress",
    "charts",
    "actions",
    "overview",
    "chain",
    "manifest",
    "history",
    "failures",
    "report",
    "webhooks",
)


def _webhook_url(job: Job, settings: Settings) -> str | None:
    """Where the job's events go: its own webhook, else its account's (None: nowhere)."""
    if job.spec.webhook is not None:
        return job.spec.webhook.url
    account = settings.account(job.account_id)
    return None if account is None else account.webhook_url


@protected
async def job_file(request: Request) -> Response:
    """The job as a job file (``batchops job apply`` makes it again): jobs as code, from the console."""
    app = console_state(request).services
    job = await app.jobs.describe(account_of(request), str(request.path_params["job_id"]))
    described = jobfile_export.from_describe_xml(render_describe_job(job, region=app.settings.s3_region))
    headers = {"Content-Disposition": f'inline; filename="job-{job.id}.yaml"'}
    return Response(jobfile_export.job_file(described), media_type="text/plain; charset=utf-8", headers=headers)


@protected
async def report_file(request: Request) -> Response:
    jobs = console_state(request).services.jobs
    key = request.query_params.get("key", "")
    try:
        found = await jobs.open_report_file(account_of(request), str(request.path_params["job_id"]), key)
    except NotAReportFile:
        return render(request, "error.html", {"title": "Not a report file", "message": key}, status_code=404)
    except StoreCallFailed as exc:
        return render(request, "error.html", {"title": "Report file not available", "message": str(exc)}, 404)
    inline = found.media_type == "application/json"
    disposition = "inline" if inline else f'attachment; filename="{found.name}"'
    return StreamingResponse(found.chunks, media_type=found.media_type, headers={"Content-Disposition": disposition})


# --- actions --------------------------------------------------------------------------------


def _back(request: Request, job_id: str, form: Any) -> RedirectResponse:
    """Back to the page the action came from (a console URL only), else to the job."""
    target = str(form.get("next") or "")
    if not target.startswith(base(request) + "/") or target.startswith("//"):
        target = f"{base(request)}/jobs/{job_id}"
    return RedirectResponse(target, status_code=303)


async def _status_action(request: Request, requested: str, done: str) -> Response:
    job_id = str(request.path_params["job_id"])
    form = await request.form()
    reason = str(form.get("reason") or "").strip() or None
    try:
        check_length(reason, "reason", 1, 256)
        job = await console_state(request).services.jobs.request_status(account_of(request), job_id, requested, reason)
    except BatchOpsError as exc:
        if isinstance(exc, JobNotFound):
            raise
        flash(request, "error", f"Refused: {exc}")
    else:
        flash(request, "ok", done.format(status=job.status.value))
    return _back(request, job_id, form)


@protected
async def confirm(request: Request) -> Response:
    return await _status_action(request, "Ready", "Job confirmed: it is {status} and runs when a slot is free.")


@protected
async def cancel(request: Request) -> Response:
    return await _status_action(request, "Cancelled", "Job cancelled: it is {status}.")


@protected
async def pause(request: Request) -> Response:
    return await _status_action(request, "Paused", "Job paused: it is {status} until you resume it.")


@protected
async def resume(request: Request) -> Response:
    return await _status_action(request, "Ready", "Job resumed: it is {status} and runs when a slot is free.")


@protected
async def priority(request: Request) -> Response:
    job_id = str(request.path_params["job_id"])
    form = await request.form()
    try:
        # Spaces around a typed value are trimmed, as in every console form; the rest is read strictly.
        value = str(form.get("priority") or "").strip()
        job = await console_state(request).services.jobs.update_priority(account_of(request), job_id, value)
    except ValidationError as exc:
        flash(request, "error", f"Refused: {exc}")
    else:
        flash(request, "ok", f"Priority of job {job.id} is now {job.priority}.")
    return _back(request, job_id, form)


@protected
async def rate(request: Request) -> Response:
    """The rate cap form: an empty field removes that cap."""
    job_id = str(request.path_params["job_id"])
    form = await request.form()
    requests = str(form.get("max_requests_per_second") or "").strip()
    tasks = str(form.get("max_tasks_in_flight") or "").strip()
    try:
        job = await console_state(request).services.jobs.update_rate(account_of(request), job_id, requests, tasks)
    except ValidationError as exc:
        flash(request, "error", f"Refused: {exc}")
    else:
        flash(request, "ok", f"Rate caps of job {job.id} are now: {rate_caps(job)}.")
    return _back(request, job_id, form)
