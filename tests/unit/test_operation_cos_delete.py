"""COSDeleteObject: the operation contract; the same DeleteObjects batches as S3DeleteObject."""

from __future__ import annotations

from batchops.domain.task import ObjectRef
from batchops.operations.cos_delete import COSDeleteObject
from batchops.s3.recording import Call, RecordingS3
from tests.support.operation_contract import OperationContract, version


class TestCOSDeleteObjectContract(OperationContract):
    operation = COSDeleteObject()
    xml = "<COSDeleteObject/>"
    refusals = [("<COSDeleteObject><VersionId>v</VersionId></COSDeleteObject>", "unknown element(s) VersionId")]

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        marker = {} if target.version_id else {"DeleteMarker": True, "DeleteMarkerVersionId": "m1"}
        s3.answer("delete_objects", {"Deleted": [{"Key": target.key, **version(target), **marker}]})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        objects = [{"Key": target.key, **version(target)}]
        return [Call("delete_objects", {"Bucket": target.bucket, "Delete": {"Objects": objects, "Quiet": False}})]

    def expected_message(self, target: ObjectRef) -> str:
        return f"version {target.version_id} deleted" if target.version_id else "delete marker m1 created"
