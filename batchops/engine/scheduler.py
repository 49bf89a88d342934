"""Which jobs run: a pure decision over the jobs' statuses and priorities (no I/O, unit-tested)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from batchops.domain.job import Job
from batchops.domain.status import HOLDS_SLOT, JobStatus, PausedBy

RUNNABLE = frozenset({JobStatus.READY, JobStatus.ACTIVE, JobStatus.PAUSING, JobStatus.PAUSED})


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


def decide(jobs: Sequence[Job], max_active: int) -> list[Move]:
    """Moves that make the ``max_active`` highest-ranked runnable jobs the Active ones.

    An Active job outranked by a waiting one is paused (Pausing → Paused keeps its slot until it
    has drained); Ready and Paused jobs start, best first, as slots free up. A job paused by hand is not
    ranked (it is never resumed here), though while it drains it still holds its slot.
    """
    ranked = rank([j for j in jobs if j.status in RUNNABLE and not waits_for_its_owner(j)])
    wanted = {j.id for j in ranked[:max_active]}
    moves = [
        Move(j.id, JobStatus.PAUSING, "a higher-priority job needs the capacity")
        for j in ranked
        if j.status is JobStatus.ACTIVE and j.id not in wanted
    ]
    free = max_active - sum(1 for j in jobs if j.status in HOLDS_SLOT)
    for job in ranked:
        if free <= 0:
            break
        if job.id in wanted and job.status in (JobStatus.READY, JobStatus.PAUSED):
            reason = "resumed: capacity is free" if job.status is JobStatus.PAUSED else "started"
            moves.append(Move(job.id, JobStatus.ACTIVE, reason))
            free -= 1
    return moves
