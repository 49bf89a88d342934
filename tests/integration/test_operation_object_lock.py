"""S3PutObjectRetention and S3PutObjectLegalHold against a real SeaweedFS (buckets with Object Lock on)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from tests.support.operations import (
    FUTURE,
    as_utc,
    failure,
    put_versions,
    run,
)

pytestmark = pytest.mark.integration


# --- S3PutObjectRetention / S3PutObjectLegalHold --------------------------------------------------


def retention_xml(mode: str, until: str) -> str:
    return (
        f"<S3PutObjectRetention><Retention><RetainUntilDate>{until}</RetainUntilDate><Mode>{mode}</Mode>"
        "</Retention></S3PutObjectRetention>"
    )


async def test_put_retention_sets_mode_and_date(ctx: TaskContext, s3: Any, locked_bucket: str) -> None:
    s3.put_object(Bucket=locked_bucket, Key="a b+c.txt", Body=b"x")
    message = await run(ctx, retention_xml("GOVERNANCE", FUTURE), ObjectRef(locked_bucket, "a b+c.txt"))
    retention = s3.get_object_retention(Bucket=locked_bucket, Key="a b+c.txt")["Retention"]
    assert (retention["Mode"], as_utc(retention["RetainUntilDate"])) == ("GOVERNANCE", FUTURE)
    assert message == f"retention GOVERNANCE until {FUTURE}"


async def test_put_retention_on_one_version(ctx: TaskContext, s3: Any, locked_bucket: str) -> None:
    older, latest = put_versions(s3, locked_bucket, "doc.txt", b"v1", b"v2")
    await run(ctx, retention_xml("GOVERNANCE", FUTURE), ObjectRef(locked_bucket, "doc.txt", older))
    retention = s3.get_object_retention(Bucket=locked_bucket, Key="doc.txt", VersionId=older)["Retention"]
    assert retention["Mode"] == "GOVERNANCE"
    with pytest.raises(ClientError):  # the latest version got no retention
        s3.get_object_retention(Bucket=locked_bucket, Key="doc.txt", VersionId=latest)


async def test_put_retention_on_a_bucket_without_object_lock_fails(ctx: TaskContext, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    error = await failure(ctx, retention_xml("GOVERNANCE", FUTURE), ObjectRef(bucket, "k"))
    assert error.http_status == 400


@pytest.mark.xfail(
    reason="SeaweedFS 4.48 answers InvalidRequest to an empty <Retention/>",
    raises=pytest.RaisesExc(ClientError, match=r"\(InvalidRequest\) when calling the PutObjectRetention"),
)
async def test_an_empty_retention_clears_governance(ctx: TaskContext, s3: Any, locked_bucket: str) -> None:
    s3.put_object(Bucket=locked_bucket, Key="k", Body=b"x")
    await run(ctx, retention_xml("GOVERNANCE", FUTURE), ObjectRef(locked_bucket, "k"))
    clear = (
        "<S3PutObjectRetention><BypassGovernanceRetention>true</BypassGovernanceRetention>"
        "<Retention /></S3PutObjectRetention>"
    )
    assert await run(ctx, clear, ObjectRef(locked_bucket, "k")) == "retention cleared"


def legal_hold_of(s3: Any, bucket: str, key: str, version_id: str) -> str | None:
    try:
        hold = s3.get_object_legal_hold(Bucket=bucket, Key=key, VersionId=version_id)["LegalHold"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchObjectLegalHold":
            return None
        raise
    return str(hold["Status"])


def legal_hold_xml(status: str) -> str:
    return f"<S3PutObjectLegalHold><LegalHold><Status>{status}</Status></LegalHold></S3PutObjectLegalHold>"


async def test_put_legal_hold_switches_on_and_off(ctx: TaskContext, s3: Any, locked_bucket: str) -> None:
    s3.put_object(Bucket=locked_bucket, Key="ü 100%.txt", Body=b"x")
    target = ObjectRef(locked_bucket, "ü 100%.txt")
    assert await run(ctx, legal_hold_xml("ON"), target) == "legal hold ON"
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key=target.key)["LegalHold"] == {"Status": "ON"}
    await run(ctx, legal_hold_xml("OFF"), target)
    assert s3.get_object_legal_hold(Bucket=locked_bucket, Key=target.key)["LegalHold"] == {"Status": "OFF"}


async def test_put_legal_hold_on_one_version(ctx: TaskContext, s3: Any, locked_bucket: str) -> None:
    older, latest = put_versions(s3, locked_bucket, "doc.txt", b"v1", b"v2")
    await run(ctx, legal_hold_xml("ON"), ObjectRef(locked_bucket, "doc.txt", older))
    assert legal_hold_of(s3, locked_bucket, "doc.txt", older) == "ON"
    assert legal_hold_of(s3, locked_bucket, "doc.txt", latest) is None
    await run(ctx, legal_hold_xml("OFF"), ObjectRef(locked_bucket, "doc.txt", older))
