"""AWS Signature Version 4 verification, header (``Authorization``) and presigned-URL (``X-Amz-*``) forms.

The canonical request is rebuilt from what the client sent (its SignedHeaders, its raw path, its query
re-encoded the AWS way) and the signature recomputed with the secret of the credential's access key.
S3 rules: the path is not normalised, and ``x-amz-content-sha256`` must be the body's SHA-256 unless it
is ``UNSIGNED-PAYLOAD``. Any region is accepted; the service must be ``s3`` (boto3's s3control signs so).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import time
from dataclasses import dataclass, field, replace
from email.utils import parsedate_tz
from urllib.parse import unquote

from batchops.auth.request import SecretLookup, SignedRequest
from batchops.errors import AuthError
from batchops.sigv4 import ALGORITHM, SERVICE, canonical_text, sign
from batchops.wire_numbers import is_digits

MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGN_EXPIRES = 7 * 24 * 3600
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_TIMESTAMP = "%Y%m%dT%H%M%SZ"
HOW_TO_SIGN = (
    "sign every request with AWS Signature Version 4 (service s3) using the account's access key; "
    "boto3's s3control client and the AWS CLI do this for you"
)


@dataclass(frozen=True)
class Credential:
    """What the client claims: who signed, when, for which scope, over which headers."""

    access_key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str
    #: Presigned URLs only: seconds the URL is valid from ``timestamp``.
    expires: int | None = None


def verify(request: SignedRequest, secret_for: SecretLookup, now: float | None = None) -> str:
    """Check the request's SigV4 signature and body; return the signing key's account id or raise AuthError."""
    check = verify_headers(request, secret_for, now)
    check.body(request.body)
    return check.account_id


@dataclass(frozen=True)
class BodyCheck:
    """What is left to check once the headers are verified: the body, which the caller reads only then."""

    account_id: str
    request: SignedRequest
    credential: Credential
    #: Set only when the signature itself covers the body (no ``x-amz-content-sha256`` header was sent).
    secret: str | None = field(default=None, repr=False)

    def body(self, body: bytes) -> None:
        """Raise AuthError unless ``body`` is what the client signed."""
        if self.secret is None:
            _check_body(self.request, self.credential, body)
            return
        _check_signature(replace(self.request, body=body), self.credential, self.secret, _sha256(body))


def verify_headers(request: SignedRequest, secret_for: SecretLookup, now: float | None = None) -> BodyCheck:
    """Check everything but the body: who signed, when, and the signature over the headers.

    The headers carry ``x-amz-content-sha256``, so an unsigned or forged request is refused before its body
    is read. A request without that header (generic SigV4) has the body's hash in its signature: its
    signature is checked by ``BodyCheck.body`` after the key and the clock are checked here.
    """
    now = time.time() if now is None else now
    credential = _credential(request, parse_query(request.query))
    found = secret_for(credential.access_key_id)
    if found is None:
        raise AuthError(
            "InvalidAccessKeyId",
            403,
            f"the access key id {credential.access_key_id!r} is not known to this server; "
            "use the access key of one of its accounts",
        )
    account_id, secret = found
    _check_time(credential, now)
    payload = _payload_hash(request, credential)
    if payload is None:
        return BodyCheck(account_id, request, credential, secret)
    _check_signature(request, credential, secret, payload)
    return BodyCheck(account_id, request, credential)


def _check_signature(request: SignedRequest, credential: Credential, secret: str, payload: str) -> None:
    canonical = canonical_request(request, parse_query(request.query), credential, payload)
    if not hmac.compare_digest(signature(secret, credential, canonical), credential.signature):
        raise AuthError(
            "SignatureDoesNotMatch",
            403,
            "the request signature we calculated does not match the signature you provided; "
            "check the secret key and that nothing changed the request after signing (method, path, query, "
            "signed headers, body)",
        )


def _sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


# --- what the client claims ------------------------------------------------------------------


def _credential(request: SignedRequest, query: list[tuple[str, str]]) -> Credential:
    header = request.header("authorization")
    params = dict(query)
    if header is not None:
        return _from_header(header, request)
    if "X-Amz-Signature" in params or "X-Amz-Algorithm" in params:
        return _from_query(params)
    raise AuthError("AccessDenied", 403, f"the request is not signed: {HOW_TO_SIGN}")


def _from_header(header: str, request: SignedRequest) -> Credential:
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthError(
            "InvalidRequest",
            400,
            f"the authorization mechanism {algorithm!r} is not supported here: {HOW_TO_SIGN} ({ALGORITHM})",
        )
    fields = dict(part.strip().partition("=")[::2] for part in rest.split(",") if part.strip())
    missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
    if missing:
        raise _malformed("AuthorizationHeaderMalformed", f"the Authorization header lacks {', '.join(missing)}")
    timestamp = _request_timestamp(request)
    return _build(fields["Credential"], fields["SignedHeaders"], fields["Signature"], timestamp, None)


def _from_query(params: dict[str, str]) -> Credential:
    names = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders")
    missing = [name for name in (*names, "X-Amz-Signature") if not params.get(name)]
    if missing:
        raise _malformed("AuthorizationQueryParametersError", f"the presigned URL lacks {', '.join(missing)}")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _malformed("AuthorizationQueryParametersError", f"X-Amz-Algorithm must be {ALGORITHM}")
    expires = params["X-Amz-Expires"]
    if not is_digits(expires) or not 1 <= int(expires) <= MAX_PRESIGN_EXPIRES:  # not isdigit: it takes '²'
        raise _malformed(
            "AuthorizationQueryParametersError", f"X-Amz-Expires must be 1 to {MAX_PRESIGN_EXPIRES} seconds"
        )
    _parse_timestamp(params["X-Amz-Date"])
    return _build(
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
        int(expires),
    )


def _build(credential: str, signed: str, sig: str, timestamp: str, expires: int | None) -> Credential:
    parts = credential.rsplit("/", 4)
    if len(parts) != 5 or parts[4] != "aws4_request" or not parts[0]:
        raise _malformed(
            "AuthorizationHeaderMalformed",
            f"the Credential must be <access key>/<yyyymmdd>/<region>/{SERVICE}/aws4_request",
        )
    access_key_id, date, region, service, _ = parts
    if service != SERVICE:
        raise _malformed("AuthorizationHeaderMalformed", f"the credential scope's service must be {SERVICE!r}")
    if date != timestamp[:8]:
        raise _malformed(
            "AuthorizationHeaderMalformed", f"the credential scope date {date} is not the request's date {timestamp}"
        )
    headers = tuple(signed.split(";"))
    if "host" not in headers:
        raise _malformed("AuthorizationHeaderMalformed", "SignedHeaders must include host")
    return Credential(access_key_id, date, region, service, headers, sig, timestamp, expires)


def _request_timestamp(request: SignedRequest) -> str:
    amz_date = request.header("x-amz-date")
    if amz_date:
        _parse_timestamp(amz_date)
        return amz_date
    date = request.header("date")
    parsed = parsedate_tz(date) if date else None
    if parsed is None:
        raise AuthError("AccessDenied", 403, "a signed request needs a valid X-Amz-Date (or Date) header")
    return time.strftime(_TIMESTAMP, time.gmtime(calendar.timegm(parsed[:9]) - (parsed[9] or 0)))


def _parse_timestamp(value: str) -> float:
    try:
        return float(calendar.timegm(time.strptime(value, _TIMESTAMP)))
    except ValueError:
        raise AuthError(
            "AccessDenied", 403, f"the request date {value!r} is not in the form yyyymmddThhmmssZ (UTC)"
        ) from None


def _malformed(code: str, message: str) -> AuthError:
    return AuthError(code, 400, f"{message}; {HOW_TO_SIGN}")


# --- checks ----------------------------------------------------------------------------------


def _check_time(credential: Credential, now: float) -> None:
    signed_at = _parse_timestamp(credential.timestamp)
    if credential.expires is not None:
        if now > signed_at + credential.expires:
            raise AuthError("AccessDenied", 403, "Request has expired: the presigned URL is past its X-Amz-Expires")
        if signed_at - now > MAX_SKEW_SECONDS:
            raise AuthError("AccessDenied", 403, "Request is not valid yet: its X-Amz-Date is in the future")
        return
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        raise AuthError(
            "RequestTimeTooSkewed",
            403,
            f"the difference between the request time {credential.timestamp} and the server's time "
            f"{time.strftime(_TIMESTAMP, time.gmtime(now))} is over 15 minutes; correct the client's clock",
        )


def _payload_hash(request: SignedRequest, credential: Credential) -> str | None:
    """The payload hash the signature covers; None when it is the body's own (not known before reading it)."""
    if credential.expires is not None:
        return UNSIGNED_PAYLOAD
    declared = request.header("x-amz-content-sha256")
    if declared is None:
        return None
    if "x-amz-content-sha256" not in credential.signed_headers:
        raise _malformed("AuthorizationHeaderMalformed", "x-amz-content-sha256 is sent but not in SignedHeaders")
    if declared.startswith("STREAMING-"):
        raise AuthError("InvalidRequest", 400, f"chunked payload signing ({declared}) is not supported; sign the body")
    return declared


