"""Job statuses and the one table of allowed moves between them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from batchops.errors import InvalidTransition


class JobStatus(StrEnum):
    NEW = "New"
    PREPARING = "Preparing"
    SUSPENDED = "Suspended"
    READY = "Ready"
    ACTIVE = "Active"
    PAUSING = "Pausing"
    PAUSED = "Paused"
    COMPLETING = "Completing"
    COMPLETE = "Complete"
    CANCELLING = "Cancelling"
    CANCELLED = "Cancelled"
    FAILING = "Failing"
    FAILED = "Failed"


S = JobStatus

#: Every allowed move, written once. The store guards the same set in SQL
#: (``UPDATE … WHERE status IN (allowed sources)``), so no other code decides this.
TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    S.NEW: frozenset({S.PREPARING, S.CANCELLING}),
    S.PREPARING: frozenset({S.SUSPENDED, S.READY, S.FAILING, S.CANCELLING}),
    S.SUSPENDED: frozenset({S.READY, S.CANCELLING}),
    S.READY: frozenset({S.ACTIVE, S.CANCELLING}),
    S.ACTIVE: frozenset({S.COMPLETING, S.PAUSING, S.FAILING, S.CANCELLING}),
    S.PAUSING: frozenset({S.PAUSED, S.CANCELLING}),
    S.PAUSED: frozenset({S.ACTIVE, S.CANCELLING}),
    # A report that cannot be written turns a completing job into a failing one.
    S.COMPLETING: frozenset({S.COMPLETE, S.FAILING}),
    S.CANCELLING: frozenset({S.CANCELLED}),
    S.FAILING: frozenset({S.FAILED}),
    S.COMPLETE: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}

TERMINAL: frozenset[JobStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)

#: Statuses a user may cancel from (UpdateJobStatus requestedJobStatus=Cancelled).
CANCELLABLE: frozenset[JobStatus] = frozenset(s for s, nxt in TRANSITIONS.items() if S.CANCELLING in nxt)

#: Statuses that hold an execution slot (the scheduler counts them against max_active_jobs).
HOLDS_SLOT: frozenset[JobStatus] = frozenset({S.ACTIVE, S.PAUSING})


def can_move(current: JobStatus, target: JobStatus) -> bool:
    return target in TRANSITIONS[current]


def sources_of(target: JobStatus) -> frozenset[JobStatus]:
    """The statuses from which ``target`` may be reached."""
    return frozenset(s for s, nxt in TRANSITIONS.items() if target in nxt)


def check_move(current: JobStatus, target: JobStatus) -> None:
    if not can_move(current, target):
        raise InvalidTransition(current.value, target.value)


#: What a user may ask for with UpdateJobStatus, and from which statuses: confirm a suspended job
#: (Ready), or cancel one that has not begun to end (the job then passes through Cancelling).
USER_REQUESTS: Mapping[JobStatus, tuple[JobStatus, frozenset[JobStatus]]] = {
    S.READY: (S.READY, frozenset({S.SUSPENDED})),
    S.CANCELLED: (S.CANCELLING, CANCELLABLE),
}


def allowed_requests(status: JobStatus) -> list[str]:
    """The ``requestedJobStatus`` values a job in ``status`` accepts now (the console shows only these)."""
    return [requested.value for requested, (_, sources) in USER_REQUESTS.items() if status in sources]


def priority_is_final(status: JobStatus) -> bool:
    """An ended job's priority no longer changes (UpdateJobPriority is refused, the console hides the field)."""
    return status in TERMINAL
