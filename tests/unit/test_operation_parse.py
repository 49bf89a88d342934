"""Each operation's parse(): boto3's XML becomes JSON-able params; mistakes fail with a clear message."""

from __future__ import annotations

import json

import pytest

from batchops.errors import ValidationError
from batchops.operations.acl import PutObjectAcl
from batchops.operations.base import Operation
from batchops.operations.checksum import ComputeObjectChecksum
from batchops.operations.copy import CopyObject
from batchops.operations.cos_copy import COSPutObjectCopy
from batchops.operations.cos_delete import COSDeleteObject
from batchops.operations.cos_tagging import COSPutObjectTagging
from batchops.operations.delete import DeleteObject
from batchops.operations.delete_tagging import DeleteObjectTagging
from batchops.operations.lambda_invoke import LambdaInvoke
from batchops.operations.legal_hold import PutObjectLegalHold
from batchops.operations.merge_tagging import MergeObjectTagging
from batchops.operations.noop import NoOp
from batchops.operations.registry import OPERATIONS, get_operation, supported_names
from batchops.operations.replicate import ReplicateObject
from batchops.operations.restore import COSInitiateRestoreObject, S3InitiateRestoreObject
from batchops.operations.retention import PutObjectRetention
from batchops.operations.tagging import PutObjectTagging
from tests.support.operation_xml import parse, refusal, tags_xml

NS = 'xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"'


def copy_xml(body: str, target: str = "<TargetResource>arn:aws:s3:::dest</TargetResource>") -> str:
    return f"<S3PutObjectCopy>{target}{body}</S3PutObjectCopy>"


# --- S3PutObjectTagging ---------------------------------------------------------------------------


def test_tagging_parses_the_tag_set_boto3_sends() -> None:
    tags = tags_xml([("k", "v"), ("empty", "")])
    xml = f"<S3PutObjectTagging {NS}><TagSet>{tags}</TagSet></S3PutObjectTagging>"
    assert parse(PutObjectTagging(), xml) == {"TagSet": [{"Key": "k", "Value": "v"}, {"Key": "empty", "Value": ""}]}


def test_tagging_with_an_empty_tag_set_removes_all_tags() -> None:
    assert parse(PutObjectTagging(), "<S3PutObjectTagging><TagSet /></S3PutObjectTagging>") == {"TagSet": []}


def test_tagging_refuses_more_than_ten_tags() -> None:
    tags = tags_xml([(f"k{i}", "v") for i in range(11)])
    xml = f"<S3PutObjectTagging><TagSet>{tags}</TagSet></S3PutObjectTagging>"
    assert "has 11 tags but S3 allows at most 10" in refusal(PutObjectTagging(), xml)


def test_tagging_refuses_duplicate_keys() -> None:
    xml = f"<S3PutObjectTagging><TagSet>{tags_xml([('k', '1'), ('k', '2')])}</TagSet></S3PutObjectTagging>"
    assert "duplicate tag keys" in refusal(PutObjectTagging(), xml)


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("k" * 129, "v", "Key must be 1 to 128 characters long"),
        ("k", "v" * 257, "Value must be 0 to 256 characters long"),
        ("aws:reserved", "v", "reserved prefix aws:"),
        ("a%b", "v", "tag Key 'a%b' has '%'; S3 tags allow letters, digits, spaces and _.:/=+-@ only"),
        ("k", "x&amp;y", "tag Value 'x&y' has '&'"),
    ],
)
def test_tagging_refuses_bad_tags(key: str, value: str, expected: str) -> None:
    xml = f"<S3PutObjectTagging><TagSet>{tags_xml([(key, value)])}</TagSet></S3PutObjectTagging>"
    assert expected in refusal(PutObjectTagging(), xml)


def test_tagging_refuses_a_tag_without_key() -> None:
    xml = "<S3PutObjectTagging><TagSet><member><Value>v</Value></member></TagSet></S3PutObjectTagging>"
    assert "Key is required" in refusal(PutObjectTagging(), xml)


