"""Console sign-in, signed session cookies and the per-session CSRF token.

A session cookie carries the account id, a session id and the account's credentials fingerprint. The
session id must still be in the store (logout deletes it, so a copied cookie ends with the session), and the
fingerprint must match the account's current keys and console password (changing either ends every session
of that account, also across restarts). ``VerifiedSession`` checks both once per request.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from batchops.console.state import console_state
from batchops.service import ConsoleSessions
from batchops.settings import Settings
from batchops.tenancy import Account

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
    if account_id and console_state(request).services.settings.account(account_id) is not None:
        return str(account_id)
    return None


def credentials_fingerprint(session_key: str, account: Account) -> str:
    """A keyed hash of the account's keys and console password: it changes when any of them changes."""
    parts = (account.id, account.access_key_id or "", account.secret_access_key or "", account.console_password or "")
    return hmac.new(session_key.encode(), "\0".join(parts).encode(), hashlib.sha256).hexdigest()


async def sign_in(request: Request, account: Account, lifetime_seconds: float) -> None:
    state = console_state(request)
    session_id = secrets.token_urlsafe(32)
    await state.services.sessions.start(session_id, account.id, lifetime_seconds)
    request.session.clear()
    request.session["account"] = account.id
    request.session["sid"] = session_id
    request.session["creds"] = credentials_fingerprint(state.session_key, account)
    request.session["csrf"] = secrets.token_urlsafe(32)  # a new token for the new session


async def sign_out(request: Request) -> None:
    session_id = request.session.get("sid")
    if session_id:
        await console_state(request).services.sessions.end(str(session_id))
    request.session.clear()


class VerifiedSession:
    """Clears a session whose id was ended (logout) or whose account's credentials changed since sign-in."""

    def __init__(self, app: ASGIApp, settings: Settings, sessions: ConsoleSessions, session_key: str) -> None:
        self.app = app
        self.settings = settings
        self.sessions = sessions
        self.session_key = session_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if session and session.get("account") and not await self._still_valid(session):
            session.clear()
        await self.app(scope, receive, send)

    async def _still_valid(self, session: dict[str, object]) -> bool:
        account = self.settings.account(str(session.get("account")))
        if account is None or not session.get("sid"):
            return False
        expected = credentials_fingerprint(self.session_key, account)
        if not hmac.compare_digest(str(session.get("creds", "")), expected):
            return False
        return await self.sessions.account_of(str(session["sid"])) == account.id


async def csrf_ok(request: Request) -> bool:
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form(max_files=1)  # the create form's manifest, if any; nothing else has a file
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
