"""S3DeleteObjectTagging: remove every tag from an object."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.operations.base import Operation, TaskContext, version_kwargs
from batchops.xmlutil import check_children


class DeleteObjectTagging(Operation):
    name = "S3DeleteObjectTagging"

    def parse(self, element: Element) -> dict[str, Any]:
        check_children(element, (), self.name)
        return {}

    async def run(self, ctx: TaskContext, params: dict[str, Any], target: ObjectRef) -> str:
        await ctx.s3.delete_object_tagging(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
        return "tags deleted"