def test_tagging_refuses_a_misspelt_element() -> None:
    message = refusal(PutObjectTagging(), "<S3PutObjectTagging><Tagset /></S3PutObjectTagging>")
    assert message == ("S3PutObjectTagging has unknown element(s) Tagset; it accepts TagSet (check the spelling)")


# --- empty-element operations ---------------------------------------------------------------------


@pytest.mark.parametrize("operation", [DeleteObjectTagging(), DeleteObject()])
def test_empty_operations_parse_a_self_closed_element(operation: Operation) -> None:
    assert parse(operation, f"<{operation.name} />") == {}


@pytest.mark.parametrize("operation", [DeleteObjectTagging(), DeleteObject()])
def test_empty_operations_refuse_parameters(operation: Operation) -> None:
    message = refusal(operation, f"<{operation.name}><VersionId>1</VersionId></{operation.name}>")
    assert f"{operation.name} has unknown element(s) VersionId; it accepts no child elements" in message


# --- S3PutObjectLegalHold -------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["ON", "OFF"])
def test_legal_hold_parses_status(status: str) -> None:
    xml = f"<S3PutObjectLegalHold><LegalHold><Status>{status}</Status></LegalHold></S3PutObjectLegalHold>"
    assert parse(PutObjectLegalHold(), xml) == {"LegalHold": {"Status": status}}


def test_legal_hold_refuses_a_lowercase_status() -> None:
    xml = "<S3PutObjectLegalHold><LegalHold><Status>on</Status></LegalHold></S3PutObjectLegalHold>"
    assert (
        refusal(PutObjectLegalHold(), xml) == "S3PutObjectLegalHold.LegalHold.Status must be one of ON, OFF, not 'on'"
    )


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<S3PutObjectLegalHold />", "S3PutObjectLegalHold.LegalHold is required"),
        ("<S3PutObjectLegalHold><LegalHold /></S3PutObjectLegalHold>", "LegalHold.Status is required"),
    ],
)
def test_legal_hold_refuses_missing_fields(xml: str, expected: str) -> None:
    assert expected in refusal(PutObjectLegalHold(), xml)


# --- S3PutObjectRetention -------------------------------------------------------------------------


def retention_xml(retention: str, bypass: str = "") -> str:
    return f"<S3PutObjectRetention>{bypass}<Retention>{retention}</Retention></S3PutObjectRetention>"


def test_retention_parses_what_boto3_sends() -> None:
    xml = retention_xml(
        "<RetainUntilDate>2030-01-02T03:04:05Z</RetainUntilDate><Mode>GOVERNANCE</Mode>",
        "<BypassGovernanceRetention>true</BypassGovernanceRetention>",
    )
    assert parse(PutObjectRetention(), xml) == {
        "Retention": {"Mode": "GOVERNANCE", "RetainUntilDate": "2030-01-02T03:04:05Z"},
        "BypassGovernanceRetention": True,
    }


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("2030-01-02T03:04:05Z", "2030-01-02T03:04:05Z"),
        ("2030-01-02T03:04:05.600Z", "2030-01-02T03:04:05.600000Z"),
        ("2030-01-02T03:04:05.600000Z", "2030-01-02T03:04:05.600000Z"),
        ("2030-01-02T05:04:05+02:00", "2030-01-02T03:04:05Z"),
    ],
)
def test_retention_dates_are_normalised_to_utc(given: str, stored: str) -> None:
    xml = retention_xml(f"<Mode>COMPLIANCE</Mode><RetainUntilDate>{given}</RetainUntilDate>")
    assert parse(PutObjectRetention(), xml)["Retention"]["RetainUntilDate"] == stored


def test_retention_without_bypass_leaves_it_out() -> None:
    xml = retention_xml("<Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-02T03:04:05Z</RetainUntilDate>")
    assert "BypassGovernanceRetention" not in parse(PutObjectRetention(), xml)


