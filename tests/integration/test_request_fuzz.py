"""Hypothesis-made requests against one running server: never a 5xx, never a hang, always the dialect's error.

Bodies start from valid S3 Control and COS CreateJob requests and are bent (elements dropped, repeated,
nested, deep-nested; text replaced by any Unicode, control characters and lone surrogates included, or
by huge numbers; bytes flipped). Query strings and headers are bent on every route. Every request is
signed (botocore SigV4, the COS SDK's signer), so it gets past authentication to the parsers. The
console's list, create and action forms are posted in a signed-in session with its CSRF token.

``make test`` runs a bounded number (FUZZ_EXAMPLES in all); ``make soak`` runs SOAK_EXAMPLES per surface.
The counts of requests tried, by surface and status, are printed and saved under test-artifacts/.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

import httpx
import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batchops.devstore import LocalSeaweed
from batchops.xmlutil import parse_xml
from tests.support.console import console_session
from tests.support.cos import cos_request
from tests.support.http import signed_request
from tests.support.jobs import put_manifest, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server
from tests.support.wire_bodies import (
    cos_body,
    cos_elements,
    generator,
    job_tagging,
    nested,
    s3control_body,
    s3control_elements,
)

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 10.0
#: make test: examples per surface (150 requests in all); make soak: SOAK_EXAMPLES per surface.
BOUNDED = {"s3control-body": 40, "cos-body": 30, "query": 30, "header": 20, "console": 30}
SOAK_EXAMPLES = int(os.environ.get("BATCHOPS_FUZZ_EXAMPLES", "2000"))
S3CONTROL_NS = "{http://awss3control.amazonaws.com/doc/2018-08-20/}"
TRIED: Counter[str] = Counter()
STATUSES: Counter[str] = Counter()

#: Every code point, lone surrogates and control characters included (bodies carry them as raw bytes).
ANY_CHAR = st.characters(blacklist_categories=())
ANY_TEXT = st.text(ANY_CHAR, max_size=40)
#: What an HTTP client can put in a URL or form as UTF-8 (no lone surrogates).
URL_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
NUMBERS = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from([" 7 ", "1_0", "+5", "٣", "²", "0x1F", "1e9", "nan", "-0", "9" * 5000, "99999999999999999999"]),
)
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


# --- the server and what it needs ---------------------------------------------------------------


class Target:
    """One running server with a job of each dialect and a signed-in console session."""

    def __init__(self, server: Server, s3: Any, bucket: str) -> None:
        self.server = server
        self.bucket = bucket
        location = put_manifest(s3, bucket, [f"{bucket},a"])
        self.s3control = s3control_elements(location["ObjectArn"], location["ETag"], bucket)
        key = location["ObjectArn"].split("/", 1)[1]
        self.cos = cos_elements(f"qcs::cos:ap-chengdu:uid/{ACCOUNT}:{bucket}/{key}", location["ETag"], bucket)
        self.location = location
        self.job_id = self._suspended_job()
        self.console, self.csrf = console_session(server)

    def _suspended_job(self) -> str:
        status, body = signed_request(self.server.url, "POST", "/v20180820/jobs", s3control_body(self.s3control))
        assert status == 200, body
        job_id = parse_xml(body).findtext("JobId") or ""
        wait_status(self.server.client(), job_id, "Suspended")
        return job_id


@pytest.fixture(scope="module")
def target(seaweed: LocalSeaweed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = Server(tmp_path_factory.mktemp("fuzz-server"), seaweed.endpoint).start()
    try:
        s3 = _store_client(seaweed)
        bucket = f"t-fuzz-{uuid.uuid4().hex[:12]}"
        s3.create_bucket(Bucket=bucket)
        yield Target(server, s3, bucket)
    finally:
        server.stop()
        _save_counts()


def _store_client(seaweed: LocalSeaweed) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=seaweed.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )


def _save_counts() -> None:
    counts = {"tried": dict(TRIED), "total": sum(TRIED.values()), "statuses": dict(sorted(STATUSES.items()))}
    artifacts = Path(__file__).resolve().parents[2] / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "request-fuzz-counts.json").write_text(json.dumps(counts, indent=1))
    print(f"\nrequest fuzz: {counts['total']} requests tried {dict(TRIED)}; statuses {counts['statuses']}")


# --- what every answer must be -------------------------------------------------------------------


def timed(surface: str, send: Callable[[], Any]) -> Any:
    started = time.monotonic()
    answer = send()
    elapsed = time.monotonic() - started
    TRIED[surface] += 1
    assert elapsed < DEADLINE_SECONDS, f"{surface}: the answer took {elapsed:.1f}s"
    return answer


def check_s3control_answer(status: int, body: bytes, surface: str) -> None:
    STATUSES[f"{surface} {status}"] += 1
    assert status < 500, body[:500]
    root = parse_xml(body) if body else None  # every answer, 200s too, is well-formed XML
    if status >= 400:
        assert root is not None
        assert root.tag == "ErrorResponse", body[:300]
        assert root.findtext("Error/Code") and root.findtext("Error/Message"), body[:300]
        assert b"Traceback" not in body


def check_cos_answer(status: int, xml: Element | None, surface: str) -> None:
    STATUSES[f"{surface} {status}"] += 1
    assert status < 500
    if status >= 400:
        assert xml is not None and xml.tag == "Error"
        assert xml.findtext("Code") and xml.findtext("Message")


def check_console_answer(answer: httpx.Response, surface: str) -> None:
    STATUSES[f"{surface} {answer.status_code}"] += 1
    assert answer.status_code < 500, answer.text[:500]
    if answer.status_code >= 400 and answer.status_code != 401:
        assert answer.headers["content-type"].startswith("text/html")
        assert re.search(r'data-testid="(error-message|form-errors)"', answer.text), answer.text[:500]
        assert "Traceback" not in answer.text


# --- bodies -------------------------------------------------------------------------------------


@st.composite
def bent_elements(draw: st.DrawFn, elements: dict[str, str]) -> dict[str, str]:
    """``elements`` with 1-3 bends: drop, repeat, nest, deep-nest, replace a text, add an unknown element."""
    parts = dict(elements)
    for _ in range(draw(st.integers(1, 3))):
        if not parts:
            break
        name = draw(st.sampled_from(sorted(parts)))
        bend = draw(st.sampled_from(["drop", "repeat", "nest", "deep", "text", "number", "unknown"]))
        if bend == "drop":
            del parts[name]
        elif bend == "repeat":
            parts[f"{name}#again"] = parts[name]
        elif bend == "unknown":
            parts[f"{name}#unknown"] = f"<{draw(st.sampled_from(['Extra', 'priority', 'Tags', 'x:y']))}/>"
        else:
            parts[name] = _bend_text(draw, parts[name], bend)
    return parts


def _bend_text(draw: st.DrawFn, element: str, bend: str) -> str:
    spots = [m.span(1) for m in re.finditer(r">([^<]*)<", element)]
    if not spots:
        return element
    start, end = draw(st.sampled_from(spots))
    if bend == "nest":
        tag = draw(st.sampled_from(["member", "b", "Value"]))
        new = f"<{tag}>{element[start:end]}</{tag}>"
    elif bend == "deep":
        new = nested(draw(st.one_of(st.integers(1, 40), st.integers(900, 3000))))
    elif bend == "number":
        new = draw(NUMBERS)
    else:
        text = draw(ANY_TEXT)
        new = escape(text) if draw(st.booleans()) else text
    return element[:start] + new + element[end:]


@st.composite
def bent_bytes(draw: st.DrawFn, body: str) -> bytes:
    data = bytearray(body.encode("utf-8", errors="surrogatepass"))
    for _ in range(draw(st.integers(0, 2))):
        if data:
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


def s3control_requests(target: Target) -> st.SearchStrategy[tuple[str, str, bytes]]:
    """(method, path, body): CreateJob from a manifest or a ManifestGenerator, or PutJobTagging, bent."""
    generated = {k: v for k, v in target.s3control.items() if k != "Manifest"}
    generated["ManifestGenerator"] = generator(target.bucket)
    tagging = {"Tags": job_tagging().decode().split(">", 1)[1].rsplit("<", 1)[0]}
    bases = [
        ("POST", "/v20180820/jobs", target.s3control, s3control_body),
        ("POST", "/v20180820/jobs", generated, s3control_body),
        ("PUT", f"/v20180820/jobs/{target.job_id}/tagging", tagging, job_tagging),
    ]
    return st.sampled_from(bases).flatmap(
        lambda base: bent_elements(base[2]).flatmap(
            lambda parts: bent_bytes(base[3](parts).decode("utf-8", errors="surrogatepass")).map(
                lambda body: (base[0], base[1], body)
            )
        )
    )


def cos_bodies(target: Target) -> st.SearchStrategy[bytes]:
    return bent_elements(target.cos).flatmap(
        lambda parts: bent_bytes(cos_body(parts).decode("utf-8", errors="surrogatepass"))
    )


def fuzz_s3control_bodies(target: Target, examples: int) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(request=s3control_requests(target))
    def send(request: tuple[str, str, bytes]) -> None:
        method, path, body = request
        status, answer = timed("s3control-body", lambda: signed_request(target.server.url, method, path, body))
        check_s3control_answer(status, answer, "s3control-body")

    send()


def fuzz_cos_bodies(target: Target, examples: int) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(body=cos_bodies(target))
    def send(body: bytes) -> None:
        answer = timed("cos-body", lambda: _cos_raw(target.server, "POST", "/jobs", body=body))
        check_cos_answer(answer.status, answer.xml, "cos-body")

    send()


def _cos_raw(server: Server, method: str, path: str, **kwargs: Any) -> Any:
    try:
        return cos_request(server, method, path, **kwargs)
    except requests.exceptions.ConnectionError as exc:  # a reset connection is a failure too
        raise AssertionError(f"the connection failed: {exc}") from None


# --- query strings --------------------------------------------------------------------------------

QUERY_ROUTES = [
    ("GET", "", ("jobStatuses", "maxResults", "nextToken")),
    ("POST", "/{job}/priority", ("priority",)),
    ("POST", "/{job}/status", ("requestedJobStatus", "statusUpdateReason")),
    ("GET", "/{job}", ()),
]


@st.composite
def queries(draw: st.DrawFn) -> tuple[str, str, dict[str, str], str]:
    """(method, path suffix, parameters, job id) with any values, numbers among them."""
    method, suffix, names = draw(st.sampled_from(QUERY_ROUTES))
    values = st.one_of(URL_TEXT, NUMBERS, st.sampled_from(["Cancelled", "Canceled", "Ready", "Active", "10"]))
    params = {name: draw(values) for name in names if draw(st.booleans())}
    if draw(st.booleans()):
        params[draw(st.sampled_from(["maxResults", "priority", "x", "jobStatuses"]))] = draw(URL_TEXT)
    job = draw(st.one_of(st.just(""), URL_TEXT.filter(lambda s: "/" not in s and s not in (".", ".."))))
    return method, suffix, params, job


def fuzz_queries(target: Target, examples: int) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(query=queries())
    def send(query: tuple[str, str, dict[str, str], str]) -> None:
        method, suffix, params, job = query
        job_path = quote(job or target.job_id, safe="")
        path = "/jobs" + suffix.format(job=job_path)
        encoded = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
        url_path = f"/v20180820{path}" + (f"?{encoded}" if encoded else "")
        status, body = timed("query", lambda: signed_request(target.server.url, method, url_path))
        check_s3control_answer(status, body, "query")
        cos_path = "/jobs" + suffix.format(job=job or target.job_id)
        answer = timed("query", lambda: _cos_raw(target.server, method, cos_path, params=params))
        check_cos_answer(answer.status, answer.xml, "query")

    send()


# --- headers --------------------------------------------------------------------------------------

#: What HTTP lets a header value hold (h11 answers anything else itself, before the app): Latin-1 without
#: control characters or spaces at the edges.
HEADER_VALUE = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, blacklist_characters="\x7f"), max_size=60
).map(str.strip)  # servers strip the edges anyway; requests refuses to send them
HEADER_NAMES = ["x-amz-account-id", "content-type", "x-cos-appid", "content-encoding", "content-md5", "x-any"]


def fuzz_headers(target: Target, examples: int) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(name=st.sampled_from(HEADER_NAMES), value=HEADER_VALUE, create=st.booleans())
    def send(name: str, value: str, create: bool) -> None:
        method, path = ("POST", "/jobs") if create else ("GET", "/jobs")
        body = s3control_body(target.s3control) if create else b""
        status, answer = timed(
            "header", lambda: signed_request(target.server.url, method, f"/v20180820{path}", body, {name: value})
        )
        check_s3control_answer(status, answer, "header")
        cos_answer = timed(
            "header",
            lambda: _cos_raw(
                target.server,
                method,
                path,
                body=cos_body(target.cos) if create else b"",
                headers={name: value} if name != "x-cos-appid" else None,
                appid=value if name == "x-cos-appid" else ACCOUNT,
            ),
        )
        check_cos_answer(cos_answer.status, cos_answer.xml, "header")

    send()


# --- the console's forms ----------------------------------------------------------------------------


def create_form(target: Target) -> dict[str, str]:
    return {
        "manifest_source": "existing",
        "manifest_arn": target.location["ObjectArn"],
        "manifest_etag": target.location["ETag"],
        "manifest_fields": "Bucket,Key",
        "operation": "S3PutObjectTagging",
        "op_tags": "team=blue",
        "priority": "10",
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/batchops",
        "confirmation_required": "on",
        "report_enabled": "on",
        "report_bucket": target.bucket,
        "report_prefix": "reports",
        "report_scope": "AllTasks",
        "description": "fuzzed",
        "client_request_token": str(uuid.uuid4()),
        "copy_target": target.bucket,
        "acl": "private",
        "legal_hold": "ON",
        "retention_mode": "GOVERNANCE",
        "retention_until": "2031-01-01",
    }


@st.composite
def console_requests(draw: st.DrawFn, target: Target) -> tuple[str, str, dict[str, str]]:
    """(method, path, fields): the list page's parameters, the create form, or an action form, bent."""
    kind = draw(st.sampled_from(["list", "live", "create", "priority", "cancel"]))
    text = st.one_of(URL_TEXT, NUMBERS)
    if kind in ("list", "live"):
        names = ["q", "status", "sort", "dir", "page"]
        fields = {name: draw(text) for name in names if draw(st.booleans())}
        return "GET", "/jobs" if kind == "list" else "/api/jobs", fields
    if kind == "create":
        fields = create_form(target)
        for name in draw(st.lists(st.sampled_from(sorted(fields)), min_size=1, max_size=4)):
            fields[name] = draw(text)
        return "POST", "/jobs/new", fields
    field = "priority" if kind == "priority" else "reason"
    return "POST", f"/jobs/{target.job_id}/{kind}", {field: draw(text), "next": draw(URL_TEXT)}


