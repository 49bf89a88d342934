"""Which jobs run: a pure decision over the jobs' statuses, priorities and sizes (no I/O, unit-tested).

The COS/AWS rule: the ``max_active_jobs`` highest-ranked runnable jobs are the Active ones (higher priority
first, then the oldest), and a waiting job that outranks an Active one pauses it.

Beside those slots, small jobs (at most ``Lanes.small_tasks`` tasks, known once Preparing has read the manifest)
have ``Lanes.small_slots`` of their own, so that a tenant's three-object job does not wait behind another's
hour-long job. A small job takes one of them only when no runnable job has a higher priority: it may overtake
jobs of its own priority, never a higher one. So the rule above still holds as it is written: a higher-priority
job arriving pauses every Active job below it, small ones included, and a lower-priority job waits in Ready
while a higher one runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from batchops.domain.job import Job
from batchops.domain.status import HOLDS_SLOT, JobStatus, PausedBy

RUNNABLE = frozenset({JobStatus.READY, JobStatus.ACTIVE, JobStatus.PAUSING, JobStatus.PAUSED})


@dataclass(frozen=True)
class Lanes:
    """The slots: ``max_active`` for every job, and ``small_slots`` more for small jobs (0: none)."""

    max_active: int
    small_tasks: int = 0
    small_slots: int = 0

    def is_small(self, job: Job) -> bool:
        return self.small_slots > 0 and job.progress.total <= self.small_tasks


@dataclass(frozen=True)
class Move:
    job_id: str
    to: JobStatus
    reason: str

    @property
    def paused_by(self) -> PausedBy | None:
        """The scheduler pauses only to pre-empt."""
        return PausedBy.PREEMPTION if self.to is JobStatus.PAUSING else None


def waits_for_its_owner(job: Job) -> bool:
    """Paused (or pausing) by hand: only its owner resumes it, so it competes for no slot."""
    return job.paused_by is PausedBy.USER and job.status in (JobStatus.PAUSING, JobStatus.PAUSED)


def rank(jobs: Sequence[Job]) -> list[Job]:
    """Highest priority first; ties go to the oldest job."""
    return sorted(jobs, key=lambda j: (-j.priority, j.creation_time, j.id))


def decide(jobs: Sequence[Job], slots: int | Lanes) -> list[Move]:
    """Moves that make the ``max_active`` highest-ranked runnable jobs, and the best small jobs of the top
    priority in the small slots, the Active ones (``slots``: a number is ``max_active`` with no small slots).

    An Active job in neither is paused (Pausing → Paused keeps its slot until it has drained); Ready and Paused
    jobs start, best first, as slots free up. A job paused by hand is not ranked (it is never resumed here),
    though while it drains it still holds its slot.
    """
    lanes = slots if isinstance(slots, Lanes) else Lanes(slots)
    ranked = rank([j for j in jobs if j.status in RUNNABLE and not waits_for_its_owner(j)])
    wanted = {j.id for j in ranked[: lanes.max_active]}
    extra = {j.id for j in small_lane(ranked, wanted, lanes)}
    moves = [
        Move(j.id, JobStatus.PAUSING, "a higher-priority job needs the capacity")
        for j in ranked
        if j.status is JobStatus.ACTIVE and j.id not in wanted | extra
    ]
    holding = [j for j in jobs if j.status in HOLDS_SLOT]
    in_small = [j for j in holding if j.id in extra]  # a small job being paused drains in a main slot, as before
    free = {"all": lanes.max_active - (len(holding) - len(in_small)), "small": lanes.small_slots - len(in_small)}
    for job in ranked:
        lane = "all" if job.id in wanted else "small" if job.id in extra else None
        if lane is None or free[lane] <= 0 or job.status not in (JobStatus.READY, JobStatus.PAUSED):
            continue
        reason = "resumed: capacity is free" if job.status is JobStatus.PAUSED else "started"
        moves.append(Move(job.id, JobStatus.ACTIVE, reason))
        free[lane] -= 1
    return moves


def small_lane(ranked: list[Job], wanted: set[str], lanes: Lanes) -> list[Job]:
    """The small jobs that may hold the small slots: outside the main slots, of the highest priority runnable."""
    if not ranked:
        return []
    top = ranked[0].priority
    return [j for j in ranked if j.id not in wanted and j.priority == top and lanes.is_small(j)][: lanes.small_slots]