def test_an_empty_retention_clears_it() -> None:
    xml = "<S3PutObjectRetention><Retention /></S3PutObjectRetention>"
    assert parse(PutObjectRetention(), xml) == {"Retention": {}}


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<S3PutObjectRetention />", "S3PutObjectRetention.Retention is required"),
        (retention_xml("<Mode>GOVERNANCE</Mode>"), "needs both Mode and RetainUntilDate"),
        (
            retention_xml("<Mode>LEGAL</Mode><RetainUntilDate>2030-01-02T03:04:05Z</RetainUntilDate>"),
            "S3PutObjectRetention.Retention.Mode must be one of COMPLIANCE, GOVERNANCE, not 'LEGAL'",
        ),
        (
            retention_xml("<Mode>GOVERNANCE</Mode><RetainUntilDate>2030-13-02T03:04:05Z</RetainUntilDate>"),
            "S3PutObjectRetention.Retention.RetainUntilDate must be an ISO-8601 timestamp",
        ),
        (
            retention_xml("<Mode>GOVERNANCE</Mode><RetainUntilDate>next year</RetainUntilDate>"),
            "such as 2030-01-02T03:04:05Z, not 'next year'",
        ),
        (
            retention_xml("<EventHold>ON</EventHold>"),
            "S3PutObjectRetention.Retention.EventHold is not supported by batchops; remove it",
        ),
        (
            retention_xml("", "<BypassGovernanceRetention>yes</BypassGovernanceRetention>"),
            "S3PutObjectRetention.BypassGovernanceRetention must be true or false, not 'yes'",
        ),
    ],
)
def test_retention_refuses_bad_input(xml: str, expected: str) -> None:
    assert expected in refusal(PutObjectRetention(), xml)


# --- S3PutObjectAcl -------------------------------------------------------------------------------


def acl_xml(policy: str) -> str:
    return f"<S3PutObjectAcl><AccessControlPolicy>{policy}</AccessControlPolicy></S3PutObjectAcl>"


EXPLICIT_ACL = (
    "<AccessControlList><Owner><ID>owner-id</ID><DisplayName>me</DisplayName></Owner><Grants>"
    "<member><Grantee><TypeIdentifier>id</TypeIdentifier><Identifier>abc</Identifier>"
    "<DisplayName>x</DisplayName></Grantee><Permission>READ</Permission></member>"
    "<member><Grantee><TypeIdentifier>uri</TypeIdentifier>"
    "<Identifier>http://acs.amazonaws.com/groups/global/AllUsers</Identifier></Grantee>"
    "<Permission>READ_ACP</Permission></member>"
    "<member><Grantee><TypeIdentifier>emailAddress</TypeIdentifier><Identifier>a@example.com</Identifier>"
    "</Grantee><Permission>FULL_CONTROL</Permission></member>"
    "</Grants></AccessControlList>"
)


def test_acl_parses_a_canned_acl() -> None:
    xml = acl_xml("<CannedAccessControlList>public-read</CannedAccessControlList>")
    assert parse(PutObjectAcl(), xml) == {"ACL": "public-read"}


def test_acl_parses_an_explicit_list_into_the_s3_shape() -> None:
    assert parse(PutObjectAcl(), acl_xml(EXPLICIT_ACL)) == {
        "AccessControlPolicy": {
            "Owner": {"ID": "owner-id", "DisplayName": "me"},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": "abc", "DisplayName": "x"}, "Permission": "READ"},
                {
                    "Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                    "Permission": "READ_ACP",
                },
                {
                    "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"},
                    "Permission": "FULL_CONTROL",
                },
            ],
        }
    }


