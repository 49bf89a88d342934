"""S3DeleteObject (a batchops extension): delete an object, or one version of it.

S3 deletes are idempotent: a key that is already gone still answers 204, so it counts as a success.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.operations.base import Operation, TaskContext, version_kwargs
from batchops.operations.fields import only_children


class DeleteObject(Operation):
    name = "S3DeleteObject"

    def parse(self, element: Element) -> dict[str, Any]:
        only_children(element, (), self.name)
        return {}

    async def run(self, ctx: TaskContext, params: dict[str, Any], target: ObjectRef) -> str:
        response = await ctx.s3.delete_object(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
        return describe_delete(response, target)


def describe_delete(response: dict[str, Any], target: ObjectRef) -> str:
    if target.version_id:
        return f"version {target.version_id} deleted"
    if response.get("DeleteMarker"):
        # On a versioned bucket a plain delete only hides the object behind a delete marker.
        marker = response.get("VersionId")
        return f"delete marker {marker} created" if marker else "delete marker created"
    return "deleted"
