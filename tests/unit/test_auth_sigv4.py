"""The SigV4 verifier against signatures made by botocore itself (its signers and a real s3control client)."""

from __future__ import annotations

import hashlib
import re
import time
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from batchops.auth import SignedRequest, sigv4
from batchops.errors import AuthError

KEY, SECRET, ACCOUNT = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "111122223333"
URL = "http://127.0.0.1:8080/v20180820/jobs"
BODY = b'<CreateJobRequest xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><Priority>1</Priority>'


def lookup(access_key: str) -> tuple[str, str] | None:
    return (ACCOUNT, SECRET) if access_key == KEY else None


def to_parts(request: Any, body: bytes | None = None) -> SignedRequest:
    """What the server sees of a botocore-prepared request (the HTTP client adds Host from the URL)."""
    url = urlsplit(request.url)
    headers = [(k.lower(), v if isinstance(v, str) else v.decode()) for k, v in request.headers.items()]
    if "host" not in dict(headers):
        headers.append(("host", url.netloc))
    raw = request.body if body is None else body
    return SignedRequest(request.method, url.path, url.query, headers, raw or b"")


def signed(
    method: str = "POST",
    url: str = URL,
    body: bytes = BODY,
    signer: type = S3SigV4Auth,
    secret: str = SECRET,
    key: str = KEY,
    **kwargs: Any,
) -> AWSRequest:
    request = AWSRequest(method=method, url=url, data=body, headers={"x-amz-account-id": ACCOUNT})
    signer(Credentials(key, secret), "s3", "us-east-1", **kwargs).add_auth(request)
    return request


def refused(parts: SignedRequest, now: float | None = None) -> AuthError:
    with pytest.raises(AuthError) as caught:
        sigv4.verify(parts, lookup, now)
    return caught.value


def test_botocore_header_signature_verifies() -> None:
    assert sigv4.verify(to_parts(signed()), lookup) == ACCOUNT


def test_query_string_and_empty_body_verify() -> None:
    url = f"{URL}?jobStatuses=Active&jobStatuses=New&maxResults=5&nextToken=a%2Fb%3D%3D"
    assert sigv4.verify(to_parts(signed("GET", url, b"")), lookup) == ACCOUNT


def test_generic_sigv4_without_content_sha256_header_covers_the_body() -> None:
    # SigV4Auth (not the S3 variant) sends no x-amz-content-sha256: the body is hashed into the signature.
    request = signed(signer=SigV4Auth)
    assert "X-Amz-Content-SHA256" not in request.headers
    assert sigv4.verify(to_parts(request), lookup) == ACCOUNT
    assert refused(to_parts(request, body=BODY + b"x")).code == "SignatureDoesNotMatch"


def test_real_boto3_s3control_request_verifies() -> None:
    captured: list[Any] = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        captured.append(request)
        body = b'<ListJobsResult xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"><Jobs/></ListJobsResult>'
        return AWSResponse(request.url, 200, {}, _Raw(body))

    client = boto3.client(
        "s3control",
        endpoint_url="http://127.0.0.1:8080",
        region_name="eu-west-3",
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
    )
    client.meta.events.register(
        "before-sign.s3-control.*",
        lambda request, **_: setattr(request, "url", re.sub(r"^(https?://)\d{12}\.", r"\1", request.url)),
    )
    client.meta.events.register("before-send.s3-control.*", capture)
    client.list_jobs(AccountId=ACCOUNT, JobStatuses=["Active"], MaxResults=3)
    client.update_job_priority(AccountId=ACCOUNT, JobId="job-12345", Priority=4)
    assert len(captured) == 2
    for request in captured:
        assert b"x-amz-account-id" in request.headers["Authorization"]
        assert sigv4.verify(to_parts(request), lookup) == ACCOUNT


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body

    def read(self, *_: Any, **__: Any) -> bytes:
        body, self._body = self._body, b""
        return body


def test_unknown_access_key() -> None:
    error = refused(to_parts(signed(key="AKIDNOBODY")))
    assert (error.code, error.status) == ("InvalidAccessKeyId", 403)
    assert "AKIDNOBODY" in error.message


def test_wrong_secret() -> None:
    error = refused(to_parts(signed(secret="not-the-secret")))
    assert (error.code, error.status) == ("SignatureDoesNotMatch", 403)


def test_tampered_body_is_a_content_sha256_mismatch() -> None:
    error = refused(to_parts(signed(), body=BODY.replace(b"<Priority>1", b"<Priority>9")))
    assert (error.code, error.status) == ("XAmzContentSHA256Mismatch", 400)


def test_tampered_body_and_hash_header_breaks_the_signature() -> None:
    request = signed()
    forged = BODY + b"<x/>"
    request.headers.replace_header("X-Amz-Content-SHA256", hashlib.sha256(forged).hexdigest())
    assert refused(to_parts(request, body=forged)).code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("what", ["path", "query", "signed header", "method"])
def test_anything_signed_changed_breaks_the_signature(what: str) -> None:
    parts = to_parts(signed("GET", f"{URL}?maxResults=5", b""))
    changed = {
        "path": {"raw_path": "/v20180820/jobs/other"},
        "query": {"query": "maxResults=6"},
        "signed header": {"headers": [(k, "999999999999" if k == "x-amz-account-id" else v) for k, v in parts.headers]},
        "method": {"method": "DELETE"},
    }[what]
    assert refused(SignedRequest(**{**parts.__dict__, **changed})).code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("offset", [-16 * 60, 16 * 60])
