"""The task listing extension on the wire, through botocore with the overlay: boto3's ``batch_ops_list_job_tasks``
sends a query string the server reads exactly (hostile prefixes too), and the answer, keys URL-encoded, parses
into the model's members with every name given back exactly by ``unquote``."""

from __future__ import annotations

from urllib.parse import unquote, urlencode

import botocore.parsers
import botocore.serialize
import botocore.session
import pytest
from botocore.model import ServiceModel
from hypothesis import given
from hypothesis import strategies as st

from batchops.api.s3control_xml import document
from batchops.api.tasks_xml import RESULT_ROOT, render_tasks
from batchops.aws_hooks import boto3_hook
from batchops.domain.task import ReportRow, TaskStatus
from batchops.domain.tasklist import ListedTask, TaskCounts, TaskOrder, TaskPage, TaskQuery, parse_query_string
from tests.support.s3control_bodies import ACCOUNT
from tests.support.strategies import hostile_text

OPERATION = "BatchOpsListJobTasks"


@pytest.fixture(scope="module")
def model() -> ServiceModel:
    return boto3_hook(botocore.session.Session()).get_service_model("s3control")  # type: ignore[no-any-return]


def sent_query(model: ServiceModel, **params: object) -> tuple[str, str]:
    """(url path, query string) of the request boto3 sends."""
    serializer = botocore.serialize.create_serializer("rest-xml", include_validation=True)
    request = serializer.serialize_to_request(
        {"AccountId": ACCOUNT, "JobId": "job-0001", **params}, model.operation_model(OPERATION)
    )
    query = request["query_string"]
    return request["url_path"], query if isinstance(query, str) else urlencode(query, doseq=True)


def parsed(model: ServiceModel, body: bytes) -> dict[str, object]:
    parser = botocore.parsers.create_parser("rest-xml")
    output = model.operation_model(OPERATION).output_shape
    return parser.parse({"status_code": 200, "headers": {}, "body": body}, output)  # type: ignore[no-any-return]


def test_the_request_boto3_sends_is_the_one_the_server_reads(model: ServiceModel) -> None:
    path, query = sent_query(
        model, Status="Succeeded", ErrorCodes=["NoSuchKey", "SlowDown"], Prefix="a/", Order="key", MaxResults=7
    )
    assert path == "/v20180820/jobs/job-0001/batchops-tasks"
    expected = TaskQuery(TaskStatus.SUCCEEDED, ("NoSuchKey", "SlowDown"), "a/", TaskOrder.KEY, 7)
    assert parse_query_string(query) == expected


@given(prefix=hostile_text)
def test_any_prefix_reaches_the_server_exactly(model: ServiceModel, prefix: str) -> None:
    _, query = sent_query(model, Prefix=prefix)
    assert parse_query_string(query).prefix == prefix


def test_bytes_that_are_not_utf8_in_a_prefix_are_kept() -> None:
    assert parse_query_string("prefix=bad-%FF%FE").prefix == b"bad-\xff\xfe".decode("utf-8", "surrogateescape")


@given(keys=st.lists(hostile_text, min_size=1, max_size=5))
def test_the_answer_parses_and_every_name_comes_back_exactly(model: ServiceModel, keys: list[str]) -> None:
    rows = [ReportRow("bkt", key, key[::-1], TaskStatus.FAILED, "NoSuchKey", 404, f"gone: {key}") for key in keys]
    page = TaskPage([ListedTask(seq, row) for seq, row in enumerate(rows)], "tok")
    counts = TaskCounts(3, 7, {"": 2, "NoSuchKey": 5})
    answer = parsed(model, render_tasks(document(RESULT_ROOT), "job-0001", page, counts))

    tasks = answer["Tasks"]
    assert isinstance(tasks, list)
    assert [unquote(task["Key"], errors="strict") for task in tasks] == keys
    assert [unquote(task["VersionId"], errors="strict") for task in tasks] == [key[::-1] for key in keys]
    assert [task["TaskIndex"] for task in tasks] == list(range(len(keys)))
    assert {task["Status"] for task in tasks} == {"Failed"} and {task["HttpStatus"] for task in tasks} == {404}
    assert answer["NextToken"] == "tok" and answer["EncodingType"] == "url"
    assert (answer["NumberOfTasksSucceeded"], answer["NumberOfTasksFailed"]) == (3, 7)
    assert answer["ErrorCodeCounts"] == [{"ErrorCode": "NoSuchKey", "Count": 5}, {"ErrorCode": "", "Count": 2}]


def test_a_key_that_was_not_utf8_comes_back_as_its_bytes(model: ServiceModel) -> None:
    raw = b"k-\xff".decode("utf-8", "surrogateescape")
    row = ReportRow("bkt", raw, None, TaskStatus.FAILED, "KeyNotUTF8", 400, "")
    answer = parsed(model, render_tasks(document(RESULT_ROOT), "job-0001", TaskPage([ListedTask(0, row)]), None))
    [task] = answer["Tasks"]  # type: ignore[misc]
    assert task["Key"] == "k-%FF" and unquote(task["Key"], errors="surrogateescape") == raw
    assert "VersionId" not in task and "NextToken" not in answer and "ErrorCodeCounts" not in answer
