"""Every operation batchops can run, keyed by its CreateJob element name."""

from __future__ import annotations

from batchops.errors import ValidationError
from batchops.operations.acl import PutObjectAcl
from batchops.operations.base import Operation
from batchops.operations.copy import CopyObject
from batchops.operations.delete import DeleteObject
from batchops.operations.delete_tagging import DeleteObjectTagging
from batchops.operations.legal_hold import PutObjectLegalHold
from batchops.operations.noop import NoOp
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
