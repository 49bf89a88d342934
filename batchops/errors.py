"""The one error tree. Each boundary (S3 Control API, CLI, engine) translates it once."""

from __future__ import annotations


class BatchOpsError(Exception):
    """Base of every error batchops raises on purpose."""


class InvalidTransition(BatchOpsError):
    """A job status move that the transition table does not allow."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a job in status {current} cannot move to {target}")
        self.current = current
        self.target = target


class ValidationError(BatchOpsError):
    """A request field is missing or out of its allowed range; the message says which and how to fix it."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MalformedXML(ValidationError):
    """The request body is not well-formed XML, or uses DTDs/entities."""


class JobNotFound(BatchOpsError):
    """No such job for this account (or it ended more than 90 days ago)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id!r} does not exist for this account, or ended more than 90 days ago")
        self.job_id = job_id


class IdempotencyConflict(BatchOpsError):
    """The ClientRequestToken was already used for a different request."""


class StoreUnavailable(BatchOpsError):
    """The object store did not answer a call a request needs now (e.g. CreateJob's report check); retry later."""


class ConfigError(BatchOpsError):
    """A setting (flag, environment variable or config file) is invalid."""


class ManifestError(BatchOpsError):
    """The manifest as a whole cannot be read; the job fails with this reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ChunksTaken(BatchOpsError):
    """Preparing stored chunks another delivery of the same job's Preparing had stored first (it goes on)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id}: another preparer stored these chunks first")
        self.job_id = job_id


class TaskError(BatchOpsError):
    """One task failed: an S3 error code, the HTTP status, and a message for the report."""

    def __init__(self, code: str, http_status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.message = message


class AuthError(BatchOpsError):
    """A request is not authenticated or not allowed: the dialect's error code, the HTTP status, and why."""

    def __init__(self, code: str, status: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message


class TooManyTags(ValidationError):
    """A job would have more tags than allowed (50)."""


class RoleNotDeclared(ValidationError):
    """CreateJob names a RoleArn the account has not declared in the config file."""


class StatusNotRequestable(ValidationError):
    """UpdateJobStatus asks for a status no user may request (only those in ``USER_REQUESTS``)."""

    def __init__(self, requested: str | None, choices: tuple[str, ...]) -> None:
        super().__init__(f"requestedJobStatus must be {' or '.join(choices)}, not {requested!r}", "requestedJobStatus")
        self.requested = requested
        self.choices = choices


class PriorityFinal(ValidationError):
    """UpdateJobPriority on a job that has ended: its priority is final."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job {job_id} has already ended ({status}); its priority is final", "priority")
        self.job_id = job_id


class RateFinal(ValidationError):
    """UpdateJobRate on a job that has ended: there is nothing left to pace."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(f"job {job_id} has already ended ({status}); its rate caps can no longer change", "rate")
        self.job_id = job_id


class TooManyUnfinishedJobs(BatchOpsError):
    """The account already has its maximum of unfinished jobs; CreateJob must wait until some end."""


class RequestTooLarge(ValidationError):
    """The request body is over the 1 MiB limit."""


class BodyNotReceived(ValidationError):
    """The request body did not arrive in time, or the client went away while sending it."""


class FunctionError(BatchOpsError):
    """Invoking a LambdaInvoke function failed: its own error (``transient=False``: the function raised,
    timed out, answered HTTP 4xx/500 or an unreadable response) or no answer worth trusting yet
    (``transient=True``: connection refused, HTTP 429/502/503/504), which is retried."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class JobStatusRefused(BatchOpsError):
    """A user asked for a status change (confirm, cancel) that the job's current status does not allow."""


class ClientError(BatchOpsError):
    """The Python client (``batchops.Client``) could not do what was asked; the message says what to do."""


class ServerUnreachable(ClientError):
    """No batchops server (or object store) answers at the URL given."""


class CredentialsRefused(ClientError):
    """The server or the object store refused the access key, secret or account id."""


class RequestRefused(ClientError):
    """The server understood the request and refused it (bad field, refused transition, no such job)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class StoreFull(BatchOpsError):
    """The job store cannot write: the disk under the server's data directory is full (SQLite's SQLITE_FULL).

    Nothing written before is lost; every write fails until space is freed. The API answers 503, the engine
    waits and tries again, ``/healthz`` is not ready.
    """

    def __init__(self, cause: str) -> None:
        super().__init__(
            f"the server's disk is full ({cause}): it cannot record anything new; free space where the server "
            "keeps its data (--data-dir) and send the request again"
        )
        self.cause = cause


class DatabaseUnavailable(BatchOpsError):
    """The job store's database cannot be opened: a URL batchops does not take, or a database it cannot reach.
    The message names the URL without its password."""
