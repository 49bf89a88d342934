"""COSPutObjectTagging: set object tags; ``TaggingDirective`` Replaced (the default) or Add.

``Replaced`` replaces all of the object's tags with ``TagSet``; ``Add`` merges ``TagSet`` into the
object's current tags (a key in both takes the new value). ``TagSet>COSTag{Key,Value}``.
"""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.operations.base import TaskContext, version_kwargs
from batchops.operations.fields import choice, object_tags
from batchops.operations.merge_tagging import merge_tags
from batchops.operations.tagging import PutObjectTagging
from batchops.xmlutil import check_children

DIRECTIVES = ("Replaced", "Add")


class COSPutObjectTagging(PutObjectTagging):
    name = "COSPutObjectTagging"

    def parse(self, element: Element) -> dict[str, Any]:
        check_children(element, ("TaggingDirective", "TagSet"), self.name)
        directive = choice(element, "TaggingDirective", DIRECTIVES, self.name) or "Replaced"
        return {"TaggingDirective": directive, "TagSet": object_tags(element, "TagSet", self.name)}

    async def run(self, ctx: TaskContext, params: dict[str, Any], target: ObjectRef) -> str:
        tags = params["TagSet"]
        if params["TaggingDirective"] == "Add":
            tags = merge_tags(await current_tags(ctx, target), tags)
        return await super().run(ctx, {"TagSet": tags}, target)


async def current_tags(ctx: TaskContext, target: ObjectRef) -> list[dict[str, str]]:
    response = await ctx.s3.get_object_tagging(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
    return [{"Key": tag["Key"], "Value": tag["Value"]} for tag in response.get("TagSet", [])]
