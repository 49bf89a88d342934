"""FastS3: the S3 client operations see (``TaskContext.s3``).

The calls the hot operations make in their common case (tagging, deletes, plain CopyObject, HEAD), and the
reports' PUTs of bytes in memory, go through the lean client (batchops.s3.lean): same keyword arguments, same
result dicts (the fields botocore gives), same ClientError on failure. A call with an argument the lean path does
not build goes to the aiobotocore client unchanged, as does every other attribute (paginators, multipart uploads,
``meta``…).
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import quote
from xml.etree.ElementTree import Element

from botocore.model import ServiceModel
from botocore.session import get_session
from botocore.utils import parse_timestamp

from batchops.s3.lean import Answer, LeanSession, key_path, leaf_fields, local, parse_xml
from batchops.s3.types import S3Client
from batchops.s3.xmlbody import xml_text

XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
#: The PutObject arguments the lean path sends, with their headers.
_PUT_HEADERS = {"ContentType": "content-type", "ContentMD5": "content-md5"}


class FastS3:
    """Lean requests for the hot calls; the aiobotocore ``client`` for everything else."""

    def __init__(self, client: S3Client, lean: LeanSession) -> None:
        self._client = client
        self._lean = lean

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    @property
    def lean(self) -> LeanSession:
        return self._lean

    # --- streamed parts -------------------------------------------------------------------

    async def upload_part(self, **kwargs: Any) -> dict[str, Any]:
        """A part whose Body carries its SHA-256 (``transfer.PartBody``, hashed as it was read) goes lean: sent
        in slices, signed with that hash; botocore would read the whole part again to hash it, 4 KiB at a time,
        on the event loop."""
        body = kwargs.get("Body", b"")
        sha256 = getattr(body, "sha256", None)
        if sha256 is None or not _plain(kwargs, "Bucket", "Key", "UploadId", "PartNumber", "Body"):
            return await self._client.upload_part(**kwargs)
        query = [("partNumber", str(kwargs["PartNumber"])), ("uploadId", kwargs["UploadId"])]
        answer = await self._lean.send("UploadPart", "PUT", _path(kwargs), query, body=body, payload_hash=sha256)
        return _result(answer, "UploadPart")

    async def put_object(self, **kwargs: Any) -> dict[str, Any]:
        """A body in memory with at most a content type and MD5 (the reports' PUTs) goes lean: botocore's PUT costs
        more CPU than its request, and a job's end waits on the event loop behind it (bench P8)."""
        body = kwargs.get("Body")
        extra = set(kwargs) - {"Bucket", "Key", "Body", "ContentType", "ContentMD5"}
        if extra or not isinstance(body, bytes) or not all(isinstance(kwargs.get(n, ""), str) for n in _PUT_HEADERS):
            return await self._client.put_object(**kwargs)
        headers = {header: kwargs[name] for name, header in _PUT_HEADERS.items() if name in kwargs}
        answer = await self._lean.send("PutObject", "PUT", _path(kwargs), headers=headers, body=body)
        return _result(answer, "PutObject")

    # --- tagging ----------------------------------------------------------------------------

    async def put_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        if not _plain(kwargs, "Bucket", "Key", "Tagging") or set(kwargs["Tagging"]) != {"TagSet"}:
            return await self._client.put_object_tagging(**kwargs)
        body = _xml("Tagging", "<TagSet>" + "".join(_tag(t) for t in kwargs["Tagging"]["TagSet"]) + "</TagSet>")
        answer = await self._lean.send(
            "PutObjectTagging", "PUT", _path(kwargs), _query("tagging", kwargs), body=body, content_md5=True
        )
        return _result(answer, "PutObjectTagging")

    async def get_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        if not _plain(kwargs, "Bucket", "Key"):
            return await self._client.get_object_tagging(**kwargs)
        answer = await self._lean.send("GetObjectTagging", "GET", _path(kwargs), _query("tagging", kwargs))
        root = parse_xml(answer.body)
        tags = [] if root is None else [leaf_fields(tag) for tag in root.iter() if local(tag.tag) == "Tag"]
        return {**_result(answer, "GetObjectTagging"), "TagSet": tags}

    async def delete_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        if not _plain(kwargs, "Bucket", "Key"):
            return await self._client.delete_object_tagging(**kwargs)
        answer = await self._lean.send("DeleteObjectTagging", "DELETE", _path(kwargs), _query("tagging", kwargs))
        return _result(answer, "DeleteObjectTagging")

    # --- deletes ----------------------------------------------------------------------------

    async def delete_object(self, **kwargs: Any) -> dict[str, Any]:
        if not _plain(kwargs, "Bucket", "Key"):
            return await self._client.delete_object(**kwargs)
        answer = await self._lean.send("DeleteObject", "DELETE", _path(kwargs), _query(None, kwargs))
        return _result(answer, "DeleteObject")

    async def delete_objects(self, **kwargs: Any) -> dict[str, Any]:
        delete = kwargs.get("Delete", {})
        if not _plain(kwargs, "Bucket", "Delete") or "VersionId" in kwargs or not set(delete) <= {"Objects", "Quiet"}:
            return await self._client.delete_objects(**kwargs)
        objects = "".join(_object(o) for o in delete["Objects"])
        quiet = f"<Quiet>{'true' if delete.get('Quiet') else 'false'}</Quiet>" if "Quiet" in delete else ""
        body = _xml("Delete", objects + quiet)
        path = key_path(kwargs["Bucket"])
        answer = await self._lean.send("DeleteObjects", "POST", path, [("delete", "")], body=body, content_md5=True)
        root = parse_xml(answer.body)
        result = _result(answer, "DeleteObjects")
        entries = [] if root is None else list(root)
        deleted = [_deleted(e) for e in entries if local(e.tag) == "Deleted"]
        errors = [leaf_fields(e) for e in entries if local(e.tag) == "Error"]
        return {**result, **({"Deleted": deleted} if deleted else {}), **({"Errors": errors} if errors else {})}

    # --- copies and HEAD --------------------------------------------------------------------

    async def copy_object(self, **kwargs: Any) -> dict[str, Any]:
        headers = _copy_headers(kwargs)
        if headers is None:
            return await self._client.copy_object(**kwargs)
        answer = await self._lean.send("CopyObject", "PUT", _path(kwargs), headers=headers)
        root = parse_xml(answer.body)
        copied = {} if root is None else leaf_fields(root)
        if "LastModified" in copied:
            copied["LastModified"] = parse_timestamp(copied["LastModified"])
        return {**_result(answer, "CopyObject"), "CopyObjectResult": copied}

    async def head_object(self, **kwargs: Any) -> dict[str, Any]:
        if not _plain(kwargs, "Bucket", "Key"):
            return await self._client.head_object(**kwargs)
        answer = await self._lean.send("HeadObject", "HEAD", _path(kwargs), _query(None, kwargs))
        return _result(answer, "HeadObject")


# --- requests --------------------------------------------------------------------------------


def _plain(kwargs: dict[str, Any], *required: str) -> bool:
    """The call has exactly ``required`` (and maybe a VersionId), all strings: nothing the lean path cannot build."""
    given = set(kwargs) - {"VersionId"}
    return given == set(required) and isinstance(kwargs.get("VersionId", ""), str)


def _path(kwargs: dict[str, Any]) -> str:
    return key_path(kwargs["Bucket"], kwargs["Key"])


def _query(subresource: str | None, kwargs: dict[str, Any]) -> list[tuple[str, str]]:
    query = [(subresource, "")] if subresource else []
    if kwargs.get("VersionId"):
        query.append(("versionId", kwargs["VersionId"]))
    return query


def _xml(root: str, inner: str) -> bytes:
    return f'<{root} xmlns="{XMLNS}">{inner}</{root}>'.encode()


def _tag(tag: dict[str, str]) -> str:
    return f"<Tag><Key>{xml_text(tag['Key'])}</Key><Value>{xml_text(tag['Value'])}</Value></Tag>"


def _object(entry: dict[str, Any]) -> str:
    version = f"<VersionId>{xml_text(entry['VersionId'])}</VersionId>" if entry.get("VersionId") else ""
    return f"<Object><Key>{xml_text(entry['Key'])}</Key>{version}</Object>"


def _copy_headers(kwargs: dict[str, Any]) -> dict[str, str] | None:
    """CopyObject's request headers, or None when an argument needs botocore (timestamps, booleans…)."""
    source = kwargs.get("CopySource")
    if not isinstance(source, dict) or not set(source) <= {"Bucket", "Key", "VersionId"}:
        return None
    names = copy_header_names()
    headers = {"x-amz-copy-source": copy_source_header(source)}
    for name, value in kwargs.items():
        if name in ("Bucket", "Key", "CopySource"):
            continue
        if name == "Metadata" and isinstance(value, dict) and all(_ascii(k) and _ascii(v) for k, v in value.items()):
            headers.update({f"x-amz-meta-{k.lower()}": v for k, v in value.items()})
        elif name in names and isinstance(value, str) and _ascii(value):
            headers[names[name]] = value
        else:
            return None
    return headers


def copy_source_header(source: dict[str, str]) -> str:
    """``x-amz-copy-source`` as botocore writes it from a dict."""
    value = quote_source(f"{source['Bucket']}/{source['Key']}")
    return f"{value}?versionId={source['VersionId']}" if source.get("VersionId") else value


def quote_source(text: str) -> str:
    return quote(text, safe="-._~/")


@cache
def s3_model() -> ServiceModel:
    """botocore's S3 service model, loaded once per process."""
    return get_session().get_service_model("s3")


@cache
def copy_header_names() -> dict[str, str]:
    """CopyObject's string arguments sent as headers → their (lower-case) header names, from botocore's model."""
    shape = s3_model().operation_model("CopyObject").input_shape
    return {
        name: member.serialization["name"].lower()
        for name, member in shape.members.items()
        if member.serialization.get("location") == "header" and member.type_name == "string"
    }


def _ascii(text: str) -> bool:
    return isinstance(text, str) and text.isascii()


# --- answers ---------------------------------------------------------------------------------


def _result(answer: Answer, operation: str) -> dict[str, Any]:
    """The operation's header fields (from botocore's model) and ResponseMetadata."""
    result: dict[str, Any] = {"ResponseMetadata": answer.metadata()}
    metadata: dict[str, str] = {}
    fields = output_headers(operation)
    for header, value in answer.headers.items():
        if header.startswith("x-amz-meta-"):
            metadata[header[len("x-amz-meta-") :]] = value
        elif header in fields:
            name, kind = fields[header]
            result[name] = _typed(kind, value)
    if "Metadata" in output_names(operation):
        result["Metadata"] = metadata
    return result


def _typed(kind: str, value: str) -> Any:
    if kind == "boolean":
        return value.lower() == "true"
    if kind in ("integer", "long"):
        return int(value)
    if kind == "timestamp":
        return parse_timestamp(value)
    return value


@cache
def output_headers(operation: str) -> dict[str, tuple[str, str]]:
    """header (lower-case) → (result field, type) of an S3 operation's answer, from botocore's model."""
    shape = s3_model().operation_model(operation).output_shape
    if shape is None:
        return {}
    return {
        member.serialization["name"].lower(): (name, member.type_name)
        for name, member in shape.members.items()
        if member.serialization.get("location") == "header"
    }


@cache
def output_names(operation: str) -> frozenset[str]:
    shape = s3_model().operation_model(operation).output_shape
    return frozenset(shape.members) if shape is not None else frozenset()


def _deleted(element: Element) -> dict[str, Any]:
    fields: dict[str, Any] = leaf_fields(element)
    if "DeleteMarker" in fields:
        fields["DeleteMarker"] = fields["DeleteMarker"].lower() == "true"
    return fields
