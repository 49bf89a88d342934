"""Rules every store applies the same way, on a job's row (the ``jobs`` columns): so the SQLite store and the
in-memory one cannot drift on what a status move writes, what a ListJobs token holds, or what a refusal says."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from dataclasses import replace
from typing import Any

from batchops.domain import webhook
from batchops.domain.job import FailureReason, Job, JobSpec
from batchops.domain.status import TERMINAL, JobStatus, PausedBy
from batchops.domain.webhook import AttemptResult, PendingDelivery
from batchops.errors import IdempotencyConflict, PriorityFinal, RateFinal, TooManyUnfinishedJobs, ValidationError
from batchops.store import codec
from batchops.store.base import SEARCH_SORTS, WriteFault

#: Every job's status moves, one INFO line each: the server log's account of what happened to a job.
status_log = logging.getLogger("batchops.jobs")


def new_job_values(
    job_id: str, account_id: str, spec: JobSpec, tags: list[dict[str, str]], fingerprint: str, now: float
) -> dict[str, Any]:
    """A New job's row (the columns a store must fill; the rest take their defaults)."""
    return {
        "id": job_id,
        "account_id": account_id,
        "client_request_token": spec.client_request_token,
        "request_fingerprint": fingerprint,
        "status": JobStatus.NEW.value,
        "priority": spec.priority,
        "description": spec.description,
        "spec": codec.spec_to_json(spec),
        "tags": json.dumps(tags),
        "failure_reasons": "[]",
        "max_requests_per_second": spec.rate.max_requests_per_second,
        "max_tasks_in_flight": spec.rate.max_tasks_in_flight,
        "creation_time": now,
        "updated_time": now,
    }


def status_values(
    row: Any,
    target: JobStatus,
    now: float,
    user_reason: str | None,
    failure: FailureReason | None,
    paused_by: PausedBy | None = None,
) -> dict[str, Any]:
    """The columns a move of ``row`` to ``target`` changes (active time, suspension, termination, reasons, who
    paused it: kept from Pausing to Paused, cleared when it leaves them)."""
    values: dict[str, Any] = {"status": target.value, "updated_time": now}
    if target in (JobStatus.PAUSING, JobStatus.PAUSED):
        if paused_by is not None:
            values["paused_by"] = paused_by.value
    elif row.paused_by is not None:
        values["paused_by"] = None
    if user_reason is not None:
        values["status_update_reason"] = user_reason
    if target is JobStatus.ACTIVE:
        values["active_since"] = now
    elif row.active_since is not None:
        values["active_seconds"] = row.active_seconds + max(now - row.active_since, 0.0)
        values["active_since"] = None
    if target is JobStatus.SUSPENDED:
        values["suspended_time"] = now
        values["suspended_cause"] = "ConfirmationRequired: confirm with UpdateJobStatus requestedJobStatus=Ready"
    elif row.status == JobStatus.SUSPENDED.value:
        values["suspended_time"] = values["suspended_cause"] = None
    if target in TERMINAL:
        values["termination_time"] = now
    if failure is not None:
        reasons = [*json.loads(row.failure_reasons), {"code": failure.code, "reason": failure.reason}]
        values["failure_reasons"] = json.dumps(reasons)
    return values


def resumed_by_hand_only(row: Any, target: JobStatus) -> bool:
    """A job paused by its owner leaves Paused only when the owner resumes it (to Ready), never straight to
    Active: the scheduler's decision may be older than the owner's pause."""
    return target is JobStatus.ACTIVE and row.status == JobStatus.PAUSED.value and row.paused_by == PausedBy.USER


def log_status_move(
    job_id: str, source: JobStatus | None, target: JobStatus, reason: str | None, failure: FailureReason | None = None
) -> None:
    """Log a status move the store has just committed (``source`` None: the job was created). The reason is
    folded onto one line: a user's statusUpdateReason cannot forge log lines."""
    said = " ".join((reason or "").split())
    code = f" ({failure.code})" if failure is not None else ""
    source_name = source.value if source is not None else "created"
    fields = {"action": "job_status", "job_id": job_id, "from_status": source_name, "to_status": target.value}
    if failure is not None:
        fields["failure_code"] = failure.code
    status_log.info(
        "job %s: %s -> %s%s: %s", job_id, source_name, target.value, code, said, extra={**fields, "reason": said}
    )


