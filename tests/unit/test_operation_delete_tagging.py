"""S3DeleteObjectTagging: the operation contract (parse round trip, refusals, the exact S3 calls)."""

from __future__ import annotations

from batchops.domain.task import ObjectRef
from batchops.operations.delete_tagging import DeleteObjectTagging
from batchops.s3.recording import Call
from tests.support.operation_contract import OperationContract, where


class TestDeleteObjectTaggingContract(OperationContract):
    operation = DeleteObjectTagging()
    xml = "<S3DeleteObjectTagging/>"
    refusals = [("<S3DeleteObjectTagging><TagSet/></S3DeleteObjectTagging>", "unknown element(s) TagSet")]

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return [Call("delete_object_tagging", where(target))]

    def expected_message(self, target: ObjectRef) -> str:
        return "tags deleted"
