"""COSPutObjectTagging: the operation contract (parse round trip, refusals, the exact S3 calls), Replaced and Add."""

from __future__ import annotations

from batchops.domain.task import ObjectRef
from batchops.operations.cos_tagging import COSPutObjectTagging
from batchops.s3.recording import Call, RecordingS3
from tests.support.operation_contract import OperationContract, where

NAME = "COSPutObjectTagging"
TAGS = "<TagSet><COSTag><Key>k</Key><Value>new</Value></COSTag><COSTag><Key>n</Key><Value>1</Value></COSTag></TagSet>"


class TestReplacedTaggingContract(OperationContract):
    operation = COSPutObjectTagging()
    xml = f"<{NAME}>{TAGS}</{NAME}>"
    refusals = [
        (f"<{NAME}><TaggingDirective>Copy</TaggingDirective></{NAME}>", f"{NAME}.TaggingDirective"),
        (f"<{NAME}><TagSet><COSTag><Key>aws:k</Key><Value>v</Value></COSTag></TagSet></{NAME}>", f"{NAME}.TagSet"),
        (f"<{NAME}><Tagging/></{NAME}>", "unknown element(s) Tagging"),
    ]

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        tags = [{"Key": "k", "Value": "new"}, {"Key": "n", "Value": "1"}]
        return [Call("put_object_tagging", {**where(target), "Tagging": {"TagSet": tags}})]

    def expected_message(self, target: ObjectRef) -> str:
        return "tags replaced (2 tags)"


class TestAddTaggingContract(TestReplacedTaggingContract):
    xml = f"<{NAME}><TaggingDirective>Add</TaggingDirective>{TAGS}</{NAME}>"

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("get_object_tagging", {"TagSet": [{"Key": "old", "Value": "o"}, {"Key": "k", "Value": "was"}]})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        merged = [{"Key": "old", "Value": "o"}, {"Key": "k", "Value": "new"}, {"Key": "n", "Value": "1"}]
        return [
            Call("get_object_tagging", where(target)),
            Call("put_object_tagging", {**where(target), "Tagging": {"TagSet": merged}}),
        ]

    def expected_message(self, target: ObjectRef) -> str:
        return "tags replaced (3 tags)"
