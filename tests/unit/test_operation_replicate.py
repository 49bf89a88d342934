"""S3ReplicateObject: the operation contract (the job's own replica bucket, or the config's; on the same store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext
from batchops.operations.replicate import SOURCE_VERSION_KEY, ReplicateObject
from batchops.s3.pool import StoreRoutes
from batchops.s3.recording import Call, RecordingS3
from batchops.tenancy import Replica
from tests.support.operation_contract import OperationContract, where

NAME = "S3ReplicateObject"
CURRENT_VERSION = "v-current"
MODIFIED = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)


def head(version_id: str) -> dict[str, Any]:
    return {
        "VersionId": version_id,
        "ContentLength": 5,
        "ETag": '"e"',
        "LastModified": MODIFIED,
        "ContentType": "text/plain",
        "Metadata": {"m": "1"},
    }


class TestReplicateObjectContract(OperationContract):
    """No replica yet: HEAD the source (and, for a version, list the key's versions), HEAD the replica, copy."""

    operation = ReplicateObject()
    xml = (
        f"<{NAME}><BatchOpsReplicaTarget>arn:aws:s3:::replica</BatchOpsReplicaTarget>"
        f"<BatchOpsReplicaKeyPrefix>r/</BatchOpsReplicaKeyPrefix></{NAME}>"
    )
    refusals = [
        (
            f"<{NAME}><BatchOpsReplicaKeyPrefix>r/</BatchOpsReplicaKeyPrefix></{NAME}>",
            f"{NAME}.BatchOpsReplicaKeyPrefix",
        ),
        (f"<{NAME}><BatchOpsReplicaTarget>replica</BatchOpsReplicaTarget></{NAME}>", f"{NAME}.BatchOpsReplicaTarget"),
        (f"<{NAME}><Destination/></{NAME}>", "unknown element(s) Destination"),
    ]

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        if target.version_id is None:
            s3.answer("head_object", head(CURRENT_VERSION))
            s3.fail("head_object", "404", 404)  # the replica
            s3.answer("copy_object", {"CopyObjectResult": {"ETag": '"r0"'}})
            return
        listed = {"Key": target.key, "VersionId": target.version_id, "LastModified": MODIFIED}
        s3.answer("list_object_versions", {"Versions": [listed]})
        s3.fail("head_object", "404", 404)  # the replica
        s3.answer("head_object", head(target.version_id))
        s3.answer("copy_object", {"CopyObjectResult": {"ETag": '"r1"'}})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        replica = {"Bucket": "replica", "Key": f"r/{target.key}"}
        source_version = target.version_id or CURRENT_VERSION
        metadata = {"m": "1", SOURCE_VERSION_KEY: source_version}
        copy = Call(
            "copy_object",
            {
                **replica,
                "CopySource": where(target),
                "ContentType": "text/plain",
                "Metadata": metadata,
                "MetadataDirective": "REPLACE",
            },
        )
        if target.version_id is None:
            return [Call("head_object", where(target)), Call("head_object", replica), copy]
        listing = Call("list_object_versions", {"Bucket": target.bucket, "Prefix": target.key})
        return [listing, Call("head_object", replica), Call("head_object", where(target)), copy]

    def expected_message(self, target: ObjectRef) -> str:
        if target.version_id is None:
            return 'replicated to replica, ETag "r0"'
        return 'replicated 1 version to replica in source order, ETag "r1"'


class TestReplicaFromTheConfigContract(TestReplicateObjectContract):
    """AWS's form, without parameters: the replica bucket comes from the server's ``[[replicas]]``."""

    xml = f"<{NAME}/>"

    def context(self, s3: RecordingS3) -> TaskContext:
        routes = StoreRoutes(replicas=(Replica("src-bucket", "replica", "r/"),))
        return TaskContext(s3=s3, job_id="contract-job", stores=routes)
