"""The COS XML dialect (cos_xml), its error codes, qcs names and the COS operations' parameters (offline)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from batchops.api.cos_xml import (
    format_timestamp,
    parse_create_job,
    parse_status,
    render_describe_job,
    render_error,
    render_list_jobs,
    render_update_status,
)
from batchops.api.errors import COS_CODES, to_api_error
from batchops.arns import parse_bucket_arn, parse_object_arn
from batchops.domain.job import FailureReason, FailureThreshold, Job, Progress
from batchops.domain.status import JobStatus
from batchops.errors import ValidationError
from batchops.operations.cos_copy import COSPutObjectCopy, KeyRewrite, rewrite_key
from batchops.operations.cos_tagging import COSPutObjectTagging, merge_tags
from batchops.operations.restore import COSInitiateRestoreObject, S3InitiateRestoreObject, restore_finished
from batchops.xmlutil import parse_xml

THRESHOLD = FailureThreshold()
CREATED = datetime(2019, 12, 19, 18, 0, 30, 123000, tzinfo=UTC)
MANIFEST_ARN = "qcs::cos:ap-chengdu::sourcebucket-1250000000/manifests/batch-copy-manifest.csv"
COPY = (
    "<COSPutObjectCopy><TargetResource>qcs::cos:ap-chengdu:uid/1250000000:destinationbucket-1250000000"
    "</TargetResource></COSPutObjectCopy>"
)


def body(**parts: str) -> bytes:
    """A COS CreateJobRequest like the reference example; keyword arguments replace (or, as "", drop) elements."""
    elements = {
        "ClientRequestToken": "<ClientRequestToken>157672****</ClientRequestToken>",
        "ConfirmationRequired": "<ConfirmationRequired>true</ConfirmationRequired>",
        "Description": "<Description>example-job</Description>",
        "Manifest": (
            '<Manifest><Location><ETag>"15150651828fa9cdcb8356b6d1c7638b"</ETag>'
            f"<ObjectArn>{MANIFEST_ARN}</ObjectArn></Location>"
            "<Spec><Fields><member>Bucket</member><member>Key</member></Fields>"
            "<Format>COSBatchOperations_CSV_V1</Format></Spec></Manifest>"
        ),
        "Operation": f"<Operation>{COPY}</Operation>",
        "Priority": "<Priority>10</Priority>",
        "Report": (
            "<Report><Bucket>qcs::cos:ap-chengdu::sourcebucket-1250000000</Bucket><Enabled>true</Enabled>"
            "<Format>Report_CSV_V1</Format><Prefix>job-result</Prefix><ReportScope>AllTasks</ReportScope></Report>"
        ),
        "RoleArn": "<RoleArn>qcs::cam::uin/100000000001:roleName/COS_Batch_QcsRole</RoleArn>",
    }
    elements.update(parts)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<CreateJobRequest>'
        + "".join(elements.values())
        + "</CreateJobRequest>"
    ).encode()


def cos_code(exc: BaseException) -> str:
    return to_api_error(exc, COS_CODES, "InternalError").code


def refusal(data: bytes) -> tuple[str, str]:
    with pytest.raises(Exception) as info:
        parse_create_job(data, default_threshold=THRESHOLD)
    return cos_code(info.value), str(info.value)


# --- CreateJob -------------------------------------------------------------------------------


def test_the_reference_example_parses_into_the_shared_job_spec() -> None:
    spec = parse_create_job(body(), default_threshold=THRESHOLD)
    assert spec.client_request_token == "157672****"
    assert spec.priority == 10 and spec.confirmation_required is True
    assert spec.role_arn == "qcs::cam::uin/100000000001:roleName/COS_Batch_QcsRole"
    assert spec.manifest.format == "COSBatchOperations_CSV_V1"
    assert spec.manifest.fields == ("Bucket", "Key")
    assert spec.manifest.location.etag == '"15150651828fa9cdcb8356b6d1c7638b"'
    assert spec.operation.name == "COSPutObjectCopy"
    assert spec.operation.params["TargetBucket"] == "destinationbucket-1250000000"
    assert (spec.report.format, spec.report.prefix, spec.report.scope) == ("Report_CSV_V1", "job-result", "AllTasks")


def test_defaults_confirmation_false_and_empty_description() -> None:
    spec = parse_create_job(body(ConfirmationRequired="", Description=""), default_threshold=THRESHOLD)
    assert spec.confirmation_required is False and spec.description == ""


def test_inventory_manifests_are_accepted_and_stored() -> None:
    manifest = (
        "<Manifest><Location><ETag>abc</ETag><ObjectArn>qcs::cos:ap-guangzhou:uid/1308919341:keep-test-1308919341/"
        "inv/manifest.json</ObjectArn></Location><Spec><Format>COSInventoryReport_CSV_V1</Format></Spec></Manifest>"
    )
    spec = parse_create_job(body(Manifest=manifest), default_threshold=THRESHOLD)
    assert spec.manifest.format == "COSInventoryReport_CSV_V1"


@pytest.mark.parametrize(
    ("parts", "code", "text"),
    [
        ({"Priority": "<Priority>-1</Priority>"}, "InvalidArgument", "Priority"),
        ({"Priority": "<Priority>2147483648</Priority>"}, "InvalidArgument", "Priority"),
        ({"Priority": ""}, "InvalidArgument", "Priority is required"),
        ({"Description": f"<Description>{'é' * 129}</Description>"}, "InvalidArgument", "256 bytes"),
        ({"RoleArn": "<RoleArn>arn:aws:iam::123456789012:role/x</RoleArn>"}, "InvalidArgument", "qcs::cam::uin/"),
        ({"Operation": "<Operation><S3PutObjectTagging/></Operation>"}, "InvalidArgument", "start with COS"),
        ({"Operation": "<Operation/>"}, "InvalidArgument", "exactly one"),
        ({"Report": "<Report><Enabled>true</Enabled></Report>"}, "InvalidArgument", "Report.Bucket is required"),
        ({"Unknown": "<Tags/>"}, "InvalidArgument", "unknown element"),
        (
            {
                "Report": "<Report><Enabled>true</Enabled><Bucket>qcs::cos:ap-chengdu::b-1250000000</Bucket>"
                "<Format>Report_CSV_20180820</Format><ReportScope>AllTasks</ReportScope></Report>"
            },
            "InvalidArgument",
            "Report_CSV_V1",
        ),
        (
            {
                "Manifest": "<Manifest><Location><ETag>e</ETag><ObjectArn>x</ObjectArn></Location>"
                "<Spec><Format>COSBatchOperations_CSV_V1</Format></Spec></Manifest>"
            },
            "InvalidArgument",
            "Fields is required",
        ),
    ],
)
def test_invalid_requests_get_cos_codes(parts: dict[str, str], code: str, text: str) -> None:
    got_code, message = refusal(body(**parts))
    assert got_code == code
    assert text in message


@pytest.mark.parametrize(
    "data",
    [
        b"<CreateJobRequest><Priority>",
        b"<!DOCTYPE x [<!ENTITY a 'b'>]><CreateJobRequest>&a;</CreateJobRequest>",
        b"<Other/>",
    ],
)
def test_bad_xml_is_malformed_xml(data: bytes) -> None:
    assert refusal(data)[0] == "MalformedXML"


def test_status_spellings_of_the_api_and_the_console_are_both_read() -> None:
    assert parse_status("Cancelled", "s") is JobStatus.CANCELLED
    assert parse_status("Canceled", "s") is JobStatus.CANCELLED
    assert parse_status("Canceling", "s") is JobStatus.CANCELLING
    with pytest.raises(ValidationError, match="unknown status 'Done'"):
        parse_status("Done", "s")


# --- responses -------------------------------------------------------------------------------


def make_job(**overrides: Any) -> Job:
    spec = parse_create_job(body(), default_threshold=THRESHOLD)
    values: dict[str, Any] = {
        "id": "53dc6228-c50b-46f7-8ad7-65e7159f1aae",
        "account_id": "1250000000",
        "spec": spec,
        "status": JobStatus.FAILED,
        "priority": 10,
        "creation_time": CREATED,
        "progress": Progress(total=3, succeeded=2, failed=1, elapsed_active_seconds=4),
        "termination_time": CREATED,
        "failure_reasons": (FailureReason("ManifestNotReadable", "no manifest"),),
    }
    values.update(overrides)
    return Job(**values)


def test_describe_job_uses_cos_element_names() -> None:
    root = parse_xml(render_describe_job(make_job()))
    assert root.tag == "DescribeJobResult" and "xmlns" not in render_describe_job(make_job()).decode()
    job = root.find("Job")
    assert job is not None
    assert job.findtext("CreationTime") == "2019-12-19T18:00:30Z"
    assert job.findtext("TerminationDate") == "2019-12-19T18:00:30Z"
    assert job.findtext("FailureReasons/JobFailure/FailureCode") == "ManifestNotReadable"
    assert job.find("ProgressSummary/Timers") is None
    assert job.findtext("ProgressSummary/NumberOfTasksFailed") == "1"
    assert job.findtext("Operation/COSPutObjectCopy/TargetResource", "").endswith("destinationbucket-1250000000")
    assert job.findtext("Manifest/Spec/Fields/member") == "Bucket"
    assert job.findtext("Report/Format") == "Report_CSV_V1"
    assert job.find("JobArn") is None


def test_list_jobs_has_members_and_a_next_token() -> None:
    root = parse_xml(render_list_jobs([make_job(status=JobStatus.CANCELLED)], "53dc6228"))
    assert root.findtext("NextToken") == "53dc6228"
    assert root.findtext("Jobs/member/Operation") == "COSPutObjectCopy"
    assert root.findtext("Jobs/member/Status") == "Cancelled"


def test_update_status_and_error_bodies() -> None:
    root = parse_xml(render_update_status("id-1", JobStatus.CANCELLING, "stop"))
    assert [el.tag for el in root] == ["JobId", "Status", "StatusUpdateReason"]
    error = parse_xml(render_error("NoSuchJob", "no such job", "REQ1", "/jobs/x"))
    assert [el.tag for el in error] == ["Code", "Message", "Resource", "RequestId", "TraceId"]
    assert error.findtext("Resource") == "/jobs/x"


def test_timestamps_are_whole_seconds_in_utc() -> None:
    assert format_timestamp(datetime(2024, 1, 2, 3, 4, 5, 999999)) == "2024-01-02T03:04:05Z"


# --- qcs names -------------------------------------------------------------------------------


def test_qcs_names_resolve_to_the_bucket_appid_string() -> None:
    assert parse_object_arn(MANIFEST_ARN) == ("sourcebucket-1250000000", "manifests/batch-copy-manifest.csv")
    assert parse_bucket_arn("qcs::cos:ap-chengdu:uid/1250000000:dest-1250000000") == "dest-1250000000"
    assert parse_bucket_arn("qcs::cos:ap-chengdu::dest-1250000000") == "dest-1250000000"
    with pytest.raises(ValidationError, match="names an object"):
        parse_bucket_arn(MANIFEST_ARN)
    with pytest.raises(ValidationError, match="not valid"):
        parse_bucket_arn("qcs::cos:ap-chengdu::Upper_Case")


# --- COS operations --------------------------------------------------------------------------


def copy_params(inner: str) -> dict[str, Any]:
    """The params as the job stores them."""
    return COSPutObjectCopy().parse(
        parse_xml(COPY.replace("</COSPutObjectCopy>", inner + "</COSPutObjectCopy>").encode())
    ).to_json()


def test_copy_directives_and_new_values() -> None:
    params = copy_params(
        "<MetadataDirective>Add</MetadataDirective><NewObjectMetadata><ContentType>text/plain</ContentType>"
        "<UserMetadata><member><Key>a</Key><Value>1</Value></member></UserMetadata></NewObjectMetadata>"
        "<TaggingDirective>Add</TaggingDirective><NewObjectTagging><COSTag><Key>t</Key><Value>v</Value></COSTag>"
        "</NewObjectTagging><AccessControlDirective>Add</AccessControlDirective><AccessControlGrants><COSGrant>"
        "<Grantee><Identifier>qcs::cam::uin/1:uin/2</Identifier><TypeIdentifier>ID</TypeIdentifier></Grantee>"
        "<Permission>READ</Permission></COSGrant></AccessControlGrants>"
        "<ModifiedSinceConstraint>1577836800</ModifiedSinceConstraint>"
    )
    assert params["MetadataDirective"] == "Add"
    assert params["NewObjectMetadata"] == {"ContentType": "text/plain", "Metadata": {"a": "1"}}
    assert params["NewObjectTagging"] == [{"Key": "t", "Value": "v"}]
    assert params["AccessControlGrants"] == [
        {"Grantee": {"Type": "CanonicalUser", "ID": "qcs::cam::uin/1:uin/2"}, "Permission": "READ"}
    ]
    assert params["CopyArguments"] == {"CopySourceIfModifiedSince": "2020-01-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("inner", "text"),
    [
        ("<MetadataDirective>REPLACE</MetadataDirective>", "Copy, Replaced, Add"),
        ("<NewObjectMetadata><ContentType>x</ContentType></NewObjectMetadata>", "MetadataDirective is Copy"),
        ("<TaggingDirective>Replaced</TaggingDirective>", "NewObjectTagging is required"),
        ("<ResourcesPrefix>a</ResourcesPrefix>", "PrefixReplace"),
        ("<StorageClass>GLACIER</StorageClass>", "STANDARD, STANDARD_IA"),
        ("<NewObjectMetadata><SSEAlgorithm>KMS</SSEAlgorithm></NewObjectMetadata>", "AES256"),
        ("<AccessControlGrants><COSGrant><Permission>READ</Permission></COSGrant></AccessControlGrants>", "Grantee"),
    ],
)
def test_copy_refusals_name_the_field(inner: str, text: str) -> None:
    with pytest.raises(ValidationError) as info:
        copy_params(inner)
    assert text in str(info.value)


@pytest.mark.parametrize(
    ("replace", "source", "target", "key", "expected"),
    [
        (True, "pic", "abc", "picture.jpg", "abcture.jpg"),
        (True, "", "new/", "a.txt", "new/a.txt"),
        (True, "old/", "", "old/a.txt", "a.txt"),
        (True, "old/", "new/", "other/a.txt", "other/a.txt"),
        (False, "", "copied/", "a.txt", "copied/a.txt"),
    ],
)
def test_key_rewrite(replace: bool, source: str, target: str, key: str, expected: str) -> None:
    assert rewrite_key(KeyRewrite(replace, source, target), key) == expected


def test_a_rewrite_to_an_empty_key_fails_the_task() -> None:
    with pytest.raises(Exception, match="empty"):
        rewrite_key(KeyRewrite(prefix_replace=True, resources_prefix="a", target_key_prefix=""), "a")


def test_tagging_directive_and_merge() -> None:
    element = parse_xml(
        b"<COSPutObjectTagging><TaggingDirective>Add</TaggingDirective><TagSet><COSTag><Key>k</Key>"
        b"<Value>new</Value></COSTag></TagSet></COSPutObjectTagging>"
    )
    assert COSPutObjectTagging().parse(element).tagging_directive == "Add"
    old = [{"Key": "k", "Value": "old"}, {"Key": "x", "Value": "1"}]
    assert merge_tags(old, [{"Key": "k", "Value": "new"}]) == [{"Key": "k", "Value": "new"}, {"Key": "x", "Value": "1"}]


@pytest.mark.parametrize(
    ("xml", "text"),
    [
        (
            "<COSInitiateRestoreObject><JobTier>Bulk</JobTier></COSInitiateRestoreObject>",
            "ExpirationInDays is required",
        ),
        (
            "<COSInitiateRestoreObject><ExpirationInDays>366</ExpirationInDays><JobTier>Bulk</JobTier>"
            "</COSInitiateRestoreObject>",
            "from 1 to 365",
        ),
        (
            "<COSInitiateRestoreObject><ExpirationInDays>1</ExpirationInDays><JobTier>BULK</JobTier>"
            "</COSInitiateRestoreObject>",
            "Bulk, Standard",
        ),
        (
            "<COSInitiateRestoreObject><ExpirationInDays>1</ExpirationInDays><JobTier>Bulk</JobTier>"
            "<BatchOpsWaitForRestore>0</BatchOpsWaitForRestore></COSInitiateRestoreObject>",
            "BatchOpsWaitForRestore",
        ),
    ],
)
def test_restore_refusals(xml: str, text: str) -> None:
    with pytest.raises(ValidationError) as info:
        COSInitiateRestoreObject().parse(parse_xml(xml.encode()))
    assert text in str(info.value)


def test_s3_restore_parameters() -> None:
    element = parse_xml(
        b"<S3InitiateRestoreObject><ExpirationInDays>2</ExpirationInDays><GlacierJobTier>BULK</GlacierJobTier>"
        b"<BatchOpsWaitForRestore>30</BatchOpsWaitForRestore></S3InitiateRestoreObject>"
    )
    assert S3InitiateRestoreObject().parse(element).to_json() == {"Days": 2, "Tier": "Bulk", "Wait": 30}


def test_restore_finished_reads_the_header() -> None:
    assert restore_finished('ongoing-request="false", expiry-date="Fri, 21 Dec 2012 00:00:00 GMT"')
    assert not restore_finished('ongoing-request="true"')
    assert not restore_finished(None)
