"""Job chains (``BatchOpsThen``): a job names follow-up steps, each an operation. When it completes, the next step
runs as a new job over the tasks that succeeded, carrying the steps after it; a step that fails, is cancelled, or
succeeds on no task stops the chain there.

A later step's ClientRequestToken is derived from the job before it, so the step is created once however often
the finish of that job is repeated (a crash between the two), and found again from it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from batchops.domain.job import ChainLink, Job, JobSpec, ManifestSpec
from batchops.domain.status import JobStatus

#: Steps in one chain, the first job's own operation included.
MAX_STEPS = 10
#: The folder (in the job's report folder) that holds the manifest of the step after it.
MANIFEST_FOLDER = "chain"


def step_token(parent_id: str) -> str:
    """The ClientRequestToken of the step after ``parent_id`` (64 characters at most, as CreateJob allows)."""
    return "chain-" + hashlib.sha256(parent_id.encode()).hexdigest()[:40]


def step_number(job: Job) -> int:
    return 1 if job.spec.chain is None else job.spec.chain.step


def next_spec(parent: Job, manifest: ManifestSpec) -> JobSpec:
    """The step after ``parent``: its first follow-up operation over ``manifest``, the others still to come, and
    the parent's priority, rate caps, role, report and threshold."""
    assert parent.spec.then, "a job with no follow-up step has no next step"
    root_id = parent.id if parent.spec.chain is None else parent.spec.chain.root_id
    step = step_number(parent) + 1
    operation = parent.spec.then[0]
    return replace(
        parent.spec,
        client_request_token=step_token(parent.id),
        priority=parent.priority,
        rate=parent.rate,
        manifest=manifest,
        generator=None,
        operation=operation,
        then=parent.spec.then[1:],
        chain=ChainLink(root_id=root_id, parent_id=parent.id, step=step),
        confirmation_required=False,  # the chain was confirmed with its first job
        description=f"step {step} of chain {root_id}: {operation.name}"[:256],
    )


@dataclass(frozen=True)
class ChainStep:
    number: int
    operation: str
    job_id: str | None = None  # None: not started (yet, or ever: the chain stopped before it)
    status: JobStatus | None = None


#: Where a chain is: still running, every step complete, or stopped before its last step.
RUNNING, COMPLETE, STOPPED = "Running", "Complete", "Stopped"


@dataclass(frozen=True)
class ChainView:
    """A chain as DescribeJob and the console show it, from one of its jobs."""

    steps: tuple[ChainStep, ...]
    position: int  # the step of the job described
    state: str
    reason: str | None = None  # why it stopped


def view(first: Job, later: list[Job], position: int) -> ChainView:
    """The chain from its first known job (``first``: the chain's first job, or the described one if that was
    purged) and the steps after it found so far (``later``, in order)."""
    base = step_number(first)
    operations = (first.spec.operation, *first.spec.then)
    started = [first, *later]
    steps = tuple(
        ChainStep(base + n, op.name, started[n].id, started[n].status)
        if n < len(started)
        else ChainStep(base + n, op.name)
        for n, op in enumerate(operations)
    )
    last = started[-1]
    if len(started) == len(operations) and last.status is JobStatus.COMPLETE:
        return ChainView(steps, position, COMPLETE)
    stopped = _stop_reason(last, step_number(last))
    return ChainView(steps, position, STOPPED if stopped else RUNNING, stopped)


def _stop_reason(last: Job, number: int) -> str | None:
    if last.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        why = last.status_update_reason or last.status.value
        return f"step {number} ({last.spec.operation.name}, job {last.id}) ended {last.status.value}: {why}"[:1024]
    if last.status is JobStatus.COMPLETE:  # complete, yet no next step: nothing succeeded, or it could not start
        not_started = [f.reason for f in last.failure_reasons if f.code == NEXT_STEP_FAILED]
        if not_started:
            return f"step {number + 1} did not start: {not_started[-1]}"[:1024]
        return f"step {number} ({last.spec.operation.name}, job {last.id}) succeeded on no task: nothing left to run"
    return None


#: The failure reason a completed step gets when its next step could not be created.
NEXT_STEP_FAILED = "ChainStepNotStarted"