def grant_xml(type_identifier: str, permission: str) -> str:
    return acl_xml(
        "<AccessControlList><Owner><ID>o</ID></Owner><Grants><member><Grantee>"
        f"<TypeIdentifier>{type_identifier}</TypeIdentifier><Identifier>abc</Identifier></Grantee>"
        f"<Permission>{permission}</Permission></member></Grants></AccessControlList>"
    )


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        ("<S3PutObjectAcl />", "S3PutObjectAcl.AccessControlPolicy is required"),
        (acl_xml(""), "needs exactly one of CannedAccessControlList or AccessControlList"),
        (
            acl_xml(f"<CannedAccessControlList>private</CannedAccessControlList>{EXPLICIT_ACL}"),
            "needs exactly one of CannedAccessControlList or AccessControlList",
        ),
        (
            acl_xml("<CannedAccessControlList>everyone</CannedAccessControlList>"),
            "S3PutObjectAcl.AccessControlPolicy.CannedAccessControlList must be one of private, public-read,",
        ),
        (acl_xml("<AccessControlList><Grants /></AccessControlList>"), "AccessControlList.Owner is required"),
        (
            acl_xml("<AccessControlList><Owner /></AccessControlList>"),
            "AccessControlList.Owner.ID is required",
        ),
        (grant_xml("id", "DELETE"), "Grants.Permission must be one of FULL_CONTROL, READ, WRITE, READ_ACP"),
        (grant_xml("canonical", "READ"), "Grantee.TypeIdentifier must be one of id, emailAddress, uri"),
    ],
)
def test_acl_refuses_bad_input(xml: str, expected: str) -> None:
    assert expected in refusal(PutObjectAcl(), xml)


# --- S3PutObjectCopy ------------------------------------------------------------------------------

BOTO3_COPY = (
    f"<S3PutObjectCopy {NS}><TargetResource>arn:aws:s3:::dest</TargetResource>"
    "<TargetKeyPrefix>copied/</TargetKeyPrefix><StorageClass>STANDARD_IA</StorageClass>"
    "<MetadataDirective>REPLACE</MetadataDirective><NewObjectMetadata><CacheControl>max-age=60</CacheControl>"
    "<ContentType>text/plain</ContentType><HttpExpiresDate>2031-01-02T03:04:05.600000Z</HttpExpiresDate>"
    "<UserMetadata><entry><key>a</key><value>1</value></entry><entry><key>b</key><value>2</value></entry>"
    "</UserMetadata><SSEAlgorithm>AES256</SSEAlgorithm></NewObjectMetadata>"
    "<NewObjectTagging><member><Key>k</Key><Value>v w</Value></member>"
    "<member><Key>ü+</Key><Value>a=b c</Value></member></NewObjectTagging>"
    "<CannedAccessControlList>bucket-owner-full-control</CannedAccessControlList>"
    "<ModifiedSinceConstraint>2020-01-01T00:00:00Z</ModifiedSinceConstraint>"
    "<UnModifiedSinceConstraint>2040-01-01T00:00:00.500Z</UnModifiedSinceConstraint>"
    "<RequesterPays>true</RequesterPays><ObjectLockLegalHoldStatus>ON</ObjectLockLegalHoldStatus>"
    "<ObjectLockMode>GOVERNANCE</ObjectLockMode><ObjectLockRetainUntilDate>2030-01-01T00:00:00Z"
    "</ObjectLockRetainUntilDate><ChecksumAlgorithm>SHA256</ChecksumAlgorithm>"
    "<BucketKeyEnabled>false</BucketKeyEnabled></S3PutObjectCopy>"
)


def test_copy_parses_everything_boto3_sends() -> None:
    assert parse(CopyObject(), BOTO3_COPY) == {
        "TargetBucket": "dest",
        "TargetKeyPrefix": "copied/",
        "CopyArguments": {
            "MetadataDirective": "REPLACE",
            "CacheControl": "max-age=60",
            "ContentType": "text/plain",
            "Metadata": {"a": "1", "b": "2"},
            "Expires": "2031-01-02T03:04:05.600000Z",
            "ServerSideEncryption": "AES256",
            "TaggingDirective": "REPLACE",
            "Tagging": "k=v%20w&%C3%BC%2B=a%3Db%20c",
            "CopySourceIfModifiedSince": "2020-01-01T00:00:00Z",
            "CopySourceIfUnmodifiedSince": "2040-01-01T00:00:00.500000Z",
            "StorageClass": "STANDARD_IA",
            "ACL": "bucket-owner-full-control",
            "RequestPayer": "requester",
            "BucketKeyEnabled": False,
            "ChecksumAlgorithm": "SHA256",
            "ObjectLockLegalHoldStatus": "ON",
            "ObjectLockMode": "GOVERNANCE",
            "ObjectLockRetainUntilDate": "2030-01-01T00:00:00Z",
        },
    }


