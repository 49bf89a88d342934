"""Raw HTTP to a batchops server: S3 Control requests signed as boto3 signs them, or sent as given."""

from __future__ import annotations

import urllib.error
import urllib.request
from datetime import UTC, datetime
from unittest import mock

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY
from tests.support.server import ACCOUNT


def signed_request(
    url: str,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    account: str = ACCOUNT,
    signed_at: datetime | None = None,
    send_body: bytes | None = None,
) -> tuple[int, bytes]:
    """Send a raw S3 Control request signed by botocore's SigV4 signer (as boto3 signs); (status, body).

    ``signed_at`` signs with another clock; ``send_body`` sends a different body than the one signed.
    """
    request = AWSRequest(method=method, url=f"{url}{path}", data=body, headers={"x-amz-account-id": account})
    for name, value in (headers or {}).items():
        request.headers[name] = value
    clock = signed_at or datetime.now(UTC).replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=clock):
        S3SigV4Auth(Credentials(access_key, secret_key), "s3", REGION).add_auth(request)
    return raw_request(request.url, method, send_body if send_body is not None else body, dict(request.headers))


def raw_request(url: str, method: str, body: bytes = b"", headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One HTTP request as given (no signing); (status, body) whatever the status."""
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def error_code(body: bytes) -> str:
    return body.split(b"<Code>", 1)[1].split(b"</Code>", 1)[0].decode() if b"<Code>" in body else ""