def fuzz_console(target: Target, examples: int) -> None:
    @settings(FUZZ, max_examples=examples)
    @given(request=console_requests(target))
    def send(request: tuple[str, str, dict[str, str]]) -> None:
        method, path, fields = request
        client = target.console
        if method == "GET":
            answer = timed("console", lambda: client.get(path, params=fields))
        else:
            form = urlencode({**fields, "csrf_token": target.csrf}).encode()
            headers = {"content-type": "application/x-www-form-urlencoded"}
            answer = timed("console", lambda: client.post(path, content=form, headers=headers))
        check_console_answer(answer, "console")

    send()


# --- the tests: bounded for make test, long for make soak ------------------------------------------

SURFACES: dict[str, Callable[[Target, int], None]] = {
    "s3control-body": fuzz_s3control_bodies,
    "cos-body": fuzz_cos_bodies,
    "query": fuzz_queries,
    "header": fuzz_headers,
    "console": fuzz_console,
}


@pytest.mark.parametrize("surface", list(SURFACES))
def test_bent_requests_get_the_dialects_error_never_a_5xx(target: Target, surface: str) -> None:
    SURFACES[surface](target, BOUNDED[surface])


@pytest.mark.soak
@pytest.mark.parametrize("surface", list(SURFACES))
def test_bent_requests_soak(target: Target, surface: str) -> None:
    SURFACES[surface](target, SOAK_EXAMPLES)
