"""S3PutObjectAcl: the operation contract (parse round trip, refusals, the exact S3 calls), canned and explicit."""

from __future__ import annotations

from batchops.domain.task import ObjectRef
from batchops.operations.acl import PutObjectAcl
from batchops.s3.recording import Call
from tests.support.operation_contract import OperationContract, where

NAME = "S3PutObjectAcl"
POLICY = f"{NAME}.AccessControlPolicy"
OWNER = "0123456789abcdef"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def acl_xml(policy: str) -> str:
    return f"<{NAME}><AccessControlPolicy>{policy}</AccessControlPolicy></{NAME}>"


class TestCannedAclContract(OperationContract):
    operation = PutObjectAcl()
    xml = acl_xml("<CannedAccessControlList>bucket-owner-read</CannedAccessControlList>")
    refusals = [
        (f"<{NAME}/>", POLICY),
        (acl_xml(""), POLICY),
        (acl_xml("<CannedAccessControlList>everyone</CannedAccessControlList>"), f"{POLICY}.CannedAccessControlList"),
        (acl_xml("<AccessControlList><Grants/></AccessControlList>"), f"{POLICY}.AccessControlList.Owner"),
        (
            acl_xml(
                "<AccessControlList><Owner><ID>o</ID></Owner><Grants><member><Grantee><TypeIdentifier>uri"
                f"</TypeIdentifier><Identifier>{ALL_USERS}</Identifier></Grantee><Permission>ALL</Permission>"
                "</member></Grants></AccessControlList>"
            ),
            f"{POLICY}.AccessControlList.Grants.Permission",
        ),
    ]

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return [Call("put_object_acl", {**where(target), "ACL": "bucket-owner-read"})]

    def expected_message(self, target: ObjectRef) -> str:
        return "ACL set to bucket-owner-read"


class TestExplicitAclContract(TestCannedAclContract):
    xml = acl_xml(
        f"<AccessControlList><Owner><ID>{OWNER}</ID><DisplayName>me</DisplayName></Owner><Grants>"
        f"<member><Grantee><TypeIdentifier>id</TypeIdentifier><Identifier>{OWNER}</Identifier></Grantee>"
        "<Permission>FULL_CONTROL</Permission></member>"
        f"<member><Grantee><TypeIdentifier>uri</TypeIdentifier><Identifier>{ALL_USERS}</Identifier></Grantee>"
        "<Permission>READ</Permission></member></Grants></AccessControlList>"
    )

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        policy = {
            "Owner": {"ID": OWNER, "DisplayName": "me"},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": OWNER}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
            ],
        }
        return [Call("put_object_acl", {**where(target), "AccessControlPolicy": policy})]

    def expected_message(self, target: ObjectRef) -> str:
        return "ACL set (2 grants)"
