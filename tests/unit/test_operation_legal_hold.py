"""S3PutObjectLegalHold: the operation contract (parse round trip, refusals, the exact S3 calls)."""

from __future__ import annotations

from batchops.domain.task import ObjectRef
from batchops.operations.legal_hold import PutObjectLegalHold
from batchops.s3.recording import Call
from tests.support.operation_contract import OperationContract, where


class TestPutObjectLegalHoldContract(OperationContract):
    operation = PutObjectLegalHold()
    xml = "<S3PutObjectLegalHold><LegalHold><Status>ON</Status></LegalHold></S3PutObjectLegalHold>"
    refusals = [
        ("<S3PutObjectLegalHold/>", "S3PutObjectLegalHold.LegalHold"),
        ("<S3PutObjectLegalHold><LegalHold/></S3PutObjectLegalHold>", "S3PutObjectLegalHold.LegalHold.Status"),
        (
            "<S3PutObjectLegalHold><LegalHold><Status>on</Status></LegalHold></S3PutObjectLegalHold>",
            "S3PutObjectLegalHold.LegalHold.Status",
        ),
    ]

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return [Call("put_object_legal_hold", {**where(target), "LegalHold": {"Status": "ON"}})]

    def expected_message(self, target: ObjectRef) -> str:
        return "legal hold ON"
