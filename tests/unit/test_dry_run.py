"""Dry runs without a store: ``BatchOpsDryRun`` parsed and echoed on both wires, kept in the spec JSON only when set,
and the checks' rules (Object Lock retention, locked versions, how a copy would go, delete markers)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from batchops.api import cos_xml, s3control_xml
from batchops.cli_jobs import counts_text
from batchops.client import JobReport
from batchops.domain.job import FailureThreshold
from batchops.domain.task import ObjectRef
from batchops.errors import TaskError, ValidationError
from batchops.operations.base import TaskContext
from batchops.operations.delete import DeleteObject
from batchops.operations.dryrun import check_not_locked, copy_method, retention_refusal
from batchops.operations.fields import Tag
from batchops.operations.merge_tagging import MergeObjectTagging, MergeTaggingParams
from batchops.s3.pool import TransferLimits
from batchops.s3.recording import RecordingS3
from batchops.store.codec import spec_from_json, spec_to_json
from batchops.xmlutil import parse_xml
from tests.support.s3control_bodies import DEFAULT_THRESHOLD, REGION, make_job
from tests.support.wire_bodies import cos_body, s3control_body

DRY = "<BatchOpsDryRun>true</BatchOpsDryRun>"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
MIB = 1024 * 1024


# --- the wire -----------------------------------------------------------------------------------------------------


def test_s3control_parses_the_element_and_describe_job_echoes_it_only_when_set() -> None:
    spec, _ = s3control_xml.parse_create_job(s3control_body(BatchOpsDryRun=DRY), default_threshold=DEFAULT_THRESHOLD)
    assert spec.dry_run is True
    plain, _ = s3control_xml.parse_create_job(s3control_body(), default_threshold=DEFAULT_THRESHOLD)
    assert plain.dry_run is False

    job = make_job()
    shown = parse_xml(s3control_xml.render_describe_job(replace(job, spec=spec), region=REGION)).find("Job")
    assert shown is not None and shown.findtext("BatchOpsDryRun") == "true"
    hidden = parse_xml(s3control_xml.render_describe_job(replace(job, spec=plain), region=REGION)).find("Job")
    assert hidden is not None and hidden.find("BatchOpsDryRun") is None


def test_cos_parses_the_element_and_describe_job_echoes_it_only_when_set() -> None:
    spec = cos_xml.parse_create_job(cos_body(BatchOpsDryRun=DRY), default_threshold=DEFAULT_THRESHOLD)
    assert spec.dry_run is True
    job = replace(make_job(), spec=spec)
    shown = parse_xml(cos_xml.render_describe_job(job)).find("Job")
    assert shown is not None and shown.findtext("BatchOpsDryRun") == "true"
    hidden = parse_xml(cos_xml.render_describe_job(replace(job, spec=replace(spec, dry_run=False)))).find("Job")
    assert hidden is not None and hidden.find("BatchOpsDryRun") is None


@pytest.mark.parametrize("dialect", ["s3control", "cos"])
def test_anything_but_true_or_false_is_refused_naming_the_element(dialect: str) -> None:
    bad = "<BatchOpsDryRun>yes</BatchOpsDryRun>"
    with pytest.raises(ValidationError) as caught:
        if dialect == "cos":
            cos_xml.parse_create_job(cos_body(BatchOpsDryRun=bad), default_threshold=DEFAULT_THRESHOLD)
        else:
            s3control_xml.parse_create_job(s3control_body(BatchOpsDryRun=bad), default_threshold=DEFAULT_THRESHOLD)
    assert str(caught.value) == "BatchOpsDryRun must be true or false, not 'yes'"


def test_the_spec_json_carries_dry_run_only_when_set() -> None:
    spec = make_job().spec
    assert "dry_run" not in json.loads(spec_to_json(spec))  # older jobs' JSON and fingerprints stay as they were
    dry = replace(spec, dry_run=True)
    assert json.loads(spec_to_json(dry))["dry_run"] is True
    assert spec_from_json(spec_to_json(dry)) == dry
    assert spec_from_json(spec_to_json(spec)) == spec


# --- the checks' rules ---------------------------------------------------------------------------------------------


def held(mode: str, days: int) -> dict[str, Any]:
    return {"ObjectLockMode": mode, "ObjectLockRetainUntilDate": NOW + timedelta(days=days)}


def wanted(mode: str, days: int) -> dict[str, str]:
    return {"Mode": mode, "RetainUntilDate": (NOW + timedelta(days=days)).isoformat()}


@pytest.mark.parametrize(
    ("head", "new", "bypass", "refused"),
    [
        ({}, wanted("COMPLIANCE", 1), False, False),  # no retention yet
        (held("COMPLIANCE", -1), {}, False, False),  # expired: holds nothing
        (held("COMPLIANCE", 5), wanted("COMPLIANCE", 9), False, False),  # extended
        (held("COMPLIANCE", 5), wanted("COMPLIANCE", 2), True, True),  # shortened, bypass or not
        (held("COMPLIANCE", 5), wanted("GOVERNANCE", 9), True, True),  # weakened
        (held("COMPLIANCE", 5), {}, True, True),  # cleared
        (held("GOVERNANCE", 5), wanted("GOVERNANCE", 2), False, True),
        (held("GOVERNANCE", 5), wanted("GOVERNANCE", 2), True, False),
        (held("GOVERNANCE", 5), {}, False, True),
        (held("GOVERNANCE", 5), wanted("COMPLIANCE", 9), False, False),  # strengthened
    ],
)
def test_retention_refusals_follow_object_lock(
    head: dict[str, Any], new: dict[str, str], bypass: bool, refused: bool
) -> None:
    assert (retention_refusal(head, new, bypass, NOW) is not None) == refused


def test_a_refusal_says_what_holds_and_how_to_allow_it() -> None:
    why = retention_refusal(held("GOVERNANCE", 5), wanted("GOVERNANCE", 2), False, NOW)
    assert why is not None
    assert why.startswith("the object is under GOVERNANCE retention until 2030-01-06T00:00:00Z")
    assert "set BypassGovernanceRetention to true" in why


def test_a_locked_version_would_not_be_deleted() -> None:
    check_not_locked({"ObjectLockLegalHoldStatus": "OFF", **held("GOVERNANCE", -1)}, "v1", NOW)
    with pytest.raises(TaskError) as caught:
        check_not_locked({"ObjectLockLegalHoldStatus": "ON"}, "v1", NOW)
    assert (caught.value.code, caught.value.http_status) == ("ObjectLocked", 403)
    with pytest.raises(TaskError, match="COMPLIANCE retention until 2030-01-03"):
        check_not_locked(held("COMPLIANCE", 2), "v1", NOW)


def test_copy_method_follows_the_transfer_limits() -> None:
    ctx = TaskContext(
        s3=RecordingS3(), job_id="j", transfer=TransferLimits(multipart_threshold=5 * MIB, part_size=5 * MIB)
    )
    assert copy_method(ctx, 5 * MIB, other_store=False) == " by one CopyObject"
    assert copy_method(ctx, 12 * MIB, other_store=False) == " by multipart copy in 3 parts"
    assert copy_method(ctx, 12 * MIB, other_store=True) == " on another store in 3 parts"
    assert copy_method(ctx, 1, other_store=True) == " on another store"


async def test_a_delete_check_reads_only_and_names_the_delete_marker() -> None:
    s3 = RecordingS3()
    s3.answer("head_object", {"ContentLength": 3})
    s3.answer("get_bucket_versioning", {"Status": "Suspended"})
    message = await DeleteObject().check(
        TaskContext(s3=s3, job_id="j"), DeleteObject().params_type(), ObjectRef("b", "k")
    )
    assert message.startswith("would add a delete marker")
    assert [call.method for call in s3.calls] == ["head_object", "get_bucket_versioning"]


async def test_a_missing_object_fails_the_check_as_no_such_key() -> None:
    s3 = RecordingS3()
    s3.fail("head_object", "404", 404)
    with pytest.raises(TaskError) as caught:
        await DeleteObject().check(TaskContext(s3=s3, job_id="j"), DeleteObject().params_type(), ObjectRef("b", "k"))
    assert (caught.value.code, caught.value.http_status) == ("NoSuchKey", 404)


async def test_a_merge_check_never_writes_tags() -> None:
    s3 = RecordingS3()
    s3.answer("get_object_tagging", {"TagSet": [{"Key": "a", "Value": "1"}]})
    params = MergeTaggingParams((Tag("b", "2"),), ())
    message = await MergeObjectTagging().check(TaskContext(s3=s3, job_id="j"), params, ObjectRef("b", "k"))
    assert message == "would merge tags: 1 tags now, 2 after"
    assert [call.method for call in s3.calls] == ["get_object_tagging"]


# --- counts by outcome ---------------------------------------------------------------------------------------------


def test_counts_by_outcome_from_report_rows() -> None:
    rows = [
        {"TaskStatus": "succeeded", "ErrorCode": ""},
        {"TaskStatus": "failed", "ErrorCode": "NoSuchKey"},
        {"TaskStatus": "failed", "ErrorCode": "TooManyTags"},
        {"TaskStatus": "failed", "ErrorCode": "NoSuchKey"},
    ]
    counts = JobReport({}, rows).outcome_counts()
    assert counts == {"succeeded": 1, "NoSuchKey": 2, "TooManyTags": 1}
    assert counts_text(counts) == "1 succeeded, 3 failed (NoSuchKey 2, TooManyTags 1)"
    assert counts_text({}) == "0 succeeded, 0 failed"


def test_a_dry_run_never_fails_for_its_failures() -> None:
    spec = replace(make_job().spec, threshold=FailureThreshold(min_tasks=0, percent=0.0))
    assert spec.failed_too_often(succeeded=1, failed=5)
    assert not replace(spec, dry_run=True).failed_too_often(succeeded=1, failed=5)
