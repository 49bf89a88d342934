"""The API's error boundary: one table per dialect from batchops errors to that dialect's error codes."""

from __future__ import annotations

from dataclasses import dataclass

from batchops.errors import (
    AuthError,
    BodyNotReceived,
    IdempotencyConflict,
    InvalidTransition,
    JobNotFound,
    JobStatusRefused,
    MalformedXML,
    PriorityFinal,
    RateFinal,
    StoreFull,
    StoreUnavailable,
    TooManyTags,
    TooManyUnfinishedJobs,
    ValidationError,
)


@dataclass(frozen=True)
class ApiError(Exception):
    """An error answer: S3 Control code, HTTP status and a message saying what to fix."""

    code: str
    status: int
    message: str


__all__ = ["COS_CODES", "S3CONTROL_CODES", "ApiError", "CodeTable", "to_api_error"]

#: Domain error → (error code, HTTP status). Checked in order; first match wins.
CodeTable = tuple[tuple[type[BaseException], str, int], ...]

S3CONTROL_CODES: CodeTable = (
    (StoreFull, "ServiceUnavailable", 503),
    (JobNotFound, "NotFoundException", 404),
    (BodyNotReceived, "RequestTimeout", 400),
    (IdempotencyConflict, "IdempotencyException", 400),
    (InvalidTransition, "JobStatusException", 400),
    (JobStatusRefused, "JobStatusException", 400),
    (RateFinal, "JobStatusException", 400),
    (TooManyUnfinishedJobs, "TooManyRequestsException", 400),
    (TooManyTags, "TooManyTagsException", 400),
    (StoreUnavailable, "ServiceUnavailable", 503),
    (ValidationError, "BadRequestException", 400),
)


#: The same errors on the COS wire (reference b.6): refused status moves and replayed tokens are InvalidRequest.
COS_CODES: CodeTable = (
    (StoreFull, "ServiceUnavailable", 503),
    (JobNotFound, "NoSuchJob", 404),
    (BodyNotReceived, "RequestTimeout", 400),
    (IdempotencyConflict, "InvalidRequest", 400),
    (InvalidTransition, "InvalidRequest", 400),
    (JobStatusRefused, "InvalidRequest", 400),
    (MalformedXML, "MalformedXML", 400),
    (PriorityFinal, "NoSuchJob", 404),  # COS answers an ended job's priority change as no such job
    (RateFinal, "InvalidRequest", 400),
    (TooManyUnfinishedJobs, "TooManyJobs", 500),  # reference b.6: the job quota is a 500 on the COS wire
    (StoreUnavailable, "ServiceUnavailable", 503),
    (ValidationError, "InvalidArgument", 400),
)

INTERNAL_MESSAGE = "the server failed to handle the request; it has been logged"


def to_api_error(
    exc: BaseException, codes: CodeTable = S3CONTROL_CODES, internal_code: str = "InternalServiceException"
) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, AuthError):  # carries its own code and status (AccessDenied 403, …)
        return ApiError(exc.code, exc.status, exc.message)
    for kind, code, status in codes:
        if isinstance(exc, kind):
            return ApiError(code, status, str(exc))
    return ApiError(internal_code, 500, INTERNAL_MESSAGE)
