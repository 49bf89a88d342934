"""COSPutObjectCopy: COS's batch copy, translated onto S3 CopyObject (sent by ``copy.copy_one``).

Directives (``Copy`` | ``Replaced`` | ``Add``) for metadata, tags and the ACL:

* ``Copy`` keeps the source's (metadata and tags are copied by CopyObject itself; the ACL, which
  CopyObject never copies, is read from the source and put on the copy);
* ``Replaced`` uses only the job's new values;
* ``Add`` merges: the source's values are read (head_object / get_object_tagging / get_object_acl)
  and the job's new values are laid over them (same key → the new value).

Key rewrite: with ``PrefixReplace`` true, a key starting with ``ResourcesPrefix`` has that prefix
replaced by ``TargetKeyPrefix`` (``picture.jpg`` with ``pic`` → ``abc`` is ``abcture.jpg``); a key
that does not start with it is copied under its own name. Without ``PrefixReplace``,
``TargetKeyPrefix`` is put in front of every key, as on S3.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError, ValidationError
from batchops.operations.base import Operation, Params, TaskContext, version_kwargs
from batchops.operations.copy import METADATA_HEADERS, copy_one, new_metadata, target_bucket
from batchops.operations.cos_tagging import current_tags
from batchops.operations.dryrun import check_copy
from batchops.operations.fields import (
    Tag,
    choice,
    object_tags,
    parse_timestamp,
    tags_from_s3,
    tags_to_s3,
    without_none,
)
from batchops.operations.merge_tagging import merge_tags
from batchops.operations.transfer import source_metadata, tag_query
from batchops.wire_numbers import is_digits
from batchops.xmlutil import boolean, check_children, members, req_text, text

DIRECTIVES = ("Copy", "Replaced", "Add")
STORAGE_CLASSES = ("STANDARD", "STANDARD_IA")
CANNED_ACLS = ("private", "public-read")
PERMISSIONS = ("READ", "WRITE", "FULL_CONTROL")
COPY_ELEMENTS = (
    "TargetResource",
    "StorageClass",
    "CannedAccessControlList",
    "AccessControlDirective",
    "AccessControlGrants",
    "MetadataDirective",
    "NewObjectMetadata",
    "TaggingDirective",
    "NewObjectTagging",
    "ModifiedSinceConstraint",
    "UnModifiedSinceConstraint",
    "PrefixReplace",
    "ResourcesPrefix",
    "TargetKeyPrefix",
)
METADATA_ELEMENTS = (*METADATA_HEADERS, "HttpExpiresDate", "SSEAlgorithm", "UserMetadata")
MAX_PREFIX_BYTES = 1024
COS_TARGET_EXAMPLE = "qcs::cos:ap-chengdu:uid/1250000000:destinationbucket-1250000000"


@dataclass(frozen=True)
class KeyRewrite:
    """Where a copy's key comes from: ``ResourcesPrefix`` replaced by ``TargetKeyPrefix``, or that prefix added."""

    prefix_replace: bool
    resources_prefix: str
    target_key_prefix: str


@dataclass(frozen=True)
class COSCopyParams(Params):
    """Stored flat, under COS's element names (``to_json``), as jobs have always been."""

    target_bucket: str
    rewrite: KeyRewrite
    metadata_directive: str  # Copy, Replaced or Add, as are the other two directives
    new_object_metadata: Mapping[str, Any]  # CopyObject's metadata arguments
    server_side_encryption: str | None
    tagging_directive: str
    new_object_tagging: tuple[Tag, ...]
    access_control_directive: str | None  # None: leave the ACL as CopyObject makes it
    access_control_grants: tuple[Mapping[str, Any], ...]  # S3 grants
    canned_acl: str | None
    copy_arguments: Mapping[str, Any]  # StorageClass and the source preconditions (ISO strings)

    def to_json(self) -> dict[str, Any]:
        return {
            "TargetBucket": self.target_bucket,
            "PrefixReplace": self.rewrite.prefix_replace,
            "ResourcesPrefix": self.rewrite.resources_prefix,
            "TargetKeyPrefix": self.rewrite.target_key_prefix,
            "MetadataDirective": self.metadata_directive,
            "NewObjectMetadata": dict(self.new_object_metadata),
            "ServerSideEncryption": self.server_side_encryption,
            "TaggingDirective": self.tagging_directive,
            "NewObjectTagging": tags_to_s3(self.new_object_tagging),
            "AccessControlDirective": self.access_control_directive,
            "AccessControlGrants": [dict(grant) for grant in self.access_control_grants],
            "CannedAccessControlList": self.canned_acl,
            "CopyArguments": dict(self.copy_arguments),
        }

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> COSCopyParams:
        return cls(
            target_bucket=stored["TargetBucket"],
            rewrite=KeyRewrite(stored["PrefixReplace"], stored["ResourcesPrefix"], stored["TargetKeyPrefix"]),
            metadata_directive=stored["MetadataDirective"],
            new_object_metadata=stored["NewObjectMetadata"],
            server_side_encryption=stored["ServerSideEncryption"],
            tagging_directive=stored["TaggingDirective"],
            new_object_tagging=tags_from_s3(stored["NewObjectTagging"]),
            access_control_directive=stored["AccessControlDirective"],
            access_control_grants=tuple(stored["AccessControlGrants"]),
            canned_acl=stored["CannedAccessControlList"],
            copy_arguments=stored["CopyArguments"],
        )


