"""S3PutObjectAcl: give objects a canned ACL or an explicit owner-and-grants list."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import ValidationError
from batchops.operations.base import Operation, Params, TaskContext, version_kwargs
from batchops.operations.fields import choice, without_none
from batchops.xmlutil import check_children, members, req_text, text

CANNED_ACLS = (
    "private",
    "public-read",
    "public-read-write",
    "aws-exec-read",
    "authenticated-read",
    "bucket-owner-read",
    "bucket-owner-full-control",
)
PERMISSIONS = ("FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP")
#: S3 Control's TypeIdentifier → the S3 Grantee Type and the field its Identifier goes into.
GRANTEE_TYPES = {
    "id": ("CanonicalUser", "ID"),
    "emailAddress": ("AmazonCustomerByEmail", "EmailAddress"),
    "uri": ("Group", "URI"),
}


@dataclass(frozen=True)
class AclParams(Params):
    """A canned ACL, or an explicit access control policy (exactly one of the two)."""

    canned: str | None = None
    #: ``{"Owner": {...}, "Grants": [...]}`` in the shape ``put_object_acl`` takes.
    policy: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        if self.canned is not None:
            return {"ACL": self.canned}
        return {"AccessControlPolicy": dict(self.policy or {})}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> AclParams:
        return cls(stored.get("ACL"), stored.get("AccessControlPolicy"))

    def arguments(self) -> dict[str, Any]:
        """``ACL`` or ``AccessControlPolicy`` for ``put_object_acl``."""
        return self.to_json()


class PutObjectAcl(Operation[AclParams]):
    name = "S3PutObjectAcl"
    params_type = AclParams

    def parse(self, element: Element) -> AclParams:
        check_children(element, ("AccessControlPolicy",), self.name)
        where = f"{self.name}.AccessControlPolicy"
        policy = element.find("AccessControlPolicy")
        if policy is None:
            raise ValidationError(
                f"{where} is required: give CannedAccessControlList or AccessControlList", field=where
            )
        check_children(policy, ("AccessControlList", "CannedAccessControlList"), where)
        acl_list = policy.find("AccessControlList")
        canned = choice(policy, "CannedAccessControlList", CANNED_ACLS, where)
        if canned is not None and acl_list is None:
            return AclParams(canned=canned)
        if acl_list is not None and canned is None:
            return AclParams(policy=access_control_list(acl_list, f"{where}.AccessControlList"))
        raise ValidationError(f"{where} needs exactly one of CannedAccessControlList or AccessControlList", field=where)

    async def run(self, ctx: TaskContext, params: AclParams, target: ObjectRef) -> str:
        await ctx.s3.put_object_acl(
            Bucket=target.bucket, Key=target.key, **params.arguments(), **version_kwargs(target)
        )
        if params.policy is None:
            return f"ACL set to {params.canned}"
        return f"ACL set ({len(params.policy['Grants'])} grants)"


def access_control_list(acl_list: Element, where: str) -> dict[str, Any]:
    """``AccessControlList{Owner, Grants}`` in the shape ``put_object_acl`` takes."""
    check_children(acl_list, ("Owner", "Grants"), where)
    owner = acl_list.find("Owner")
    if owner is None:
        raise ValidationError(f"{where}.Owner is required: give the object owner's canonical ID", field=where)
    check_children(owner, ("ID", "DisplayName"), f"{where}.Owner")
    grants = [grant(el, f"{where}.Grants") for el in members(acl_list, "Grants")]
    owner_fields = {
        "ID": req_text(owner, "ID", f"{where}.Owner"),
        "DisplayName": text(owner, "DisplayName") or None,
    }
    return {"Owner": without_none(owner_fields), "Grants": grants}


def grant(element: Element, where: str) -> dict[str, Any]:
    check_children(element, ("Grantee", "Permission"), where)
    grantee = element.find("Grantee")
    if grantee is None:
        raise ValidationError(f"every grant in {where} needs a Grantee", field=where)
    permission = choice(element, "Permission", PERMISSIONS, where, required=True)
    return {"Grantee": grantee_of(grantee, f"{where}.Grantee"), "Permission": permission}


def grantee_of(grantee: Element, where: str) -> dict[str, str]:
    check_children(grantee, ("TypeIdentifier", "Identifier", "DisplayName"), where)
    type_identifier = choice(grantee, "TypeIdentifier", GRANTEE_TYPES, where, required=True)
    assert type_identifier is not None
    grantee_type, id_field = GRANTEE_TYPES[type_identifier]
    identifier = req_text(grantee, "Identifier", where)
    return without_none(
        {"Type": grantee_type, id_field: identifier, "DisplayName": text(grantee, "DisplayName") or None}
    )
