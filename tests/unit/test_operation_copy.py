"""Copy's complete field set, replicate's parameters, the multipart arithmetic, the copy settings and the
operation contract of S3PutObjectCopy."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchops.domain.task import ObjectRef
from batchops.errors import ConfigError, TaskError, ValidationError
from batchops.operations.base import TaskContext
from batchops.operations.copy import CopyObject
from batchops.operations.keylocks import KeyedLocks
from batchops.operations.replicate import ReplicateObject
from batchops.operations.transfer import (
    MAX_PARTS,
    MIB,
    Copied,
    Destination,
    bounded,
    check_preconditions,
    copy,
    part_ranges,
    source_metadata,
    write_arguments,
)
from batchops.s3.pool import StoreRoutes, TransferLimits
from batchops.s3.recording import Call, RecordingS3
from batchops.settings import load_settings
from batchops.tenancy import Replica, TargetStore
from batchops.xmlutil import parse_xml
from tests.support.operation_contract import OperationContract, version

OWNER = "0123456789abcdef"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def copy_arguments(body: str) -> dict[str, Any]:
    xml = f"<S3PutObjectCopy><TargetResource>arn:aws:s3:::dest</TargetResource>{body}</S3PutObjectCopy>"
    return CopyObject().parse(parse_xml(xml.encode())).to_json()["CopyArguments"]  # type: ignore[no-any-return]


def copy_refusal(body: str) -> str:
    with pytest.raises(ValidationError) as info:
        copy_arguments(body)
    return str(info.value)


def grant(type_identifier: str, identifier: str, permission: str, display: str = "") -> str:
    name = f"<DisplayName>{display}</DisplayName>" if display else ""
    return (
        f"<member><Grantee><TypeIdentifier>{type_identifier}</TypeIdentifier><Identifier>{identifier}</Identifier>"
        f"{name}</Grantee><Permission>{permission}</Permission></member>"
    )


# --- AccessControlGrants --------------------------------------------------------------------------


def test_grants_become_one_header_per_permission() -> None:
    grants = (
        grant("id", OWNER, "FULL_CONTROL", display="owner")
        + grant("uri", ALL_USERS, "READ")
        + grant("emailAddress", "a@example.com", "READ")
        + grant("id", OWNER, "READ_ACP")
        + grant("id", OWNER, "WRITE_ACP")
    )
    assert copy_arguments(f"<AccessControlGrants>{grants}</AccessControlGrants>") == {
        "GrantFullControl": f'id="{OWNER}"',
        "GrantRead": f'uri="{ALL_USERS}", emailAddress="a@example.com"',
        "GrantReadACP": f'id="{OWNER}"',
        "GrantWriteACP": f'id="{OWNER}"',
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            f"<AccessControlGrants>{grant('id', OWNER, 'WRITE')}</AccessControlGrants>",
            "an object has no WRITE permission; use READ, READ_ACP, WRITE_ACP or FULL_CONTROL",
        ),
        (
            f"<AccessControlGrants>{grant('id', OWNER, 'READ')}</AccessControlGrants>"
            "<CannedAccessControlList>private</CannedAccessControlList>",
            "gives both CannedAccessControlList and AccessControlGrants",
        ),
        (
            f"<AccessControlGrants>{grant('group', OWNER, 'READ')}</AccessControlGrants>",
            "TypeIdentifier must be one of id, emailAddress, uri, not 'group'",
        ),
        (
            f"<AccessControlGrants>{grant('id', 'a,b', 'READ')}</AccessControlGrants>",
            "may not contain quotes or commas",
        ),
        (
            "<AccessControlGrants><member><Permission>READ</Permission></member></AccessControlGrants>",
            "needs a Grantee",
        ),
    ],
)
def test_bad_grants_are_refused(body: str, expected: str) -> None:
    assert expected in copy_refusal(body)


# --- annotations and event holds ------------------------------------------------------------------


def test_annotation_directive_and_event_hold_map_to_copy_object() -> None:
    body = (
        "<AnnotationDirective>COPY</AnnotationDirective><ObjectLockEventHold>ON</ObjectLockEventHold>"
        "<ObjectLockEventHoldDuration><Days>30</Days></ObjectLockEventHoldDuration>"
    )
    assert copy_arguments(body) == {
        "AnnotationDirective": "COPY",
        "ObjectLockEventHold": "ON",
        "ObjectLockEventHoldDurationDays": 30,
    }


def test_event_hold_duration_in_years() -> None:
    body = "<ObjectLockEventHoldDuration><Years>7</Years></ObjectLockEventHoldDuration>"
    assert copy_arguments(body) == {"ObjectLockEventHoldDurationYears": 7}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "<ObjectLockEventHoldDuration><Days>1</Days><Years>1</Years></ObjectLockEventHoldDuration>",
            "ObjectLockEventHoldDuration needs exactly one of Days or Years",
        ),
        ("<ObjectLockEventHoldDuration />", "needs exactly one of Days or Years"),
        ("<ObjectLockEventHoldDuration><Days>0</Days></ObjectLockEventHoldDuration>", "Days"),
        ("<ObjectLockEventHoldDuration><Years>101</Years></ObjectLockEventHoldDuration>", "Years"),
        ("<ObjectLockEventHoldDuration><Weeks>1</Weeks></ObjectLockEventHoldDuration>", "unknown element(s) Weeks"),
        ("<ObjectLockEventHold>YES</ObjectLockEventHold>", "must be one of ON, OFF, not 'YES'"),
        ("<AnnotationDirective>DROP</AnnotationDirective>", "must be one of COPY, EXCLUDE, not 'DROP'"),
    ],
)
def test_bad_event_holds_and_annotation_directives_are_refused(body: str, expected: str) -> None:
    assert expected in copy_refusal(body)


# --- the multipart arithmetic ---------------------------------------------------------------------


def test_part_ranges_cover_every_byte_once() -> None:
    assert part_ranges(12 * MIB, 5 * MIB) == [(0, 5 * MIB - 1), (5 * MIB, 10 * MIB - 1), (10 * MIB, 12 * MIB - 1)]
    assert part_ranges(10 * MIB, 5 * MIB) == [(0, 5 * MIB - 1), (5 * MIB, 10 * MIB - 1)]
    assert part_ranges(0, 5 * MIB) == [(0, -1)]


def test_part_size_grows_to_stay_within_ten_thousand_parts() -> None:
    five_tib = 5 * 1024 * 1024 * MIB
    ranges = part_ranges(five_tib, 16 * MIB)
    assert len(ranges) <= MAX_PARTS
    assert ranges[-1][1] == five_tib - 1
    assert (ranges[0][1] + 1) % MIB == 0


async def test_bounded_runs_at_most_limit_at_once_and_keeps_order() -> None:
    running, peak = 0, 0

    async def work(value: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        running -= 1
        return value

    assert await bounded(3, [lambda v=v: work(v) for v in range(10)]) == list(range(10))  # type: ignore[misc]
    assert peak == 3


async def test_bounded_cancels_the_rest_on_the_first_failure() -> None:
    cancelled = asyncio.Event()

    async def fail() -> int:
        raise TaskError("Boom", 500, "boom")

    async def slow() -> int:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return 0

    with pytest.raises(TaskError):
        await bounded(2, [slow, fail])
    assert cancelled.is_set()


def test_copied_describes_how() -> None:
    assert Copied('"e"').describe() == 'copied, ETag "e"'
    assert Copied('"e"', parts=3).describe() == 'copied by multipart copy in 3 parts, ETag "e"'
    assert Copied('"e"', parts=3, streamed=True).describe() == 'copied to another store in 3 parts, ETag "e"'
    assert Copied(None, streamed=True).describe() == "copied to another store"


# --- preconditions and the arguments of a multipart or streamed copy ------------------------------

MODIFIED = datetime(2024, 6, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("arguments", "fails"),
    [
        ({"CopySourceIfModifiedSince": "2024-05-01T00:00:00Z"}, False),
        ({"CopySourceIfModifiedSince": "2024-06-01T00:00:00Z"}, True),
        ({"CopySourceIfUnmodifiedSince": "2024-06-01T00:00:00Z"}, False),
        ({"CopySourceIfUnmodifiedSince": "2024-05-31T23:59:59Z"}, True),
    ],
)
def test_preconditions_judge_the_source_last_modified(arguments: dict[str, str], fails: bool) -> None:
    if fails:
        with pytest.raises(TaskError) as info:
            check_preconditions({"LastModified": MODIFIED}, arguments)
        assert (info.value.code, info.value.http_status) == ("PreconditionFailed", 412)
    else:
        check_preconditions({"LastModified": MODIFIED}, arguments)


class FakeTagging:
    """Just get_object_tagging, the one call write_arguments makes."""

    def __init__(self, tags: list[dict[str, str]]) -> None:
        self.tags = tags
        self.calls = 0

    async def get_object_tagging(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        return {"TagSet": self.tags}


HEAD = {
    "ContentType": "text/csv",
    "CacheControl": "no-cache",
    "Metadata": {"a": "1"},
    "WebsiteRedirectLocation": "/elsewhere",
    "ContentLength": 3,
}


async def test_without_directives_the_source_metadata_and_tags_are_carried() -> None:
    s3 = FakeTagging([{"Key": "t", "Value": "a b"}])
    write = await write_arguments(s3, ObjectRef("b", "k"), HEAD, {"StorageClass": "STANDARD_IA"})
    assert write == {
        "StorageClass": "STANDARD_IA",
        "ContentType": "text/csv",
        "CacheControl": "no-cache",
        "Metadata": {"a": "1"},
        "Tagging": "t=a%20b",
    }


async def test_replace_directives_use_only_the_job_metadata_and_tags() -> None:
    s3 = FakeTagging([{"Key": "t", "Value": "1"}])
    arguments = {"MetadataDirective": "REPLACE", "ContentType": "x/y", "TaggingDirective": "REPLACE", "Tagging": ""}
    arguments["CopySourceIfModifiedSince"] = "2001-01-01T00:00:00Z"
    write = await write_arguments(s3, ObjectRef("b", "k"), HEAD, arguments)
    assert write == {"ContentType": "x/y", "Tagging": ""}
    assert s3.calls == 0


async def test_annotations_cannot_be_copied_by_parts() -> None:
    with pytest.raises(TaskError) as info:
        await write_arguments(FakeTagging([]), ObjectRef("b", "k"), HEAD, {"AnnotationDirective": "COPY"})
    assert info.value.code == "NotImplemented"
    assert "set AnnotationDirective EXCLUDE" in info.value.message


def test_source_metadata_leaves_out_the_website_redirect() -> None:
    assert "WebsiteRedirectLocation" not in source_metadata(HEAD)


# --- S3ReplicateObject parameters -----------------------------------------------------------------


def replicate(body: str = "") -> dict[str, Any]:
    return ReplicateObject().parse(parse_xml(f"<S3ReplicateObject>{body}</S3ReplicateObject>".encode())).to_json()


def test_replicate_takes_no_parameters_like_aws() -> None:
    assert replicate() == {}


def test_replicate_takes_a_per_job_replica_bucket() -> None:
    body = "<BatchOpsReplicaTarget>arn:aws:s3:::replica</BatchOpsReplicaTarget>"
    body += "<BatchOpsReplicaKeyPrefix>r/</BatchOpsReplicaKeyPrefix>"
    assert replicate(body) == {"TargetBucket": "replica", "TargetKeyPrefix": "r/"}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<BatchOpsReplicaKeyPrefix>r/</BatchOpsReplicaKeyPrefix>", "needs BatchOpsReplicaTarget"),
        ("<BatchOpsReplicaTarget>replica</BatchOpsReplicaTarget>", "must be a bucket ARN"),
        ("<Destination />", "unknown element(s) Destination"),
    ],
)
def test_replicate_refuses_bad_parameters(body: str, expected: str) -> None:
    with pytest.raises(ValidationError) as info:
        replicate(body)
    assert expected in str(info.value)


async def test_keyed_locks_serialise_one_key_in_arrival_order_and_forget_it() -> None:
    locks, order = KeyedLocks(), []

    async def hold(key: str, label: int) -> None:
        async with locks.hold(key):
            order.append(label)
            await asyncio.sleep(0)
            order.append(label)

    await asyncio.gather(*(hold("k", i) for i in range(3)))
    assert order == [0, 0, 1, 1, 2, 2]
    assert locks._locks == {}


# --- settings and routes --------------------------------------------------------------------------

CONFIG = """
[server]
copy_multipart_threshold_bytes = 5242880
copy_part_size_bytes = 5242880

