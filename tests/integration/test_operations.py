"""What every operation shares, against a real SeaweedFS: a missing key is NoSuchKey, whatever the operation.

Each operation's own tests are in ``test_operation_<name>.py``.
"""

from __future__ import annotations

import pytest

from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from tests.support.operations import (
    FUTURE,
    TAGGING,
    failure,
)

pytestmark = pytest.mark.integration


# --- missing objects ------------------------------------------------------------------------------

MISSING_KEY_CASES = [
    TAGGING,
    "<S3DeleteObjectTagging />",
    "<S3PutObjectAcl><AccessControlPolicy><CannedAccessControlList>private</CannedAccessControlList>"
    "</AccessControlPolicy></S3PutObjectAcl>",
    "<S3PutObjectCopy><TargetResource>arn:aws:s3:::{bucket}</TargetResource>"
    "<TargetKeyPrefix>copy/</TargetKeyPrefix></S3PutObjectCopy>",
]


@pytest.mark.parametrize("xml", MISSING_KEY_CASES, ids=["tagging", "delete-tagging", "acl", "copy"])
async def test_a_missing_key_is_no_such_key_404(ctx: TaskContext, bucket: str, xml: str) -> None:
    error = await failure(ctx, xml.replace("{bucket}", bucket), ObjectRef(bucket, "no such key.txt"))
    assert (error.code, error.http_status) == ("NoSuchKey", 404)


async def test_a_missing_key_on_a_locked_bucket_is_no_such_key(ctx: TaskContext, locked_bucket: str) -> None:
    xml = f"<S3PutObjectRetention><Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>{FUTURE}</RetainUntilDate>"
    xml += "</Retention></S3PutObjectRetention>"
    error = await failure(ctx, xml, ObjectRef(locked_bucket, "missing"))
    assert (error.code, error.http_status) == ("NoSuchKey", 404)