class COSPutObjectCopy(Operation[COSCopyParams]):
    name = "COSPutObjectCopy"
    params_type = COSCopyParams

    def parse(self, element: Element) -> COSCopyParams:
        check_children(element, COPY_ELEMENTS, self.name)
        # The parsers below each give their part of the stored JSON; one place (from_json) reads it.
        return COSCopyParams.from_json({
            "TargetBucket": target_bucket(element, self.name, COS_TARGET_EXAMPLE),
            **_key_rewrite(element, self.name),
            **_metadata(element, self.name),
            **_tagging(element, self.name),
            **_acl(element, self.name),
            "CopyArguments": without_none(
                {
                    "StorageClass": choice(element, "StorageClass", STORAGE_CLASSES, self.name),
                    "CopySourceIfModifiedSince": _time(element, "ModifiedSinceConstraint", self.name),
                    "CopySourceIfUnmodifiedSince": _time(element, "UnModifiedSinceConstraint", self.name),
                }
            ),
        })

    async def run(self, ctx: TaskContext, params: COSCopyParams, target: ObjectRef) -> str:
        key = rewrite_key(params.rewrite, target.key)
        arguments = {**params.copy_arguments, **await _metadata_arguments(ctx, params, target)}
        arguments.update(await _tagging_arguments(ctx, params, target))
        if params.canned_acl:
            arguments["ACL"] = params.canned_acl
        message = await copy_one(ctx, target, params.target_bucket, key, arguments)
        grants = await _acl_grants(ctx, params, target)
        if grants is not None:
            await _put_grants(ctx, params.target_bucket, key, grants)
        return f"{message} to {key}" if key != target.key else message

    async def check(self, ctx: TaskContext, params: COSCopyParams, target: ObjectRef) -> str:
        key = rewrite_key(params.rewrite, target.key)
        return await check_copy(ctx, target, params.target_bucket, key, dict(params.copy_arguments))


# --- parsing ----------------------------------------------------------------------------------


def _key_rewrite(element: Element, where: str) -> dict[str, Any]:
    replace = bool(boolean(element, "PrefixReplace", default=False, where=where))
    source_prefix = _prefix(element, "ResourcesPrefix", where)
    if source_prefix and not replace:
        raise ValidationError(
            f"{where}.ResourcesPrefix is only used with PrefixReplace true; set PrefixReplace or drop it",
            field=f"{where}.ResourcesPrefix",
        )
    target_prefix = _prefix(element, "TargetKeyPrefix", where)
    return {"PrefixReplace": replace, "ResourcesPrefix": source_prefix, "TargetKeyPrefix": target_prefix}


def _prefix(element: Element, path: str, where: str) -> str:
    value = (element.findtext(path) or "").strip()
    if len(value.encode()) > MAX_PREFIX_BYTES:
        raise ValidationError(f"{where}.{path} must be at most {MAX_PREFIX_BYTES} bytes", field=f"{where}.{path}")
    return value


def _directive(element: Element, path: str, where: str) -> str | None:
    return choice(element, path, DIRECTIVES, where)


def _metadata(element: Element, where: str) -> dict[str, Any]:
    directive = _directive(element, "MetadataDirective", where) or "Copy"
    metadata_element = element.find("NewObjectMetadata")
    metadata: dict[str, Any] = {}
    if metadata_element is not None:
        check_children(metadata_element, METADATA_ELEMENTS, f"{where}.NewObjectMetadata")
        choice(metadata_element, "SSEAlgorithm", ("AES256",), f"{where}.NewObjectMetadata")
        metadata = new_metadata(metadata_element, f"{where}.NewObjectMetadata")
    encryption = metadata.pop("ServerSideEncryption", None)
    if metadata and directive == "Copy":
        raise ValidationError(
            f"{where}.NewObjectMetadata sets metadata but MetadataDirective is Copy, which keeps the source's; "
            "use Replaced or Add, or drop NewObjectMetadata",
            field=f"{where}.MetadataDirective",
        )
    return {"MetadataDirective": directive, "NewObjectMetadata": metadata, "ServerSideEncryption": encryption}


def _tagging(element: Element, where: str) -> dict[str, Any]:
    directive = _directive(element, "TaggingDirective", where) or "Copy"
    given = element.find("NewObjectTagging") is not None
    if directive in ("Replaced", "Add") and not given:
        raise ValidationError(
            f"{where}.NewObjectTagging is required when TaggingDirective is {directive}",
            field=f"{where}.NewObjectTagging",
        )
    if directive == "Copy" and given:
        raise ValidationError(
            f"{where}.NewObjectTagging needs TaggingDirective Replaced or Add (Copy keeps the source's tags)",
            field=f"{where}.TaggingDirective",
        )
    tags = object_tags(element, "NewObjectTagging", where) if given else []
    return {"TaggingDirective": directive, "NewObjectTagging": tags}


