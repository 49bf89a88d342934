"""LambdaInvoke: parsing, refusals, invocation events of both schemas, task results, the functions config,
and the operation contract."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from batchops.domain.task import ObjectRef
from batchops.errors import ConfigError, ValidationError
from batchops.functions import FunctionInvoker
from batchops.operations.base import TaskContext
from batchops.operations.lambda_invoke import LambdaInvoke, LambdaParams, invocation_event, task_result
from batchops.s3.recording import Call, RecordingS3
from batchops.settings import Settings, load_settings
from batchops.tenancy import FunctionTarget
from tests.support.operation_contract import OperationContract
from tests.support.operation_xml import parse, refusal

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


# --- LambdaInvoke --------------------------------------------------------------------------------


def lambda_xml(body: str) -> str:
    return f"<LambdaInvoke><FunctionArn>{ARN}</FunctionArn>{body}</LambdaInvoke>"


def test_lambda_parses_schema_and_user_arguments_as_boto3_sends_them() -> None:
    assert parse(LambdaInvoke(), lambda_xml("")) == {"FunctionArn": ARN, "InvocationSchemaVersion": "1.0"}
    xml = lambda_xml(
        "<InvocationSchemaVersion>2.0</InvocationSchemaVersion>"
        "<UserArguments><entry><key>mode</key><value>fast</value></entry></UserArguments>"
    )
    assert parse(LambdaInvoke(), xml)["UserArguments"] == {"mode": "fast"}


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<LambdaInvoke/>", "FunctionArn"),
        ("<LambdaInvoke><FunctionArn>not an arn!</FunctionArn></LambdaInvoke>", "must be a Lambda function ARN"),
        (lambda_xml("<InvocationSchemaVersion>3.0</InvocationSchemaVersion>"), "3.0"),
        (lambda_xml("<UserArguments><entry><key>k</key><value>v</value></entry></UserArguments>"), "needs Invocation"),
        (lambda_xml("<InvocationSchemaVersion>2.0</InvocationSchemaVersion><UserArguments/>"), "1 to 10 entries"),
        (
            lambda_xml(
                "<InvocationSchemaVersion>2.0</InvocationSchemaVersion><UserArguments>"
                + "".join(f"<entry><key>k{i}</key><value>v</value></entry>" for i in range(11))
                + "</UserArguments>"
            ),
            "1 to 10 entries",
        ),
        (
            lambda_xml(
                "<InvocationSchemaVersion>2.0</InvocationSchemaVersion><UserArguments>"
                f"<entry><key>{'k' * 65}</key><value>v</value></entry></UserArguments>"
            ),
            "key",
        ),
    ],
)
def test_lambda_refusals(xml: str, expected: str) -> None:
    assert expected in refusal(LambdaInvoke(), xml)


def test_lambda_refuses_a_function_the_server_does_not_know() -> None:
    params = LambdaInvoke().decode(parse(LambdaInvoke(), lambda_xml("")))
    with pytest.raises(ValidationError, match=r"not configured on this server.*\[\[functions\]\]"):
        LambdaInvoke().check_settings(params, Settings())
    LambdaInvoke().check_settings(params, Settings(functions=(FunctionTarget(ARN, url="http://x"),)))


def test_invocation_events_of_both_schemas() -> None:
    target = ObjectRef("bkt", "dir/a b+c.txt", "v1")
    one, task_id = invocation_event("job-1", LambdaParams(ARN, "1.0"), target)
    assert one["invocationSchemaVersion"] == "1.0" and one["job"] == {"id": "job-1"}
    assert one["tasks"] == [
        {"taskId": task_id, "s3Key": "dir/a%20b%2Bc.txt", "s3VersionId": "v1", "s3BucketArn": "arn:aws:s3:::bkt"}
    ]
    two, task_id = invocation_event("job-1", LambdaParams(ARN, "2.0", {"k": "v"}), target)
    assert two["job"] == {"id": "job-1", "userArguments": {"k": "v"}}
    assert two["tasks"][0]["s3Bucket"] == "bkt" and "s3BucketArn" not in two["tasks"][0]


def test_task_result_reads_this_tasks_entry() -> None:
    response = {"results": [{"taskId": "t1", "resultCode": "PermanentFailure", "resultString": "bad"}]}
    assert task_result(response, "t1") == ("PermanentFailure", "bad")
    assert task_result({"results": [], "treatMissingKeysAs": "TemporaryFailure"}, "t1")[0] == "TemporaryFailure"
    assert task_result({"results": []}, "t1")[0] == "PermanentFailure"
    assert task_result({"results": [{"taskId": "t1", "resultCode": "Maybe"}]}, "t1")[0] == "PermanentFailure"
    assert task_result({"results": [{"taskId": "t1", "resultCode": "Succeeded", "resultString": {"a": 1}}]}, "t1") == (
        "Succeeded",
        '{"a": 1}',
    )


def test_functions_config(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        f'[[functions]]\narn = "{ARN}"\nurl = "http://127.0.0.1:9/x"\nmax_attempts = 2\n\n'
        '[[functions]]\narn = "g"\nentry_point = "pkg.mod:handler"\ntimeout_seconds = 5\n'
    )
    settings = load_settings(environ={}, config_file=config)
    assert settings.function(ARN) == FunctionTarget(ARN, url="http://127.0.0.1:9/x", max_attempts=2)
    assert settings.function("g") == FunctionTarget("g", entry_point="pkg.mod:handler", timeout_seconds=5.0)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ('arn = "f"', "exactly one of url"),
        ('arn = "f"\nurl = "http://x"\nentry_point = "m:f"', "exactly one of url"),
        ('arn = "f"\nurl = "ftp://x"', "http://"),
        ('arn = "f"\nentry_point = "no colon"', "package.module:function"),
        ('arn = "f"\nurl = "http://x"\nretries = 3', "unknown key(s) retries"),
        ('url = "http://x"', "(no arn)"),
    ],
)
def test_functions_config_refusals(tmp_path: Path, entry: str, expected: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f"[[functions]]\n{entry}\n")
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        load_settings(environ={}, config_file=config)


# --- the operation contract ----------------------------------------------------------------------


class Echo(FunctionInvoker):
    """The function succeeds for each task with ``<s3Key>@<userArguments.mode>``, recording the events."""

    def __init__(self) -> None:
        super().__init__([FunctionTarget(ARN, url="http://127.0.0.1:9/unused")])
        self.events: list[dict[str, Any]] = []

    async def invoke(self, target: FunctionTarget, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        task = event["tasks"][0]
        result = f"{task['s3Key']}@{event['job']['userArguments'].get('mode')}"
        return {"results": [{"taskId": task["taskId"], "resultCode": "Succeeded", "resultString": result}]}


class TestLambdaInvokeContract(OperationContract):
    """The function is called, not the store: no S3 call at all."""

    operation = LambdaInvoke()
    xml = lambda_xml(
        "<InvocationSchemaVersion>2.0</InvocationSchemaVersion>"
        "<UserArguments><entry><key>mode</key><value>fast</value></entry></UserArguments>"
    )
    refusals = [
        ("<LambdaInvoke/>", "LambdaInvoke.FunctionArn"),
        ("<LambdaInvoke><FunctionArn>not an arn!</FunctionArn></LambdaInvoke>", "LambdaInvoke.FunctionArn"),
        (
            lambda_xml("<UserArguments><entry><key>k</key><value>v</value></entry></UserArguments>"),
            "LambdaInvoke.UserArguments",
        ),
        (lambda_xml("<InvocationSchemaVersion>3.0</InvocationSchemaVersion>"), "LambdaInvoke.InvocationSchemaVersion"),
    ]

    def context(self, s3: RecordingS3) -> TaskContext:
        return TaskContext(s3=s3, job_id="contract-job", functions=Echo())

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return []

    def expected_message(self, target: ObjectRef) -> str:
        return "dir/key%20one.txt@fast"  # keys URL-encoded, as in the manifest
