"""The API edge: COS routes call ``cos_account`` (or are wrapped by ``cos_authenticated``); S3 Control routes
are wrapped by ``s3control_authenticated``. Driven through Starlette's ASGI stack with SDK-made signatures."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from batchops.api.auth import cos_account, cos_authenticated, read_body
from batchops.errors import AuthError, RequestTooLarge
from batchops.settings import Account, Settings
from tests.cos_signing import cos_headers

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


def app() -> httpx.AsyncClient:
    application = Starlette(
        routes=[
            Route("/jobs/{job_id}/priority", explicit, methods=["POST"]),
            Route("/jobs", cos_authenticated(whoami), methods=["POST"]),
        ]
    )
    application.state.settings = Settings(accounts=(Account(ACCOUNT, SECRET_ID, SECRET_KEY, appid=APPID),))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://testserver")


def signed(method: str, path: str, params: dict[str, Any], body: bytes = b"", **kw: Any) -> dict[str, str]:
    base = {"Host": "testserver", "x-cos-appid": APPID, "Content-Length": str(len(body))}
    return cos_headers(method, path, params, base, SECRET_ID, kw.get("secret", SECRET_KEY))


async def test_cos_account_with_a_sdk_signature_and_a_body_read_once() -> None:
    client = app()
    body = b"<CreateJobRequest/>"
    reply = await client.post("/jobs", content=body, headers=signed("POST", "/jobs", {}, body))
    assert reply.json() == {"account": ACCOUNT, "body": "<CreateJobRequest/>"}
    reply = await client.post(
        "/jobs/j%20x/priority", params={"priority": "5"}, headers=signed("POST", "/jobs/j x/priority", {"priority": 5})
    )
    assert reply.json() == {"account": ACCOUNT, "body": ""}


async def test_cos_account_refusals() -> None:
    client = app()
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


async def test_an_unsigned_or_forged_request_is_refused_before_its_body_is_read() -> None:
    client = app()
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