def test_copy_needs_only_a_target() -> None:
    assert parse(CopyObject(), copy_xml("")) == {
        "TargetBucket": "dest",
        "TargetKeyPrefix": "",
        "CopyArguments": {},
    }


def test_copy_accepts_other_partitions() -> None:
    xml = copy_xml("", "<TargetResource>arn:aws-cn:s3:::dest.bucket</TargetResource>")
    assert parse(CopyObject(), xml)["TargetBucket"] == "dest.bucket"


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "dest",
            "S3PutObjectCopy.TargetResource must be a bucket ARN such as arn:aws:s3:::my-bucket, not 'dest'",
        ),
        ("arn:aws:s3:::dest/key.txt", "that ARN names an object; drop the '/…' part"),
        ("arn:aws:iam::123456789012:role/r", "must be a bucket ARN"),
        ("arn:aws:s3express:us-east-1:123456789012:bucket/b--use1-az4--x-s3", "must be a bucket ARN"),
    ],
)
def test_copy_refuses_targets_that_are_not_bucket_arns(arn: str, expected: str) -> None:
    assert expected in refusal(CopyObject(), copy_xml("", f"<TargetResource>{arn}</TargetResource>"))


def test_copy_refuses_a_missing_target() -> None:
    message = refusal(CopyObject(), "<S3PutObjectCopy><StorageClass>STANDARD</StorageClass></S3PutObjectCopy>")
    assert "S3PutObjectCopy.TargetResource is required: give the destination bucket's ARN" in message


def test_copy_refuses_an_unknown_storage_class() -> None:
    assert refusal(CopyObject(), copy_xml("<StorageClass>FOO</StorageClass>")) == (
        "S3PutObjectCopy.StorageClass must be one of STANDARD, STANDARD_IA, ONEZONE_IA, GLACIER, "
        "INTELLIGENT_TIERING, DEEP_ARCHIVE, GLACIER_IR, not 'FOO'"
    )


def test_copy_names_unknown_elements() -> None:
    message = refusal(CopyObject(), copy_xml("<StorageClas>STANDARD</StorageClas><Foo />"))
    assert message.startswith("S3PutObjectCopy has unknown element(s) Foo, StorageClas; it accepts TargetResource")


def test_copy_accepts_the_members_it_used_to_refuse() -> None:
    # Grants, annotations and event holds map to CopyObject now (tests/unit/test_operation_copy.py has the details).
    body = "<AccessControlGrants /><AnnotationDirective>EXCLUDE</AnnotationDirective>"
    body += "<ObjectLockEventHold>OFF</ObjectLockEventHold>"
    assert parse(CopyObject(), copy_xml(body))["CopyArguments"] == {
        "AnnotationDirective": "EXCLUDE",
        "ObjectLockEventHold": "OFF",
    }


def test_copy_refuses_an_element_given_twice() -> None:
    message = refusal(
        CopyObject(), copy_xml("<StorageClass>STANDARD</StorageClass><StorageClass>GLACIER</StorageClass>")
    )
    assert message == "S3PutObjectCopy.StorageClass appears more than once; give it once"


def test_new_metadata_implies_replace() -> None:
    xml = copy_xml("<NewObjectMetadata><ContentType>text/csv</ContentType></NewObjectMetadata>")
    assert parse(CopyObject(), xml)["CopyArguments"] == {
        "MetadataDirective": "REPLACE",
        "ContentType": "text/csv",
    }


def test_new_metadata_with_copy_directive_is_refused() -> None:
    xml = copy_xml(
        "<MetadataDirective>COPY</MetadataDirective>"
        "<NewObjectMetadata><ContentType>text/csv</ContentType></NewObjectMetadata>"
    )
    assert "MetadataDirective is COPY, which keeps the source's; use REPLACE" in refusal(CopyObject(), xml)


