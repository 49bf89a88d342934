"""SDK errors → TaskError(code, http_status, message), in one table, so report rows are uniform."""

from __future__ import annotations

import asyncio

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from batchops.errors import TaskError


def to_task_error(exc: BaseException) -> TaskError:
    """Describe any exception a task raised as a report row (never raises)."""
    if isinstance(exc, TaskError):
        return exc
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        meta = exc.response.get("ResponseMetadata", {})
        status = int(meta.get("HTTPStatusCode") or 0)
        code = str(error.get("Code") or status or "ClientError")
        message = str(error.get("Message") or _default_message(code, status))
        return TaskError(code, status, message)
    if isinstance(exc, ReadTimeoutError | asyncio.TimeoutError | TimeoutError):
        return TaskError("RequestTimeout", 0, f"the store did not answer in time after retries: {exc}")
    if isinstance(exc, BotoConnectionError):
        return TaskError("ConnectionError", 0, f"could not reach the store after retries: {exc}")
    if isinstance(exc, BotoCoreError):
        return TaskError(type(exc).__name__, 0, str(exc))
    return TaskError("InternalError", 0, f"{type(exc).__name__}: {exc}")


def _default_message(code: str, status: int) -> str:
    if code in ("404", "NotFound") or status == 404:
        return "the object (or version) does not exist"
    return f"the store answered HTTP {status}"


#: The HTTP status a single-object request would answer for an error code that a multi-object answer
#: (DeleteObjects ``Errors[]``) gives without one.
_CODE_STATUS = {
    "AccessDenied": 403,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchVersion": 404,
    "InvalidArgument": 400,
    "InvalidRequest": 400,
    "MalformedXML": 400,
    "OperationAborted": 409,
    "SlowDown": 503,
    "ServiceUnavailable": 503,
    "InternalError": 500,
}


def status_for_code(code: str) -> int:
    """HTTP status for an S3 error code reported without one (400 for client errors we do not know)."""
    return _CODE_STATUS.get(code, 400)
