"""The lean S3 client builds and signs requests as botocore does (botocore's own requests are the reference).

botocore's prepared request is captured just before it would be sent; the lean signer must compute the same
Authorization over the same headers, and the FastS3 facade must build the same method, path, query, body
and headers for the same call.
"""

from __future__ import annotations

import calendar
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from botocore.config import Config

from batchops.s3.fast import FastS3
from batchops.s3.lean import Answer, LeanSession, key_path
from batchops.s3.signer import Signer
from batchops.sigv4 import canonical_query

ENDPOINT = "http://127.0.0.1:1"  # never contacted: requests are captured before sending
KEYS = ["plain", "a b/+%ü~*", "q?x#y&z=1", "dir//x", "a/../b", "été/日本語 (1).csv"]


class Captured(Exception):
    def __init__(self, request: Any) -> None:
        self.request = request


def botocore_request(call: str, **kwargs: Any) -> Any:
    """The request botocore would send for ``client.<call>(**kwargs)``."""
    client = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        region_name="eu-west-3",
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
    )

    def capture(request: Any, **_: Any) -> None:
        raise Captured(request)

    client.meta.events.register("before-send.s3", capture)
    with pytest.raises(Captured) as captured:
        getattr(client, call)(**kwargs)
    return captured.value.request


def header(request: Any, name: str) -> str:
    value = request.headers[name]
    return value.decode() if isinstance(value, bytes) else str(value)


CALLS = [
    ("put_object_tagging", {"Bucket": "b", "Key": "a b/+%ü~*", "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}),
    ("get_object_tagging", {"Bucket": "b", "Key": "q?x#y&z=1", "VersionId": "v+1/="}),
    ("delete_object_tagging", {"Bucket": "b", "Key": "dir//x"}),
    ("delete_object", {"Bucket": "b", "Key": "a/../b", "VersionId": "3"}),
    ("head_object", {"Bucket": "b", "Key": "été/日本語 (1).csv"}),
    ("delete_objects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "x&y"}, {"Key": "z", "VersionId": "1"}]}}),
    (
        "copy_object",
        {
            "Bucket": "d",
            "Key": "p/a b",
            "CopySource": {"Bucket": "s", "Key": "a b+/ü", "VersionId": "v"},
            "MetadataDirective": "REPLACE",
            "Metadata": {"Color": "blue"},
            "ContentType": "text/plain",
            "TaggingDirective": "REPLACE",
            "Tagging": "a=1&b=2",
            "StorageClass": "STANDARD_IA",
        },
    ),
]


@pytest.mark.parametrize(("call", "kwargs"), CALLS, ids=[c for c, _ in CALLS])
def test_signature_matches_botocore(call: str, kwargs: dict[str, Any]) -> None:
    request = botocore_request(call, **kwargs)
    url = urlsplit(request.url)
    authorization = header(request, "Authorization")
    signed_names = authorization.split("SignedHeaders=")[1].split(",")[0].split(";")
    own = {"host", "x-amz-date", "x-amz-content-sha256"}
    extra = {name: header(request, name) for name in signed_names if name not in own}
    timestamp = header(request, "X-Amz-Date")
    signer = Signer("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-3")
    signed = signer.sign(
        request.method,
        url.netloc,
        url.path,
        parse_qsl(url.query, keep_blank_values=True),
        extra,
        header(request, "x-amz-content-sha256"),
        now=calendar.timegm(time.strptime(timestamp, "%Y%m%dT%H%M%SZ")),
    )
    assert signed["authorization"] == authorization


class CapturingSession(LeanSession):
    """A lean session that records what it would send and answers 200 with no body."""

    def __init__(self) -> None:
        super().__init__(ENDPOINT, "eu-west-3", "AK", "SK")
        self.requests: list[dict[str, Any]] = []

    async def send(self, operation: str, method: str, path: str, query: Any = None, headers: Any = None,
                   body: bytes = b"", content_md5: bool = False) -> Answer:
        self.requests.append({"method": method, "path": path, "query": query or [], "headers": headers or {},
                              "body": body, "content_md5": content_md5})
        return Answer(200, {}, b"", 1)


class NoSdk:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the lean path should have served this call, not the SDK's {name}")


@pytest.mark.parametrize(("call", "kwargs"), CALLS, ids=[c for c, _ in CALLS])
async def test_request_matches_botocore(call: str, kwargs: dict[str, Any]) -> None:
    reference = botocore_request(call, **kwargs)
    session = CapturingSession()
    await getattr(FastS3(NoSdk(), session), call)(**kwargs)
    ours = session.requests[0]
    url = urlsplit(reference.url)
    assert ours["method"] == reference.method
    assert ours["path"] == url.path
    assert canonical_query(ours["query"]) == canonical_query(parse_qsl(url.query, keep_blank_values=True))
    assert ours["body"] == (reference.body or b"")
    assert ours["content_md5"] == bool(reference.body)  # botocore sends a CRC32 there; both prove the body
    sdk_headers = {k.lower(): header(reference, k) for k in reference.headers}
    for name, value in ours["headers"].items():
        assert sdk_headers[name] == value, name
    sent_by_sdk = {n for n in sdk_headers if n.startswith(("x-amz-copy", "x-amz-meta", "x-amz-tagging", "x-amz-stor"))}
    assert sent_by_sdk <= set(ours["headers"])


def test_key_paths_encode_like_botocore() -> None:
    for key in KEYS:
        assert key_path("b", key) == urlsplit(botocore_request("head_object", Bucket="b", Key=key).url).path
