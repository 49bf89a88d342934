"""The next step of a chain, started as its job completes (``finisher.finish``, before the move to Complete).

The step's manifest is the job's succeeded tasks, derived from the job store into the job's report folder; the step
is created with a token derived from the job, so a finish repeated after a crash finds it rather than making a
second. A store that refuses the manifest (or a job store that refuses the step) stops the chain with the reason,
recorded on the job; a store that does not answer raises, so the finish is tried again once it answers.
"""

from __future__ import annotations

import logging

from botocore.exceptions import ClientError

from batchops.domain import chain
from batchops.domain.job import FailureReason, Job
from batchops.domain.task import TaskStatus
from batchops.errors import BatchOpsError
from batchops.reports import derived
from batchops.s3.errors import to_task_error
from batchops.s3.types import S3Client
from batchops.store.base import Store

log = logging.getLogger(__name__)


async def start_next_step(store: Store, s3: S3Client, job: Job) -> str | None:
    """Create the step after ``job`` (which is completing); its id, or None if the chain stops here."""
    if not job.spec.then:
        return None
    found = await store.job_by_token(job.account_id, chain.step_token(job.id))
    if found is not None:  # created by a finish of this job that did not get to Complete
        return found.id
    where = derived.place(job, chain.MANIFEST_FOLDER, f"step-{chain.step_number(job) + 1}")
    try:
        async with derived.spooled(store.report_rows(job.id, TaskStatus.SUCCEEDED)) as rows:
            if rows.written == 0:
                return None
            etag = await derived.put(s3, where.bucket, where.key, rows.reader(), rows.size)
    except ClientError as exc:
        error = to_task_error(exc)
        refused = f"its manifest was refused at s3://{where.bucket}/{where.key}: {error.code}: {error.message}"
        await _not_started(store, job, refused)
        return None
    spec = chain.next_spec(job, derived.manifest_spec(job, where, etag, rows.versioned))
    try:
        step_id, _ = await store.create_job(job.account_id, spec, [])
    except BatchOpsError as exc:
        await _not_started(store, job, str(exc))
        return None
    log.info(
        "job %s: chain step %d (%s) created as job %s",
        job.id,
        spec.chain.step if spec.chain else 0,
        spec.operation.name,
        step_id,
        extra={"action": "chain_step"},
    )
    return step_id


async def _not_started(store: Store, job: Job, why: str) -> None:
    log.warning("job %s: the chain stops: the next step did not start: %s", job.id, why)
    await store.add_failure(job.id, FailureReason(chain.NEXT_STEP_FAILED, why[:256]))
