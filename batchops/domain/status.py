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


class PausedBy(StrEnum):
    """Who paused a Pausing or Paused job: the scheduler resumes only the jobs it paused itself."""

    USER = "User"
    PREEMPTION = "Preemption"


S = JobStatus

#: Every allowed move, written once. The store guards the same set in SQL
#: (``UPDATE … WHERE status IN (allowed sources)``), so no other code decides this.
TRANSITIONS: Mapping[JobStatus, frozenset[JobStatus]] = {
    S.NEW: frozenset({S.PREPARING, S.CANCELLING}),
    S.PREPARING: frozenset({S.SUSPENDED, S.READY, S.FAILING, S.CANCELLING}),
    S.SUSPENDED: frozenset({S.READY, S.PAUSED, S.CANCELLING}),
    S.READY: frozenset({S.ACTIVE, S.PAUSED, S.CANCELLING}),
    S.ACTIVE: frozenset({S.COMPLETING, S.PAUSING, S.FAILING, S.CANCELLING}),
    S.PAUSING: frozenset({S.PAUSED, S.CANCELLING}),
    # Paused -> Active: the scheduler resumes a pre-empted job (never one paused by hand, which the store
    # guards); Paused -> Ready: its owner resumes it.
    S.PAUSED: frozenset({S.ACTIVE, S.READY, S.CANCELLING}),
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


#: What a user may ask for with UpdateJobStatus: from each status it is accepted in, the status the job moves to
#: (the same status: it is there already, and the request changes nothing but who paused it).
#: Ready confirms a Suspended job or resumes a Paused one; Paused pauses a job that runs or waits (a running one
#: drains first, through Pausing); Cancelled cancels one that has not begun to end (through Cancelling).
#: Resuming a job paused while Suspended counts as its confirmation: both are the one request Ready.
USER_REQUESTS: Mapping[JobStatus, Mapping[JobStatus, JobStatus]] = {
    S.READY: {S.SUSPENDED: S.READY, S.PAUSED: S.READY, S.READY: S.READY},
    S.CANCELLED: {**{s: S.CANCELLING for s in CANCELLABLE}, S.CANCELLING: S.CANCELLING},
    S.PAUSED: {S.ACTIVE: S.PAUSING, S.READY: S.PAUSED, S.SUSPENDED: S.PAUSED, S.PAUSING: S.PAUSING, S.PAUSED: S.PAUSED},
}


def user_move(requested: JobStatus, current: JobStatus) -> JobStatus | None:
    """Where a user's ``requested`` status takes a job that is ``current``; None if the request is refused now."""
    return USER_REQUESTS[requested].get(current)


def allowed_requests(status: JobStatus, paused_by: PausedBy | None = None) -> list[str]:
    """The ``requestedJobStatus`` values a job in ``status`` accepts now and that change something (the console
    shows only these). A job the scheduler paused may still be paused by hand, so that it stays paused."""
    allowed = []
    for requested, moves in USER_REQUESTS.items():
        target = moves.get(status)
        pins_pause = requested is S.PAUSED and target is not None and paused_by is not PausedBy.USER
        if target is not None and (target is not status or pins_pause):
            allowed.append(requested.value)
    return allowed


def priority_is_final(status: JobStatus) -> bool:
    """An ended job's priority no longer changes (UpdateJobPriority is refused, the console hides the field)."""
    return status in TERMINAL
