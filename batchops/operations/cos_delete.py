"""COSDeleteObject: delete the listed object, or the listed version of it (an empty element on the wire).

The same semantics as our S3DeleteObject extension: a delete on a versioned bucket without a
version id leaves a delete marker; a key that is already gone still counts as deleted.
"""

from __future__ import annotations

from batchops.operations.delete import DeleteObject


class COSDeleteObject(DeleteObject):
    name = "COSDeleteObject"
