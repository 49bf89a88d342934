"""BatchOpsNoOp (a batchops extension): do nothing and succeed, without calling the object store.

It exists to measure the engine's own overhead — claiming chunks, scheduling tasks, recording
outcomes and counters — with the store out of the picture (``python -m bench``, workload P6).
Every task succeeds, whether or not the object exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.operations.base import NoParams, Operation, TaskContext
from batchops.xmlutil import check_children


class NoOp(Operation[NoParams]):
    name = "BatchOpsNoOp"
    params_type = NoParams

    def parse(self, element: Element) -> NoParams:
        check_children(element, (), self.name)
        return NoParams()

    group_size = 10_000
    groups_in_flight = 2

    async def run(self, ctx: TaskContext, params: NoParams, target: ObjectRef) -> str:
        return "no-op"

    async def run_many(self, ctx: TaskContext, params: NoParams, targets: Sequence[ObjectRef]) -> list[str | Exception]:
        return ["no-op"] * len(targets)
