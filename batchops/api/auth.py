"""Authentication at the API edge: read the body once, verify the signature, remember the account.

``s3control_authenticated(endpoint)`` wraps every S3 Control route (SigV4). ``cos_account(request)`` is
what COS routes call first (or wrap them with ``cos_authenticated``): it verifies the COS signature and
``x-cos-appid`` and returns the Account. Both leave the body in ``request.state.body`` (``read_body``
returns it) and the Account in ``request.state.account``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import Response

from batchops.auth import SignedRequest, authenticate_cos, authenticate_s3control
from batchops.errors import RequestTooLarge
from batchops.settings import Account

Endpoint = Callable[[Request], Awaitable[Response]]

MAX_BODY_BYTES = 1024 * 1024


async def read_body(request: Request) -> bytes:
    """The request body, read once (refused early past 1 MiB by Content-Length, else while reading)."""
    cached: bytes | None = getattr(request.state, "body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestTooLarge(f"the request body is over {MAX_BODY_BYTES} bytes (1 MiB); send a smaller one")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestTooLarge(f"the request body is over {MAX_BODY_BYTES} bytes (1 MiB); send a smaller one")
    request.state.body = body
    return body


async def signed_parts(request: Request) -> SignedRequest:
    scope = request.scope
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe="/~")
    return SignedRequest(
        method=request.method,
        raw_path=path.split("?", 1)[0],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1").lower(), v.decode("utf-8", "replace")) for k, v in scope["headers"]],
        body=await read_body(request),
    )


async def s3control_account(request: Request) -> Account:
    """Verify the request's SigV4 signature; the signer's Account (also kept in ``request.state.account``)."""
    account = authenticate_s3control(await signed_parts(request), request.app.state.settings)
    request.state.account = account
    return account


async def cos_account(request: Request) -> Account:
    """Verify the request's COS signature and ``x-cos-appid``; the signer's Account (also in request.state)."""
    parts = await signed_parts(request)
    params = parse_qsl(parts.query, keep_blank_values=True)
    account = authenticate_cos(parts, request.app.state.settings, request.scope["path"], params)
    request.state.account = account
    return account


def s3control_authenticated(endpoint: Endpoint) -> Endpoint:
    async def handle(request: Request) -> Response:
        await s3control_account(request)
        return await endpoint(request)

    return handle


def cos_authenticated(endpoint: Endpoint) -> Endpoint:
    async def handle(request: Request) -> Response:
        await cos_account(request)
        return await endpoint(request)

    return handle
