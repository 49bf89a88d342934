"""The ASGI application: routes, the error boundary, request ids, and the engine's lifespan."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

from batchops.api import s3control
from batchops.api.errors import ApiError, to_api_error
from batchops.api.s3control_xml import render_error
from batchops.console import create_console
from batchops.engine.engine import Engine
from batchops.settings import Settings
from batchops.store.sqlstore import Store

log = logging.getLogger(__name__)

Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(endpoint: Endpoint) -> Endpoint:
    """Every answer carries a request id; every error becomes S3 Control error XML, never a stack trace."""

    async def handle(request: Request) -> Response:
        request_id = uuid.uuid4().hex.upper()[:16]
        try:
            response = await endpoint(request)
        except Exception as exc:
            response = _error_response(exc, request_id)
        response.headers["x-amz-request-id"] = request_id
        response.headers["x-amz-id-2"] = request_id
        return response

    return handle


def _error_response(exc: Exception, request_id: str) -> Response:
    error = to_api_error(exc)
    if error.status >= 500:
        log.error("request %s failed", request_id, exc_info=exc, extra={"action": "request_failed"})
    return Response(render_error(error.code, error.message, request_id), error.status, media_type="application/xml")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "NotFoundException", 405: "MethodNotAllowed"}.get(exc.status_code, "BadRequestException")
    message = f"no such API: {request.method} {request.url.path}"
    return _error_response(ApiError(code, exc.status_code, message), uuid.uuid4().hex.upper()[:16])


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(settings: Settings, store: Store, engine: Engine) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        try:
            yield
        finally:
            await engine.stop()
            await store.close()

    routes = [Route(r.path, guarded(r.endpoint), methods=r.methods) for r in s3control.ROUTES]
    app = Starlette(
        routes=[*routes, Route("/healthz", healthz), Mount("/console", create_console(settings, store, engine))],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.engine = engine
    return app
