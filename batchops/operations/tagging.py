"""S3PutObjectTagging: replace all of an object's tags with the job's tag set."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.operations.base import Operation, Params, TaskContext, version_kwargs
from batchops.operations.dryrun import check_replace_tags
from batchops.operations.fields import Tag, object_tags, tags_from_s3, tags_to_s3
from batchops.xmlutil import check_children


@dataclass(frozen=True)
class TaggingParams(Params):
    tag_set: tuple[Tag, ...]

    def to_json(self) -> dict[str, Any]:
        return {"TagSet": tags_to_s3(self.tag_set)}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> TaggingParams:
        return cls(tags_from_s3(stored["TagSet"]))


class PutObjectTagging(Operation[TaggingParams]):
    name = "S3PutObjectTagging"
    params_type = TaggingParams

    def parse(self, element: Element) -> TaggingParams:
        check_children(element, ("TagSet",), self.name)
        # An empty (or absent) TagSet is legal: replacing with no tags removes them all.
        return TaggingParams(tags_from_s3(object_tags(element, "TagSet", self.name)))

    async def run(self, ctx: TaskContext, params: TaggingParams, target: ObjectRef) -> str:
        return await put_tags(ctx, target, tags_to_s3(params.tag_set))

    async def check(self, ctx: TaskContext, params: TaggingParams, target: ObjectRef) -> str:
        return await check_replace_tags(ctx, target, tags_to_s3(params.tag_set))


async def put_tags(ctx: TaskContext, target: ObjectRef, tags: list[dict[str, str]]) -> str:
    """Replace the object's tags with ``tags`` (S3's shape); the report message."""
    await ctx.s3.put_object_tagging(
        Bucket=target.bucket,
        Key=target.key,
        Tagging={"TagSet": tags},
        **version_kwargs(target),
    )
    return f"tags replaced ({len(tags)} tags)"