def _acl(element: Element, where: str) -> dict[str, Any]:
    directive = _directive(element, "AccessControlDirective", where)
    grants = [_grant(el, f"{where}.AccessControlGrants") for el in members(element, "AccessControlGrants")]
    if grants and directive not in ("Replaced", "Add"):
        raise ValidationError(
            f"{where}.AccessControlGrants needs AccessControlDirective Replaced or Add",
            field=f"{where}.AccessControlDirective",
        )
    return {
        "AccessControlDirective": directive,
        "AccessControlGrants": grants,
        "CannedAccessControlList": choice(element, "CannedAccessControlList", CANNED_ACLS, where),
    }


def _grant(element: Element, where: str) -> dict[str, Any]:
    """``COSGrant{Grantee{DisplayName?, Identifier, TypeIdentifier=ID}, Permission}`` → an S3 grant."""
    check_children(element, ("Grantee", "Permission"), where)
    grantee = element.find("Grantee")
    if grantee is None:
        raise ValidationError(f"every COSGrant in {where} needs a Grantee", field=where)
    check_children(grantee, ("DisplayName", "Identifier", "TypeIdentifier"), f"{where}.Grantee")
    choice(grantee, "TypeIdentifier", ("ID",), f"{where}.Grantee", required=True)
    return {
        "Grantee": {"Type": "CanonicalUser", "ID": req_text(grantee, "Identifier", f"{where}.Grantee")},
        "Permission": choice(element, "Permission", PERMISSIONS, where, required=True),
    }


def _time(element: Element, path: str, where: str) -> str | None:
    """An ISO-8601 timestamp, or epoch seconds (the COS Go SDK sends an integer)."""
    value = text(element, path)
    if not value:
        return None
    if is_digits(value):  # not str.isdigit, which also takes '²' and '٣'
        try:
            return datetime.fromtimestamp(int(value), UTC).isoformat().replace("+00:00", "Z")
        except (OverflowError, ValueError, OSError):
            raise ValidationError(f"{where}.{path} {value!r} is not a usable time", field=f"{where}.{path}") from None
    return parse_timestamp(value, f"{where}.{path}")


# --- running ----------------------------------------------------------------------------------


def rewrite_key(rewrite: KeyRewrite, key: str) -> str:
    prefix = rewrite.target_key_prefix
    if not rewrite.prefix_replace:
        return prefix + key
    source = rewrite.resources_prefix
    if not key.startswith(source):
        return key
    new_key = prefix + key[len(source) :]
    if not new_key:
        raise TaskError(
            "InvalidKey", 400, f"replacing prefix {source!r} with {prefix!r} leaves key {key!r} empty; no copy made"
        )
    return new_key


async def _metadata_arguments(ctx: TaskContext, params: COSCopyParams, target: ObjectRef) -> dict[str, Any]:
    directive, metadata = params.metadata_directive, dict(params.new_object_metadata)
    encryption = {"ServerSideEncryption": params.server_side_encryption} if params.server_side_encryption else {}
    if directive == "Copy":
        return encryption
    if directive == "Add":
        source = await ctx.s3.head_object(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
        metadata = _merged_metadata(source, metadata)
    return {**metadata, **encryption, "MetadataDirective": "REPLACE"}


def _merged_metadata(source: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    user = {**source.get("Metadata", {}), **new.get("Metadata", {})}
    return {**source_metadata(source), **new, "Metadata": user}


async def _tagging_arguments(ctx: TaskContext, params: COSCopyParams, target: ObjectRef) -> dict[str, str]:
    directive, tags = params.tagging_directive, tags_to_s3(params.new_object_tagging)
    if directive == "Copy":
        return {}
    if directive == "Add":
        tags = merge_tags(await current_tags(ctx, target), tags)
    return {"TaggingDirective": "REPLACE", "Tagging": tag_query(tags)}


async def _acl_grants(ctx: TaskContext, params: COSCopyParams, target: ObjectRef) -> list[dict[str, Any]] | None:
    """The grants to put on the copy, or None to leave its ACL as CopyObject made it."""
    directive, new = params.access_control_directive, [dict(grant) for grant in params.access_control_grants]
    if directive is None or (directive == "Replaced" and not new):
        return None
    if directive == "Replaced":
        return new
    source = await ctx.s3.get_object_acl(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
    grants = list(source.get("Grants", []))
    return grants + [grant for grant in new if grant not in grants] if directive == "Add" else grants


async def _put_grants(ctx: TaskContext, bucket: str, key: str, grants: list[dict[str, Any]]) -> None:
    owner = (await ctx.s3.get_object_acl(Bucket=bucket, Key=key))["Owner"]
    owner_control = {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}
    if not any(g.get("Grantee", {}).get("ID") == owner["ID"] and g["Permission"] == "FULL_CONTROL" for g in grants):
        grants = [owner_control, *grants]
    await ctx.s3.put_object_acl(Bucket=bucket, Key=key, AccessControlPolicy={"Owner": owner, "Grants": grants})
