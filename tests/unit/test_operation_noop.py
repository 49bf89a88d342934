"""BatchOpsNoOp: the operation contract; it never calls the store."""

from __future__ import annotations

from batchops.domain.task import ObjectRef
from batchops.operations.noop import NoOp
from batchops.s3.recording import Call
from tests.support.operation_contract import OperationContract


class TestNoOpContract(OperationContract):
    operation = NoOp()
    xml = "<BatchOpsNoOp/>"
    refusals = [("<BatchOpsNoOp><Sleep>1</Sleep></BatchOpsNoOp>", "unknown element(s) Sleep")]

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return []

    def expected_message(self, target: ObjectRef) -> str:
        return "no-op"
