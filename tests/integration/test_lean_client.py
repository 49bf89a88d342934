"""The lean S3 client against a real SeaweedFS: every fast call gives what aiobotocore gives for the same call.

Each test makes the same call through the FastS3 facade (lean signed HTTP) and through the plain aiobotocore
client, and compares the results (without ResponseMetadata) or the errors (code, status, and the report row
batchops.s3.errors makes of them).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchops.devstore import LocalSeaweed
from batchops.s3.client import StoreCredentials, open_client
from batchops.s3.errors import to_task_error
from batchops.s3.fast import FastS3
from tests.support.faulty_proxy import FaultyProxy
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY

#: Keys that need path encoding: spaces, unicode, '+', '%', '~', '*', '?', '#', '&', '=', double slashes.
ODD_KEYS = ["plain.txt", "a b/+%ü~*.txt", "q?x#y&z=1", "dir//x", "été/日本語 (1).csv"]


@pytest.fixture
async def clients(seaweed: LocalSeaweed) -> AsyncIterator[tuple[FastS3, Any]]:
    async with AsyncExitStack() as stack:
        creds = StoreCredentials(seaweed.endpoint, REGION, ACCESS_KEY, SECRET_KEY)
        fast = await open_client(stack, creds, max_connections=8, max_attempts=2)
        plain = await open_client(stack, creds, max_connections=8, max_attempts=2, kind="botocore")
        assert isinstance(fast, FastS3) and not isinstance(plain, FastS3)
        yield fast, plain


def without_meta(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "ResponseMetadata"}


def row(error: ClientError) -> tuple[str, int, str]:
    """The report row batchops makes of an error."""
    task_error = to_task_error(error)
    return task_error.code, task_error.http_status, task_error.message


async def same_error(call: Callable[[Any], Awaitable[Any]], fast: FastS3, plain: Any) -> ClientError:
    with pytest.raises(ClientError) as lean_error:
        await call(fast)
    with pytest.raises(ClientError) as sdk_error:
        await call(plain)
    ours, theirs = lean_error.value.response, sdk_error.value.response
    assert ours["Error"]["Code"] == theirs["Error"]["Code"]
    assert ours["ResponseMetadata"]["HTTPStatusCode"] == theirs["ResponseMetadata"]["HTTPStatusCode"]
    assert row(lean_error.value) == row(sdk_error.value)
    return lean_error.value


async def test_tagging_calls_on_odd_keys(clients: tuple[FastS3, Any], s3: Any, new_bucket: Any) -> None:
    fast, plain = clients
    bucket = new_bucket()
    for key in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        tags = [{"Key": "a+b=c:d/e@f", "Value": "ü v_."}, {"Key": "k", "Value": ""}]
        put = await fast.put_object_tagging(Bucket=bucket, Key=key, Tagging={"TagSet": tags})
        assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == tags, key
        got = await fast.get_object_tagging(Bucket=bucket, Key=key)
        assert without_meta(got) == without_meta(await plain.get_object_tagging(Bucket=bucket, Key=key))
        assert got["TagSet"] == tags
        deleted = await fast.delete_object_tagging(Bucket=bucket, Key=key)
        assert without_meta(deleted) == without_meta(await plain.delete_object_tagging(Bucket=bucket, Key=key))
        assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == []


async def test_versioned_calls_send_the_version_id(clients: tuple[FastS3, Any], s3: Any, new_bucket: Any) -> None:
    fast, plain = clients
    bucket = new_bucket()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="v b", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v b", Body=b"2")
    where = {"Bucket": bucket, "Key": "v b", "VersionId": first}
    put = await fast.put_object_tagging(**where, Tagging={"TagSet": [{"Key": "old", "Value": "1"}]})
    sdk_put = await plain.put_object_tagging(**where, Tagging={"TagSet": [{"Key": "old", "Value": "1"}]})
    assert without_meta(put) == without_meta(sdk_put)
    assert s3.get_object_tagging(Bucket=bucket, Key="v b", VersionId=first)["TagSet"] == [{"Key": "old", "Value": "1"}]
    assert s3.get_object_tagging(Bucket=bucket, Key="v b")["TagSet"] == []
    head = await fast.head_object(Bucket=bucket, Key="v b", VersionId=first)
    assert without_meta(head) == without_meta(await plain.head_object(Bucket=bucket, Key="v b", VersionId=first))
    marker = await fast.delete_object(Bucket=bucket, Key="v b")
    assert marker["DeleteMarker"] is True and marker["VersionId"]
    gone = await fast.delete_object(Bucket=bucket, Key="v b", VersionId=first)
    assert gone["VersionId"] == first
    versions = s3.list_object_versions(Bucket=bucket, Prefix="v b").get("Versions", [])
    assert first not in [v["VersionId"] for v in versions]


async def test_delete_objects_reports_each_key(clients: tuple[FastS3, Any], s3: Any, new_bucket: Any) -> None:
    fast, _ = clients
    bucket = new_bucket()
    for key in ODD_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    objects = [{"Key": key} for key in [*ODD_KEYS, "never-existed"]]
    answer = await fast.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": False})
    assert sorted(d["Key"] for d in answer["Deleted"]) == sorted([*ODD_KEYS, "never-existed"])
    assert "Errors" not in answer
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


async def test_copy_and_head_match_the_sdk(clients: tuple[FastS3, Any], s3: Any, new_bucket: Any) -> None:
    fast, plain = clients
    source, target = new_bucket(), new_bucket()
    s3.put_object(Bucket=source, Key="a b+ü", Body=b"hello", ContentType="text/plain", Metadata={"m": "1"})
    copied = await fast.copy_object(
        Bucket=target, Key="c/a b+ü", CopySource={"Bucket": source, "Key": "a b+ü"}, MetadataDirective="COPY"
    )
    sdk_copied = await plain.copy_object(
        Bucket=target, Key="c/sdk", CopySource={"Bucket": source, "Key": "a b+ü"}, MetadataDirective="COPY"
    )
    assert copied["CopyObjectResult"]["ETag"] == sdk_copied["CopyObjectResult"]["ETag"]
    assert set(copied["CopyObjectResult"]) == set(sdk_copied["CopyObjectResult"])
    assert type(copied["CopyObjectResult"]["LastModified"]) is type(sdk_copied["CopyObjectResult"]["LastModified"])
    assert s3.get_object(Bucket=target, Key="c/a b+ü")["Body"].read() == b"hello"
    replaced = await fast.copy_object(
        Bucket=target,
        Key="d",
        CopySource={"Bucket": source, "Key": "a b+ü"},
        MetadataDirective="REPLACE",
        Metadata={"new": "2"},
        ContentType="application/x-test",
        TaggingDirective="REPLACE",
        Tagging="t=1",
    )
    assert "LastModified" in replaced["CopyObjectResult"]
    head = await fast.head_object(Bucket=target, Key="d")
    assert without_meta(head) == without_meta(await plain.head_object(Bucket=target, Key="d"))
    assert head["Metadata"] == {"new": "2"} and head["ContentType"] == "application/x-test"
    assert s3.get_object_tagging(Bucket=target, Key="d")["TagSet"] == [{"Key": "t", "Value": "1"}]


async def test_put_object_of_bytes_matches_the_sdk(clients: tuple[FastS3, Any], s3: Any, new_bucket: Any) -> None:
    """The reports' PUTs: a body in memory with a content type and MD5 goes lean, on odd keys and on a versioned
    bucket, and stores what the SDK stores; a streamed body or another argument goes to the SDK."""
    fast, plain = clients
    bucket = new_bucket()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    body = b"bucket,key\r\nb,\xc3\xa9 t\n" * 1000
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    for key in ODD_KEYS:
        sent = fast.lean.sent
        put = await fast.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv", ContentMD5=md5)
        sdk_put = await plain.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/csv", ContentMD5=md5)
        assert fast.lean.sent == sent + 1
        assert set(without_meta(put)) == set(without_meta(sdk_put)) and put["ETag"] == sdk_put["ETag"], key
        assert put["VersionId"] and put["VersionId"] != sdk_put["VersionId"]
        stored = s3.get_object(Bucket=bucket, Key=key, VersionId=put["VersionId"])
        assert (stored["Body"].read(), stored["ContentType"]) == (body, "text/csv"), key
    empty = await fast.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert s3.get_object(Bucket=bucket, Key="empty", VersionId=empty["VersionId"])["ContentLength"] == 0
    sent = fast.lean.sent
    await fast.put_object(Bucket=bucket, Key="streamed", Body=io.BytesIO(b"s"))
    await fast.put_object(Bucket=bucket, Key="meta", Body=b"m", Metadata={"a": "1"})
    assert fast.lean.sent == sent
    assert s3.head_object(Bucket=bucket, Key="meta")["Metadata"] == {"a": "1"}
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    await same_error(lambda c: c.put_object(Bucket=bucket, Key="bad", Body=body, ContentMD5=wrong), fast, plain)
    assert "bad" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


async def test_errors_match_the_sdk(clients: tuple[FastS3, Any], new_bucket: Any) -> None:
    fast, plain = clients
    bucket = new_bucket()
    tags = {"TagSet": [{"Key": "k", "Value": "v"}]}
    error = await same_error(lambda c: c.put_object_tagging(Bucket=bucket, Key="missing", Tagging=tags), fast, plain)
    assert error.response["Error"]["Code"] == "NoSuchKey"
    await same_error(lambda c: c.get_object_tagging(Bucket=bucket, Key="missing"), fast, plain)
    await same_error(lambda c: c.head_object(Bucket=bucket, Key="missing"), fast, plain)
    missing_source = {"Bucket": bucket, "Key": "missing"}
    await same_error(lambda c: c.copy_object(Bucket=bucket, Key="x", CopySource=missing_source), fast, plain)
    error = await same_error(
        lambda c: c.put_object_tagging(Bucket="no-such-bucket-lean", Key="k", Tagging=tags), fast, plain
    )
    assert error.response["Error"]["Code"] == "NoSuchBucket"
    await same_error(lambda c: c.delete_objects(Bucket="no-such-bucket-lean", Delete={"Objects": [{"Key": "k"}]}),
                     fast, plain)


async def test_wrong_keys_are_refused_like_the_sdk(seaweed: LocalSeaweed, new_bucket: Any, s3: Any) -> None:
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    async with AsyncExitStack() as stack:
        creds = StoreCredentials(seaweed.endpoint, REGION, ACCESS_KEY, "not-the-secret")
        fast = await open_client(stack, creds, max_attempts=1)
        plain = await open_client(stack, creds, max_attempts=1, kind="botocore")
        tags = {"TagSet": [{"Key": "k", "Value": "v"}]}
        error = await same_error(lambda c: c.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags), fast, plain)
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        await same_error(lambda c: c.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]}), fast, plain)


async def test_unbuilt_arguments_go_to_the_sdk(clients: tuple[FastS3, Any], s3: Any, new_bucket: Any) -> None:
    fast, _ = clients
    bucket = new_bucket()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    # ExpectedBucketOwner is not built by the lean path: the aiobotocore client serves the call.
    sent = fast.lean.sent
    tags = {"TagSet": [{"Key": "via", "Value": "sdk"}]}
    await fast.put_object_tagging(Bucket=bucket, Key="k", Tagging=tags, ExpectedBucketOwner="000000000000")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == tags["TagSet"]
    assert fast.lean.sent == sent
    await fast.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": []})
    assert fast.lean.sent == sent + 1
    listed = await fast.list_objects_v2(Bucket=bucket)  # not a fast method: delegated
    assert [o["Key"] for o in listed["Contents"]] == ["k"]


async def test_503_slowdown_is_retried_and_halves_the_limit(seaweed: LocalSeaweed, s3: Any, new_bucket: Any) -> None:
    # Given a store that answers every tagging request 503 SlowDown twice before serving it
    proxy = FaultyProxy(seaweed.endpoint, failures_per_request=2).start()
    bucket = new_bucket()
    keys = [f"k{i}" for i in range(5)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    async with AsyncExitStack() as stack:
        creds = StoreCredentials(proxy.endpoint, REGION, ACCESS_KEY, SECRET_KEY)
        fast = await open_client(stack, creds, max_connections=16, max_attempts=3)
        tags = {"TagSet": [{"Key": "t", "Value": "1"}]}
        # When the lean client tags them: each call succeeds on its third try
        await asyncio.gather(*(fast.put_object_tagging(Bucket=bucket, Key=k, Tagging=tags) for k in keys))
        assert proxy.throttled == 10 and fast.lean.sent == 15
        # and the throttling cut the store's in-flight limit
        assert fast.lean.limit.cuts >= 1 and fast.lean.limit.limit < 16
        # With fewer attempts than throttled answers, the call fails with SlowDown (503)
        few = await open_client(stack, creds, max_attempts=2)
        with pytest.raises(ClientError) as failed:
            await few.put_object_tagging(Bucket=bucket, Key="k-new", Tagging=tags)
        assert row(failed.value)[:2] == ("SlowDown", 503)
    assert all(s3.get_object_tagging(Bucket=bucket, Key=k)["TagSet"] == tags["TagSet"] for k in keys)


async def test_an_unreachable_store_is_a_connection_error(new_bucket: Any) -> None:
    async with AsyncExitStack() as stack:
        creds = StoreCredentials("http://127.0.0.1:9", REGION, ACCESS_KEY, SECRET_KEY)
        fast = await open_client(stack, creds, max_attempts=2)
        with pytest.raises(Exception) as failed:
            await fast.delete_object(Bucket="b", Key="k")
        assert to_task_error(failed.value).code == "ConnectionError"
        assert fast.lean.sent == 2
