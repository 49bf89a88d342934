"""S3PutObjectAcl against a real SeaweedFS: run one task, check the grants with boto3."""

from __future__ import annotations

from typing import Any

import pytest

from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from tests.support.operations import (
    ALL_USERS,
    run,
)

pytestmark = pytest.mark.integration


# --- S3PutObjectAcl -------------------------------------------------------------------------------


def acl_xml(policy: str) -> str:
    return f"<S3PutObjectAcl><AccessControlPolicy>{policy}</AccessControlPolicy></S3PutObjectAcl>"


@pytest.mark.parametrize("key", ["plain.txt", "ünïcødé/файл.txt"])
async def test_put_acl_applies_a_canned_acl(ctx: TaskContext, s3: Any, bucket: str, key: str) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    xml = acl_xml("<CannedAccessControlList>public-read</CannedAccessControlList>")
    assert await run(ctx, xml, ObjectRef(bucket, key)) == "ACL set to public-read"
    grants = s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants


async def test_put_acl_applies_an_explicit_list(ctx: TaskContext, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    owner = s3.get_object_acl(Bucket=bucket, Key="k")["Owner"]["ID"]
    xml = acl_xml(
        f"<AccessControlList><Owner><ID>{owner}</ID></Owner><Grants>"
        f"<member><Grantee><TypeIdentifier>id</TypeIdentifier><Identifier>{owner}</Identifier></Grantee>"
        "<Permission>FULL_CONTROL</Permission></member>"
        f"<member><Grantee><TypeIdentifier>uri</TypeIdentifier><Identifier>{ALL_USERS}</Identifier></Grantee>"
        "<Permission>READ_ACP</Permission></member></Grants></AccessControlList>"
    )
    assert await run(ctx, xml, ObjectRef(bucket, "k")) == "ACL set (2 grants)"
    grants = s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ_ACP"} in grants
    assert [grant["Grantee"].get("ID") for grant in grants if grant["Permission"] == "FULL_CONTROL"] == [owner]
