"""The S3 Control XML dialect, checked against botocore itself (offline).

Request bodies are the exact bytes boto3 sends, made by botocore's rest-xml serializer with the real
s3control model; responses are read back with botocore's own rest-xml parser. Bodies that boto3
would refuse client-side are made with validation switched off: raw HTTP clients (and boto3 with
``parameter_validation=False``) can still send them, so the server has to refuse them itself.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import botocore.handlers
import botocore.parsers
import botocore.serialize
import botocore.session
import pytest

from batchops.api.s3control_xml import (
    NAMESPACE,
    format_timestamp,
    parse_job_tagging,
    render_create_job,
    render_describe_job,
    render_error,
    render_job_tagging,
    render_list_jobs,
    render_update_priority,
    render_update_status,
)
from batchops.domain.job import FailureReason, FailureThreshold
from batchops.domain.status import JobStatus
from batchops.errors import MalformedXML, ValidationError
from batchops.operations.registry import get_operation
from batchops.xmlutil import parse_xml
from tests.support.s3control_bodies import (
    ACCOUNT,
    CREATED,
    DEFAULT_THRESHOLD,
    MODEL,
    REGION,
    TAGGING,
    boto3_body,
    botocore_reads,
    create,
    job_params,
    make_job,
    raw_body,
    refusal,
    with_manifest,
    with_report,
)

OPERATIONS = {
    "tagging": TAGGING,
    "copy": {
        "S3PutObjectCopy": {
            "TargetResource": "arn:aws:s3:::destination",
            "MetadataDirective": "COPY",
            "StorageClass": "STANDARD_IA",
            "TargetKeyPrefix": "copied/",
        }
    },
    "acl": {"S3PutObjectAcl": {"AccessControlPolicy": {"CannedAccessControlList": "bucket-owner-full-control"}}},
    "legal-hold": {"S3PutObjectLegalHold": {"LegalHold": {"Status": "ON"}}},
    "retention": {
        "S3PutObjectRetention": {
            "BypassGovernanceRetention": True,
            "Retention": {"RetainUntilDate": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), "Mode": "GOVERNANCE"},
        }
    },
    "delete-tagging": {"S3DeleteObjectTagging": {}},
}


# --- CreateJob: accepted requests ------------------------------------------------------------


def test_full_request_maps_every_field() -> None:
    spec, tags = create(boto3_body("CreateJob", job_params()))
    assert spec.client_request_token == "token-1"
    assert spec.priority == 10
    assert spec.role_arn == f"arn:aws:iam::{ACCOUNT}:role/batch"
    assert spec.confirmation_required is True
    assert spec.description == "tag everything"
    assert spec.manifest.format == "S3BatchOperations_CSV_20180820"
    assert spec.manifest.fields == ("Bucket", "Key")
    assert spec.manifest.location.object_arn == "arn:aws:s3:::manifests/list.csv"
    assert spec.manifest.location.etag == '"abc123"'  # passed through verbatim, quotes included
    assert spec.manifest.location.object_version_id is None
    assert (spec.report.enabled, spec.report.bucket, spec.report.format) == (
        True,
        "arn:aws:s3:::reports",
        "Report_CSV_20180820",
    )
    assert (spec.report.prefix, spec.report.scope, spec.report.expected_bucket_owner) == (
        "batch",
        "AllTasks",
        ACCOUNT,
    )
    assert spec.threshold == DEFAULT_THRESHOLD
    assert tags == [{"Key": "owner", "Value": "ops"}]


def test_minimal_request_gets_the_defaults() -> None:
    params = job_params(Report={"Enabled": False})
    for optional in ("ConfirmationRequired", "Description", "Tags"):
        del params[optional]
    del params["Manifest"]["Spec"]["Fields"]
    spec, tags = create(boto3_body("CreateJob", params))
    assert spec.confirmation_required is False
    assert spec.description == ""
    assert spec.manifest.fields == ("Bucket", "Key")
    assert spec.report.enabled is False
    assert spec.report.bucket is None
    assert spec.threshold == DEFAULT_THRESHOLD
    assert tags == []


def test_boto3_fills_in_a_client_request_token_when_omitted() -> None:
    params = job_params()
    del params["ClientRequestToken"]
    # The before-parameter-build handler boto3 registers for idempotency tokens.
    botocore.handlers.generate_idempotent_uuid(params=params, model=MODEL.operation_model("CreateJob"))
    spec, _ = create(boto3_body("CreateJob", params))
    assert len(spec.client_request_token) == 36


def test_version_id_column_and_manifest_object_version() -> None:
    manifest = with_manifest(
        spec={"Fields": ["Ignore", "Bucket", "Key", "VersionId"]}, location={"ObjectVersionId": "v-123"}
    )
    spec, _ = create(boto3_body("CreateJob", job_params(Manifest=manifest)))
    assert spec.manifest.fields == ("Ignore", "Bucket", "Key", "VersionId")
    assert spec.manifest.location.object_version_id == "v-123"


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=list(OPERATIONS))
def test_each_operation_is_parsed_and_its_xml_kept(operation: dict[str, Any]) -> None:
    body = boto3_body("CreateJob", job_params(Operation=operation))
    spec, _ = create(body)
    (name,) = operation
    sent_element = parse_xml(body).find(f"Operation/{name}")
    assert sent_element is not None
    assert spec.operation.name == name
    operation = get_operation(name)
    assert spec.operation.params == operation.encode(operation.parse(sent_element))
    assert spec.operation.xml.startswith(f"<{name}")
    assert NAMESPACE not in spec.operation.xml


def test_tagging_operation_xml_keeps_the_tag_set() -> None:
    spec, _ = create(boto3_body("CreateJob", job_params()))
    assert spec.operation.params["TagSet"] == TAGGING["S3PutObjectTagging"]["TagSet"]
    assert "<Key>team</Key><Value>blue</Value>" in spec.operation.xml


def test_failure_threshold_extension() -> None:
    body = boto3_body("CreateJob", job_params()).replace(
        b"</CreateJobRequest>",
        b"<BatchOpsFailureThreshold><MinTasks>0</MinTasks><Percent>12.5</Percent></BatchOpsFailureThreshold>"
        b"</CreateJobRequest>",
    )
    spec, _ = create(body)
    assert spec.threshold == FailureThreshold(min_tasks=0, percent=12.5)


def test_failure_threshold_parts_default_separately() -> None:
    body = boto3_body("CreateJob", job_params()).replace(
        b"</CreateJobRequest>",
        b"<BatchOpsFailureThreshold><Percent>5</Percent></BatchOpsFailureThreshold></CreateJobRequest>",
    )
    spec, _ = create(body)
    assert spec.threshold == FailureThreshold(min_tasks=DEFAULT_THRESHOLD.min_tasks, percent=5.0)


def test_namespace_and_whitespace_do_not_matter() -> None:
    body = boto3_body("CreateJob", job_params()).replace(f' xmlns="{NAMESPACE}"'.encode(), b"")
    body = body.replace(b"><", b">\n  <")
    spec, _ = create(body)
    assert spec.priority == 10
    assert spec.operation.name == "S3PutObjectTagging"


# --- CreateJob: refused requests -------------------------------------------------------------

REFUSALS = {
    "negative priority": (job_params(Priority=-1), "Priority"),
    "priority above int32": (job_params(Priority=2**31), "Priority"),
    "token too long": (job_params(ClientRequestToken="t" * 65), "ClientRequestToken"),
    "role arn without account": (job_params(RoleArn="arn:aws:iam::role/batch"), "RoleArn"),
    "role arn of a user": (job_params(RoleArn=f"arn:aws:iam::{ACCOUNT}:user/bob"), "RoleArn"),
    "role arn too long": (job_params(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/" + "r" * 2048), "RoleArn"),
    "empty description": (job_params(Description=""), "Description"),
    "description too long": (job_params(Description="d" * 257), "Description"),
    "unknown manifest format": (
        job_params(Manifest=with_manifest(spec={"Format": "CSV"})),
        "Manifest.Spec.Format must be S3BatchOperations_CSV_20180820",
    ),
    "fields without bucket": (
        job_params(Manifest=with_manifest(spec={"Fields": ["Key"]})),
        "Manifest.Spec.Fields",
    ),
    "fields with two keys": (
        job_params(Manifest=with_manifest(spec={"Fields": ["Bucket", "Key", "Key"]})),
        "Manifest.Spec.Fields",
    ),
    "fields with unknown column": (
        job_params(Manifest=with_manifest(spec={"Fields": ["Bucket", "Key", "Size"]})),
        "Manifest.Spec.Fields member must be one of",
    ),
    "empty fields": (job_params(Manifest=with_manifest(spec={"Fields": []})), "Manifest.Spec.Fields"),
    "manifest arn of another service": (
        job_params(Manifest=with_manifest(location={"ObjectArn": "arn:aws:iam::123456789012:role/x"})),
        "Manifest.Location.ObjectArn",
    ),
    "manifest arn without key": (
        job_params(Manifest=with_manifest(location={"ObjectArn": "arn:aws:s3:::manifests"})),
        "Manifest.Location.ObjectArn",
    ),
    "manifest access point arn": (
        job_params(
            Manifest=with_manifest(location={"ObjectArn": f"arn:aws:s3:us-east-1:{ACCOUNT}:accesspoint/ap/object/k"})
        ),
        "access point",
    ),
    "manifest etag too long": (job_params(Manifest=with_manifest(location={"ETag": "e" * 1025})), "ETag"),
    "manifest version id too long": (
        job_params(Manifest=with_manifest(location={"ObjectVersionId": "v" * 2001})),
        "ObjectVersionId",
    ),
    "manifest and manifest generator": (
        job_params(
            ManifestGenerator={
                "S3JobManifestGenerator": {
                    "SourceBucket": "arn:aws:s3:::source",
                    "EnableManifestOutput": False,
                }
            },
        ),
        "give either Manifest (an existing object list) or ManifestGenerator",
    ),
    "no manifest": (job_params(Manifest=None), "<Manifest>"),
    "no report": (job_params(Report=None), "<Report>"),
    "report without enabled": (job_params(Report=with_report(Enabled=None)), "Report.Enabled is required"),
    "enabled report without bucket": (
        job_params(Report=with_report(Bucket=None)),
        "Report.Bucket is required",
    ),
    "enabled report without format": (
        job_params(Report=with_report(Format=None)),
        "Report.Format is required",
    ),
    "enabled report without scope": (
        job_params(Report=with_report(ReportScope=None)),
        "Report.ReportScope is required",
    ),
    "report format": (job_params(Report=with_report(Format="Report_CSV_V1")), "Report.Format must be one of"),
    "report scope": (job_params(Report=with_report(ReportScope="Some")), "Report.ReportScope must be one of"),
    "report bucket not an arn": (job_params(Report=with_report(Bucket="reports")), "Report.Bucket"),
    "report bucket with a key": (
        job_params(Report=with_report(Bucket="arn:aws:s3:::reports/x")),
        "Report.Bucket",
    ),
    "report prefix too long": (job_params(Report=with_report(Prefix="p" * 513)), "Report.Prefix"),
    "expected bucket owner": (
        job_params(Report=with_report(ExpectedBucketOwner="12345")),
        "Report.ExpectedBucketOwner must be a 12-digit account id",
    ),
    "too many tags": (
        job_params(Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]),
        "at most 50",
    ),
    "duplicate tag keys": (
        job_params(Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]),
        "duplicate tag keys",
    ),
    "tag key too long": (job_params(Tags=[{"Key": "k" * 129, "Value": ""}]), "Key"),
    "tag value too long": (job_params(Tags=[{"Key": "k", "Value": "v" * 257}]), "Value"),
    "tag character": (job_params(Tags=[{"Key": "k", "Value": "a;b"}]), "S3 tags allow letters, digits"),
    "no operation": (job_params(Operation={}), "exactly one operation element"),
    "two operations": (
        job_params(Operation={"S3DeleteObjectTagging": {}, "S3ReplicateObject": {}}),
        "found <S3DeleteObjectTagging>, <S3ReplicateObject>",
    ),
}


@pytest.mark.parametrize(("params", "expected"), REFUSALS.values(), ids=list(REFUSALS))
def test_refused_with_a_message_naming_the_field(params: dict[str, Any], expected: str) -> None:
    params = {key: value for key, value in params.items() if value is not None}
    assert expected in refusal(raw_body("CreateJob", params))


def test_missing_required_scalars_are_named() -> None:
    body = boto3_body("CreateJob", job_params())
    for element in (b"<Priority>10</Priority>", b"<ClientRequestToken>token-1</ClientRequestToken>"):
        name = element[1 : element.index(b">")].decode()
        assert f"{name} is required" in refusal(body.replace(element, b""))


def test_missing_etag_is_named() -> None:
    body = boto3_body("CreateJob", job_params()).replace(b'<ETag>"abc123"</ETag>', b"")
    assert "Manifest.Location.ETag is required" in refusal(body)


def test_unknown_operation_is_refused() -> None:
    body = boto3_body("CreateJob", job_params(Operation={"S3DeleteObjectTagging": {}}))
    body = body.replace(b"<S3DeleteObjectTagging />", b"<S3Frobnicate />")
    assert "S3Frobnicate" in refusal(body)


def test_unknown_top_level_element_is_named() -> None:
    body = boto3_body("CreateJob", job_params()).replace(
        b"</CreateJobRequest>", b"<Speed>11</Speed></CreateJobRequest>"
    )
    assert "CreateJobRequest has unknown element(s) Speed" in refusal(body)


def test_unknown_nested_element_is_named() -> None:
    body = boto3_body("CreateJob", job_params()).replace(b"</Report>", b"<Encrypt>true</Encrypt></Report>")
    assert "Report has unknown element(s) Encrypt" in refusal(body)


def test_repeated_top_level_element_is_refused() -> None:
    body = boto3_body("CreateJob", job_params()).replace(
        b"</CreateJobRequest>", b"<Priority>3</Priority></CreateJobRequest>"
    )
    assert "CreateJobRequest.Priority appears more than once" in refusal(body)


def test_bad_boolean_is_refused() -> None:
    body = boto3_body("CreateJob", job_params()).replace(
        b"<ConfirmationRequired>true</ConfirmationRequired>",
        b"<ConfirmationRequired>yes</ConfirmationRequired>",
    )
    assert "ConfirmationRequired must be true or false" in refusal(body)


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (b"<Percent>101</Percent>", "Percent must be a number from 0 to 100"),
        (b"<Percent>nan</Percent>", "Percent must be a number from 0 to 100"),
        (b"<Percent>half</Percent>", "Percent must be a number from 0 to 100"),
        (b"<MinTasks>-1</MinTasks>", "MinTasks must be from 0"),
        (b"<MaxTasks>3</MaxTasks>", "BatchOpsFailureThreshold has unknown element(s) MaxTasks"),
    ],
)
def test_bad_failure_threshold_is_refused(threshold: bytes, expected: str) -> None:
    extension = b"<BatchOpsFailureThreshold>" + threshold + b"</BatchOpsFailureThreshold>"
    body = boto3_body("CreateJob", job_params()).replace(b"</CreateJobRequest>", extension + b"</CreateJobRequest>")
    assert expected in refusal(body)


def test_refusals_carry_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        create(raw_body("CreateJob", job_params(Priority=-1)))
    assert caught.value.field == "Priority"


# --- hostile or broken XML -------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<CreateJobRequest><Description>&lol4;</Description></CreateJobRequest>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<CreateJobRequest><Description>&xxe;</Description></CreateJobRequest>"""