def test_clock_skew_over_15_minutes(offset: int) -> None:
    error = refused(to_parts(signed()), now=time.time() - offset)
    assert (error.code, error.status) == ("RequestTimeTooSkewed", 403)


def test_skew_under_15_minutes_is_fine() -> None:
    assert sigv4.verify(to_parts(signed()), lookup, now=time.time() + 14 * 60) == ACCOUNT


def test_no_authorization_at_all_says_how_to_sign() -> None:
    parts = SignedRequest("GET", "/v20180820/jobs", "", [("host", "h"), ("x-amz-account-id", ACCOUNT)])
    error = refused(parts)
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert "Signature Version 4" in error.message


def test_missing_signed_header_and_missing_date() -> None:
    parts = to_parts(signed())
    without_account = [(k, v) for k, v in parts.headers if k != "x-amz-account-id"]
    assert refused(SignedRequest(**{**parts.__dict__, "headers": without_account})).code == "SignatureDoesNotMatch"
    without_date = [(k, v) for k, v in parts.headers if k != "x-amz-date"]
    error = refused(SignedRequest(**{**parts.__dict__, "headers": without_date}))
    assert (error.code, error.status) == ("AccessDenied", 403)


def test_other_algorithms_and_malformed_headers() -> None:
    base = to_parts(signed())
    for header, code in [
        ("AWS AKIDEXAMPLE:c2lnbmF0dXJl", "InvalidRequest"),
        ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/s3/aws4_request", "AuthorizationHeaderMalformed"),
        (
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/iam/aws4_request, "
            "SignedHeaders=host, Signature=00",
            "AuthorizationHeaderMalformed",
        ),
    ]:
        headers = [(k, header if k == "authorization" else v) for k, v in base.headers]
        error = refused(SignedRequest(**{**base.__dict__, "headers": headers}))
        assert (error.code, error.status) == (code, 400), header


def presigned(expires: int = 300, url: str = f"{URL}?maxResults=2") -> SignedRequest:
    request = AWSRequest(method="GET", url=url, headers={"x-amz-account-id": ACCOUNT})
    S3SigV4QueryAuth(Credentials(KEY, SECRET), "s3", "us-east-1", expires=expires).add_auth(request)
    return to_parts(request, body=b"")


def test_presigned_url_verifies_until_it_expires() -> None:
    parts = presigned(expires=300)
    assert "X-Amz-Signature=" in parts.query
    assert sigv4.verify(parts, lookup) == ACCOUNT
    assert sigv4.verify(parts, lookup, now=time.time() + 290) == ACCOUNT
    error = refused(parts, now=time.time() + 310)
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert "Request has expired" in error.message


def test_presigned_url_from_the_future_and_tampered() -> None:
    assert "not valid yet" in refused(presigned(), now=time.time() - 3600).message
    parts = presigned()
    tampered = SignedRequest(**{**parts.__dict__, "query": parts.query.replace("maxResults=2", "maxResults=3")})
    assert refused(tampered).code == "SignatureDoesNotMatch"


# --- the headers first, the body after (an unsigned client's body is never read) -----------------------------


def test_headers_are_verified_without_the_body_and_the_body_after() -> None:
    headers_only = to_parts(signed(), body=b"")  # what the server knows before it reads the body
    check = sigv4.verify_headers(headers_only, lookup)
    assert check.account_id == ACCOUNT
    check.body(BODY)
    with pytest.raises(AuthError) as caught:
        check.body(BODY + b"<x/>")
    assert (caught.value.code, caught.value.status) == ("XAmzContentSHA256Mismatch", 400)


def test_a_forged_or_unsigned_request_is_refused_from_its_headers() -> None:
    for parts in (to_parts(signed(secret="guessed"), body=b""), to_parts(signed(key="AKIDNOBODY"), body=b"")):
        with pytest.raises(AuthError):
            sigv4.verify_headers(parts, lookup)
    unsigned = [(k, v) for k, v in to_parts(signed()).headers if k != "authorization"]
    with pytest.raises(AuthError) as caught:
        sigv4.verify_headers(SignedRequest("POST", "/v20180820/jobs", "", unsigned), lookup)
    assert caught.value.code == "AccessDenied"


def test_generic_sigv4_checks_key_and_clock_first_and_the_signature_with_the_body() -> None:
    request = signed(signer=SigV4Auth)
    check = sigv4.verify_headers(to_parts(request, body=b""), lookup)
    check.body(BODY)
    with pytest.raises(AuthError) as caught:
        check.body(BODY + b"x")
    assert caught.value.code == "SignatureDoesNotMatch"
    with pytest.raises(AuthError) as caught:
        sigv4.verify_headers(to_parts(signed(signer=SigV4Auth, key="AKIDNOBODY"), body=b""), lookup)
    assert caught.value.code == "InvalidAccessKeyId"


@settings(max_examples=200, deadline=None)
@given(authorization=st.text(), date=st.text(), sha=st.text())
def test_any_header_text_is_an_auth_error_and_never_needs_the_body(authorization: str, date: str, sha: str) -> None:
    headers = [("host", "h"), ("authorization", authorization), ("x-amz-date", date), ("x-amz-content-sha256", sha)]
    with pytest.raises(AuthError):
        sigv4.verify_headers(SignedRequest("POST", "/v20180820/jobs", "", headers), lookup)
