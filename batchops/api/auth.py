"""Authentication at the API edge: verify the signature over the headers, then read the body and check it.

``s3control_authenticated(endpoint)`` wraps every S3 Control route (SigV4). ``cos_account(request)`` is
what COS routes call first (or wrap them with ``cos_authenticated``): it verifies the COS signature and
``x-cos-appid`` and returns the Account. Both leave the body in ``request.state.body`` (``read_body``
returns it) and the Account in ``request.state.account``; routes read it with ``signer_of``.

The order matters: the signature covers the headers (SigV4's include ``x-amz-content-sha256``), so a
request that is not signed by an account is refused before one byte of its body is read, and a body is
read only under a size bound and a deadline (``Settings.body_timeout_seconds``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from batchops.api.body_guard import STALLED
from batchops.auth import SignedRequest, cos
from batchops.auth.accounts import authenticate_cos, s3control_headers
from batchops.errors import AuthError, BodyNotReceived, RequestTooLarge
from batchops.service import services
from batchops.tenancy import Account

Endpoint = Callable[[Request], Awaitable[Response]]

MAX_BODY_BYTES = 1024 * 1024
TOO_LARGE = f"the request body is over {MAX_BODY_BYTES} bytes (1 MiB); send a smaller one"


async def read_body(request: Request) -> bytes:
    """The request body, read once: refused past 1 MiB (early by Content-Length) or past the deadline."""
    cached: bytes | None = getattr(request.state, "body", None)
    if cached is not None:
        return cached
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise RequestTooLarge(TOO_LARGE)
    seconds = services(request).settings.body_timeout_seconds
    try:
        async with asyncio.timeout(seconds):
            body = await _bounded_body(request)
    except TimeoutError:
        raise _stalled(seconds) from None
    except ClientDisconnect:
        if request.scope.get(STALLED):  # the body guard cut it off, the client did not leave
            raise _stalled(seconds) from None
        raise BodyNotReceived("the client closed the connection before the whole request body arrived") from None
    request.state.body = body
    return body


def _stalled(seconds: float) -> BodyNotReceived:
    return BodyNotReceived(f"the request body did not arrive within {seconds:g} s; send it at once after the headers")


async def _bounded_body(request: Request) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise RequestTooLarge(TOO_LARGE)
    return bytes(body)


def signed_parts(request: Request) -> SignedRequest:
    """What the signature covers, without the body (not read yet)."""
    scope = request.scope
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"], safe="/~")
    return SignedRequest(
        method=request.method,
        raw_path=path.split("?", 1)[0],
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=[(k.decode("latin-1").lower(), v.decode("utf-8", "replace")) for k, v in scope["headers"]],
    )


async def s3control_account(request: Request) -> Account:
    """Verify the request's SigV4 signature, then its body; the signer's Account (also in ``request.state``)."""
    account, check = s3control_headers(signed_parts(request), services(request).settings)
    check.body(await read_body(request))
    request.state.account = account
    return account


async def cos_account(request: Request) -> Account:
    """Verify the request's COS signature and ``x-cos-appid``, then its body; the signer's Account."""
    parts = signed_parts(request)
    params = parse_qsl(parts.query, keep_blank_values=True)
    account = authenticate_cos(parts, services(request).settings, request.scope["path"], params)
    cos.check_content_md5(parts, await read_body(request))
    request.state.account = account
    return account


def signer_of(request: Request) -> Account:
    """The Account that signed ``request``, set by ``s3control_account`` / ``cos_account`` before the route ran."""
    found = getattr(request.state, "account", None)
    if not isinstance(found, Account):
        raise AuthError("AccessDenied", 403, "the request is not authenticated; sign it with the account's keys")
    return found


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