@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, EXTERNAL_ENTITY, b"", b"not xml", b"<CreateJobRequest>", b"<CreateJob/>"],
    ids=["billion-laughs", "external-entity", "empty", "text", "unclosed", "wrong-root"],
)
def test_hostile_or_broken_xml_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedXML):
        create(body)


# --- PutJobTagging ---------------------------------------------------------------------------


def test_put_job_tagging() -> None:
    tags = [{"Key": "a", "Value": "1"}, {"Key": "b c", "Value": ""}]
    assert (
        parse_job_tagging(boto3_body("PutJobTagging", {"AccountId": ACCOUNT, "JobId": "job-0001", "Tags": tags}))
        == tags
    )


def test_put_job_tagging_empty_set_removes_all() -> None:
    body = boto3_body("PutJobTagging", {"AccountId": ACCOUNT, "JobId": "job-0001", "Tags": []})
    assert b"<Tags />" in body
    assert parse_job_tagging(body) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<PutJobTaggingRequest/>", "<Tags>"),
        (
            raw_body(
                "PutJobTagging",
                {
                    "AccountId": ACCOUNT,
                    "JobId": "j",
                    "Tags": [{"Key": str(i), "Value": ""} for i in range(51)],
                },
            ),
            "at most 50",
        ),
        (
            raw_body(
                "PutJobTagging",
                {"AccountId": ACCOUNT, "JobId": "j", "Tags": [{"Key": "k", "Value": "1"}] * 2},
            ),
            "duplicate tag keys",
        ),
        (b"<PutJobTaggingRequest><Tags/><TagSet/></PutJobTaggingRequest>", "has unknown element(s) TagSet"),
    ],
    ids=["no-tags", "too-many", "duplicates", "unknown-element"],
)
def test_put_job_tagging_refusals(body: bytes, expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_job_tagging(body)
    assert expected in str(caught.value)


def test_put_job_tagging_refuses_entities() -> None:
    with pytest.raises(MalformedXML):
        parse_job_tagging(BILLION_LAUGHS.replace(b"CreateJobRequest", b"PutJobTaggingRequest"))


# --- responses, read back by botocore --------------------------------------------------------


def test_every_response_is_utf8_xml_in_the_s3control_namespace() -> None:
    job = make_job()
    for data in (
        render_create_job("job-0001"),
        render_describe_job(job, region=REGION),
        render_list_jobs([job], None),
        render_update_priority("job-0001", 3),
        render_update_status("job-0001", JobStatus.CANCELLING, None),
        render_job_tagging([]),
        render_error("NotFoundException", "no such job", "req-1"),
    ):
        assert data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        assert f'xmlns="{NAMESPACE}"'.encode() in data.split(b">", 2)[1]


def test_create_job_result() -> None:
    assert botocore_reads("CreateJob", render_create_job("job-0001"))["JobId"] == "job-0001"


def test_describe_job_full() -> None:
    job = make_job(
        status=JobStatus.FAILED,
        priority=77,
        status_update_reason="too many failures",
        termination_time=CREATED + timedelta(minutes=5),
        suspended_time=CREATED + timedelta(seconds=1),
        suspended_cause="waiting for confirmation",
        failure_reasons=(FailureReason("ThresholdExceeded", "more than 50% of tasks failed"),),
    )
    described = botocore_reads("DescribeJob", render_describe_job(job, region=REGION))["Job"]
    assert described["JobId"] == "job-0001"
    assert described["JobArn"] == f"arn:aws:s3:{REGION}:{ACCOUNT}:job/job-0001"
    assert described["Status"] == "Failed"
    assert described["Priority"] == 77
    assert described["ConfirmationRequired"] is True
    assert described["Description"] == "tag everything"
    assert described["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/batch"
    assert described["StatusUpdateReason"] == "too many failures"
    assert described["FailureReasons"] == [
        {"FailureCode": "ThresholdExceeded", "FailureReason": "more than 50% of tasks failed"}
    ]
    assert described["ProgressSummary"] == {
        "TotalNumberOfTasks": 10,
        "NumberOfTasksSucceeded": 6,
        "NumberOfTasksFailed": 1,
        "Timers": {"ElapsedTimeInActiveSeconds": 42},
    }
    assert described["CreationTime"] == CREATED.replace(microsecond=123000)
    assert described["TerminationDate"] == CREATED.replace(microsecond=123000) + timedelta(minutes=5)
    assert isinstance(described["SuspendedDate"], datetime)
    assert described["SuspendedCause"] == "waiting for confirmation"


def test_describe_job_echoes_manifest_report_and_operation_as_sent() -> None:
    params = job_params()
    described = botocore_reads("DescribeJob", render_describe_job(make_job(params), region=REGION))["Job"]
    assert described["Manifest"] == params["Manifest"]
    assert described["Report"] == params["Report"]
    assert described["Operation"] == params["Operation"]


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=list(OPERATIONS))
def test_describe_job_round_trips_each_operation(operation: dict[str, Any]) -> None:
    job = make_job(job_params(Operation=operation))
    described = botocore_reads("DescribeJob", render_describe_job(job, region=REGION))["Job"]
    assert described["Operation"] == operation


def test_describe_job_minimal_omits_what_is_not_there() -> None:
    params = job_params(Report={"Enabled": False}, ConfirmationRequired=False)
    del params["Description"]
    described = botocore_reads("DescribeJob", render_describe_job(make_job(params), region=REGION))["Job"]
    assert described["ConfirmationRequired"] is False
    assert described["Report"] == {"Enabled": False}
    for absent in ("Description", "FailureReasons", "StatusUpdateReason", "TerminationDate", "SuspendedDate"):
        assert absent not in described
    assert "ObjectVersionId" not in described["Manifest"]["Location"]


def test_describe_job_with_version_ids() -> None:
    manifest = with_manifest(spec={"Fields": ["Bucket", "Key", "VersionId"]}, location={"ObjectVersionId": "v-9"})
    described = botocore_reads(
        "DescribeJob", render_describe_job(make_job(job_params(Manifest=manifest)), region=REGION)
    )["Job"]
    assert described["Manifest"] == manifest


def test_describe_job_escapes_text() -> None:
    job = make_job(job_params(Description='<b>"fish" & chips</b>'))
    described = botocore_reads("DescribeJob", render_describe_job(job, region=REGION))["Job"]
    assert described["Description"] == '<b>"fish" & chips</b>'


def test_list_jobs() -> None:
    first = make_job()
    second = make_job(
        job_params(Operation={"S3DeleteObjectTagging": {}}, Description="second"),
        id="job-0002",
        status=JobStatus.COMPLETE,
        termination_time=CREATED + timedelta(hours=1),
    )
    listed = botocore_reads("ListJobs", render_list_jobs([first, second], "next/page+1="))
    assert listed["NextToken"] == "next/page+1="
    assert [job["JobId"] for job in listed["Jobs"]] == ["job-0001", "job-0002"]
    assert listed["Jobs"][1] == {
        "JobId": "job-0002",
        "Description": "second",
        "Operation": "S3DeleteObjectTagging",
        "Priority": 10,
        "Status": "Complete",
        "CreationTime": CREATED.replace(microsecond=123000),
        "TerminationDate": CREATED.replace(microsecond=123000) + timedelta(hours=1),
        "ProgressSummary": {
            "TotalNumberOfTasks": 10,
            "NumberOfTasksSucceeded": 6,
            "NumberOfTasksFailed": 1,
            "Timers": {"ElapsedTimeInActiveSeconds": 42},
        },
    }


def test_list_jobs_empty() -> None:
    listed = botocore_reads("ListJobs", render_list_jobs([], None))
    assert listed["Jobs"] == []
    assert "NextToken" not in listed


def test_update_job_priority_result() -> None:
    parsed = botocore_reads("UpdateJobPriority", render_update_priority("job-0001", 2147483647))
    assert (parsed["JobId"], parsed["Priority"]) == ("job-0001", 2147483647)


def test_update_job_status_result() -> None:
    parsed = botocore_reads("UpdateJobStatus", render_update_status("job-0001", JobStatus.CANCELLING, "why not"))
    assert (parsed["JobId"], parsed["Status"], parsed["StatusUpdateReason"]) == (
        "job-0001",
        "Cancelling",
        "why not",
    )
    parsed = botocore_reads("UpdateJobStatus", render_update_status("job-0001", JobStatus.READY, None))
    assert "StatusUpdateReason" not in parsed


def test_get_job_tagging_result() -> None:
    tags = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]
    assert botocore_reads("GetJobTagging", render_job_tagging(tags))["Tags"] == tags
    assert botocore_reads("GetJobTagging", render_job_tagging([]))["Tags"] == []


def test_error_response() -> None:
    parsed = botocore_reads("DescribeJob", render_error("NotFoundException", "job 'x' <does> not exist", "req-1"), 400)
    assert parsed["Error"]["Code"] == "NotFoundException"
    assert parsed["Error"]["Message"] == "job 'x' <does> not exist"
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), "2024-01-02T03:04:05.000Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=UTC), "2024-01-02T03:04:05.999Z"),
        (datetime(2024, 1, 2, 3, 4, 5, 7000), "2024-01-02T03:04:05.007Z"),
        (datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))), "2024-01-02T03:04:05.000Z"),
    ],
    ids=["utc", "truncated-millis", "naive-is-utc", "converted-to-utc"],
)
def test_timestamps(moment: datetime, expected: str) -> None:
    assert format_timestamp(moment) == expected
