"""RecordingS3, the fake S3 client: it records each call and answers from its script, as the real clients answer."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from batchops.s3.errors import to_task_error
from batchops.s3.recording import Call, FakeBody, RecordingS3, operation_name


async def test_calls_are_recorded_in_order_and_unscripted_ones_succeed_empty() -> None:
    s3 = RecordingS3()
    answer = await s3.head_object(Bucket="b", Key="k")
    await s3.delete_object(Bucket="b", Key="k", VersionId="v")
    assert answer == {"ResponseMetadata": {"HTTPStatusCode": 200}}
    assert s3.calls == [
        Call("head_object", {"Bucket": "b", "Key": "k"}),
        Call("delete_object", {"Bucket": "b", "Key": "k", "VersionId": "v"}),
    ]


async def test_scripted_answers_are_taken_first_in_first_out_per_method() -> None:
    s3 = RecordingS3()
    s3.answer("get_object_tagging", {"TagSet": [{"Key": "a", "Value": "1"}]})
    s3.answer("get_object_tagging", {"TagSet": []})
    s3.answer("head_object", {"ContentLength": 3})
    assert s3.unused() == {"get_object_tagging": 2, "head_object": 1}
    assert (await s3.get_object_tagging(Bucket="b", Key="k"))["TagSet"] == [{"Key": "a", "Value": "1"}]
    assert (await s3.get_object_tagging(Bucket="b", Key="k"))["TagSet"] == []
    assert s3.unused() == {"head_object": 1}


async def test_a_scripted_failure_is_the_client_error_botocore_raises() -> None:
    s3 = RecordingS3()
    s3.fail("get_object_acl", "AccessDenied", 403, "no")
    with pytest.raises(ClientError) as info:
        await s3.get_object_acl(Bucket="b", Key="k")
    assert info.value.operation_name == "GetObjectAcl"
    error = to_task_error(info.value)
    assert (error.code, error.http_status, error.message) == ("AccessDenied", 403, "no")
    assert s3.calls == [Call("get_object_acl", {"Bucket": "b", "Key": "k"})]


async def test_any_error_can_be_scripted() -> None:
    s3 = RecordingS3()
    s3.raise_error("put_object", EndpointConnectionError(endpoint_url="http://store"))
    with pytest.raises(EndpointConnectionError):
        await s3.put_object(Bucket="b", Key="k", Body=b"")


async def test_a_paginator_serves_pages_until_one_is_not_truncated() -> None:
    s3 = RecordingS3()
    s3.answer("list_object_versions", {"Versions": [{"Key": "a"}], "IsTruncated": True})
    s3.answer("list_object_versions", {"Versions": [{"Key": "b"}]})
    pages = [page async for page in s3.get_paginator("list_object_versions").paginate(Bucket="b", Prefix="p")]
    assert [page["Versions"][0]["Key"] for page in pages] == ["a", "b"]
    assert s3.calls == [Call("list_object_versions", {"Bucket": "b", "Prefix": "p"})] * 2


async def test_a_fake_body_streams_like_aiobotocore() -> None:
    async with FakeBody(b"abcdef") as body:
        assert await body.read(4) == b"abcd"
        assert await body.read() == b"ef"
        assert await body.read(4) == b""
    assert body.closed
    assert [chunk async for chunk in FakeBody(b"abcde").iter_chunks(2)] == [b"ab", b"cd", b"e"]


def test_operation_names_are_botocore_s() -> None:
    assert operation_name("get_object_acl") == "GetObjectAcl"
    assert operation_name("list_objects_v2") == "ListObjectsV2"