[[targets]]
bucket = "arn:aws:s3:::archive-*"
endpoint = "http://other:8333"
access_key_id = "AK"
secret_access_key = "very-secret"

[[replicas]]
source_bucket = "src"
target_bucket = "archive-src"
target_key_prefix = "r/"
"""


def test_copy_settings_targets_and_replicas_load_from_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    settings = load_settings(environ={}, config_file=path)
    assert (settings.copy_multipart_threshold_bytes, settings.copy_part_size_bytes) == (5 * MIB, 5 * MIB)
    assert settings.targets == (TargetStore("archive-*", "http://other:8333", "us-east-1", "AK", "very-secret"),)
    assert settings.replicas == (Replica("src", "archive-src", "r/"),)
    assert "very-secret" not in repr(settings)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("[server]\ncopy_part_size_bytes = 1024\n", "copy_part_size_bytes must be from 5242880 (5 MiB)"),
        ("[server]\ncopy_part_concurrency = 0\n", "copy_part_concurrency must be at least 1"),
        ('[[targets]]\nendpoint = "http://x"\n', "every [[targets]] entry needs bucket"),
        ('[[targets]]\nbucket = "b"\nkey = "x"\n', "unknown key(s) key in [[targets]]"),
        ('[[replicas]]\nsource_bucket = "a"\n', "every [[replicas]] entry needs target_bucket"),
        ("[server]\ntargets = []\n", "targets belongs in [[targets]] tables"),
    ],
)
def test_bad_copy_settings_are_refused(tmp_path: Path, config: str, expected: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(config)
    with pytest.raises(ConfigError) as info:
        load_settings(environ={}, config_file=path)
    assert expected in str(info.value)


async def test_routes_open_one_client_per_target_store_and_none_for_the_job_store() -> None:
    opened: list[Any] = []

    async def opener(creds: Any) -> Any:
        opened.append(creds)
        return f"client-{len(opened)}"

    target = TargetStore("archive-*", "http://other", "us-east-1", "AK", "SK")
    routes = StoreRoutes((target,), (Replica("src", "archive-src"),), opener)
    assert await routes.client_for("plain") is None
    assert await routes.client_for("archive-1") == "client-1"
    assert await routes.client_for("archive-2") == "client-1"
    assert [c.endpoint_url for c in opened] == ["http://other"]
    assert routes.replica_for("src") == Replica("src", "archive-src")
    assert routes.replica_for("other") is None


# --- one request per copy, and the fallback when the store finds the source too large ------------


class FakeStore:
    """Records S3 calls; CopyObject answers like AWS for a source above 5 GiB when ``too_large``."""

    def __init__(self, too_large: bool, size: int) -> None:
        self.too_large, self.size, self.calls = too_large, size, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str) -> Any:
        async def call(**kwargs: Any) -> dict[str, Any]:
            self.calls.append(name)
            return self.answer(name, kwargs)

        return call

    def answer(self, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        if name == "copy_object" and self.too_large:
            message = (
                "The specified copy source is larger than the maximum allowable size for a copy source: 5368709120"
            )
            error = {
                "Error": {"Code": "InvalidRequest", "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            }
            raise ClientError(error, "CopyObject")  # type: ignore[arg-type]
        return {
            "head_object": {"ContentLength": self.size, "ETag": '"s"', "LastModified": MODIFIED},
            "copy_object": {"CopyObjectResult": {"ETag": '"c"'}},
            "get_object_tagging": {"TagSet": []},
            "create_multipart_upload": {"UploadId": "u"},
            "upload_part_copy": {"CopyPartResult": {"ETag": f'"p{kwargs.get("PartNumber")}"'}},
            "complete_multipart_upload": {"ETag": '"m-2"'},
        }[name]


async def test_a_default_copy_is_one_copy_object_request() -> None:
    store = FakeStore(too_large=False, size=10)
    copied = await copy(TaskContext(s3=store, job_id="j"), ObjectRef("b", "k"), Destination("d", "k"), {})
    assert (copied, store.calls) == (Copied('"c"'), ["copy_object"])


async def test_a_source_the_store_finds_too_large_falls_back_to_multipart_copy() -> None:
    store = FakeStore(too_large=True, size=6 * 1024 * MIB)
    ctx = TaskContext(s3=store, job_id="j", transfer=TransferLimits(part_size=5 * 1024 * MIB))
    copied = await copy(ctx, ObjectRef("b", "k"), Destination("d", "k"), {})
    assert copied == Copied('"m-2"', parts=2)
    assert store.calls == [
        "copy_object",
        "head_object",
        "get_object_tagging",
        "create_multipart_upload",
        "upload_part_copy",
        "upload_part_copy",
        "complete_multipart_upload",
    ]


async def test_other_copy_errors_are_not_retried_as_multipart() -> None:
    store = FakeStore(too_large=False, size=10)

    async def refuse(**_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "CopyObject")

    store.copy_object = refuse  # type: ignore[method-assign]
    with pytest.raises(ClientError):
        await copy(TaskContext(s3=store, job_id="j"), ObjectRef("b", "k"), Destination("d", "k"), {})
    assert store.calls == []


# --- the operation contract ----------------------------------------------------------------------

COPY = "S3PutObjectCopy"


class TestCopyObjectContract(OperationContract):
    """Under the multipart threshold on one store: one CopyObject, timestamps sent as datetimes."""

    operation = CopyObject()
    xml = (
        f"<{COPY}><TargetResource>arn:aws:s3:::dest</TargetResource><TargetKeyPrefix>copies/</TargetKeyPrefix>"
        "<StorageClass>STANDARD_IA</StorageClass><UnModifiedSinceConstraint>2030-01-02T03:04:05Z"
        "</UnModifiedSinceConstraint><NewObjectTagging><member><Key>a b</Key><Value>c=d/e</Value></member>"
        f"</NewObjectTagging></{COPY}>"
    )
    refusals = [
        (f"<{COPY}/>", f"{COPY}.TargetResource"),
        (f"<{COPY}><TargetResource>dest</TargetResource></{COPY}>", f"{COPY}.TargetResource"),
        (
            f"<{COPY}><TargetResource>arn:aws:s3:::dest</TargetResource><StorageClass>COLD</StorageClass></{COPY}>",
            f"{COPY}.StorageClass",
        ),
        (
            f"<{COPY}><TargetResource>arn:aws:s3:::dest</TargetResource><SSEAwsKmsKeyId>k</SSEAwsKmsKeyId></{COPY}>",
            f"{COPY}.SSEAwsKmsKeyId",
        ),
    ]

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("copy_object", {"CopyObjectResult": {"ETag": '"e1"'}})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        arguments = {
            "TaggingDirective": "REPLACE",
            "Tagging": "a%20b=c%3Dd%2Fe",
            "CopySourceIfUnmodifiedSince": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
            "StorageClass": "STANDARD_IA",
        }
        source = {"Bucket": target.bucket, "Key": target.key, **version(target)}
        return [
            Call("copy_object", {"Bucket": "dest", "Key": f"copies/{target.key}", "CopySource": source, **arguments})
        ]

    def expected_message(self, target: ObjectRef) -> str:
        return 'copied, ETag "e1"'


class TestMultipartCopyContract(OperationContract):
    """Above a lowered multipart threshold: HEAD, the source's tags, then a multipart copy part by part."""

    operation = CopyObject()
    xml = f"<{COPY}><TargetResource>arn:aws:s3:::dest</TargetResource></{COPY}>"
    refusals = TestCopyObjectContract.refusals

    def context(self, s3: RecordingS3) -> TaskContext:
        limits = TransferLimits(multipart_threshold=8 * MIB, part_size=5 * MIB, part_concurrency=1)
        return TaskContext(s3=s3, job_id="contract-job", transfer=limits)

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        modified = datetime(2024, 5, 6, tzinfo=UTC)
        head = {"ContentLength": 12 * MIB, "ETag": '"src"', "LastModified": modified, "ContentType": "text/csv"}
        s3.answer("head_object", head)
        s3.answer("get_object_tagging", {"TagSet": [{"Key": "t", "Value": "1"}]})
        s3.answer("create_multipart_upload", {"UploadId": "up-1"})
        for number in (1, 2, 3):
            s3.answer("upload_part_copy", {"CopyPartResult": {"ETag": f'"p{number}"'}})
        s3.answer("complete_multipart_upload", {"ETag": '"whole-3"'})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        source = {"Bucket": target.bucket, "Key": target.key, **version(target)}
        dest = {"Bucket": "dest", "Key": target.key}
        ranges = [(0, 5 * MIB - 1), (5 * MIB, 10 * MIB - 1), (10 * MIB, 12 * MIB - 1)]
        parts = [
            Call(
                "upload_part_copy",
                {
                    **dest,
                    "UploadId": "up-1",
                    "PartNumber": number,
                    "CopySource": source,
                    "CopySourceRange": f"bytes={first}-{last}",
                    "CopySourceIfMatch": '"src"',
                },
            )
            for number, (first, last) in enumerate(ranges, 1)
        ]
        completed = [{"PartNumber": n, "ETag": f'"p{n}"'} for n in (1, 2, 3)]
        return [
            Call("head_object", source),
            Call("get_object_tagging", source),
            Call("create_multipart_upload", {**dest, "ContentType": "text/csv", "Tagging": "t=1"}),
            *parts,
            Call("complete_multipart_upload", {**dest, "UploadId": "up-1", "MultipartUpload": {"Parts": completed}}),
        ]

    def expected_message(self, target: ObjectRef) -> str:
        return 'copied by multipart copy in 3 parts, ETag "whole-3"'
