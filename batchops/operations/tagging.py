"""S3PutObjectTagging: replace all of an object's tags with the job's tag set."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.operations.base import Operation, TaskContext, version_kwargs
from batchops.operations.fields import object_tags
from batchops.xmlutil import check_children


class PutObjectTagging(Operation):
    name = "S3PutObjectTagging"

    def parse(self, element: Element) -> dict[str, Any]:
        check_children(element, ("TagSet",), self.name)
        # An empty (or absent) TagSet is legal: replacing with no tags removes them all.
        return {"TagSet": object_tags(element, "TagSet", self.name)}

    async def run(self, ctx: TaskContext, params: dict[str, Any], target: ObjectRef) -> str:
        await ctx.s3.put_object_tagging(
            Bucket=target.bucket,
            Key=target.key,
            Tagging={"TagSet": params["TagSet"]},
            **version_kwargs(target),
        )
        return f"tags replaced ({len(params['TagSet'])} tags)"
