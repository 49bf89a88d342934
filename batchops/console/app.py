"""The web console: a Starlette app that batchops.server mounts at ``/console/``, on the API's services."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchops.console import auth, create, present, retry, views
from batchops.console.state import ConsoleState
from batchops.console.throttle import LoginThrottle
from batchops.errors import JobNotFound
from batchops.service import Services

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
SESSION_HOURS = 12

#: No inline script or style anywhere, so the policy can forbid them.
SECURITY_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]

ROUTES = [
    Route("/", views.home),
    Route("/login", views.login_page, methods=["GET"]),
    Route("/login", views.login, methods=["POST"]),
    Route("/logout", views.logout, methods=["POST"]),
    Route("/jobs", views.jobs_page, methods=["GET"]),
    Route("/jobs/new", create.new_job_page, methods=["GET"]),
    Route("/jobs/new", create.create_job, methods=["POST"]),
    Route("/jobs/{job_id}", views.job_page, methods=["GET"]),
    Route("/jobs/{job_id}/report", views.report_file, methods=["GET"]),
    Route("/jobs/{job_id}/job.yaml", views.job_file, methods=["GET"]),
    Route("/jobs/{job_id}/confirm", views.confirm, methods=["POST"]),
    Route("/jobs/{job_id}/cancel", views.cancel, methods=["POST"]),
    Route("/jobs/{job_id}/pause", views.pause, methods=["POST"]),
    Route("/jobs/{job_id}/resume", views.resume, methods=["POST"]),
    Route("/jobs/{job_id}/priority", views.priority, methods=["POST"]),
    Route("/jobs/{job_id}/retry", retry.retry, methods=["POST"]),
    Route("/jobs/{job_id}/rate", views.rate, methods=["POST"]),
    Route("/api/jobs", views.jobs_live, methods=["GET"]),
    Route("/api/jobs/{job_id}", views.job_live, methods=["GET"]),
    Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


async def _not_found(request: Request, exc: Exception) -> Response:
    message = str(exc) if isinstance(exc, JobNotFound) else f"There is no console page at {request.url.path}."
    return views.render(request, "error.html", {"title": "Not found", "message": message}, status_code=404)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await _not_found(request, exc)
    return views.render(request, "error.html", {"title": "Request refused", "message": exc.detail}, exc.status_code)


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The browser went away (or stalled) mid-request: nothing failed here, and no one reads the answer."""
    log.info("console request %s: the client went away before sending the whole request", request.url.path)
    message = "The request did not arrive in full; send it again."
    return views.render(request, "error.html", {"title": "Request incomplete", "message": message}, 400)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("console request %s failed", request.url.path, exc_info=exc, extra={"action": "console_failed"})
    message = "The console could not handle this request; it has been logged. Try again, or go back to the jobs."
    return views.render(request, "error.html", {"title": "Something went wrong", "message": message}, 500)


def create_console(services: Services) -> Starlette:
    settings = services.settings
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.filters.update(present.FILTERS)
    templates.env.globals.update(present.GLOBALS)
    session_key = auth.session_secret(settings)
    session = Middleware(
        SessionMiddleware,
        secret_key=session_key,
        session_cookie="batchops_console",
        max_age=SESSION_HOURS * 3600,
        path="/console",
        same_site="strict",
        https_only=settings.tls_cert is not None,  # the cookie is Secure when the server speaks HTTPS
    )
    verified = Middleware(auth.VerifiedSession, settings=settings, sessions=services.sessions, session_key=session_key)
    app = Starlette(
        routes=ROUTES,
        middleware=[Middleware(SecurityHeaders), session, verified],
        exception_handlers={
            JobNotFound: _not_found,
            HTTPException: _http_error,
            ClientDisconnect: _client_gone,
            Exception: _server_error,
        },
    )
    app.state.console = ConsoleState(
        services=services,
        templates=templates,
        login_throttle=LoginThrottle(settings.login_delay_seconds),
        session_key=session_key,
        session_lifetime=SESSION_HOURS * 3600,
    )
    return app
