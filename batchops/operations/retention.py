"""S3PutObjectRetention: set (or clear) an object's Object Lock retention mode and date."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import ValidationError
from batchops.operations.base import Operation, TaskContext, version_kwargs
from batchops.operations.fields import choice, timestamp, to_datetime, without_none
from batchops.xmlutil import boolean, check_children

RETENTION_MODES = ("COMPLIANCE", "GOVERNANCE")


class PutObjectRetention(Operation):
    name = "S3PutObjectRetention"

    def parse(self, element: Element) -> dict[str, Any]:
        check_children(element, ("BypassGovernanceRetention", "Retention"), self.name)
        bypass = boolean(element, "BypassGovernanceRetention", where=self.name)
        return without_none({"Retention": self._retention(element), "BypassGovernanceRetention": bypass or None})

    def _retention(self, element: Element) -> dict[str, str]:
        retention = element.find("Retention")
        where = f"{self.name}.Retention"
        if retention is None:
            raise ValidationError(
                f"{where} is required: give Mode (COMPLIANCE or GOVERNANCE) and RetainUntilDate, "
                "or an empty <Retention/> to clear retention",
                field=where,
            )
        check_children(retention, ("Mode", "RetainUntilDate"), where, unsupported=("EventHold", "EventHoldDuration"))
        mode = choice(retention, "Mode", RETENTION_MODES, where)
        until = timestamp(retention, "RetainUntilDate", where)
        if (mode is None) != (until is None):
            raise ValidationError(
                f"{where} needs both Mode and RetainUntilDate (or neither, to clear retention)", field=where
            )
        return without_none({"Mode": mode, "RetainUntilDate": until})

    async def run(self, ctx: TaskContext, params: dict[str, Any], target: ObjectRef) -> str:
        retention = dict(params["Retention"])
        if "RetainUntilDate" in retention:
            retention["RetainUntilDate"] = to_datetime(retention["RetainUntilDate"])
        bypass = {"BypassGovernanceRetention": True} if params.get("BypassGovernanceRetention") else {}
        await ctx.s3.put_object_retention(
            Bucket=target.bucket, Key=target.key, Retention=retention, **bypass, **version_kwargs(target)
        )
        return describe_retention(params["Retention"])


def describe_retention(retention: dict[str, str]) -> str:
    if not retention:
        return "retention cleared"
    return f"retention {retention['Mode']} until {retention['RetainUntilDate']}"
