"""The API app: both dialects' routes, the error boundary, request ids, the access log, /healthz and /metrics.
batchops.server builds it with the services, and mounts it beside the console."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchops.api import cos, cos_xml, s3control, s3control_xml
from batchops.api.auth import cos_authenticated, s3control_authenticated
from batchops.api.errors import COS_CODES, S3CONTROL_CODES, ApiError, CodeTable, to_api_error
from batchops.api.scrape import PATH as METRICS_PATH
from batchops.api.scrape import metrics_route, on_api_port
from batchops.errors import StoreFull
from batchops.metrics import observe_api_request
from batchops.service import Services, services

log = logging.getLogger(__name__)
#: One line per API request (uvicorn's own access log is off: it would log the query string, where a presigned
#: URL carries its signature).
access_log = logging.getLogger("batchops.access")

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Dialect:
    """How one wire dialect answers: its error code table, error XML and request-id headers."""

    codes: CodeTable
    internal_code: str
    #: HTTP status of a routing error (no such path, wrong method; 400 for any other) → the dialect's code.
    routing_codes: dict[int, str]
    #: (code, message, request id, resource) → the error body.
    render_error: Callable[[str, str, str, str], bytes]
    headers: Callable[[str], dict[str, str]]


S3CONTROL = Dialect(
    codes=S3CONTROL_CODES,
    internal_code="InternalServiceException",
    routing_codes={400: "BadRequestException", 404: "NotFoundException", 405: "MethodNotAllowed"},
    render_error=lambda code, message, request_id, _resource: s3control_xml.render_error(code, message, request_id),
    headers=lambda request_id: {"x-amz-request-id": request_id, "x-amz-id-2": request_id},
)
COS = Dialect(
    codes=COS_CODES,
    internal_code="InternalError",
    routing_codes={400: "InvalidRequest", 404: "NoSuchResource", 405: "MethodNotAllowed"},
    render_error=cos_xml.render_error,
    headers=lambda request_id: {"x-cos-request-id": request_id, "Server": "tencent-cos"},
)


def guarded(endpoint: Endpoint, dialect: Dialect = S3CONTROL) -> Endpoint:
    """Every answer carries a request id; every error becomes the dialect's error XML, never a stack trace."""

    async def handle(request: Request) -> Response:
        request_id = uuid.uuid4().hex.upper()[:16]
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = _error_response(exc, request_id, dialect, request.url.path)
        response.headers.update(dialect.headers(request_id))
        return response

    return handle


def _error_response(exc: Exception, request_id: str, dialect: Dialect, resource: str) -> Response:
    error = to_api_error(exc, dialect.codes, dialect.internal_code)
    if error.status >= 500 and not isinstance(exc, StoreFull):  # a full disk is logged once, by the store
        log.error("request %s failed", request_id, exc_info=exc, extra={"action": "request_failed"})
    body = dialect.render_error(error.code, error.message, request_id, resource)
    return Response(body, error.status, media_type="application/xml", headers=dialect.headers(request_id))


def dialect_of(request: Request) -> Dialect:
    """For answers outside any route: COS for ``/jobs…`` paths or requests with ``x-cos-appid``."""
    is_cos = request.url.path.startswith("/jobs") or "x-cos-appid" in request.headers
    return COS if is_cos else S3CONTROL


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    dialect = dialect_of(request)
    code = dialect.routing_codes.get(exc.status_code, dialect.routing_codes[400])
    message = f"no such API: {request.method} {request.url.path}"
    error = ApiError(code, exc.status_code, message)
    return _error_response(error, uuid.uuid4().hex.upper()[:16], dialect, request.url.path)


async def healthz(request: Request) -> Response:
    """Ready (200) unless the store cannot write: then 503 with why, until a write succeeds again; ``role`` says
    whether this server supervises the jobs (with several servers on one database, one does)."""
    found = services(request)
    role = found.role()
    fault = found.store.write_fault
    if fault is not None:
        return JSONResponse({"status": "not ready", "reason": fault.message, "role": role}, status_code=503)
    return JSONResponse({"status": "ok", "role": role})


class AccessLog:
    """Logs each request when it ends: method, route (the matched path template, so job ids and presigned
    query strings stay out), the account that signed it, the status and the latency; nothing from headers or
    the query, so never a credential or a signature. Read from the request's own scope: no store call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless a response starts: an exception escaped every handler

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _log_access(scope, status, (time.perf_counter() - started) * 1000)


def _log_access(scope: Scope, status: int, milliseconds: float) -> None:
    route = getattr(scope.get("route"), "path", None) or "(no route)"
    account = getattr(scope.get("state", {}).get("account"), "id", None) or "-"
    method = scope["method"]
    observe_api_request(method, route, status, milliseconds / 1000)
    polled = route in ("/healthz", METRICS_PATH)  # probes and scrapers poll them; they would drown the rest
    fields = {"action": "request", "method": method, "route": route, "status": status, "account": account}
    job_id = scope.get("path_params", {}).get("job_id")
    if job_id is not None:  # a field of its own, never in the route: the line is about this job
        fields["job_id"] = str(job_id)[:128]
    access_log.log(
        logging.DEBUG if polled else logging.INFO,
        "%s %s account %s: %d in %.1f ms",
        method,
        route,
        account,
        status,
        milliseconds,
        extra={**fields, "latency_ms": round(milliseconds, 1)},
    )


def create_app(app_services: Services) -> Starlette:
    """The S3 Control and COS routes, /healthz and /metrics (the server's body guard and lifespan wrap it)."""
    routes = [
        Route(r.path, guarded(s3control_authenticated(r.endpoint)), methods=r.methods) for r in s3control.ROUTES
    ]
    cos_routes = [Route(r.path, guarded(cos_authenticated(r.endpoint), COS), methods=r.methods) for r in cos.ROUTES]
    # Prometheus scrapes unsigned, as it does /healthz; ``metrics`` off or on a port of its own: not here
    scraped = [metrics_route(app_services.jobs)] if on_api_port(app_services.settings) else []
    app = Starlette(
        routes=[*routes, *cos_routes, Route("/healthz", healthz), *scraped],
        exception_handlers={HTTPException: _http_error},
        middleware=[Middleware(AccessLog)],
    )
    app.state.services = app_services
    return app
