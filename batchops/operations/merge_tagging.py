"""BatchOpsMergeObjectTagging (a batchops extension): add or overwrite some tags, keep the others.

``<BatchOpsMergeObjectTagging><TagSet>…</TagSet><RemoveKeys><member>k</member>…</RemoveKeys>
</BatchOpsMergeObjectTagging>``: each task reads the object's tags (GetObjectTagging), drops the
``RemoveKeys``, sets every tag of ``TagSet`` (a new key is added, an existing one overwritten) and writes
the result (PutObjectTagging), on the manifest's version when it names one. If the object would end up
with more than 10 tags the task fails with ``TooManyTags`` (400) and the object is left unchanged.

Caveat: S3 has no conditional PutObjectTagging, so a tag written by someone else between the read and
the write of one task is lost. Do not run a merge job while other writers change the same objects' tags.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import TaskError, ValidationError
from batchops.operations.base import Operation, Params, TaskContext, version_kwargs
from batchops.operations.dryrun import describe_tag_change, read_tags
from batchops.operations.fields import MAX_OBJECT_TAGS, Tag, object_tags, tags_from_s3, tags_to_s3
from batchops.xmlutil import check_children, check_length, member_texts

NAME = "BatchOpsMergeObjectTagging"


@dataclass(frozen=True)
class MergeTaggingParams(Params):
    tag_set: tuple[Tag, ...]
    remove_keys: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"TagSet": tags_to_s3(self.tag_set), "RemoveKeys": list(self.remove_keys)}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> MergeTaggingParams:
        return cls(tags_from_s3(stored["TagSet"]), tuple(stored["RemoveKeys"]))


class MergeObjectTagging(Operation[MergeTaggingParams]):
    name = NAME
    params_type = MergeTaggingParams

    def parse(self, element: Element) -> MergeTaggingParams:
        check_children(element, ("TagSet", "RemoveKeys"), self.name)
        tags = object_tags(element, "TagSet", self.name)
        remove = _remove_keys(element)
        if not tags and not remove:
            raise ValidationError(
                f"{NAME} needs a TagSet to add or a RemoveKeys list to drop (or both); it has neither",
                field=f"{NAME}.TagSet",
            )
        both = sorted({t["Key"] for t in tags} & set(remove))
        if both:
            raise ValidationError(
                f"{NAME}: tag key {both[0]!r} is both in TagSet and in RemoveKeys; keep it in one of them",
                field=f"{NAME}.RemoveKeys",
            )
        return MergeTaggingParams(tags_from_s3(tags), tuple(remove))

    async def run(self, ctx: TaskContext, params: MergeTaggingParams, target: ObjectRef) -> str:
        where = {"Bucket": target.bucket, "Key": target.key, **version_kwargs(target)}
        current = (await ctx.s3.get_object_tagging(**where))["TagSet"]
        merged = merge_tags(current, tags_to_s3(params.tag_set), params.remove_keys)
        check_tag_count(current, merged)
        if merged == current:
            return f"tags unchanged ({len(merged)} tags)"
        await ctx.s3.put_object_tagging(Tagging={"TagSet": merged}, **where)
        return f"tags merged ({len(merged)} tags)"

    async def check(self, ctx: TaskContext, params: MergeTaggingParams, target: ObjectRef) -> str:
        current = await read_tags(ctx, target)
        merged = merge_tags(current, tags_to_s3(params.tag_set), params.remove_keys)
        check_tag_count(current, merged)
        return describe_tag_change(current, merged)


def check_tag_count(current: list[dict[str, str]], merged: list[dict[str, str]]) -> None:
    """TooManyTags when the merge would leave the object more tags than S3 allows."""
    if len(merged) > MAX_OBJECT_TAGS:
        raise TaskError(
            "TooManyTags",
            400,
            f"merging would give the object {len(merged)} tags ({len(current)} existing) but S3 allows at most "
            f"{MAX_OBJECT_TAGS}; remove some with RemoveKeys. The object's tags were not changed",
        )


def merge_tags(
    current: list[dict[str, str]], updates: list[dict[str, str]], remove: Collection[str] = ()
) -> list[dict[str, str]]:
    """``current`` without ``remove``, with ``updates`` set; existing keys keep their place, new ones follow."""
    merged = {t["Key"]: t["Value"] for t in current if t["Key"] not in remove}
    merged.update({t["Key"]: t["Value"] for t in updates})
    return [{"Key": key, "Value": value} for key, value in merged.items()]


def _remove_keys(element: Element) -> list[str]:
    name = f"{NAME}.RemoveKeys"
    keys = [key.strip() for key in member_texts(element, "RemoveKeys", name)]
    for key in keys:
        check_length(key, f"{name} member", 1, 128)
    if len(set(keys)) != len(keys):
        raise ValidationError(f"{name} lists a key twice; give each key once", field=name)
    return keys