def test_encryption_alone_keeps_the_source_metadata() -> None:
    xml = copy_xml(
        "<MetadataDirective>COPY</MetadataDirective><NewObjectMetadata><SSEAlgorithm>KMS</SSEAlgorithm>"
        "</NewObjectMetadata><SSEAwsKmsKeyId>key-1</SSEAwsKmsKeyId><BucketKeyEnabled>true</BucketKeyEnabled>"
    )
    assert parse(CopyObject(), xml)["CopyArguments"] == {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "key-1",
        "BucketKeyEnabled": True,
    }


def test_replace_without_new_metadata_clears_it() -> None:
    xml = copy_xml("<MetadataDirective>REPLACE</MetadataDirective>")
    assert parse(CopyObject(), xml)["CopyArguments"] == {"MetadataDirective": "REPLACE"}


def test_ignored_metadata_fields_are_accepted_and_dropped() -> None:
    xml = copy_xml("<NewObjectMetadata><ContentLength>5</ContentLength><ContentMD5>x</ContentMD5></NewObjectMetadata>")
    assert parse(CopyObject(), xml)["CopyArguments"] == {}


def test_an_empty_new_tag_set_replaces_tags_with_none() -> None:
    xml = copy_xml("<NewObjectTagging />")
    assert parse(CopyObject(), xml)["CopyArguments"] == {"TaggingDirective": "REPLACE", "Tagging": ""}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "<NewObjectMetadata><ContentTyp>x</ContentTyp></NewObjectMetadata>",
            "S3PutObjectCopy.NewObjectMetadata has unknown element(s) ContentTyp",
        ),
        (
            "<NewObjectMetadata><SSEAlgorithm>aws:kms</SSEAlgorithm></NewObjectMetadata>",
            "S3PutObjectCopy.NewObjectMetadata.SSEAlgorithm must be one of AES256, KMS, not 'aws:kms'",
        ),
        ("<SSEAwsKmsKeyId>key-1</SSEAwsKmsKeyId>", "SSEAwsKmsKeyId needs NewObjectMetadata.SSEAlgorithm KMS"),
        (
            "<MetadataDirective>KEEP</MetadataDirective>",
            "S3PutObjectCopy.MetadataDirective must be one of COPY, REPLACE, not 'KEEP'",
        ),
        (
            "<CannedAccessControlList>public</CannedAccessControlList>",
            "S3PutObjectCopy.CannedAccessControlList must be one of private, public-read",
        ),
        (
            "<ChecksumAlgorithm>CRC16</ChecksumAlgorithm>",
            "S3PutObjectCopy.ChecksumAlgorithm must be one of CRC32",
        ),
        (
            "<ObjectLockMode>GOVERNANCE</ObjectLockMode>",
            "needs ObjectLockMode and ObjectLockRetainUntilDate together",
        ),
        ("<ObjectLockLegalHoldStatus>YES</ObjectLockLegalHoldStatus>", "must be one of ON, OFF, not 'YES'"),
        (
            "<ModifiedSinceConstraint>01/02/2020</ModifiedSinceConstraint>",
            "S3PutObjectCopy.ModifiedSinceConstraint must be an ISO-8601 timestamp",
        ),
        ("<RequesterPays>1</RequesterPays>", "S3PutObjectCopy.RequesterPays must be true or false, not '1'"),
        (
            "<TargetKeyPrefix>" + "p" * 1025 + "</TargetKeyPrefix>",
            "TargetKeyPrefix must be 1 to 1024 characters",
        ),
        (
            f"<NewObjectTagging>{tags_xml([(f'k{i}', 'v') for i in range(11)])}</NewObjectTagging>",
            "S3PutObjectCopy.NewObjectTagging has 11 tags but S3 allows at most 10",
        ),
        (
            "<NewObjectMetadata><UserMetadata><entry><key>big</key><value>"
            + "v" * 2048
            + "</value></entry></UserMetadata></NewObjectMetadata>",
            "S3PutObjectCopy.NewObjectMetadata.UserMetadata is 2051 bytes but S3 allows 2048",
        ),
    ],
)
def test_copy_refuses_bad_input(body: str, expected: str) -> None:
    assert expected in refusal(CopyObject(), copy_xml(body))


