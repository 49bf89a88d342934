"""S3InitiateRestoreObject and COSInitiateRestoreObject: the operation contract of each."""

from __future__ import annotations

from batchops.domain.task import ObjectRef
from batchops.operations.restore import COSInitiateRestoreObject, S3InitiateRestoreObject
from batchops.s3.recording import Call, RecordingS3
from tests.support.operation_contract import OperationContract, where

S3 = "S3InitiateRestoreObject"
COS = "COSInitiateRestoreObject"
RESTORED = 'ongoing-request="false", expiry-date="Fri, 21 Dec 2040 00:00:00 GMT"'


class TestS3RestoreContract(OperationContract):
    operation = S3InitiateRestoreObject()
    xml = f"<{S3}><ExpirationInDays>3</ExpirationInDays><GlacierJobTier>BULK</GlacierJobTier></{S3}>"
    refusals = [
        (f"<{S3}><ExpirationInDays>-1</ExpirationInDays></{S3}>", f"{S3}.ExpirationInDays"),
        (f"<{S3}><GlacierJobTier>EXPEDITED</GlacierJobTier></{S3}>", f"{S3}.GlacierJobTier"),
        (f"<{S3}><BatchOpsWaitForRestore>0</BatchOpsWaitForRestore></{S3}>", f"{S3}.BatchOpsWaitForRestore"),
    ]

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("restore_object", {"ResponseMetadata": {"HTTPStatusCode": 202}})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        request = {"Days": 3, "GlacierJobParameters": {"Tier": "Bulk"}}
        return [Call("restore_object", {**where(target), "RestoreRequest": request})]

    def expected_message(self, target: ObjectRef) -> str:
        return "restore started"


class TestS3RestoreWithoutDaysContract(TestS3RestoreContract):
    """Intelligent-Tiering archive tiers: no Days, no tier; an object already restored answers 200."""

    xml = f"<{S3}/>"

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.answer("restore_object", {"ResponseMetadata": {"HTTPStatusCode": 200}})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        return [Call("restore_object", {**where(target), "RestoreRequest": {}})]

    def expected_message(self, target: ObjectRef) -> str:
        return "already restored; expiry updated"


class TestCOSRestoreWaitingContract(OperationContract):
    """COS's restore, waiting for the restored copy: a restore already running counts, then HEAD until readable."""

    operation = COSInitiateRestoreObject()
    xml = (
        f"<{COS}><ExpirationInDays>7</ExpirationInDays><JobTier>Standard</JobTier>"
        f"<BatchOpsWaitForRestore>60</BatchOpsWaitForRestore></{COS}>"
    )
    refusals = [
        (f"<{COS}><JobTier>Bulk</JobTier></{COS}>", f"{COS}.ExpirationInDays"),
        (f"<{COS}><ExpirationInDays>366</ExpirationInDays><JobTier>Bulk</JobTier></{COS}>", f"{COS}.ExpirationInDays"),
        (f"<{COS}><ExpirationInDays>1</ExpirationInDays></{COS}>", f"{COS}.JobTier"),
        (f"<{COS}><ExpirationInDays>1</ExpirationInDays><JobTier>BULK</JobTier></{COS}>", f"{COS}.JobTier"),
    ]

    def script(self, s3: RecordingS3, target: ObjectRef) -> None:
        s3.fail("restore_object", "RestoreAlreadyInProgress", 409)
        s3.answer("head_object", {"Restore": RESTORED})

    def expected_calls(self, target: ObjectRef) -> list[Call]:
        request = {"Days": 7, "GlacierJobParameters": {"Tier": "Standard"}}
        return [
            Call("restore_object", {**where(target), "RestoreRequest": request}),
            Call("head_object", where(target)),
        ]
