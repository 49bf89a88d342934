"""S3DeleteObjectTagging: remove every tag from an object."""

from __future__ import annotations

from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.operations.base import NoParams, Operation, TaskContext, version_kwargs
from batchops.xmlutil import check_children


class DeleteObjectTagging(Operation[NoParams]):
    name = "S3DeleteObjectTagging"
    params_type = NoParams

    def parse(self, element: Element) -> NoParams:
        check_children(element, (), self.name)
        return NoParams()

    async def run(self, ctx: TaskContext, params: NoParams, target: ObjectRef) -> str:
        await ctx.s3.delete_object_tagging(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
        return "tags deleted"