# --- all operations -------------------------------------------------------------------------------

VALID_EXAMPLES = [
    (
        PutObjectTagging(),
        f"<S3PutObjectTagging><TagSet>{tags_xml([('k', 'v')])}</TagSet></S3PutObjectTagging>",
    ),
    (DeleteObjectTagging(), "<S3DeleteObjectTagging />"),
    (DeleteObject(), "<S3DeleteObject />"),
    (NoOp(), "<BatchOpsNoOp />"),
    (
        PutObjectLegalHold(),
        "<S3PutObjectLegalHold><LegalHold><Status>ON</Status></LegalHold></S3PutObjectLegalHold>",
    ),
    (
        PutObjectRetention(),
        retention_xml("<Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-02T03:04:05Z</RetainUntilDate>"),
    ),
    (PutObjectAcl(), acl_xml(EXPLICIT_ACL)),
    (CopyObject(), BOTO3_COPY),
    (
        S3InitiateRestoreObject(),
        "<S3InitiateRestoreObject><ExpirationInDays>1</ExpirationInDays></S3InitiateRestoreObject>",
    ),
    (
        COSInitiateRestoreObject(),
        "<COSInitiateRestoreObject><ExpirationInDays>1</ExpirationInDays><JobTier>Bulk</JobTier>"
        "</COSInitiateRestoreObject>",
    ),
    (COSDeleteObject(), "<COSDeleteObject></COSDeleteObject>"),
    (
        COSPutObjectTagging(),
        "<COSPutObjectTagging><TagSet><COSTag><Key>k</Key><Value>v</Value></COSTag></TagSet></COSPutObjectTagging>",
    ),
    (
        COSPutObjectCopy(),
        "<COSPutObjectCopy><TargetResource>qcs::cos:ap-chengdu::dest-1250000000</TargetResource></COSPutObjectCopy>",
    ),
    (
        MergeObjectTagging(),
        "<BatchOpsMergeObjectTagging><RemoveKeys><member>k</member></RemoveKeys></BatchOpsMergeObjectTagging>",
    ),
    (
        ComputeObjectChecksum(),
        "<S3ComputeObjectChecksum><ChecksumAlgorithm>CRC32C</ChecksumAlgorithm></S3ComputeObjectChecksum>",
    ),
    (LambdaInvoke(), "<LambdaInvoke><FunctionArn>my-function:live</FunctionArn></LambdaInvoke>"),
    (ReplicateObject(), "<S3ReplicateObject />"),
]


@pytest.mark.parametrize(("operation", "xml"), VALID_EXAMPLES, ids=lambda value: getattr(value, "name", ""))
def test_params_survive_a_json_round_trip(operation: Operation, xml: str) -> None:
    params = parse(operation, xml)
    assert json.loads(json.dumps(params)) == params


def test_noop_refuses_children() -> None:
    assert "BatchOpsNoOp" in refusal(NoOp(), "<BatchOpsNoOp><Anything>1</Anything></BatchOpsNoOp>")


def test_every_operation_is_registered_under_its_name() -> None:
    assert OPERATIONS, "the registry is empty"
    for key, operation in OPERATIONS.items():
        assert operation.name == key


def test_the_registry_holds_every_operation_module() -> None:
    assert supported_names() == sorted(operation.name for operation, _ in VALID_EXAMPLES)


def test_get_operation_returns_the_registered_instance() -> None:
    assert get_operation("S3PutObjectTagging") is OPERATIONS["S3PutObjectTagging"]


def test_an_unknown_operation_lists_the_supported_ones() -> None:
    with pytest.raises(ValidationError) as info:
        get_operation("S3TeleportObject")
    assert str(info.value) == f"Operation S3TeleportObject is not supported; use one of {', '.join(supported_names())}"
