"""Every operation batchops can run, keyed by its CreateJob element name."""

from __future__ import annotations

from batchops.errors import ValidationError
from batchops.operations.acl import PutObjectAcl
from batchops.operations.base import Operation
from batchops.operations.checksum import ComputeObjectChecksum
from batchops.operations.copy import CopyObject
from batchops.operations.cos_copy import COSPutObjectCopy
from batchops.operations.cos_delete import COSDeleteObject
from batchops.operations.cos_tagging import COSPutObjectTagging
from batchops.operations.delete import DeleteObject
from batchops.operations.delete_tagging import DeleteObjectTagging
from batchops.operations.lambda_invoke import LambdaInvoke
from batchops.operations.legal_hold import PutObjectLegalHold
from batchops.operations.merge_tagging import MergeObjectTagging
from batchops.operations.noop import NoOp
from batchops.operations.replicate import ReplicateObject
from batchops.operations.restore import COSInitiateRestoreObject, S3InitiateRestoreObject
from batchops.operations.retention import PutObjectRetention
from batchops.operations.tagging import PutObjectTagging

OPERATIONS: dict[str, Operation] = {
    operation.name: operation
    for operation in (
        CopyObject(),
        PutObjectAcl(),
        PutObjectTagging(),
        DeleteObjectTagging(),
        PutObjectLegalHold(),
        PutObjectRetention(),
        DeleteObject(),
        S3InitiateRestoreObject(),
        COSPutObjectCopy(),
        COSInitiateRestoreObject(),
        COSDeleteObject(),
        COSPutObjectTagging(),
        MergeObjectTagging(),
        ComputeObjectChecksum(),
        LambdaInvoke(),
        ReplicateObject(),
        NoOp(),
    )
}


def supported_names() -> list[str]:
    return sorted(OPERATIONS)


def get_operation(name: str) -> Operation:
    try:
        return OPERATIONS[name]
    except KeyError:
        raise ValidationError(
            f"Operation {name} is not supported; use one of {', '.join(supported_names())}", field="Operation"
        ) from None
