"""Webhook notifications as plain values: where a job's events go, what each event says, and each attempt to
deliver one (the store keeps them; ``service.notifier`` sends them; ``batchops.webhooks`` signs and checks)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batchops.domain.job import Job
from batchops.domain.status import TERMINAL, JobStatus

#: Every status move but the last one.
STATUS_CHANGED = "job.status_changed"
#: The move to Complete, Failed or Cancelled: the job's last event.
FINISHED = "job.finished"
#: Attempts DescribeJob and the console show (the most recent).
SHOWN_ATTEMPTS = 20


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of one event: the receiver's HTTP status, or why there was none."""

    delivery_id: int
    event: str
    status: str  # the job status the event reports
    attempt: int
    at: datetime
    http_status: int | None
    error: str | None
    delivered: bool


@dataclass(frozen=True)
class PendingDelivery:
    """An event not yet delivered (nor given up on): the oldest of its job's, so a job's events arrive in order."""

    id: int
    job_id: str
    account_id: str
    event: str
    status: str
    body: str
    attempts: int
    created_at: float
    next_attempt_at: float

    @classmethod
    def of(cls, row: Any) -> PendingDelivery:
        """From a row of ``webhook_deliveries`` (either store's: attributes named as the fields)."""
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class AttemptResult:
    """What one POST came to: the receiver's HTTP status (2xx: delivered), or the error that stopped it."""

    http_status: int | None
    error: str | None

    @property
    def delivered(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


def event_of(status: JobStatus) -> str:
    return FINISHED if status in TERMINAL else STATUS_CHANGED


def event_body(job: Job, previous: JobStatus | None, reason: str | None, at: float) -> dict[str, Any]:
    """What an event says: the job as it stands after the move, and the move (the notifier adds a completed job's
    report, whose layout lives above the store)."""
    return {
        "event": event_of(job.status),
        "job_id": job.id,
        "account_id": job.account_id,
        "status": job.status.value,
        "previous_status": None if previous is None else previous.value,
        "reason": reason,
        "at": at,
        "progress": {
            "total_tasks": job.progress.total,
            "succeeded": job.progress.succeeded,
            "failed": job.progress.failed,
            "elapsed_seconds": job.progress.elapsed_active_seconds,
        },
        "created": _iso(job.creation_time),
        "terminated": _iso(job.termination_time),
        "failure_reasons": [{"code": f.code, "reason": f.reason} for f in job.failure_reasons],
    }


def encode(body: dict[str, Any]) -> str:
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")
