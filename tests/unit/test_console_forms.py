"""The console's create form → CreateJob XML → the API's own validation, errors mapped back to form fields."""

from __future__ import annotations

from typing import Any

import pytest

from batchops.console.forms import FormError, JobForm, manifest_location, validate
from batchops.domain.job import FailureThreshold

ARN = "arn:aws:s3:::manifests/m.csv"


def form(**changes: Any) -> JobForm:
    filled = JobForm.blank("123456789012")
    filled.values.update({"report_bucket": "reports", "op_tags": "team=storage\nsource = console"}, **changes)
    return filled


def test_a_filled_form_becomes_the_spec_the_api_would_build() -> None:
    filled = form(description="nightly", priority="7", manifest_fields="Bucket,Key,VersionId")

    spec = validate(filled, ARN, '"etag"', FailureThreshold())

    assert filled.errors == {}
    assert spec is not None
    assert spec.priority == 7 and spec.description == "nightly" and spec.confirmation_required
    assert spec.operation.name == "S3PutObjectTagging"
    assert spec.operation.params == {
        "TagSet": [{"Key": "team", "Value": "storage"}, {"Key": "source", "Value": "console"}]
    }
    assert spec.manifest.location.object_arn == ARN and spec.manifest.fields == ("Bucket", "Key", "VersionId")
    assert spec.report.bucket == "arn:aws:s3:::reports" and spec.report.prefix == "batchops-reports"


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"priority": "high"}, "priority", "The priority must be an integer"),
        ({"priority": "-1"}, "priority", "The priority must be from 0"),
        ({"report_bucket": ""}, "report_bucket", "Choose a report bucket, or switch the report off"),
        ({"report_bucket": "Bad_Bucket"}, "report_bucket", "not valid"),
        ({"role_arn": "nope"}, "role_arn", "The role ARN must be"),
        ({"description": "x" * 300}, "description", "The description must be 1 to 256"),
        ({"op_tags": "no equals sign"}, "op_tags", "Line 1"),
        ({"op_tags": "a=1\na=2"}, "op_tags", "duplicate"),
        ({"operation": "S3PutObjectCopy", "copy_target": ""}, "copy_target", "Choose the bucket to copy"),
        ({"operation": "S3PutObjectRetention"}, "retention_until", "retained"),
        ({"operation": "S3Nope"}, "operation", "Choose an operation"),
    ],
)
def test_each_error_lands_next_to_its_field(changes: dict[str, str], field: str, text: str) -> None:
    filled = form(**changes)

    assert validate(filled, ARN, "etag", FailureThreshold()) is None

    assert list(filled.errors) == [field]
    assert text in filled.errors[field]


def test_a_bad_manifest_location_points_at_the_source_the_user_chose() -> None:
    existing, uploading = form(manifest_source="existing"), form(manifest_source="upload")

    validate(existing, "arn:aws:s3:::Bad_Bucket/m.csv", "etag", FailureThreshold())
    validate(uploading, "arn:aws:s3:::Bad_Bucket/m.csv", "etag", FailureThreshold())

    assert list(existing.errors) == ["manifest_arn"] and list(uploading.errors) == ["upload_bucket"]


@pytest.mark.parametrize("given", ["b/k/x.csv", "s3://b/k/x.csv", "arn:aws:s3:::b/k/x.csv"])
def test_manifest_location_forms(given: str) -> None:
    assert manifest_location(form(manifest_arn=given)) == ("b", "k/x.csv")


def test_a_location_without_a_key_is_refused() -> None:
    with pytest.raises(FormError, match="give the manifest as bucket/key"):
        manifest_location(form(manifest_arn="just-a-bucket"))
