"""S3PutObjectRetention: set (or clear) an object's Object Lock retention mode and date."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import ValidationError
from batchops.operations.base import Operation, Params, TaskContext, version_kwargs
from batchops.operations.dryrun import check_retention
from batchops.operations.fields import choice, timestamp, to_datetime, without_none
from batchops.xmlutil import boolean, check_children

RETENTION_MODES = ("COMPLIANCE", "GOVERNANCE")


@dataclass(frozen=True)
class RetentionParams(Params):
    """Mode and date together, or neither (clear the retention)."""

    mode: str | None  # one of RETENTION_MODES
    retain_until: str | None  # ISO-8601 UTC, as fields.parse_timestamp writes it
    bypass_governance: bool = False

    def to_json(self) -> dict[str, Any]:
        return without_none(
            {"Retention": self.retention(), "BypassGovernanceRetention": self.bypass_governance or None}
        )

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> RetentionParams:
        retention = stored["Retention"]
        bypass = bool(stored.get("BypassGovernanceRetention"))
        return cls(retention.get("Mode"), retention.get("RetainUntilDate"), bypass)

    def retention(self) -> dict[str, str]:
        """``Retention`` as the job stores it (``{}`` clears)."""
        return without_none({"Mode": self.mode, "RetainUntilDate": self.retain_until})


class PutObjectRetention(Operation[RetentionParams]):
    name = "S3PutObjectRetention"
    params_type = RetentionParams

    def parse(self, element: Element) -> RetentionParams:
        check_children(element, ("BypassGovernanceRetention", "Retention"), self.name)
        bypass = boolean(element, "BypassGovernanceRetention", where=self.name)
        mode, until = self._retention(element)
        return RetentionParams(mode, until, bool(bypass))

    def _retention(self, element: Element) -> tuple[str | None, str | None]:
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
        return mode, until

    async def run(self, ctx: TaskContext, params: RetentionParams, target: ObjectRef) -> str:
        retention: dict[str, Any] = params.retention()
        if params.retain_until is not None:
            retention["RetainUntilDate"] = to_datetime(params.retain_until)
        bypass = {"BypassGovernanceRetention": True} if params.bypass_governance else {}
        await ctx.s3.put_object_retention(
            Bucket=target.bucket, Key=target.key, Retention=retention, **bypass, **version_kwargs(target)
        )
        return describe_retention(params.retention())

    async def check(self, ctx: TaskContext, params: RetentionParams, target: ObjectRef) -> str:
        return await check_retention(ctx, target, params.retention(), params.bypass_governance)


def describe_retention(retention: dict[str, str]) -> str:
    if not retention:
        return "retention cleared"
    return f"retention {retention['Mode']} until {retention['RetainUntilDate']}"
