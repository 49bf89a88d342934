"""S3PutObjectLegalHold: switch an object's legal hold ON or OFF (the bucket needs Object Lock)."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import ValidationError
from batchops.operations.base import Operation, TaskContext, version_kwargs
from batchops.operations.fields import choice
from batchops.xmlutil import check_children


class PutObjectLegalHold(Operation):
    name = "S3PutObjectLegalHold"

    def parse(self, element: Element) -> dict[str, Any]:
        check_children(element, ("LegalHold",), self.name)
        legal_hold = element.find("LegalHold")
        if legal_hold is None:
            raise ValidationError(
                f"{self.name}.LegalHold is required: give <LegalHold><Status>ON</Status></LegalHold> (or OFF)",
                field=f"{self.name}.LegalHold",
            )
        where = f"{self.name}.LegalHold"
        check_children(legal_hold, ("Status",), where)
        return {"LegalHold": {"Status": choice(legal_hold, "Status", ("ON", "OFF"), where, required=True)}}

    async def run(self, ctx: TaskContext, params: dict[str, Any], target: ObjectRef) -> str:
        await ctx.s3.put_object_legal_hold(
            Bucket=target.bucket, Key=target.key, LegalHold=params["LegalHold"], **version_kwargs(target)
        )
        return f"legal hold {params['LegalHold']['Status']}"
