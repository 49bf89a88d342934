"""The COS q-sign verifier against signatures made by the official COS Python SDK (CosS3Auth)."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from batchops.auth import SignedRequest, authenticate_cos, cos
from batchops.errors import AuthError
from batchops.settings import Settings
from batchops.tenancy import Account
from tests.support.cos_signing import cos_headers

SECRET_ID, SECRET_KEY, ACCOUNT, APPID = "AKIDcosexample", "cos-secret-key", "111122223333", "1250000000"
HOST = "127.0.0.1:8080"


def lookup(secret_id: str) -> tuple[str, str] | None:
    return (ACCOUNT, SECRET_KEY) if secret_id == SECRET_ID else None


def request(
    method: str = "POST",
    path: str = "/jobs/job-1/priority",
    params: dict[str, Any] | None = None,
    body: bytes = b"",
    secret_id: str = SECRET_ID,
    secret_key: str = SECRET_KEY,
    extra: dict[str, str] | None = None,
    **kwargs: Any,
) -> tuple[SignedRequest, list[tuple[str, str]]]:
    params = {"priority": 5} if params is None else params
    headers = cos_headers(
        method, path, params, {"Host": HOST, "x-cos-appid": APPID, **(extra or {})}, secret_id, secret_key, **kwargs
    )
    pairs = [(k, str(v)) for k, v in params.items()]
    query = "&".join(f"{k}={v}" for k, v in pairs)
    return SignedRequest(method, path, query, [(k.lower(), v) for k, v in headers.items()], body), pairs


def refused(parts: SignedRequest, pairs: list[tuple[str, str]], now: float | None = None) -> AuthError:
    with pytest.raises(AuthError) as caught:
        cos.verify(parts, parts.raw_path, pairs, lookup, now)
    return caught.value


def test_sdk_signature_verifies() -> None:
    parts, pairs = request()
    assert cos.verify(parts, "/jobs/job-1/priority", pairs, lookup) == ACCOUNT


def test_sdk_signature_with_body_and_odd_characters_verifies() -> None:
    body = b"<CreateJobRequest><Priority>1</Priority></CreateJobRequest>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    parts, pairs = request(
        path="/jobs",
        params={"nextToken": "a b/c+d", "maxResults": 3},
        body=body,
        extra={"Content-MD5": md5, "Content-Type": "application/xml"},
    )
    assert "content-md5" in parts.header("authorization")  # type: ignore[operator]
    assert cos.verify(parts, "/jobs", pairs, lookup) == ACCOUNT


def test_unknown_secret_id() -> None:
    error = refused(*request(secret_id="AKIDnobody"))
    assert (error.code, error.status) == ("InvalidAccessKeyId", 403)


def test_wrong_secret_key() -> None:
    error = refused(*request(secret_key="wrong"))
    assert (error.code, error.status) == ("SignatureDoesNotMatch", 403)


def test_tampered_signed_header_or_param() -> None:
    parts, pairs = request()
    other_appid = [(k, "1259999999" if k == "x-cos-appid" else v) for k, v in parts.headers]
    assert refused(SignedRequest(**{**parts.__dict__, "headers": other_appid}), pairs).code == "SignatureDoesNotMatch"
    assert refused(parts, [("priority", "99")]).code == "SignatureDoesNotMatch"
    error = refused(SignedRequest(**{**parts.__dict__, "raw_path": "/jobs/job-2/priority"}), pairs)
    assert error.code == "SignatureDoesNotMatch"


def test_missing_signed_header() -> None:
    parts, pairs = request()
    without_host = [(k, v) for k, v in parts.headers if k != "host"]
    error = refused(SignedRequest(**{**parts.__dict__, "headers": without_host}), pairs)
    assert (error.code, "'host'" in error.message) == ("SignatureDoesNotMatch", True)


def test_tampered_body_with_content_md5() -> None:
    body = b"<x>1</x>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    parts, pairs = request(body=body, extra={"Content-MD5": md5})
    error = refused(SignedRequest(**{**parts.__dict__, "body": b"<x>2</x>"}), pairs)
    assert (error.code, error.status) == ("BadDigest", 400)


def test_expired_key_time() -> None:
    parts, pairs = request(expire=60)
    error = refused(parts, pairs, now=time.time() + 3600)
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert "Request has expired" in error.message


def test_future_key_time() -> None:
    parts, pairs = request()
    error = refused(parts, pairs, now=time.time() - 3600)
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert "not valid yet" in error.message


def test_missing_or_malformed_authorization() -> None:
    parts, pairs = request()
    unsigned = SignedRequest(**{**parts.__dict__, "headers": [h for h in parts.headers if h[0] != "authorization"]})
    error = refused(unsigned, pairs)
    assert (error.code, error.status) == ("AccessDenied", 403)
    assert "q-sign-algorithm=sha1" in error.message
    partial = [("authorization", "q-sign-algorithm=sha1&q-ak=AKIDcosexample")]
    assert "q-sign-time" in refused(SignedRequest(**{**parts.__dict__, "headers": partial}), pairs).message


def settings() -> Settings:
    account = Account(ACCOUNT, SECRET_ID, SECRET_KEY, appid=APPID)
    other = Account("444455556666", "AKIDother", "other-secret")
    return Settings(accounts=(account, other))


def test_authenticate_cos_checks_the_appid() -> None:
    parts, pairs = request()
    assert authenticate_cos(parts, settings(), parts.raw_path, pairs).id == ACCOUNT
    # the other account's APPID (its id, by default), validly signed with this account's keys
    foreign, foreign_pairs = request(extra={"x-cos-appid": "444455556666"})
    assert foreign.header("x-cos-appid") == "444455556666"
    with pytest.raises(AuthError) as caught:
        authenticate_cos(foreign, settings(), foreign.raw_path, foreign_pairs)
    assert (caught.value.code, caught.value.status) == ("AccessDenied", 403)


def test_authenticate_cos_without_appid() -> None:
    headers = cos_headers("GET", "/jobs", {}, {"Host": HOST}, SECRET_ID, SECRET_KEY)
    parts = SignedRequest("GET", "/jobs", "", [(k.lower(), v) for k, v in headers.items()])
    with pytest.raises(AuthError) as caught:
        authenticate_cos(parts, settings(), "/jobs", [])
    assert (caught.value.code, caught.value.status) == ("InvalidArgument", 400)


def test_sdk_signing_the_host_name_without_its_port_verifies() -> None:
    # CosS3Auth signs the URL's host name (no port) when the request has no Host header yet.
    headers = cos_headers("GET", "/jobs", {}, {"Host": "127.0.0.1", "x-cos-appid": APPID}, SECRET_ID, SECRET_KEY)
    sent = [(k.lower(), HOST if k.lower() == "host" else v) for k, v in headers.items()]
    assert cos.verify(SignedRequest("GET", "/jobs", "", sent, b""), "/jobs", [], lookup) == ACCOUNT


def test_a_different_host_name_is_not_accepted() -> None:
    headers = cos_headers("GET", "/jobs", {}, {"Host": "10.0.0.1", "x-cos-appid": APPID}, SECRET_ID, SECRET_KEY)
    sent = [(k.lower(), HOST if k.lower() == "host" else v) for k, v in headers.items()]
    with pytest.raises(AuthError) as caught:
        cos.verify(SignedRequest("GET", "/jobs", "", sent, b""), "/jobs", [], lookup)
    assert caught.value.code == "SignatureDoesNotMatch"


def test_the_signature_is_verified_without_the_body_and_content_md5_after() -> None:
    body = b"<CreateJobRequest><Priority>1</Priority></CreateJobRequest>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    parts, pairs = request(path="/jobs", params={}, body=b"", extra={"Content-MD5": md5})
    assert cos.verify_headers(parts, "/jobs", pairs, lookup) == ACCOUNT  # no body needed
    cos.check_content_md5(parts, body)
    with pytest.raises(AuthError) as caught:
        cos.check_content_md5(parts, body + b" ")
    assert caught.value.code == "BadDigest"


@hypothesis_settings(max_examples=200, deadline=None)
@given(authorization=st.text(), appid=st.text())
def test_any_authorization_text_is_an_auth_error_before_any_body(authorization: str, appid: str) -> None:
    headers = [("host", HOST), ("authorization", authorization), ("x-cos-appid", appid)]
    with pytest.raises(AuthError):
        cos.verify_headers(SignedRequest("POST", "/jobs", "", headers), "/jobs", [], lookup)
