"""LambdaInvoke: call a function once per object, the way S3 Batch Operations invokes Lambda.

The FunctionArn must be configured (``[[functions]]``: a webhook URL or a Python entry point); CreateJob
refuses one that is not. Each task sends one invocation event (schema ``1.0``: ``s3BucketArn``; ``2.0``:
``s3Bucket`` and ``job.userArguments``; keys URL-encoded as in the manifest) and reads the function's
``results[]`` entry for its ``taskId``:

* ``Succeeded`` → succeeded row, ResultMessage = ``resultString``;
* ``TemporaryFailure`` → invoked again with backoff, up to the function's ``max_attempts``; then a failed
  row, ErrorCode ``TemporaryFailure``, ResultMessage = the last ``resultString``;
* ``PermanentFailure`` → failed row, ErrorCode ``PermanentFailure``, ResultMessage = ``resultString``.

A missing result counts as the response's ``treatMissingKeysAs`` (default PermanentFailure). A function
error (it raised, timed out, answered HTTP 4xx/500 or unreadable JSON) is a PermanentFailure with
``Lambda returned function error: {"errorMessage", "errorType"}``, HTTP status 200, like AWS's reports;
an endpoint that cannot be reached or answers 429/502/503/504 is retried like a TemporaryFailure.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

from batchops.domain.task import ObjectRef
from batchops.errors import FunctionError, TaskError, ValidationError
from batchops.manifests.rows import encode_key
from batchops.operations.base import Operation, Params, TaskContext
from batchops.operations.fields import choice
from batchops.settings import Settings
from batchops.tenancy import FunctionTarget
from batchops.xmlutil import check_children, check_length, members, req_text, string_map

NAME = "LambdaInvoke"
SCHEMAS = ("1.0", "2.0")
RESULT_CODES = ("Succeeded", "TemporaryFailure", "PermanentFailure")
MAX_USER_ARGUMENTS = 10
# botocore's FunctionArnString pattern: an ARN, a partial ARN or a bare name, optional version or alias.
_FUNCTION_ARN = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)


@dataclass(frozen=True)
class LambdaParams(Params):
    function_arn: str
    schema: str  # InvocationSchemaVersion, one of SCHEMAS
    #: Schema 2.0's ``job.userArguments``; None: not given (stored without the key).
    user_arguments: Mapping[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        stored: dict[str, Any] = {"FunctionArn": self.function_arn, "InvocationSchemaVersion": self.schema}
        if self.user_arguments is not None:
            stored["UserArguments"] = dict(self.user_arguments)
        return stored

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> LambdaParams:
        return cls(stored["FunctionArn"], stored["InvocationSchemaVersion"], stored.get("UserArguments"))


class LambdaInvoke(Operation[LambdaParams]):
    name = NAME
    params_type = LambdaParams

    def parse(self, element: Element) -> LambdaParams:
        check_children(element, ("FunctionArn", "InvocationSchemaVersion", "UserArguments"), self.name)
        arn = _function_arn(element)
        schema = choice(element, "InvocationSchemaVersion", SCHEMAS, self.name) or "1.0"
        if element.find("UserArguments") is None:
            return LambdaParams(arn, schema)
        if schema != "2.0":
            raise ValidationError(
                f"{NAME}.UserArguments needs InvocationSchemaVersion 2.0 (schema 1.0 has no place for them)",
                field=f"{NAME}.UserArguments",
            )
        return LambdaParams(arn, schema, _user_arguments(element))

    def check_settings(self, params: LambdaParams, settings: Settings) -> None:
        arn = params.function_arn
        if settings.function(arn) is None:
            configured = ", ".join(f.arn for f in settings.functions) or "none"
            raise ValidationError(
                f"{NAME}.FunctionArn {arn} is not configured on this server (configured: {configured}); add a "
                f'[[functions]] entry with arn = "{arn}" and a url or entry_point to the config file',
                field=f"{NAME}.FunctionArn",
            )

    async def run(self, ctx: TaskContext, params: LambdaParams, target: ObjectRef) -> str:
        function = _configured(ctx, params.function_arn)
        assert ctx.functions is not None  # _configured checked it
        for attempt in range(1, function.max_attempts + 1):
            code, result = await _invoke_once(ctx, function, params, target)
            if code == "Succeeded":
                return result
            if code == "PermanentFailure":
                raise TaskError("PermanentFailure", 200, result)
            if attempt < function.max_attempts:
                await asyncio.sleep(min(0.2 * 2 ** (attempt - 1), 5.0))
        raise TaskError("TemporaryFailure", 200, result)


def invocation_event(job_id: str, params: LambdaParams, target: ObjectRef) -> tuple[dict[str, Any], str]:
    """The event for one task, and its taskId."""
    schema = params.schema
    task_id = uuid.uuid4().hex
    task: dict[str, Any] = {"taskId": task_id, "s3Key": encode_key(target.key), "s3VersionId": target.version_id}
    job: dict[str, Any] = {"id": job_id}
    if schema == "1.0":
        task["s3BucketArn"] = f"arn:aws:s3:::{target.bucket}"
    else:
        task["s3Bucket"] = target.bucket
        job["userArguments"] = dict(params.user_arguments or {})
    event = {"invocationSchemaVersion": schema, "invocationId": uuid.uuid4().hex, "job": job, "tasks": [task]}
    return event, task_id


async def _invoke_once(
    ctx: TaskContext, function: FunctionTarget, params: LambdaParams, target: ObjectRef
) -> tuple[str, str]:
    """(resultCode, resultString) of one invocation."""
    assert ctx.functions is not None
    event, task_id = invocation_event(ctx.job_id, params, target)
    try:
        response = await ctx.functions.invoke(function, event)
    except FunctionError as exc:
        if exc.transient:
            return "TemporaryFailure", f"Lambda could not be invoked: {exc}"
        return "PermanentFailure", f"Lambda returned function error: {exc}"
    return task_result(response, task_id)


def task_result(response: dict[str, Any], task_id: str) -> tuple[str, str]:
    """This task's (resultCode, resultString) in a function response."""
    entry = next((r for r in response["results"] if isinstance(r, dict) and r.get("taskId") == task_id), None)
    if entry is None:
        missing = response.get("treatMissingKeysAs") or "PermanentFailure"
        if missing not in RESULT_CODES:
            return "PermanentFailure", f"the function's response has no result for task {task_id}"
        return missing, f"the function's response has no result for task {task_id} (treatMissingKeysAs={missing})"
    code, result = entry.get("resultCode"), entry.get("resultString", "")
    text = result if isinstance(result, str) else json.dumps(result)
    if code not in RESULT_CODES:
        return (
            "PermanentFailure",
            f"the function answered resultCode {code!r}; expected one of {', '.join(RESULT_CODES)}",
        )
    return str(code), text


