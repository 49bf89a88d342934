"""The create form's follow-up steps (a job chain): operations written as JSON, in the shape boto3's
``create_job(Operation=...)`` takes, turned into CreateJob's ``<BatchOpsThen>`` by botocore with batchops's overlay,
so the form, boto3 and the AWS CLI write one chain the same way."""

from __future__ import annotations

import json
from functools import cache
from typing import Any
from xml.etree.ElementTree import Element

import botocore.serialize
import botocore.session
import botocore.validate
from botocore.model import OperationModel

from batchops import xmlutil
from batchops.api.chain_xml import THEN_ELEMENT
from batchops.aws_hooks import boto3_hook

FIELD = "then_json"
EXAMPLE = '[{"S3PutObjectCopy": {"TargetResource": "arn:aws:s3:::archive"}}, {"S3DeleteObject": {}}]'


class StepsRefused(ValueError):
    """The steps as written cannot be a chain; the message says what to fix."""


@cache
def _create_job() -> OperationModel:
    return boto3_hook(botocore.session.Session()).get_service_model("s3control").operation_model("CreateJob")


def then_element(text: str) -> Element:
    """``<BatchOpsThen>`` for the steps written as a JSON list; StepsRefused if they are not one."""
    try:
        steps: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StepsRefused(f"the follow-up steps are not valid JSON ({exc}); write a list, e.g. {EXAMPLE}") from None
    if not isinstance(steps, list) or not steps or not all(isinstance(step, dict) for step in steps):
        raise StepsRefused(f"write the follow-up steps as a list of operations, e.g. {EXAMPLE}")
    model = _create_job()
    report = botocore.validate.ParamValidator().validate(steps, model.input_shape.members[THEN_ELEMENT])
    if report.has_errors():
        said = " ".join(report.generate_report().split())
        raise StepsRefused(f"the follow-up steps are not operations as CreateJob takes them: {said}")
    serializer = botocore.serialize.create_serializer("rest-xml", include_validation=False)
    body = serializer.serialize_to_request({"AccountId": "000000000000", THEN_ELEMENT: steps}, model)["body"]
    found = xmlutil.parse_xml(body, "CreateJobRequest").find(THEN_ELEMENT)
    assert found is not None  # serialised from a non-empty list
    return found
