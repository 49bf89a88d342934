"""Merge tagging, batched delete, compute checksum and LambdaInvoke: parsing, config, and pure helpers."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest

from batchops.domain.task import ObjectRef
from batchops.errors import ConfigError, TaskError, ValidationError
from batchops.operations.checksum import ComputeObjectChecksum, new_digest, result_message
from batchops.operations.delete import outcome_of
from batchops.operations.lambda_invoke import LambdaInvoke, invocation_event, task_result
from batchops.operations.merge_tagging import MergeObjectTagging, merge_tags
from batchops.operations.registry import get_operation
from batchops.settings import Settings, load_settings
from batchops.tenancy import FunctionTarget
from tests.unit.test_operation_parse import parse, refusal, tags_xml

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"


# --- BatchOpsMergeObjectTagging ----------------------------------------------------------------


def test_merge_parses_tags_and_keys_to_remove() -> None:
    xml = (
        f"<BatchOpsMergeObjectTagging><TagSet>{tags_xml([('a', '1')])}</TagSet>"
        "<RemoveKeys><member>old</member></RemoveKeys></BatchOpsMergeObjectTagging>"
    )
    assert parse(MergeObjectTagging(), xml) == {"TagSet": [{"Key": "a", "Value": "1"}], "RemoveKeys": ["old"]}
    assert get_operation("BatchOpsMergeObjectTagging").name == "BatchOpsMergeObjectTagging"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "needs a TagSet to add or a RemoveKeys list"),
        (f"<TagSet>{tags_xml([('a', '1')])}</TagSet><RemoveKeys><member>a</member></RemoveKeys>", "both in TagSet"),
        ("<RemoveKeys><member>x</member><member>x</member></RemoveKeys>", "lists a key twice"),
        (f"<TagSet>{tags_xml([(f'k{i}', 'v') for i in range(11)])}</TagSet>", "at most 10"),
        ("<Tags/>", "unknown element(s) Tags"),
    ],
)
def test_merge_refusals(body: str, expected: str) -> None:
    assert expected in refusal(MergeObjectTagging(), f"<BatchOpsMergeObjectTagging>{body}</BatchOpsMergeObjectTagging>")


def test_merge_overwrites_adds_and_removes_keeping_order() -> None:
    current = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}, {"Key": "c", "Value": "3"}]
    merged = merge_tags(current, [{"Key": "b", "Value": "new"}, {"Key": "d", "Value": "4"}], ["c"])
    assert merged == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "new"}, {"Key": "d", "Value": "4"}]


# --- S3DeleteObject: one key's outcome in a DeleteObjects answer ----------------------------------


def test_delete_outcome_per_key() -> None:
    response = {
        "Deleted": [
            {"Key": "a"},
            {"Key": "v", "VersionId": "v1"},
            {"Key": "m", "DeleteMarker": True, "DeleteMarkerVersionId": "dm1"},
        ],
        "Errors": [{"Key": "locked", "Code": "AccessDenied", "Message": "retention"}],
    }
    assert outcome_of(ObjectRef("b", "a"), response) == "deleted"
    assert outcome_of(ObjectRef("b", "v", "v1"), response) == "version v1 deleted"
    assert outcome_of(ObjectRef("b", "m"), response) == "delete marker dm1 created"
    error = outcome_of(ObjectRef("b", "locked"), response)
    assert isinstance(error, TaskError)
    assert (error.code, error.http_status, error.message) == ("AccessDenied", 403, "retention")
    missing = outcome_of(ObjectRef("b", "absent"), response)
    assert isinstance(missing, TaskError) and "did not mention this key" in missing.message
    # A version the answer does not name is not confused with another version of the same key.
    assert isinstance(outcome_of(ObjectRef("b", "v", "other"), response), TaskError)


# --- S3ComputeObjectChecksum ----------------------------------------------------------------------


def test_checksum_parses_boto3_xml_and_defaults_to_full_object() -> None:
    xml = "<S3ComputeObjectChecksum><ChecksumAlgorithm>SHA256</ChecksumAlgorithm></S3ComputeObjectChecksum>"
    assert parse(ComputeObjectChecksum(), xml) == {"ChecksumAlgorithm": "SHA256", "ChecksumType": "FULL_OBJECT"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("", "ChecksumAlgorithm"),
        ("<ChecksumAlgorithm>XXHASH64</ChecksumAlgorithm>", "XXHASH64 is not supported by batchops"),
        ("<ChecksumAlgorithm>CRC16</ChecksumAlgorithm>", "CRC16"),
        ("<ChecksumAlgorithm>CRC64NVME</ChecksumAlgorithm><ChecksumType>COMPOSITE</ChecksumType>", "FULL_OBJECT"),
        ("<ChecksumAlgorithm>MD5</ChecksumAlgorithm><ChecksumType>PARTS</ChecksumType>", "PARTS"),
    ],
)
def test_checksum_refusals(body: str, expected: str) -> None:
    assert expected in refusal(ComputeObjectChecksum(), f"<S3ComputeObjectChecksum>{body}</S3ComputeObjectChecksum>")


@pytest.mark.parametrize(
    ("algorithm", "expected_hex"),
    [  # the "123456789" check values of each CRC's catalogue entry
        ("CRC32", "CBF43926"),
        ("CRC32C", "E3069283"),
        ("CRC64NVME", "AE8B14860A799888"),
    ],
)
def test_crc_check_values_streamed_in_pieces(algorithm: str, expected_hex: str) -> None:
    digest = new_digest(algorithm)
    for piece in (b"1234", b"", b"56789"):
        digest.update(piece)
    assert digest.digest().hex().upper() == expected_hex


def test_result_message_is_the_json_aws_writes() -> None:
    digest = zlib.crc32(b"abc").to_bytes(4, "big")
    message = json.loads(result_message(digest, '"etag1"', "CRC32", "FULL_OBJECT"))
    assert list(message) == ["checksum_base64", "ETag", "checksumAlgorithm", "checksumType", "checksum_hex"]
    assert message["checksum_base64"] == base64.b64encode(digest).decode()
    assert message["ETag"] == "etag1"
    assert message["checksum_hex"] == digest.hex().upper()
    composite = json.loads(result_message((digest, 3), "e-3", "CRC32", "COMPOSITE"))
    assert composite["checksum_base64"].endswith("-3")


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
    params = parse(LambdaInvoke(), lambda_xml(""))
    with pytest.raises(ValidationError, match=r"not configured on this server.*\[\[functions\]\]"):
        LambdaInvoke().check_settings(params, Settings())
    LambdaInvoke().check_settings(params, Settings(functions=(FunctionTarget(ARN, url="http://x"),)))


def test_invocation_events_of_both_schemas() -> None:
    target = ObjectRef("bkt", "dir/a b+c.txt", "v1")
    one, task_id = invocation_event("job-1", {"InvocationSchemaVersion": "1.0"}, target)
    assert one["invocationSchemaVersion"] == "1.0" and one["job"] == {"id": "job-1"}
    assert one["tasks"] == [
        {"taskId": task_id, "s3Key": "dir/a%20b%2Bc.txt", "s3VersionId": "v1", "s3BucketArn": "arn:aws:s3:::bkt"}
    ]
    two, task_id = invocation_event("job-1", {"InvocationSchemaVersion": "2.0", "UserArguments": {"k": "v"}}, target)
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
