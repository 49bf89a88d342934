"""Tencent COS request signature (``q-sign-algorithm=sha1``) verification.

    Authorization: q-sign-algorithm=sha1&q-ak=<SecretId>&q-sign-time=<start;end>&q-key-time=<start;end>
                   &q-header-list=<a;b>&q-url-param-list=<c;d>&q-signature=<hex>

    SignKey      = HMAC-SHA1(SecretKey, q-key-time)
    HttpString   = lower(method) \\n path \\n listed params \\n listed headers \\n
    StringToSign = "sha1" \\n q-sign-time \\n SHA1(HttpString) \\n
    Signature    = HMAC-SHA1(SignKey, StringToSign)

Params and headers are ``encode(lower(name))=encode(value)`` sorted and joined by ``&``, where encode is
percent-encoding with only ``-_.~`` kept. The path is the decoded request path. The signature covers only
the headers and parameters the client listed; a listed one that is missing or changed fails it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from urllib.parse import quote

from batchops.auth.request import SecretLookup, SignedRequest
from batchops.errors import AuthError
from batchops.wire_numbers import is_digits

#: How far in the future a signature's start time may be (client clocks differ).
MAX_SKEW_SECONDS = 15 * 60
HOW_TO_SIGN = (
    "sign every request with the COS signature (q-sign-algorithm=sha1) using the account's SecretId and "
    "SecretKey; the COS SDKs (e.g. qcloud_cos CosS3Auth) do this for you"
)
_FIELDS = ("q-sign-algorithm", "q-ak", "q-sign-time", "q-key-time", "q-header-list", "q-url-param-list", "q-signature")
_LISTS = ("q-header-list", "q-url-param-list")  # may be empty


@dataclass(frozen=True)
class CosCredential:
    access_key_id: str
    sign_time: str
    key_time: str
    header_list: tuple[str, ...]
    param_list: tuple[str, ...]
    signature: str


def verify(
    request: SignedRequest,
    path: str,
    params: Sequence[tuple[str, str]],
    secret_for: SecretLookup,
    now: float | None = None,
) -> str:
    """Check a COS-signed request (``path`` decoded, ``params`` decoded); return the account id or raise."""
    account_id = verify_headers(request, path, params, secret_for, now)
    check_content_md5(request, request.body)
    return account_id


def verify_headers(
    request: SignedRequest,
    path: str,
    params: Sequence[tuple[str, str]],
    secret_for: SecretLookup,
    now: float | None = None,
) -> str:
    """Check the signature, which covers the headers and parameters (not the body); return the account id.

    Callers read the body only after this, then call ``check_content_md5``.
    """
    now = time.time() if now is None else now
    credential = parse_authorization(request.header("authorization"))
    found = secret_for(credential.access_key_id)
    if found is None:
        raise AuthError(
            "InvalidAccessKeyId",
            403,
            f"the SecretId (q-ak) {credential.access_key_id!r} is not known to this server; "
            "use the SecretId of one of its accounts",
        )
    account_id, secret = found
    for name, window in (("q-sign-time", credential.sign_time), ("q-key-time", credential.key_time)):
        _check_window(name, window, now)
    if not any(
        hmac.compare_digest(
            signature(secret, credential, http_string(variant, path, params, credential)), credential.signature
        )
        for variant in _host_variants(request)
    ):
        raise AuthError(
            "SignatureDoesNotMatch",
            403,
            "the request signature we calculated does not match the signature you provided; check the "
            "SecretKey and that no signed header or parameter changed after signing",
        )
    return account_id


def parse_authorization(header: str | None) -> CosCredential:
    if not header:
        raise AuthError("AccessDenied", 403, f"the request is not signed: {HOW_TO_SIGN}")
    fields = dict(part.partition("=")[::2] for part in header.strip().split("&"))
    missing = [name for name in _FIELDS if name not in fields or (name not in _LISTS and not fields[name])]
    if missing:
        raise AuthError("AccessDenied", 403, f"the Authorization header lacks {', '.join(missing)}; {HOW_TO_SIGN}")
    if fields["q-sign-algorithm"] != "sha1":
        raise AuthError("AccessDenied", 403, f"q-sign-algorithm must be sha1; {HOW_TO_SIGN}")
    return CosCredential(
        access_key_id=fields["q-ak"],
        sign_time=fields["q-sign-time"],
        key_time=fields["q-key-time"],
        header_list=_names(fields["q-header-list"]),
        param_list=_names(fields["q-url-param-list"]),
        signature=fields["q-signature"],
    )


def _names(value: str) -> tuple[str, ...]:
    return tuple(name for name in value.split(";") if name)


def _check_window(name: str, window: str, now: float) -> None:
    start, _, end = window.partition(";")
    if not (is_digits(start) and is_digits(end) and int(start) <= int(end)):  # not isdigit: it takes '²'
        raise AuthError("AccessDenied", 403, f"{name} must be <start>;<end> in Unix seconds, not {window!r}")
    if now > int(end):
        raise AuthError("AccessDenied", 403, f"Request has expired: {name} ended at {end} (now {int(now)})")
    if int(start) - now > MAX_SKEW_SECONDS:
        raise AuthError(
            "AccessDenied",
            403,
            f"Request is not valid yet: {name} starts at {start}, over 15 minutes after the server's time "
            f"{int(now)}; correct the client's clock",
        )


def _host_variants(request: SignedRequest) -> list[SignedRequest]:
    """The request as sent, and with the port dropped from Host: the COS SDKs sign the URL's host name only."""
    host = request.header("host") or ""
    name, colon, port = host.rpartition(":")
    if not (colon and port.isdigit() and name):
        return [request]
    headers = [(key, name if key == "host" else value) for key, value in request.headers]
    return [request, replace(request, headers=headers)]


def _encode(value: str) -> str:
    return quote(value, safe="-_.~")


def http_string(request: SignedRequest, path: str, params: Sequence[tuple[str, str]], credential: CosCredential) -> str:
    headers = {_encode(name).lower(): _encode(value) for name, value in request.headers}
    query = {_encode(name).lower(): _encode(value) for name, value in params}
    return "\n".join(
        [
            request.method.lower(),
            path,
            _listed(query, credential.param_list, "parameter"),
            _listed(headers, credential.header_list, "header"),
            "",
        ]
    )


def _listed(values: dict[str, str], names: tuple[str, ...], what: str) -> str:
    missing = [name for name in names if name not in values]
    if missing:
        raise AuthError("SignatureDoesNotMatch", 403, f"the signed {what} {missing[0]!r} is not in the request")
    return "&".join(f"{name}={values[name]}" for name in sorted(names))


def signature(secret: str, credential: CosCredential, http: str) -> str:
    sign_key = hmac.new(secret.encode("utf-8"), credential.key_time.encode("utf-8"), hashlib.sha1).hexdigest()
    digest = hashlib.sha1(http.encode("utf-8")).hexdigest()
    string_to_sign = f"sha1\n{credential.sign_time}\n{digest}\n"
    return hmac.new(sign_key.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha1).hexdigest()


def check_content_md5(request: SignedRequest, body: bytes) -> None:
    """The body against the request's Content-MD5 (covered by the signature when the client listed it)."""
    declared = request.header("content-md5")
    if declared is None:
        return
    actual = base64.b64encode(hashlib.md5(body).digest()).decode()
    if declared.strip() != actual:
        raise AuthError("BadDigest", 400, "the Content-MD5 you specified does not match the body we received")
