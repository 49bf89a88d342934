"""A chain seen from one of its jobs (DescribeJob, the console), and the step a cancel of the chain reaches."""

from __future__ import annotations

from contextlib import suppress

from batchops.domain import chain
from batchops.domain.chain import ChainView
from batchops.domain.job import Job
from batchops.domain.status import TERMINAL
from batchops.errors import JobNotFound
from batchops.store.base import Store


async def chain_view(store: Store, account_id: str, job: Job) -> ChainView | None:
    """The chain ``job`` belongs to, from its first job (None: the job is in no chain)."""
    if not job.spec.then and job.spec.chain is None:
        return None
    first = job
    if job.spec.chain is not None:
        with suppress(JobNotFound):  # purged: the chain is shown from this job on
            first = await store.get_job(account_id, job.spec.chain.root_id)
    later = await _steps_after(store, account_id, first, len(first.spec.then))
    return chain.view(first, later, chain.step_number(job))


async def _steps_after(store: Store, account_id: str, job: Job, most: int) -> list[Job]:
    found: list[Job] = []
    last = job
    while len(found) < most:
        step = await store.job_by_token(account_id, chain.step_token(last.id))
        if step is None:
            break
        found.append(step)
        last = step
    return found


async def running_step(store: Store, account_id: str, job: Job) -> Job:
    """The step of ``job``'s chain still running after it (a cancel of a completed step reaches it), else ``job``."""
    if job.status not in TERMINAL or not job.spec.then:
        return job
    for step in await _steps_after(store, account_id, job, len(job.spec.then)):
        if step.status not in TERMINAL:
            return step
    return job
