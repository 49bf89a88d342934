"""Who is calling: the signature's access key → the Account, checked against the dialect's account header."""

from __future__ import annotations

from collections.abc import Sequence

from batchops.auth import cos, sigv4
from batchops.auth.request import SecretLookup, SignedRequest
from batchops.errors import AuthError
from batchops.settings import Settings
from batchops.tenancy import Account


def secrets_of(settings: Settings) -> SecretLookup:
    def secret_for(access_key_id: str) -> tuple[str, str] | None:
        account = settings.account_by_key(access_key_id)
        if account is None or not account.secret_access_key:
            return None
        return account.id, account.secret_access_key

    return secret_for


def authenticate_s3control(request: SignedRequest, settings: Settings, now: float | None = None) -> Account:
    """Verify the SigV4 signature and body; the signer's account (the caller then checks ``x-amz-account-id``)."""
    account, check = s3control_headers(request, settings, now)
    check.body(request.body)
    return account


def s3control_headers(
    request: SignedRequest, settings: Settings, now: float | None = None
) -> tuple[Account, sigv4.BodyCheck]:
    """Verify the SigV4 signature over the headers; the signer's account and the check its body must pass."""
    check = sigv4.verify_headers(request, secrets_of(settings), now)
    account = settings.account(check.account_id)
    assert account is not None  # secrets_of only finds keys of declared accounts
    return account, check


def authenticate_cos(
    request: SignedRequest,
    settings: Settings,
    path: str,
    params: Sequence[tuple[str, str]],
    now: float | None = None,
) -> Account:
    """Verify the COS signature and that ``x-cos-appid`` is the signer's APPID; the signer's account.

    The body is not looked at: the caller reads it after this and checks it with ``cos.check_content_md5``.
    """
    account_id = cos.verify_headers(request, path, params, secrets_of(settings), now)
    account = settings.account(account_id)
    assert account is not None
    appid = request.header("x-cos-appid")
    if not appid:
        raise AuthError("InvalidArgument", 400, "x-cos-appid cannot be empty: send your APPID in it")
    if appid != account.cos_appid:
        raise AuthError(
            "AccessDenied",
            403,
            f"x-cos-appid {appid!r} is not the APPID of the account whose SecretId signed the request "
            f"({account.cos_appid}); send that APPID or sign with that APPID's keys",
        )
    return account


def check_account_header(account: Account, claimed: str) -> None:
    """S3 Control: the ``x-amz-account-id`` a signed request names must be the signer's account."""
    if claimed != account.id:
        raise AuthError(
            "AccessDenied",
            403,
            f"the access key that signed this request belongs to account {account.id}, not to "
            f"x-amz-account-id {claimed}; sign with that account's keys",
        )
