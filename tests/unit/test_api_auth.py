"""The API edge: COS routes call ``cos_account`` (or are wrapped by ``cos_authenticated``); S3 Control routes
are wrapped by ``s3control_authenticated``. Driven through Starlette's ASGI stack with SDK-made signatures."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from batchops.api.auth import cos_account, cos_authenticated, read_body
from batchops.api.body_guard import BodyGuard
from batchops.errors import AuthError, BodyNotReceived, RequestTooLarge
from batchops.service import ConsoleSessions, JobService, Services
from batchops.settings import Settings
from batchops.store.base import Store
from batchops.tenancy import Account
from tests.support.cos_signing import cos_headers

SECRET_ID, SECRET_KEY, ACCOUNT, APPID = "AKIDcos", "cos-secret", "111122223333", "1250000000"


async def whoami(request: Request) -> Response:
    body = await read_body(request)
    return JSONResponse({"account": request.state.account.id, "body": body.decode()})


async def explicit(request: Request) -> Response:
    try:
        account = await cos_account(request)
    except (AuthError, RequestTooLarge) as exc:
        return JSONResponse({"error": getattr(exc, "code", "TooLarge")}, status_code=getattr(exc, "status", 400))
    return JSONResponse({"account": account.id, "body": (await read_body(request)).decode()})


def services_on(store: Store, settings: Settings) -> Services:
    """The services an app's routes read; no engine here, so nothing to wake."""
    jobs = JobService(store, lambda: None, settings)
    return Services(jobs=jobs, sessions=ConsoleSessions(store), settings=settings, store=store)


def app(store: Store) -> httpx.AsyncClient:
    application = Starlette(
        routes=[
            Route("/jobs/{job_id}/priority", explicit, methods=["POST"]),
            Route("/jobs", cos_authenticated(whoami), methods=["POST"]),
        ]
    )
    settings = Settings(accounts=(Account(ACCOUNT, SECRET_ID, SECRET_KEY, appid=APPID),))
    application.state.services = services_on(store, settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver")


def signed(method: str, path: str, params: dict[str, Any], body: bytes = b"", **kw: Any) -> dict[str, str]:
    base = {"Host": "testserver", "x-cos-appid": APPID, "Content-Length": str(len(body))}
    return cos_headers(method, path, params, base, SECRET_ID, kw.get("secret", SECRET_KEY))


async def test_cos_account_with_a_sdk_signature_and_a_body_read_once(store: Store) -> None:
    client = app(store)
    body = b"<CreateJobRequest/>"
    reply = await client.post("/jobs", content=body, headers=signed("POST", "/jobs", {}, body))
    assert reply.json() == {"account": ACCOUNT, "body": "<CreateJobRequest/>"}
    reply = await client.post(
        "/jobs/j%20x/priority", params={"priority": "5"}, headers=signed("POST", "/jobs/j x/priority", {"priority": 5})
    )
    assert reply.json() == {"account": ACCOUNT, "body": ""}


async def test_cos_account_refusals(store: Store) -> None:
    client = app(store)
    wrong = signed("POST", "/jobs/j/priority", {"priority": 5}, secret="wrong")
    reply = await client.post("/jobs/j/priority", params={"priority": "5"}, headers=wrong)
    assert (reply.status_code, reply.json()) == (403, {"error": "SignatureDoesNotMatch"})
    tampered = signed("POST", "/jobs/j/priority", {"priority": 5})
    reply = await client.post("/jobs/j/priority", params={"priority": "6"}, headers=tampered)
    assert (reply.status_code, reply.json()) == (403, {"error": "SignatureDoesNotMatch"})
    reply = await client.post("/jobs/j/priority", params={"priority": "5"}, headers={"x-cos-appid": APPID})
    assert (reply.status_code, reply.json()) == (403, {"error": "AccessDenied"})
    huge = b"x" * (1024 * 1024 + 1)
    reply = await client.post("/jobs/j/priority", content=huge, headers=signed("POST", "/jobs/j/priority", {}, huge))
    assert reply.status_code == 400


async def test_an_unsigned_or_forged_request_is_refused_before_its_body_is_read(store: Store) -> None:
    client = app(store)
    pulled: list[bytes] = []

    async def body() -> Any:
        for piece in (b"<CreateJobRequest>", b" " * 1000, b"</CreateJobRequest>"):
            pulled.append(piece)
            yield piece

    forged = signed("POST", "/jobs/j/priority", {"priority": 5}, secret="guessed")
    for headers in ({"x-cos-appid": APPID}, forged):
        headers = {k: v for k, v in headers.items() if k != "Content-Length"}
        reply = await client.post("/jobs/j/priority", params={"priority": "5"}, content=body(), headers=headers)
        assert reply.status_code == 403
    assert pulled == []


async def test_a_body_the_guard_cuts_off_is_said_to_have_stalled_not_to_have_been_abandoned(store: Store) -> None:
    # Given the body guard's deadline (0.05 s) shorter than the body read's own (5 s), and a client that sends
    # half its body and then nothing more, without closing
    async def body_error(request: Request) -> Response:
        try:
            await read_body(request)
        except BodyNotReceived as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"error": None})

    inner = Starlette(routes=[Route("/", body_error, methods=["POST"])])
    inner.state.services = services_on(store, Settings(body_timeout_seconds=5.0))
    guarded = BodyGuard(inner, idle_seconds=0.05)
    chunks = [{"type": "http.request", "body": b"half", "more_body": True}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if chunks:
            return chunks.pop()
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "raw_path": b"/", "query_string": b"", "root_path": "",
             "headers": [(b"content-length", b"8")], "http_version": "1.1", "scheme": "http",
             "server": ("testserver", 80), "client": ("127.0.0.1", 1), "app": inner}
    # When the guard cuts it off
    await asyncio.wait_for(guarded(scope, receive, send), 5)
    # Then the refusal says the body did not arrive in time (the client did not go away), on a closing connection
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    assert start["status"] == 400 and (b"connection", b"close") in start["headers"]
    assert b"did not arrive within 5 s" in body, body
