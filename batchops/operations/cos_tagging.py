"""COSPutObjectTagging: set object tags; ``TaggingDirective`` Replaced (the default) or Add.

``Replaced`` replaces all of the object's tags with ``TagSet``; ``Add`` merges ``TagSet`` into the
object's current tags (a key in both takes the new value). ``TagSet>COSTag{Key,Value}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.operations.base import Operation, Params, TaskContext, version_kwargs
from batchops.operations.dryrun import check_replace_tags, describe_tag_change, read_tags
from batchops.operations.fields import Tag, choice, object_tags, tags_from_s3, tags_to_s3
from batchops.operations.merge_tagging import check_tag_count, merge_tags
from batchops.operations.tagging import put_tags
from batchops.xmlutil import check_children

DIRECTIVES = ("Replaced", "Add")


@dataclass(frozen=True)
class COSTaggingParams(Params):
    tagging_directive: str  # one of DIRECTIVES
    tag_set: tuple[Tag, ...]

    def to_json(self) -> dict[str, Any]:
        return {"TaggingDirective": self.tagging_directive, "TagSet": tags_to_s3(self.tag_set)}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> COSTaggingParams:
        return cls(stored["TaggingDirective"], tags_from_s3(stored["TagSet"]))


class COSPutObjectTagging(Operation[COSTaggingParams]):
    name = "COSPutObjectTagging"
    params_type = COSTaggingParams

    def parse(self, element: Element) -> COSTaggingParams:
        check_children(element, ("TaggingDirective", "TagSet"), self.name)
        directive = choice(element, "TaggingDirective", DIRECTIVES, self.name) or "Replaced"
        return COSTaggingParams(directive, tags_from_s3(object_tags(element, "TagSet", self.name)))

    async def run(self, ctx: TaskContext, params: COSTaggingParams, target: ObjectRef) -> str:
        tags = tags_to_s3(params.tag_set)
        if params.tagging_directive == "Add":
            tags = merge_tags(await current_tags(ctx, target), tags)
        return await put_tags(ctx, target, tags)

    async def check(self, ctx: TaskContext, params: COSTaggingParams, target: ObjectRef) -> str:
        tags = tags_to_s3(params.tag_set)
        if params.tagging_directive != "Add":
            return await check_replace_tags(ctx, target, tags)
        current = await read_tags(ctx, target)
        merged = merge_tags(current, tags)
        check_tag_count(current, merged)
        return describe_tag_change(current, merged)


async def current_tags(ctx: TaskContext, target: ObjectRef) -> list[dict[str, str]]:
    response = await ctx.s3.get_object_tagging(Bucket=target.bucket, Key=target.key, **version_kwargs(target))
    return [{"Key": tag["Key"], "Value": tag["Value"]} for tag in response.get("TagSet", [])]