def _configured(ctx: TaskContext, arn: str) -> FunctionTarget:
    function = ctx.functions.target(arn) if ctx.functions is not None else None
    if function is None:
        raise TaskError(
            "FunctionNotConfigured",
            0,
            f"function {arn} is no longer in this server's [[functions]] config; add it back and re-run the job",
        )
    return function


def _function_arn(element: Element) -> str:
    arn = req_text(element, "FunctionArn", where=NAME)
    check_length(arn, f"{NAME}.FunctionArn", 1, 1024)
    if not _FUNCTION_ARN.fullmatch(arn):
        raise ValidationError(
            f"{NAME}.FunctionArn must be a Lambda function ARN such as "
            f"arn:aws:lambda:us-east-1:123456789012:function:name, not {arn!r}",
            field=f"{NAME}.FunctionArn",
        )
    return arn


def _user_arguments(element: Element) -> dict[str, str]:
    name = f"{NAME}.UserArguments"
    count = len(members(element, "UserArguments"))
    arguments = string_map(element, "UserArguments")
    if len(arguments) != count:
        raise ValidationError(f"{name} repeats a key; give each key once", field=name)
    if not 1 <= count <= MAX_USER_ARGUMENTS:
        raise ValidationError(f"{name} must have 1 to {MAX_USER_ARGUMENTS} entries, not {count}", field=name)
    for key, value in arguments.items():
        check_length(key, f"{name} key", 1, 64)
        check_length(value, f"{name} value of {key!r}", 0, 1024)
    return arguments
