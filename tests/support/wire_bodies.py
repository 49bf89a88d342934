"""Valid CreateJob bodies of both dialects as raw XML, element by element, for tests that bend them.

``s3control_body(Priority="<Priority> 7 </Priority>")`` replaces one top-level element; ``""`` drops it.
"""

from __future__ import annotations

S3CONTROL_NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"
ACCOUNT = "123456789012"
COS_ROLE = "qcs::cam::uin/100000000001:roleName/COS_Batch_QcsRole"


def tag_value(value: str) -> str:
    """An S3PutObjectTagging operation whose one tag has ``value`` as its raw <Value> content."""
    return (
        "<Operation><S3PutObjectTagging><TagSet><member><Key>k</Key>"
        f"<Value>{value}</Value></member></TagSet></S3PutObjectTagging></Operation>"
    )


def cos_tag_value(value: str) -> str:
    return (
        "<Operation><COSPutObjectTagging><TagSet><member><Key>k</Key>"
        f"<Value>{value}</Value></member></TagSet></COSPutObjectTagging></Operation>"
    )


def s3control_elements(
    manifest_arn: str = "arn:aws:s3:::manifests/list.csv",
    etag: str = '"abc123"',
    report_bucket: str = "reports",
    token: str = "token-1",
) -> dict[str, str]:
    return {
        "ClientRequestToken": f"<ClientRequestToken>{token}</ClientRequestToken>",
        "ConfirmationRequired": "<ConfirmationRequired>true</ConfirmationRequired>",
        "Description": "<Description>bent body</Description>",
        "Manifest": (
            "<Manifest><Spec><Format>S3BatchOperations_CSV_20180820</Format>"
            "<Fields><member>Bucket</member><member>Key</member></Fields></Spec>"
            f"<Location><ObjectArn>{manifest_arn}</ObjectArn><ETag>{etag}</ETag></Location></Manifest>"
        ),
        "Operation": tag_value("v"),
        "Priority": "<Priority>10</Priority>",
        "Report": (
            f"<Report><Bucket>arn:aws:s3:::{report_bucket}</Bucket><Format>Report_CSV_20180820</Format>"
            "<Enabled>true</Enabled><Prefix>reports</Prefix><ReportScope>AllTasks</ReportScope></Report>"
        ),
        "RoleArn": f"<RoleArn>arn:aws:iam::{ACCOUNT}:role/batch</RoleArn>",
    }


def cos_elements(
    manifest_arn: str = "qcs::cos:ap-chengdu::manifests-1250000000/list.csv",
    etag: str = '"abc123"',
    report_bucket: str = "reports",
    token: str = "token-1",
) -> dict[str, str]:
    return {
        "ClientRequestToken": f"<ClientRequestToken>{token}</ClientRequestToken>",
        "ConfirmationRequired": "<ConfirmationRequired>true</ConfirmationRequired>",
        "Description": "<Description>bent body</Description>",
        "Manifest": (
            "<Manifest><Spec><Format>COSBatchOperations_CSV_V1</Format>"
            "<Fields><member>Bucket</member><member>Key</member></Fields></Spec>"
            f"<Location><ObjectArn>{manifest_arn}</ObjectArn><ETag>{etag}</ETag></Location></Manifest>"
        ),
        "Operation": cos_tag_value("v"),
        "Priority": "<Priority>10</Priority>",
        "Report": (
            f"<Report><Bucket>qcs::cos:ap-chengdu:uid/{ACCOUNT}:{report_bucket}</Bucket><Enabled>true</Enabled>"
            "<Format>Report_CSV_V1</Format><Prefix>reports</Prefix><ReportScope>AllTasks</ReportScope></Report>"
        ),
        "RoleArn": f"<RoleArn>{COS_ROLE}</RoleArn>",
    }


def s3control_body(elements: dict[str, str] | None = None, **parts: str) -> bytes:
    merged = {**(s3control_elements() if elements is None else elements), **parts}
    return f'<CreateJobRequest xmlns="{S3CONTROL_NAMESPACE}">{"".join(merged.values())}</CreateJobRequest>'.encode()


def cos_body(elements: dict[str, str] | None = None, **parts: str) -> bytes:
    merged = {**(cos_elements() if elements is None else elements), **parts}
    return f"<CreateJobRequest>{''.join(merged.values())}</CreateJobRequest>".encode()


def nested(depth: int, inner: str = "x") -> str:
    """``depth`` elements, each inside the last, around ``inner``."""
    return "<a>" * depth + inner + "</a>" * depth


def generator(bucket: str) -> str:
    """A ManifestGenerator element listing ``bucket`` with every kind of filter."""
    return (
        "<ManifestGenerator><S3JobManifestGenerator>"
        f"<ExpectedBucketOwner>{ACCOUNT}</ExpectedBucketOwner><SourceBucket>arn:aws:s3:::{bucket}</SourceBucket>"
        "<EnableManifestOutput>false</EnableManifestOutput><Filter>"
        "<CreatedAfter>2024-01-02T03:04:05Z</CreatedAfter><CreatedBefore>2099-01-02T03:04:05Z</CreatedBefore>"
        "<KeyNameConstraint><MatchAnyPrefix><member>logs/</member></MatchAnyPrefix>"
        "<MatchAnySuffix><member>.gz</member></MatchAnySuffix></KeyNameConstraint>"
        "<ObjectSizeGreaterThanBytes>10</ObjectSizeGreaterThanBytes>"
        "<ObjectSizeLessThanBytes>5000000000</ObjectSizeLessThanBytes>"
        "<MatchAnyStorageClass><member>STANDARD</member></MatchAnyStorageClass>"
        "</Filter></S3JobManifestGenerator></ManifestGenerator>"
    )


def job_tagging(elements: dict[str, str] | None = None) -> bytes:
    """A PutJobTaggingRequest; ``elements`` replaces its children (default: two tags)."""
    children = {"Tags": "<Tags><member><Key>a</Key><Value>b</Value></member><member><Key>c</Key></member></Tags>"}
    inner = "".join((children if elements is None else elements).values())
    return f'<PutJobTaggingRequest xmlns="{S3CONTROL_NAMESPACE}">{inner}</PutJobTaggingRequest>'.encode()
