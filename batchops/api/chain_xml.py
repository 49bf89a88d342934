"""Job chains on both wires (a batchops extension; ``BatchOpsThen`` and ``BatchOpsChain`` in the botocore overlay).

CreateJob: ``<BatchOpsThen><Operation>...</Operation>...</BatchOpsThen>``, each ``<Operation>`` written as CreateJob's
own. DescribeJob echoes ``BatchOpsThen`` (the steps after this job) and shows the whole chain::

    <BatchOpsChain><Position>2</Position><State>Running</State>
      <Steps><Step><Number>1</Number><Operation>S3PutObjectTagging</Operation><JobId>..</JobId><Status>Complete</Status></Step>
      ...</Steps></BatchOpsChain>

with ``<Reason>`` once it stopped. Unmodified clients skip elements they do not know.
"""

from __future__ import annotations

from xml.etree.ElementTree import Element

from batchops import xmlutil
from batchops.api import jobxml
from batchops.domain.chain import MAX_STEPS, ChainView
from batchops.domain.job import OperationSpec
from batchops.errors import ValidationError

THEN_ELEMENT = "BatchOpsThen"
CHAIN_ELEMENT = "BatchOpsChain"


def parse_then(root: Element, example: str = "S3DeleteObject", prefix: str = "") -> tuple[OperationSpec, ...]:
    """The follow-up steps of a CreateJob request (none when ``BatchOpsThen`` is left out)."""
    wrapper = root.find(THEN_ELEMENT)
    if wrapper is None:
        return ()
    steps = list(wrapper)
    if not steps:
        raise ValidationError(
            f"{THEN_ELEMENT} must hold at least one <Operation> (one per follow-up step), or be left out",
            field=THEN_ELEMENT,
        )
    if len(steps) >= MAX_STEPS:
        raise ValidationError(
            f"{THEN_ELEMENT} holds {len(steps)} steps; a chain has at most {MAX_STEPS} steps, this job's own "
            "operation included: split it into two chains",
            field=THEN_ELEMENT,
        )
    for step in steps:
        if step.tag != "Operation":
            raise ValidationError(
                f"{THEN_ELEMENT} holds <Operation> elements, one per step (e.g. <Operation><{example}/></Operation>); "
                f"found <{step.tag}>",
                field=THEN_ELEMENT,
            )
    return tuple(jobxml.parse_operation(_holder(step), example, prefix) for step in steps)


def _holder(step: Element) -> Element:
    """``step`` (an <Operation>) inside a parent, as ``parse_operation`` reads one."""
    holder = Element(THEN_ELEMENT)
    holder.append(step)
    return holder


def add_then(parent: Element, then: tuple[OperationSpec, ...]) -> None:
    if not then:
        return
    wrapper = xmlutil.add(parent, THEN_ELEMENT)
    for step in then:
        jobxml.add_operation(wrapper, step)


def add_chain(parent: Element, view: ChainView | None) -> None:
    if view is None:
        return
    element = xmlutil.add(parent, CHAIN_ELEMENT)
    xmlutil.add(element, "Position", view.position)
    xmlutil.add(element, "State", view.state)
    jobxml.add_optional(element, "Reason", view.reason)
    steps = xmlutil.add(element, "Steps")
    for step in view.steps:
        item = xmlutil.add(steps, "Step")
        xmlutil.add(item, "Number", step.number)
        xmlutil.add(item, "Operation", step.operation)
        jobxml.add_optional(item, "JobId", step.job_id)
        jobxml.add_optional(item, "Status", step.status.value if step.status else None)
