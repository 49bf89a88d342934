"""Console sign-in, signed session cookies and the per-session CSRF token."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from batchops.settings import Account, Settings

Handler = Callable[[Request], Awaitable[Response]]
SECRET_FILE = "console-session-secret"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def session_secret(settings: Settings) -> str:
    """The key that signs session cookies: the setting, or one made once and kept in the data dir."""
    if settings.session_secret:
        return settings.session_secret
    path = Path(settings.data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48))
    return path.read_text().strip()


def authenticate(settings: Settings, identity: str, secret: str) -> Account | None:
    """The account whose access key id and secret (or id and console password) these are.

    Every account is compared, in constant time, so the answer's timing does not tell which part was wrong.
    """
    found = None
    for account in settings.accounts:
        by_keys = _same(identity, account.access_key_id) & _same(secret, account.secret_access_key)
        by_password = _same(identity, account.id) & _same(secret, account.console_password)
        if (by_keys or by_password) and found is None:
            found = account
    return found


def _same(given: str, expected: str | None) -> bool:
    if not expected:
        hmac.compare_digest(given.encode(), given.encode())  # same work whether or not the account has one
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def signed_in(request: Request) -> str | None:
    """The account id of this session, if it is still an account of this server."""
    account_id = request.session.get("account")
    if account_id and request.app.state.settings.account(account_id) is not None:
        return str(account_id)
    return None


def sign_in(request: Request, account: Account) -> None:
    request.session.clear()
    request.session["account"] = account.id
    request.session["csrf"] = secrets.token_urlsafe(32)  # a new token for the new session


async def csrf_ok(request: Request) -> bool:
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    return bool(expected and given) and hmac.compare_digest(str(given), str(expected))


def login_required(handler: Handler) -> Handler:
    """Pages redirect to the sign-in page, JSON endpoints answer 401, when no account is signed in."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        if signed_in(request) is None:
            if request.url.path.startswith(f"{request.scope.get('root_path', '')}/api/"):
                return JSONResponse({"error": "signed out: sign in again"}, status_code=401)
            return RedirectResponse(f"{request.scope.get('root_path', '')}/login", status_code=303)
        return await handler(request)

    return guarded


def account_of(request: Request) -> str:
    account_id = signed_in(request)
    assert account_id is not None  # login_required ran first
    return account_id
