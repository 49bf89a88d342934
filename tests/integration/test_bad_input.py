"""Bad input gets a 400 that names the field, never a 500 or a silent wrong job (issue 10 items 5, 11, 12, 13).

Against real server processes and SeaweedFS; S3 Control requests signed by botocore, COS by the COS SDK.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchops.api.s3control_xml import parse_create_job
from batchops.devstore import free_port
from batchops.domain.task import TaskStatus
from batchops.errors import StoreUnavailable, ValidationError
from batchops.reports import target
from batchops.reports.layout import job_folder, result_file_key
from batchops.reports.writer import check_prefix
from batchops.settings import Settings
from batchops.tenancy import Account
from tests.support.console import console_session
from tests.support.cos import cos_request
from tests.support.http import error_code, signed_request
from tests.support.jobs import put_manifest, wait_status
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.server import ACCOUNT, Server
from tests.support.wire_bodies import (
    cos_body,
    cos_elements,
    cos_tag_value,
    nested,
    s3control_body,
    s3control_elements,
    tag_value,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.job_databases("sqlite", reason="bad input is refused at the edge, before a job exists in the store"),
]

LOOSE_PRIORITIES = [" 7 ", "1_0", "+5", "٣"]


def s3control_create(server: Server, body: bytes) -> tuple[int, bytes]:
    return signed_request(server.url, "POST", "/v20180820/jobs", body)


def cos_create(server: Server, body: bytes) -> tuple[int, str, str]:
    """(status, error code or JobId, message) of a COS CreateJob."""
    answer = cos_request(server, "POST", "/jobs", body=body)
    if answer.status == 200:
        return answer.status, answer.text("JobId") or "", ""
    return answer.status, answer.text("Code") or "", answer.text("Message") or ""


def message_of(body: bytes) -> str:
    found = re.search(rb"<Message>(.*?)</Message>", body, re.S)
    return html.unescape(found.group(1).decode()) if found else ""


def with_prefix(elements: dict[str, str], prefix: str) -> dict[str, str]:
    report = re.sub(r"<Prefix>[^<]*</Prefix>", lambda _: f"<Prefix>{prefix}</Prefix>", elements["Report"])
    return {**elements, "Report": report}


def s3control_job_elements(s3: Any, bucket: str, report_bucket: str | None = None) -> dict[str, str]:
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    return s3control_elements(location["ObjectArn"], location["ETag"], report_bucket or bucket, token=uuid.uuid4().hex)


def cos_job_elements(s3: Any, bucket: str, report_bucket: str | None = None) -> dict[str, str]:
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    key = location["ObjectArn"].split(":::", 1)[1].split("/", 1)[1]
    arn = f"qcs::cos:ap-chengdu:uid/{ACCOUNT}:{bucket}/{key}"
    return cos_elements(arn, location["ETag"], report_bucket or bucket, token=uuid.uuid4().hex)


# --- item 13: integers are ASCII digits ----------------------------------------------------------


def test_loose_priorities_are_refused_in_both_dialects(server: Server, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    for value in LOOSE_PRIORITIES:
        status, body = s3control_create(
            server, s3control_body(s3control_job_elements(s3, bucket), Priority=f"<Priority>{value}</Priority>")
        )
        assert (status, error_code(body)) == (400, "BadRequestException"), (value, body)
        assert "Priority must be an integer" in message_of(body)
        status, code, message = cos_create(
            server, cos_body(cos_job_elements(s3, bucket), Priority=f"<Priority>{value}</Priority>")
        )
        assert (status, code) == (400, "InvalidArgument") and "Priority must be an integer" in message, value

    status, body = s3control_create(server, s3control_body(s3control_job_elements(s3, bucket)))
    assert status == 200, body
    job_id = re.search(rb"<JobId>(.*?)</JobId>", body).group(1).decode()  # type: ignore[union-attr]
    wait_status(server.client(), job_id, "Suspended")
    for value in LOOSE_PRIORITIES:
        path = f"/v20180820/jobs/{job_id}/priority?priority={quote(value, safe='')}"
        status, body = signed_request(server.url, "POST", path)
        assert (status, error_code(body)) == (400, "BadRequestException"), (value, body)
        answer = cos_request(server, "POST", f"/jobs/{job_id}/priority", params={"priority": value})
        assert (answer.status, answer.text("Code")) == (400, "InvalidArgument"), value
    assert server.client().describe_job(AccountId=ACCOUNT, JobId=job_id)["Job"]["Priority"] == 10


# --- item 11: element content in a text field, deep nesting ----------------------------------------


@pytest.mark.parametrize("depth", [950, 980])
def test_nested_elements_in_a_tag_value_are_a_400_in_both_dialects(
    server: Server, s3: Any, new_bucket: Any, depth: int
) -> None:
    bucket = new_bucket()
    status, body = s3control_create(
        server, s3control_body(s3control_job_elements(s3, bucket), Operation=tag_value(nested(depth)))
    )
    assert (status, error_code(body)) == (400, "BadRequestException"), body[:300]
    assert "deep" in message_of(body)
    status, code, message = cos_create(
        server, cos_body(cos_job_elements(s3, bucket), Operation=cos_tag_value(nested(depth)))
    )
    assert (status, code) == (400, "MalformedXML") and "deep" in message

    status, body = s3control_create(
        server, s3control_body(s3control_job_elements(s3, bucket), Operation=tag_value("a<b>c</b>"))
    )
    assert (status, error_code(body)) == (400, "BadRequestException")
    assert "S3PutObjectTagging.TagSet tag.Value must be text, but it contains the element <b>" in message_of(body)


# --- item 5: report prefix and report bucket ---------------------------------------------------------


@pytest.mark.parametrize("prefix", ["x/../y", "./.", "../../x"])
def test_report_prefixes_with_dot_segments_are_refused_before_any_task_runs(
    server: Server, s3: Any, new_bucket: Any, prefix: str
) -> None:
    bucket = new_bucket()
    status, body = s3control_create(server, s3control_body(with_prefix(s3control_job_elements(s3, bucket), prefix)))
    assert (status, error_code(body)) == (400, "BadRequestException"), body
    assert message_of(body).startswith("Report.Prefix") and "path segment" in message_of(body)
    status, code, message = cos_create(server, cos_body(with_prefix(cos_job_elements(s3, bucket), prefix)))
    assert (status, code) == (400, "InvalidArgument") and message.startswith("Report.Prefix")
    assert server.client().list_jobs(AccountId=ACCOUNT)["Jobs"] == []


def test_a_missing_report_bucket_is_refused_and_an_existing_one_left_as_it_was(
    server: Server, s3: Any, new_bucket: Any
) -> None:
    bucket, reports, missing = new_bucket(), new_bucket(), f"t-missing-{uuid.uuid4().hex[:12]}"
    status, body = s3control_create(server, s3control_body(s3control_job_elements(s3, bucket, missing)))
    assert (status, error_code(body)) == (400, "BadRequestException"), body
    assert f"Report.Bucket: bucket {missing} does not exist" in message_of(body)
    status, code, message = cos_create(server, cos_body(cos_job_elements(s3, bucket, missing)))
    assert (status, code) == (400, "InvalidArgument") and f"bucket {missing} does not exist" in message
    assert server.client().list_jobs(AccountId=ACCOUNT)["Jobs"] == []
    assert missing not in {b["Name"] for b in s3.list_buckets()["Buckets"]}  # the check did not create it

    status, body = s3control_create(server, s3control_body(s3control_job_elements(s3, bucket, reports)))
    assert status == 200, body
    status, code, _ = cos_create(server, cos_body(cos_job_elements(s3, bucket, reports)))
    assert status == 200, code
    assert s3.list_objects_v2(Bucket=reports).get("KeyCount", 0) == 0  # the test write was deleted


NO_WRITE_CONFIG = f"""
[[accounts]]
id = "{ACCOUNT}"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{SECRET_KEY}"
[[accounts.roles]]
arn = "arn:aws:iam::{ACCOUNT}:role/batch"
[[accounts.roles]]
arn = "arn:aws:iam::{ACCOUNT}:role/stranger"
access_key_id = "not-a-store-key"
secret_access_key = "not-a-store-secret"
"""


def test_a_report_bucket_the_role_cannot_write_is_refused(
    start_server: Any, tmp_path: Path, s3: Any, new_bucket: Any
) -> None:
    config = tmp_path / "accounts.toml"
    config.write_text(NO_WRITE_CONFIG)
    server = start_server("--config", str(config))
    bucket = new_bucket()
    elements = s3control_job_elements(s3, bucket)
    stranger = {**elements, "RoleArn": f"<RoleArn>arn:aws:iam::{ACCOUNT}:role/stranger</RoleArn>"}
    status, body = s3control_create(server, s3control_body(stranger))
    assert (status, error_code(body)) == (400, "BadRequestException"), body
    assert f"the job's role arn:aws:iam::{ACCOUNT}:role/stranger cannot write to bucket {bucket}" in message_of(body)
    assert s3control_create(server, s3control_body(elements))[0] == 200  # the same job with a role that can


def test_a_store_that_does_not_answer_is_a_503_not_a_missing_bucket(start_server: Any) -> None:
    server = start_server(s3_endpoint=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    status, body = s3control_create(server, s3control_body())
    assert (status, error_code(body)) == (503, "ServiceUnavailable"), body
    assert "did not answer a test write to the report bucket reports" in message_of(body)
    status, code, message = cos_create(server, cos_body())
    assert (status, code) == (503, "ServiceUnavailable") and "try again when the store is back" in message
    assert b"Traceback" not in body


# --- item 12: the console's page number -------------------------------------------------------------


def test_console_pages_out_of_reason_are_a_400_page(server: Server) -> None:
    client, _ = console_session(server)
    for page in ["²", "99999999999999999999", "9" * 5000, "-1", "0", " 2"]:
        for path in ("/jobs", "/api/jobs"):
            answer = client.get(path, params={"page": page})
            assert answer.status_code == 400, (page[:20], path, answer.status_code)
            assert "page must be" in answer.text and "Traceback" not in answer.text
    assert client.get("/jobs", params={"page": "1"}).status_code == 200


# --- text that XML cannot carry is refused where it comes in, not answered as broken XML ---------------


def test_a_status_reason_xml_cannot_carry_is_refused_in_both_dialects(server: Server, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    status, body = s3control_create(server, s3control_body(s3control_job_elements(s3, bucket)))
    job_id = re.search(rb"<JobId>(.*?)</JobId>", body).group(1).decode()  # type: ignore[union-attr]
    wait_status(server.client(), job_id, "Suspended")
    path = f"/v20180820/jobs/{job_id}/status?requestedJobStatus=Cancelled&statusUpdateReason=%01"
    status, body = signed_request(server.url, "POST", path)
    assert (status, error_code(body)) == (400, "BadRequestException"), body
    assert "statusUpdateReason has the character" in message_of(body)
    params = {"requestedJobStatus": "Cancelled", "statusUpdateReason": "why\x08"}
    answer = cos_request(server, "POST", f"/jobs/{job_id}/status", params=params)
    assert (answer.status, answer.text("Code")) == (400, "InvalidArgument")
    assert server.client().describe_job(AccountId=ACCOUNT, JobId=job_id)["Job"]["Status"] == "Suspended"


def test_a_console_field_xml_cannot_carry_is_named(server: Server, s3: Any, new_bucket: Any) -> None:
    bucket = new_bucket()
    location = put_manifest(s3, bucket, [f"{bucket},a"])
    client, token = console_session(server)
    form = {
        "csrf_token": token,
        "manifest_source": "existing",
        "manifest_arn": location["ObjectArn"],
        "manifest_etag": location["ETag"],
        "operation": "S3DeleteObjectTagging",
        "priority": "10",
        "role_arn": f"arn:aws:iam::{ACCOUNT}:role/batch",
        "description": "nightly\x01run",
    }
    answer = client.post("/jobs/new", data=form)
    assert answer.status_code == 400
    error = re.search(r'data-testid="error-description"[^>]*>([^<]*)<', answer.text)
    assert error and "which a job cannot store" in html.unescape(error.group(1)), answer.text[-3000:]


async def test_a_store_that_accepts_but_never_answers_is_a_503_within_the_bound(monkeypatch: Any) -> None:
    """A black-holed store: CreateJob's report check gives up after TOTAL_SECONDS, it does not hang."""
    silent: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)  # never answer, never close

    store = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = store.sockets[0].getsockname()[1]
    monkeypatch.setattr(target, "TOTAL_SECONDS", 1.0)
    settings = Settings(s3_endpoint=f"http://127.0.0.1:{port}", accounts=(Account(ACCOUNT, "k", "s", any_role=True),))
    spec, _ = parse_create_job(s3control_body(), default_threshold=settings.threshold)
    started = time.monotonic()
    try:
        with pytest.raises(StoreUnavailable, match=r"no answer within 1 s"):
            await target.check_report_writable(settings, ACCOUNT, spec)
    finally:
        store.close()
    assert time.monotonic() - started < 3


PREFIX_SEGMENT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
PREFIXES = st.lists(st.one_of(PREFIX_SEGMENT, st.sampled_from([".", "..", "", "\\..", ". "])), min_size=1, max_size=5)


def check_prefixes_against_the_store(s3: Any, examples: int) -> None:
    bucket = f"t-prefix-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)

    @settings(max_examples=examples, deadline=None, database=None)
    @given(PREFIXES)
    def write_under(segments: list[str]) -> None:
        prefix = "/".join(segments)
        try:
            check_prefix(prefix)
        except ValidationError:
            return
        key = result_file_key(job_folder(prefix, str(uuid.uuid4())), "job", TaskStatus.SUCCEEDED, 0)
        s3.put_object(Bucket=bucket, Key=key, Body=b"row\n")  # the store takes every prefix the rule accepts
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"row\n"

    write_under()


def test_every_report_prefix_the_rule_accepts_can_be_written_to_the_store(s3: Any) -> None:
    check_prefixes_against_the_store(s3, 40)


@pytest.mark.soak
def test_report_prefixes_against_the_store_soak(s3: Any) -> None:
    check_prefixes_against_the_store(s3, 2000)
