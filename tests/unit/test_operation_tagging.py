"""S3PutObjectTagging: the operation contract (parse round trip, refusals, the exact S3 calls)."""

from __future__ import annotations

from batchops.domain.task import ObjectRef
from batchops.operations.tagging import PutObjectTagging
from batchops.s3.recording import Call
from tests.support.operation_contract import OperationContract, where

TAGS = "<member><Key>team</Key><Value>data eng</Value></member><member><Key>ü +</Key><Value>a=b/c</Value></member>"


class TestPutObjectTaggingContract(OperationContract):
    operation = PutObjectTagging()
    xml = f"<S3PutObjectTagging><TagSet>{TAGS}</TagSet></S3PutObjectTagging>"
    refusals = [
        ("<S3PutObjectTagging><Tags/></S3PutObjectTagging>", "unknown element(s) Tags"),
        (
            "<S3PutObjectTagging><TagSet><member><Key>aws:x</Key><Value>v</Value></member></TagSet>"
            "</S3PutObjectTagging>",
            "S3PutObjectTagging.TagSet",
        ),
    ]

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        tags = [{"Key": "team", "Value": "data eng"}, {"Key": "ü +", "Value": "a=b/c"}]
        return [Call("put_object_tagging", {**where(target), "Tagging": {"TagSet": tags}})]

    def expected_message(self, target: ObjectRef) -> str:
        return "tags replaced (2 tags)"
