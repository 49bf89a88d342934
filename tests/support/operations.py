"""Running one operation's task against a real store, as the engine does, and checking its effect with boto3."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError
from batchops.operations.base import TaskContext
from batchops.operations.registry import get_operation
from batchops.s3.errors import to_task_error
from batchops.xmlutil import parse_xml

#: Keys that break naive URL or header encoding.
AWKWARD_KEYS = ["plain.txt", "with space/and more.txt", "ünïcødé/файл.txt", "a+b=c.txt", "100% sure%20.txt"]
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
FUTURE = "2099-01-02T03:04:05Z"


async def run(ctx: TaskContext, xml: str, target: ObjectRef) -> str:
    """Parse like CreateJob does, store params as JSON like the job store does, then run one task."""
    element = parse_xml(xml.encode())
    operation = get_operation(element.tag)
    stored = json.loads(json.dumps(operation.encode(operation.parse(element))))
    return await operation.run(ctx, operation.decode(stored), target)


async def failure(ctx: TaskContext, xml: str, target: ObjectRef) -> TaskError:
    # run() raises botocore's ClientError or our TaskError (base.py); the report row comes from either.
    with pytest.raises((ClientError, TaskError)) as info:
        await run(ctx, xml, target)
    return to_task_error(info.value)


def put_versions(s3: Any, bucket: str, key: str, *bodies: bytes) -> list[str]:
    return [s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"] for body in bodies]


def tags_of(s3: Any, bucket: str, key: str, version_id: str | None = None) -> dict[str, str]:
    version = {"VersionId": version_id} if version_id else {}
    tag_set = s3.get_object_tagging(Bucket=bucket, Key=key, **version)["TagSet"]
    return {tag["Key"]: tag["Value"] for tag in tag_set}


def exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
            return False
        raise
    return True


def text_of(header: str | bytes) -> str:
    return header.decode() if isinstance(header, bytes) else header


def as_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


TAGGING = (
    "<S3PutObjectTagging><TagSet><member><Key>team</Key><Value>data eng</Value></member>"
    "<member><Key>ü +</Key><Value>a=b/c@d</Value></member></TagSet></S3PutObjectTagging>"
)


def copy_xml(target_bucket: str, body: str = "") -> str:
    target = f"<TargetResource>arn:aws:s3:::{target_bucket}</TargetResource>"
    return f"<S3PutObjectCopy>{target}{body}</S3PutObjectCopy>"


class CountingS3:
    """The real client, counting the calls made through it by operation name."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        async def call(**kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return await method(**kwargs)

        return call