def _check_body(request: SignedRequest, credential: Credential, body: bytes) -> None:
    declared = request.header("x-amz-content-sha256")
    if credential.expires is not None or declared in (None, UNSIGNED_PAYLOAD):
        return
    if declared != _sha256(body):
        raise AuthError(
            "XAmzContentSHA256Mismatch",
            400,
            "the x-amz-content-sha256 you provided does not match the SHA-256 of the body we received",
        )


# --- the signature itself --------------------------------------------------------------------


def parse_query(query: str) -> list[tuple[str, str]]:
    """``a=1&b=%20`` → [("a", "1"), ("b", " ")]: decoded, in order, '+' kept literally."""
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def canonical_request(
    request: SignedRequest, query: list[tuple[str, str]], credential: Credential, payload_hash: str
) -> str:
    kept = [(key, value) for key, value in query if not (credential.expires is not None and key == "X-Amz-Signature")]
    headers = []
    for name in credential.signed_headers:
        values = request.header_values(name)
        if not values:
            raise AuthError("SignatureDoesNotMatch", 403, f"the signed header {name!r} is not in the request")
        headers.append((name, ",".join(" ".join(v.split()) for v in values)))
    return canonical_text(request.method, request.raw_path, kept, headers, payload_hash)


def signature(secret: str, credential: Credential, canonical: str) -> str:
    return sign(secret, credential.timestamp, credential.date, credential.region, credential.service, canonical)
