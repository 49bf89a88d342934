"""ManifestGenerator and inventory manifests in CreateJob and DescribeJob, checked with botocore's serializer
and parser; and the job spec's JSON codec for them (round trip, rows written before generators existed)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from batchops.api.s3control_xml import render_describe_job
from batchops.domain.job import GeneratedManifest, GeneratorFilter, ManifestOutputSpec
from batchops.store import codec
from tests.support.s3control_bodies import (
    ACCOUNT,
    REGION,
    boto3_body,
    botocore_reads,
    create,
    job_params,
    make_job,
    raw_body,
    refusal,
    with_manifest,
)

OUTPUT = {
    "ExpectedManifestBucketOwner": ACCOUNT,
    "Bucket": "arn:aws:s3:::manifests-out",
    "ManifestPrefix": "generated",
    "ManifestEncryption": {"SSEKMS": {"KeyId": "arn:aws:kms:us-east-1:123456789012:key/k"}},
    "ManifestFormat": "S3InventoryReport_CSV_20211130",
}
FILTER = {
    "CreatedAfter": datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
    "CreatedBefore": datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    "KeyNameConstraint": {"MatchAnyPrefix": ["logs/"], "MatchAnySuffix": [".gz"], "MatchAnySubstring": ["2024"]},
    "ObjectSizeGreaterThanBytes": 10,
    "ObjectSizeLessThanBytes": 5_000_000_000,
    "MatchAnyStorageClass": ["STANDARD", "GLACIER_IR"],
}


def generator_params(**generator: Any) -> dict[str, Any]:
    spec = {
        "ExpectedBucketOwner": ACCOUNT,
        "SourceBucket": "arn:aws:s3:::source",
        "ManifestOutputLocation": OUTPUT,
        "Filter": FILTER,
        "EnableManifestOutput": True,
        **generator,
    }
    params = job_params(ManifestGenerator={"S3JobManifestGenerator": spec})
    del params["Manifest"]
    return params


def test_generator_maps_every_field() -> None:
    spec, _ = create(boto3_body("CreateJob", generator_params()))
    assert spec.manifest is None
    generator = spec.generator
    assert generator is not None
    assert (generator.source_bucket, generator.enable_manifest_output) == ("arn:aws:s3:::source", True)
    assert generator.expected_bucket_owner == ACCOUNT
    assert generator.include_all_versions is False
    assert generator.output == ManifestOutputSpec(
        bucket="arn:aws:s3:::manifests-out",
        format="S3InventoryReport_CSV_20211130",
        prefix="generated",
        expected_bucket_owner=ACCOUNT,
        encryption="SSE-KMS",
        kms_key_id="arn:aws:kms:us-east-1:123456789012:key/k",
    )
    assert generator.filter == GeneratorFilter(
        created_after="2024-01-02T03:04:05Z",
        created_before="2025-01-02T03:04:05Z",
        match_any_prefix=("logs/",),
        match_any_suffix=(".gz",),
        match_any_substring=("2024",),
        size_greater_than=10,
        size_less_than=5_000_000_000,
        storage_classes=("STANDARD", "GLACIER_IR"),
    )


def test_all_versions_extension_is_read_inside_the_generator() -> None:
    body = boto3_body("CreateJob", generator_params(Filter={}))
    body = body.replace(
        b"</S3JobManifestGenerator>",
        b"<BatchOpsIncludeAllVersions>true</BatchOpsIncludeAllVersions></S3JobManifestGenerator>",
    )
    spec, _ = create(body)
    assert spec.generator is not None and spec.generator.include_all_versions is True


def test_inventory_manifest_format_is_accepted() -> None:
    params = job_params(Manifest=with_manifest(spec={"Format": "S3InventoryReport_CSV_20161130"}))
    del params["Manifest"]["Spec"]["Fields"]
    spec, _ = create(boto3_body("CreateJob", params))
    assert spec.manifest is not None and spec.manifest.format == "S3InventoryReport_CSV_20161130"


@pytest.mark.parametrize(
    ("generator", "expected"),
    [
        ({"ManifestOutputLocation": None}, "ManifestOutputLocation is required when EnableManifestOutput is true"),
        ({"EnableManifestOutput": None}, "EnableManifestOutput is required"),
        ({"SourceBucket": "arn:aws:s3:::source/key"}, "SourceBucket must be a bucket ARN"),
        ({"ExpectedBucketOwner": "12"}, "12-digit account id"),
        ({"Filter": {"EligibleForReplication": True}}, "Filter.EligibleForReplication is not supported by batchops"),
        ({"Filter": {"ObjectReplicationStatuses": ["NONE"]}}, "ObjectReplicationStatuses is not supported"),
        ({"Filter": {"MatchAnyObjectEncryption": [{"SSES3": {}}]}}, "MatchAnyObjectEncryption is not supported"),
        ({"Filter": {"MatchAnyStorageClass": ["COLD"]}}, "MatchAnyStorageClass member must be one of"),
        ({"Filter": {"ObjectSizeLessThanBytes": -1}}, "ObjectSizeLessThanBytes must be from 0"),
        ({"Filter": {"KeyNameConstraint": {"MatchAnyPrefix": [""]}}}, "MatchAnyPrefix member must be 1 to 1024"),
        ({"ManifestOutputLocation": {**OUTPUT, "ManifestFormat": "CSV"}}, "ManifestFormat must be one of"),
        ({"ManifestOutputLocation": {**OUTPUT, "ManifestPrefix": "p" * 513}}, "ManifestPrefix must be 1 to 512"),
    ],
)
def test_generator_refusals_name_the_field(generator: dict[str, Any], expected: str) -> None:
    params = generator_params(**generator)
    spec = params["ManifestGenerator"]["S3JobManifestGenerator"]
    params["ManifestGenerator"]["S3JobManifestGenerator"] = {k: v for k, v in spec.items() if v is not None}
    assert expected in refusal(raw_body("CreateJob", params))


def test_created_after_must_be_a_timestamp() -> None:
    body = boto3_body("CreateJob", generator_params()).replace(b"2024-01-02T03:04:05Z", b"yesterday")
    assert "CreatedAfter must be an ISO-8601 timestamp" in refusal(body)


def test_describe_job_renders_the_generator_and_the_saved_manifest() -> None:
    saved = GeneratedManifest(
        "S3InventoryReport_CSV_20211130", "arn:aws:s3:::manifests-out/generated/job-1/manifest.json", '"e1"'
    )
    job = make_job(generator_params(), generated_manifest=saved)
    parsed = botocore_reads("DescribeJob", render_describe_job(job, region=REGION))["Job"]
    assert "Manifest" not in parsed
    generator = parsed["ManifestGenerator"]["S3JobManifestGenerator"]
    expected = generator_params()["ManifestGenerator"]["S3JobManifestGenerator"]
    assert generator == expected
    assert parsed["GeneratedManifestDescriptor"] == {
        "Format": "S3InventoryReport_CSV_20211130",
        "Location": {"ObjectArn": saved.object_arn, "ETag": '"e1"'},
    }


def test_describe_job_without_a_saved_manifest_has_no_descriptor() -> None:
    params = generator_params(EnableManifestOutput=False)
    for optional in ("ManifestOutputLocation", "Filter"):
        del params["ManifestGenerator"]["S3JobManifestGenerator"][optional]
    job = make_job(params)
    parsed = botocore_reads("DescribeJob", render_describe_job(job, region=REGION))["Job"]
    assert parsed["ManifestGenerator"]["S3JobManifestGenerator"] == {
        "ExpectedBucketOwner": ACCOUNT,
        "SourceBucket": "arn:aws:s3:::source",
        "EnableManifestOutput": False,
    }
    assert "GeneratedManifestDescriptor" not in parsed


# --- the spec's JSON in the store --------------------------------------------------------------


def test_generator_spec_round_trips_through_the_store_codec() -> None:
    spec, _ = create(boto3_body("CreateJob", generator_params()))
    spec = replace(spec, generator=replace(spec.generator, include_all_versions=True))  # type: ignore[type-var]
    assert codec.spec_from_json(codec.spec_to_json(spec)) == spec


def test_manifest_job_json_is_unchanged_and_old_rows_still_read() -> None:
    spec, _ = create(boto3_body("CreateJob", job_params()))
    text = codec.spec_to_json(spec)
    assert "generator" not in json.loads(text)  # same JSON (and request fingerprint) as before generators
    assert codec.spec_from_json(text) == spec
