"""The API's error boundary: the one table from batchops errors to S3 Control error codes."""

from __future__ import annotations

from dataclasses import dataclass

from batchops.errors import (
    IdempotencyConflict,
    InvalidTransition,
    JobNotFound,
    JobStatusRefused,
    ValidationError,
)


@dataclass(frozen=True)
class ApiError(Exception):
    """An error answer: S3 Control code, HTTP status and a message saying what to fix."""

    code: str
    status: int
    message: str


__all__ = ["S3CONTROL_CODES", "ApiError", "JobStatusRefused", "to_api_error"]

#: Domain error → (S3 Control error code, HTTP status). Checked in order; first match wins.
S3CONTROL_CODES: tuple[tuple[type[BaseException], str, int], ...] = (
    (JobNotFound, "NotFoundException", 404),
    (IdempotencyConflict, "IdempotencyException", 400),
    (InvalidTransition, "JobStatusException", 400),
    (JobStatusRefused, "JobStatusException", 400),
    (ValidationError, "BadRequestException", 400),
)


def to_api_error(exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    for kind, code, status in S3CONTROL_CODES:
        if isinstance(exc, kind):
            return ApiError(code, status, str(exc))
    return ApiError("InternalServiceException", 500, "the server failed to handle the request; it has been logged")