def delivery_values(
    row: Any, source: JobStatus | None, target: JobStatus, reason: str | None, now: float
) -> dict[str, Any]:
    """The webhook outbox row for a move of the job whose row (after the move) is ``row``: written in the move's
    transaction, whether or not a webhook is set (the notifier drops it when neither job nor account has one)."""
    body = webhook.event_body(codec.job_from_row(row, now), source, reason, now)
    return {
        "job_id": row.id,
        "account_id": row.account_id,
        "event": body["event"],
        "status": target.value,
        "body": webhook.encode(body),
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
    }


def attempt_values(delivery: PendingDelivery, attempt: int, result: AttemptResult, now: float) -> dict[str, Any]:
    """A ``webhook_attempts`` row: one POST of ``delivery`` and what came of it."""
    return {
        "delivery_id": delivery.id,
        "job_id": delivery.job_id,
        "event": delivery.event,
        "status": delivery.status,
        "attempt": attempt,
        "at": now,
        "http_status": result.http_status,
        "error": result.error,
        "delivered": result.delivered,
    }


def replayed(job_id: str, stored_fingerprint: str, fingerprint: str, token: str) -> str:
    """The first job's id for a replayed CreateJob; IdempotencyConflict if the token was used for another."""
    if stored_fingerprint != fingerprint:
        raise IdempotencyConflict(
            f"ClientRequestToken {token!r} was already used for a different CreateJob request "
            f"(job {job_id}); send a new token for a new job"
        )
    return job_id


def check_unfinished(account_id: str, unfinished: int, limit: int) -> None:
    if unfinished >= limit:
        raise TooManyUnfinishedJobs(
            f"account {account_id} already has {unfinished} unfinished jobs, its limit is {limit}; "
            "wait for some to end (or cancel some with UpdateJobStatus) and create the job again"
        )


def shown(job: Job, fault: WriteFault | None) -> Job:
    """A job as users see it: while the store cannot write, an unfinished job says it is holding, and why."""
    if fault is None or job.status in TERMINAL:
        return job
    return replace(job, hold_reason=fault.hold_reason)


def ended_priority(job: Job) -> PriorityFinal:
    """The job ended between the service's check and this update: the same refusal as the check's."""
    return PriorityFinal(job.id, job.status.value)


def ended_rate(job: Job) -> RateFinal:
    """The job ended between the service's check and this update: its rate caps no longer matter."""
    return RateFinal(job.id, job.status.value)


def check_sort(sort: str) -> None:
    if sort not in SEARCH_SORTS:
        raise ValidationError(f"sort must be one of {', '.join(SEARCH_SORTS)}, not {sort!r}", field="sort")


def not_our_job(after_job_id: str) -> ValidationError:
    return ValidationError(
        f"nextToken {after_job_id!r} is not a job of this account; pass the NextToken of the "
        "previous ListJobs page unchanged",
        field="nextToken",
    )


def encode_token(created: float, job_id: str) -> str:
    """A ListJobs NextToken: where the next page starts, newest first (creation time, then id)."""
    return base64.urlsafe_b64encode(json.dumps([created, job_id]).encode()).decode()


def decode_token(token: str) -> tuple[float, str]:
    try:
        created, job_id = json.loads(base64.urlsafe_b64decode(token.encode()))
        return float(created), str(job_id)
    except Exception:
        raise ValidationError(
            "nextToken is not one this server issued; pass the NextToken of the previous ListJobs page unchanged",
            field="nextToken",
        ) from None


def lock_digest(name: str) -> str:
    """A key lock's name as a store keeps it: a fixed-size digest (a name holds a key: up to 1 KiB, maybe not
    UTF-8, whose bytes ``surrogateescape`` gives back)."""
    return hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()
