"""S3PutObjectRetention: the operation contract (parse round trip, refusals, the exact S3 calls)."""

from __future__ import annotations

from datetime import UTC, datetime

from batchops.domain.task import ObjectRef
from batchops.operations.retention import PutObjectRetention
from batchops.s3.recording import Call
from tests.support.operation_contract import OperationContract, where

NAME = "S3PutObjectRetention"


class TestPutObjectRetentionContract(OperationContract):
    operation = PutObjectRetention()
    xml = (
        f"<{NAME}><BypassGovernanceRetention>true</BypassGovernanceRetention><Retention><Mode>GOVERNANCE</Mode>"
        f"<RetainUntilDate>2030-01-02T04:04:05+01:00</RetainUntilDate></Retention></{NAME}>"
    )
    refusals = [
        (f"<{NAME}/>", f"{NAME}.Retention"),
        (f"<{NAME}><Retention><Mode>GOVERNANCE</Mode></Retention></{NAME}>", f"{NAME}.Retention"),
        (f"<{NAME}><Retention><Mode>FOREVER</Mode></Retention></{NAME}>", f"{NAME}.Retention.Mode"),
        (
            f"<{NAME}><Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>soon</RetainUntilDate></Retention></{NAME}>",
            f"{NAME}.Retention.RetainUntilDate",
        ),
        (f"<{NAME}><Retention><EventHold>1</EventHold></Retention></{NAME}>", f"{NAME}.Retention.EventHold"),
    ]

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        until = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
        retention = {"Mode": "GOVERNANCE", "RetainUntilDate": until}
        return [
            Call("put_object_retention", {**where(target), "Retention": retention, "BypassGovernanceRetention": True})
        ]

    def expected_message(self, target: ObjectRef) -> str:
        return "retention GOVERNANCE until 2030-01-02T03:04:05Z"


class TestClearingRetentionContract(TestPutObjectRetentionContract):
    xml = f"<{NAME}><Retention/></{NAME}>"

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return [Call("put_object_retention", {**where(target), "Retention": {}})]

    def expected_message(self, target: ObjectRef) -> str:
        return "retention cleared"
