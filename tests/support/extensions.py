"""One CreateJob per batchops extension, for the boto3 and AWS CLI tests (tests/integration/test_boto3_extensions.py,
test_awscli.py); tests/unit/test_botocore_overlay.py checks that together they use every name the overlay adds.

Each case gives the CreateJob parameters that differ from a plain job (``Operation`` and, for the extension
elements outside the operation, ``BatchOpsFailureThreshold`` or ``ManifestGenerator``) and what DescribeJob must
then show. ``{bucket}`` in a case stands for a bucket of the test store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

TAGS = [{"Key": "project", "Value": "batchops"}, {"Key": "stage", "Value": "test"}]


@dataclass(frozen=True)
class Extension:
    name: str
    operation: dict[str, Any]
    #: CreateJob parameters besides Operation (``ManifestGenerator`` replaces the manifest).
    create: dict[str, Any] = field(default_factory=dict)
    #: DescribeJob's Job members to compare with what was sent (Operation always).
    shown: tuple[str, ...] = ()

    def with_bucket(self, bucket: str) -> Extension:
        """The case with ``{bucket}`` filled in."""
        text = json.dumps({"operation": self.operation, "create": self.create})
        filled = json.loads(text.replace("{bucket}", bucket))
        return Extension(self.name, filled["operation"], filled["create"], self.shown)


NO_OP = {"BatchOpsNoOp": {}}

EXTENSIONS = [
    Extension("S3DeleteObject", {"S3DeleteObject": {}}),
    Extension("BatchOpsMergeObjectTagging", {"BatchOpsMergeObjectTagging": {"TagSet": TAGS, "RemoveKeys": ["old"]}}),
    Extension("BatchOpsNoOp", NO_OP),
    Extension(
        "BatchOpsWaitForRestore",
        {
            "S3InitiateRestoreObject": {
                "ExpirationInDays": 2,
                "GlacierJobTier": "STANDARD",
                "BatchOpsWaitForRestore": 600,
            }
        },
    ),
    Extension(
        "BatchOpsReplicaTarget",
        {
            "S3ReplicateObject": {
                "BatchOpsReplicaTarget": "arn:aws:s3:::{bucket}",
                "BatchOpsReplicaKeyPrefix": "replicas/",
            }
        },
    ),
    Extension("BatchOpsDryRun", NO_OP, {"BatchOpsDryRun": True}, ("BatchOpsDryRun",)),
    # DescribeJob shows the URL only, never the secret (tests/integration/test_webhooks.py checks it).
    Extension("BatchOpsWebhook", NO_OP, {"BatchOpsWebhook": {"Url": "http://127.0.0.1:9/hooks", "Secret": "unshown!"}}),
    Extension(
        "BatchOpsFailureThreshold",
        NO_OP,
        {"BatchOpsFailureThreshold": {"MinTasks": 5, "Percent": 12.5}},
        ("BatchOpsFailureThreshold",),
    ),
    Extension(
        "BatchOpsRateCaps",
        NO_OP,
        {"BatchOpsMaxRequestsPerSecond": 12.5, "BatchOpsMaxTasksInFlight": 3},
        ("BatchOpsMaxRequestsPerSecond", "BatchOpsMaxTasksInFlight"),
    ),
    Extension(
        "BatchOpsThen", NO_OP, {"BatchOpsThen": [NO_OP, {"S3PutObjectTagging": {"TagSet": TAGS}}]}, ("BatchOpsThen",)
    ),
    Extension(
        "BatchOpsIncludeAllVersions",
        NO_OP,
        {
            "ManifestGenerator": {
                "S3JobManifestGenerator": {
                    "SourceBucket": "arn:aws:s3:::{bucket}",
                    "EnableManifestOutput": False,
                    "BatchOpsIncludeAllVersions": True,
                }
            }
        },
        ("ManifestGenerator",),
    ),
    Extension("COSDeleteObject", {"COSDeleteObject": {}}),
    Extension("COSPutObjectTagging", {"COSPutObjectTagging": {"TaggingDirective": "Add", "TagSet": TAGS}}),
    Extension(
        "COSInitiateRestoreObject",
        {"COSInitiateRestoreObject": {"ExpirationInDays": 3, "JobTier": "Bulk", "BatchOpsWaitForRestore": 60}},
    ),
    Extension(
        "COSPutObjectCopy",
        {
            "COSPutObjectCopy": {
                "TargetResource": "qcs::cos:ap-chengdu:uid/1250000000:{bucket}",
                "StorageClass": "STANDARD_IA",
                "AccessControlDirective": "Replaced",
                "AccessControlGrants": [
                    {"Grantee": {"Identifier": "100000000001", "TypeIdentifier": "ID"}, "Permission": "READ"}
                ],
                "MetadataDirective": "Replaced",
                "NewObjectMetadata": {"ContentType": "text/plain", "UserMetadata": {"owner": "batchops"}},
                "TaggingDirective": "Replaced",
                "NewObjectTagging": TAGS,
                "PrefixReplace": True,
                "ResourcesPrefix": "in/",
                "TargetKeyPrefix": "out/",
            }
        },
    ),
]
