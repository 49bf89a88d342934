"""S3PutObjectLegalHold: switch an object's legal hold ON or OFF (the bucket needs Object Lock)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import ValidationError
from batchops.operations.base import Operation, Params, TaskContext, version_kwargs
from batchops.operations.fields import required_choice
from batchops.xmlutil import check_children


@dataclass(frozen=True)
class LegalHoldParams(Params):
    status: str  # ON or OFF

    def to_json(self) -> dict[str, Any]:
        return {"LegalHold": {"Status": self.status}}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> LegalHoldParams:
        return cls(stored["LegalHold"]["Status"])


class PutObjectLegalHold(Operation[LegalHoldParams]):
    name = "S3PutObjectLegalHold"
    params_type = LegalHoldParams

    def parse(self, element: Element) -> LegalHoldParams:
        check_children(element, ("LegalHold",), self.name)
        legal_hold = element.find("LegalHold")
        if legal_hold is None:
            raise ValidationError(
                f"{self.name}.LegalHold is required: give <LegalHold><Status>ON</Status></LegalHold> (or OFF)",
                field=f"{self.name}.LegalHold",
            )
        where = f"{self.name}.LegalHold"
        check_children(legal_hold, ("Status",), where)
        return LegalHoldParams(required_choice(legal_hold, "Status", ("ON", "OFF"), where))

    async def run(self, ctx: TaskContext, params: LegalHoldParams, target: ObjectRef) -> str:
        await ctx.s3.put_object_legal_hold(
            Bucket=target.bucket, Key=target.key, LegalHold={"Status": params.status}, **version_kwargs(target)
        )
        return f"legal hold {params.status}"
