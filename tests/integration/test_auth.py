"""Every S3 Control request is authenticated (SigV4), against a running server: refusals and their codes."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.http import error_code, raw_request, signed_request
from tests.support.jobs import wait_for
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import ACCOUNT, s3control_client

pytestmark = [
    pytest.mark.integration,
    pytest.mark.job_databases("sqlite", reason="signatures are checked at the edge, before the store"),
]

JOBS = "/v20180820/jobs"


def code_of(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


def test_boto3_with_the_account_keys_just_works(control: Any) -> None:
    assert control.list_jobs(AccountId=ACCOUNT)["Jobs"] == []


def test_boto3_with_a_wrong_key_or_secret(server: Any) -> None:
    wrong_key = s3control_client(server.url, access_key="AKIDNOBODY", secret_key=SECRET_KEY)
    assert code_of(lambda: wrong_key.list_jobs(AccountId=ACCOUNT)) == ("InvalidAccessKeyId", 403)
    wrong_secret = s3control_client(server.url, secret_key="not-the-secret")
    assert code_of(lambda: wrong_secret.list_jobs(AccountId=ACCOUNT)) == ("SignatureDoesNotMatch", 403)
    assert code_of(lambda: wrong_secret.describe_job(AccountId=ACCOUNT, JobId="job-00001")) == (
        "SignatureDoesNotMatch",
        403,
    )


def test_unsigned_request_is_refused_saying_how_to_sign(server: Any) -> None:
    status, body = raw_request(f"{server.url}{JOBS}", "GET", headers={"x-amz-account-id": ACCOUNT})
    assert (status, error_code(body)) == (403, "AccessDenied")
    assert b"Signature Version 4" in body


def test_tampered_body_is_refused(server: Any) -> None:
    body = b"<CreateJobRequest><Priority>1</Priority></CreateJobRequest>"
    status, reply = signed_request(server.url, "POST", JOBS, body, send_body=body.replace(b"1", b"9"))
    assert (status, error_code(reply)) == (400, "XAmzContentSHA256Mismatch")


@pytest.mark.parametrize("minutes", [-20, 20])
def test_dates_out_of_the_15_minute_window(server: Any, minutes: int) -> None:
    signed_at = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=minutes)
    status, reply = signed_request(server.url, "GET", JOBS, signed_at=signed_at)
    assert (status, error_code(reply)) == (403, "RequestTimeTooSkewed")


def test_signed_for_one_account_naming_another(server: Any) -> None:
    status, reply = signed_request(server.url, "GET", JOBS, account="999999999999")
    assert (status, error_code(reply)) == (403, "AccessDenied")
    assert b"belongs to account 123456789012" in reply


def presigned_url(server: Any, expires: int) -> str:
    request = AWSRequest(method="GET", url=f"{server.url}{JOBS}?maxResults=5", headers={"x-amz-account-id": ACCOUNT})
    S3SigV4QueryAuth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION, expires=expires).add_auth(request)
    return str(request.url)


def test_presigned_url_valid_then_expired(server: Any) -> None:
    url = presigned_url(server, expires=2)
    status, reply = raw_request(url, "GET", headers={"x-amz-account-id": ACCOUNT})
    assert (status, b"ListJobsResult" in reply) == (200, True)
    status, reply = wait_for(
        lambda: (r := raw_request(url, "GET", headers={"x-amz-account-id": ACCOUNT}))[0] != 200 and r,
        timeout=10,
        interval=0.5,
        what="the presigned URL to expire",
    )
    assert (status, error_code(reply)) == (403, "AccessDenied")
    assert b"Request has expired" in reply


def test_oversized_body_refused_even_when_signed(server: Any) -> None:
    # The refusal comes from Content-Length alone, before any of the body is read, on a closing connection:
    # so the client sends only the signed head and reads the answer (sending the body would race the close).
    body = b"<CreateJobRequest>" + b" " * (1024 * 1024) + b"</CreateJobRequest>"
    request = AWSRequest(method="POST", url=f"{server.url}{JOBS}", data=body, headers={"x-amz-account-id": ACCOUNT})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", REGION).add_auth(request)
    head = [f"POST {JOBS} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in request.headers.items() if name.lower() != "content-length"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 400 "), reply
    assert error_code(reply.split(b"\r\n\r\n", 1)[1]) == "BadRequestException"
    assert b"over 1048576 bytes" in reply and b"connection: close" in reply.lower()


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<CreateJobRequest><Description>&xxe;</Description></CreateJobRequest>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<CreateJobRequest><Description>&lol4;</Description></CreateJobRequest>"""


@pytest.mark.parametrize("body", [XXE, BILLION_LAUGHS], ids=["xxe", "billion-laughs"])
def test_hostile_xml_refused(server: Any, body: bytes) -> None:
    status, reply = signed_request(server.url, "POST", JOBS, body)
    assert (status, error_code(reply)) == (400, "BadRequestException")
    assert b"DTD or XML entities" in reply
    assert b"root:" not in reply


def test_health_stays_open(server: Any) -> None:
    status, reply = raw_request(f"{server.url}/healthz", "GET")
    assert (status, reply) == (200, b'{"status":"ok","role":"leader"}')


def test_overlong_next_token(control: Any) -> None:
    with pytest.raises(ClientError) as caught:
        control.list_jobs(AccountId=ACCOUNT, NextToken="x" * 1025)
    assert caught.value.response["Error"]["Code"] == "InvalidNextTokenException"
    assert "1 to 1024" in caught.value.response["Error"]["Message"]
