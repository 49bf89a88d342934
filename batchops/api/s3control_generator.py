"""``ManifestGenerator`` (``S3JobManifestGenerator``) in the S3 Control XML dialect: CreateJob parsing and
its DescribeJob rendering, with ``GeneratedManifestDescriptor``. Used by ``s3control_xml`` only.

Our extension: ``<BatchOpsIncludeAllVersions>true</BatchOpsIncludeAllVersions>`` inside
``S3JobManifestGenerator`` lists every object version (ListObjectVersions) instead of the current ones.
Filters that need a request per object (replication and encryption state) are refused, not ignored.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from batchops import xmlutil
from batchops.arns import parse_bucket_arn
from batchops.domain.job import GeneratedManifest, GeneratorFilter, GeneratorSpec, ManifestOutputSpec
from batchops.errors import ValidationError
from batchops.manifests.output import GENERATED_FORMAT
from batchops.operations.copy import STORAGE_CLASSES
from batchops.operations.fields import parse_timestamp

ALL_VERSIONS_ELEMENT = "BatchOpsIncludeAllVersions"
_WHERE = "ManifestGenerator.S3JobManifestGenerator"
_GENERATOR_ELEMENTS = frozenset(
    {
        "ExpectedBucketOwner",
        "SourceBucket",
        "ManifestOutputLocation",
        "Filter",
        "EnableManifestOutput",
        ALL_VERSIONS_ELEMENT,
    }
)
_OUTPUT_ELEMENTS = frozenset(
    {"ExpectedManifestBucketOwner", "Bucket", "ManifestPrefix", "ManifestEncryption", "ManifestFormat"}
)
_FILTER_ELEMENTS = frozenset(
    {
        "CreatedAfter",
        "CreatedBefore",
        "KeyNameConstraint",
        "ObjectSizeGreaterThanBytes",
        "ObjectSizeLessThanBytes",
        "MatchAnyStorageClass",
    }
)
_FILTER_UNSUPPORTED = ("EligibleForReplication", "ObjectReplicationStatuses", "MatchAnyObjectEncryption")
_KEY_CONSTRAINTS = ("MatchAnyPrefix", "MatchAnySuffix", "MatchAnySubstring")
_MAX_LONG = 2**63 - 1


# --- requests --------------------------------------------------------------------------------


def parse_generator(root: Element) -> GeneratorSpec | None:
    """``CreateJobRequest/ManifestGenerator`` → GeneratorSpec, or None when the request has none."""
    wrapper = root.find("ManifestGenerator")
    if wrapper is None:
        return None
    xmlutil.check_children(wrapper, {"S3JobManifestGenerator"}, "ManifestGenerator")
    element = wrapper.find("S3JobManifestGenerator")
    if element is None:
        raise ValidationError("ManifestGenerator needs an <S3JobManifestGenerator> element", field="ManifestGenerator")
    xmlutil.check_children(element, _GENERATOR_ELEMENTS, _WHERE)
    enabled = xmlutil.boolean(element, "EnableManifestOutput", where=_WHERE)
    if enabled is None:
        raise ValidationError(
            f"{_WHERE}.EnableManifestOutput is required: true to save the generated manifest, false not to",
            field=f"{_WHERE}.EnableManifestOutput",
        )
    output = _parse_output(element)
    if enabled and output is None:
        raise ValidationError(
            f"{_WHERE}.ManifestOutputLocation is required when EnableManifestOutput is true "
            "(it names the bucket the manifest is saved to)",
            field=f"{_WHERE}.ManifestOutputLocation",
        )
    return GeneratorSpec(
        source_bucket=_bucket_arn(element, "SourceBucket", _WHERE, required=True) or "",
        enable_manifest_output=enabled,
        expected_bucket_owner=_account(element, "ExpectedBucketOwner", _WHERE),
        output=output,
        filter=_parse_filter(element),
        include_all_versions=bool(xmlutil.boolean(element, ALL_VERSIONS_ELEMENT, default=False, where=_WHERE)),
    )


def _parse_output(generator: Element) -> ManifestOutputSpec | None:
    element = generator.find("ManifestOutputLocation")
    if element is None:
        return None
    where = f"{_WHERE}.ManifestOutputLocation"
    xmlutil.check_children(element, _OUTPUT_ELEMENTS, where)
    encryption, kms_key_id = _parse_encryption(element, where)
    manifest_format = xmlutil.req_text(element, "ManifestFormat", where=where)
    xmlutil.one_of(manifest_format, (GENERATED_FORMAT,), f"{where}.ManifestFormat")
    return ManifestOutputSpec(
        bucket=_bucket_arn(element, "Bucket", where, required=True) or "",
        format=manifest_format,
        prefix=xmlutil.check_length(xmlutil.text(element, "ManifestPrefix"), f"{where}.ManifestPrefix", 1, 512),
        expected_bucket_owner=_account(element, "ExpectedManifestBucketOwner", where),
        encryption=encryption,
        kms_key_id=kms_key_id,
    )


def _parse_encryption(output: Element, where: str) -> tuple[str | None, str | None]:
    element = output.find("ManifestEncryption")
    if element is None:
        return None, None
    where = f"{where}.ManifestEncryption"
    xmlutil.check_children(element, {"SSE-S3", "SSE-KMS"}, where)
    children = list(element)
    if len(children) != 1:
        raise ValidationError(f"{where} must contain exactly one of SSE-S3, SSE-KMS", field=where)
    if children[0].tag == "SSE-S3":
        xmlutil.check_children(children[0], (), f"{where}.SSE-S3")
        return "SSE-S3", None
    xmlutil.check_children(children[0], {"KeyId"}, f"{where}.SSE-KMS")
    return "SSE-KMS", xmlutil.req_text(children[0], "KeyId", where=f"{where}.SSE-KMS")


def _parse_filter(generator: Element) -> GeneratorFilter:
    element = generator.find("Filter")
    if element is None:
        return GeneratorFilter()
    where = f"{_WHERE}.Filter"
    xmlutil.check_children(element, _FILTER_ELEMENTS, where, unsupported=_FILTER_UNSUPPORTED)
    constraint = element.find("KeyNameConstraint")
    if constraint is not None:
        xmlutil.check_children(constraint, _KEY_CONSTRAINTS, f"{where}.KeyNameConstraint")
    strings = {name: _strings(constraint, name, f"{where}.KeyNameConstraint") for name in _KEY_CONSTRAINTS}
    return GeneratorFilter(
        created_after=_timestamp(element, "CreatedAfter", where),
        created_before=_timestamp(element, "CreatedBefore", where),
        match_any_prefix=strings["MatchAnyPrefix"],
        match_any_suffix=strings["MatchAnySuffix"],
        match_any_substring=strings["MatchAnySubstring"],
        size_greater_than=xmlutil.integer(element, "ObjectSizeGreaterThanBytes", lo=0, hi=_MAX_LONG, where=where),
        size_less_than=xmlutil.integer(element, "ObjectSizeLessThanBytes", lo=0, hi=_MAX_LONG, where=where),
        storage_classes=_storage_classes(element, where),
    )


def _strings(parent: Element | None, path: str, where: str) -> tuple[str, ...]:
    if parent is None:
        return ()
    values = tuple(xmlutil.member_texts(parent, path, f"{where}.{path}"))
    for value in values:
        xmlutil.check_length(value, f"{where}.{path} member", 1, 1024)
    if parent.find(path) is not None and not values:
        raise ValidationError(f"{where}.{path} is empty; give at least one string or leave it out", field=path)
    return values


def _storage_classes(element: Element, where: str) -> tuple[str, ...]:
    texts = xmlutil.member_texts(element, "MatchAnyStorageClass", f"{where}.MatchAnyStorageClass")
    classes = tuple(value.strip() for value in texts)
    for value in classes:
        xmlutil.one_of(value, STORAGE_CLASSES, f"{where}.MatchAnyStorageClass member")
    return classes


def _timestamp(element: Element, path: str, where: str) -> str | None:
    value = xmlutil.text(element, path)
    return None if value is None else parse_timestamp(value, f"{where}.{path}")


def _bucket_arn(element: Element, path: str, where: str, *, required: bool) -> str | None:
    value = xmlutil.text(element, path, required=required, where=where)
    if value is None:
        return None
    xmlutil.check_length(value, f"{where}.{path}", 1, 128)
    parse_bucket_arn(value, f"{where}.{path}")
    return value


def _account(element: Element, path: str, where: str) -> str | None:
    value = xmlutil.text(element, path)
    if value is not None and not (len(value) == 12 and value.isascii() and value.isdigit()):
        raise ValidationError(f"{where}.{path} must be a 12-digit account id, not {value!r}", field=path)
    return value


# --- responses -------------------------------------------------------------------------------


def add_generator(parent: Element, generator: GeneratorSpec) -> None:
    element = xmlutil.add(xmlutil.add(parent, "ManifestGenerator"), "S3JobManifestGenerator")
    _optional(element, "ExpectedBucketOwner", generator.expected_bucket_owner)
    xmlutil.add(element, "SourceBucket", generator.source_bucket)
    if generator.output is not None:
        _add_output(element, generator.output)
    _add_filter(element, generator.filter)
    xmlutil.add(element, "EnableManifestOutput", generator.enable_manifest_output)
    if generator.include_all_versions:
        xmlutil.add(element, ALL_VERSIONS_ELEMENT, True)


def _add_output(parent: Element, output: ManifestOutputSpec) -> None:
    element = xmlutil.add(parent, "ManifestOutputLocation")
    _optional(element, "ExpectedManifestBucketOwner", output.expected_bucket_owner)
    xmlutil.add(element, "Bucket", output.bucket)
    _optional(element, "ManifestPrefix", output.prefix)
    if output.encryption is not None:
        encryption = xmlutil.add(xmlutil.add(element, "ManifestEncryption"), output.encryption)
        _optional(encryption, "KeyId", output.kms_key_id)
    xmlutil.add(element, "ManifestFormat", output.format)


def _add_filter(parent: Element, rules: GeneratorFilter) -> None:
    if rules == GeneratorFilter():
        return
    element = xmlutil.add(parent, "Filter")
    _optional(element, "CreatedAfter", rules.created_after)
    _optional(element, "CreatedBefore", rules.created_before)
    lists = {
        "MatchAnyPrefix": rules.match_any_prefix,
        "MatchAnySuffix": rules.match_any_suffix,
        "MatchAnySubstring": rules.match_any_substring,
    }
    if any(lists.values()):
        constraint = xmlutil.add(element, "KeyNameConstraint")
        for name, values in lists.items():
            _members(constraint, name, values)
    _optional(element, "ObjectSizeGreaterThanBytes", rules.size_greater_than)
    _optional(element, "ObjectSizeLessThanBytes", rules.size_less_than)
    _members(element, "MatchAnyStorageClass", rules.storage_classes)


def add_generated_descriptor(parent: Element, manifest: GeneratedManifest) -> None:
    element = xmlutil.add(parent, "GeneratedManifestDescriptor")
    xmlutil.add(element, "Format", manifest.format)
    location = xmlutil.add(element, "Location")
    xmlutil.add(location, "ObjectArn", manifest.object_arn)
    xmlutil.add(location, "ETag", manifest.etag)


def _members(parent: Element, tag: str, values: tuple[str, ...]) -> None:
    if values:
        wrapper = xmlutil.add(parent, tag)
        for value in values:
            xmlutil.add(wrapper, "member", value)


def _optional(parent: Element, tag: str, value: object | None) -> None:
    if value is not None:
        xmlutil.add(parent, tag, value)
